"""``/healthz`` (the process is alive) and ``/readyz`` (its database answers).

``/readyz`` also reports the outbox: ``status`` is ``degraded`` (still 200: the
service serves; taking it out of rotation would not deliver anything sooner)
when a subscriber refused an event or the oldest waiting delivery is older than
``TRELLIS_<SERVICE>_OUTBOX_BACKLOG_ALERT_AFTER``.
"""

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from services.common.db import Database
from services.common.errors import ServiceUnavailable
from services.common.outbox import OutboxDispatcher, OutboxStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the process alive?")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Can it serve: does its database answer? Are its events flowing?")
async def readyz(request: Request) -> dict[str, Any]:
    db: Database = request.app.state.db
    dispatcher: OutboxDispatcher | None = getattr(request.app.state, "dispatcher", None)
    try:
        async with db.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            outbox = await dispatcher.status(session) if dispatcher is not None else None
    except Exception as exc:
        raise ServiceUnavailable("The database is not reachable.") from exc
    answer: dict[str, Any] = {"status": "ready", "database": db.engine.dialect.name}
    if outbox is not None:
        answer["outbox"] = outbox.report()
        if outbox.degraded:
            answer["status"] = "degraded"
            answer["detail"] = _degraded(outbox, dispatcher)
    return answer


def _degraded(outbox: OutboxStatus, dispatcher: Any) -> str:
    why = []
    if outbox.dead:
        why.append(f"{outbox.dead} event deliveries were refused by their subscriber")
    if outbox.oldest_seconds > dispatcher.backlog_alert_after:
        why.append(
            f"the oldest waiting event delivery is {outbox.oldest_seconds:.0f} s old "
            f"(alert after {dispatcher.backlog_alert_after:g} s)"
        )
    return "; ".join(why) + ". See `trellis events list`."
