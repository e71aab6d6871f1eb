"""``/healthz`` (the process is alive) and ``/readyz`` (its database answers)."""

from fastapi import APIRouter, Request
from sqlalchemy import text

from services.common.db import Database
from services.common.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the process alive?")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Can it serve: does its database answer?")
async def readyz(request: Request) -> dict[str, str]:
    db: Database = request.app.state.db
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable("The database is not reachable.") from exc
    return {"status": "ready", "database": db.engine.dialect.name}
