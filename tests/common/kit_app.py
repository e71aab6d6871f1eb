"""A throwaway app built from the kit alone, on a real migrated database, for kit tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from services.common.auth import CallerDep, KeyStore, TokenIssuer
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, fetch_page, list_query
from services.common.migrate import upgrade
from services.common.models import AuditEntry
from services.common.service_app import create_service_app
from tests.support import (
    AUDIENCE,
    ISSUER,
    Tokens,
    create_database,
    drop_database,
    service_settings,
)

router = APIRouter()
gate: dict[str, asyncio.Event] = {}


class Note(BaseModel):
    text: str


@router.post("/notes", status_code=201)
async def create_note(
    body: Note, session: SessionDep, caller: CallerDep, idem: IdempotencyDep
) -> Any:
    """Creates an audit row (a stand-in for a record) and answers with a fresh id."""
    if body.text == "wait":
        gate["started"].set()
        await gate["release"].wait()
    if body.text.startswith("slow:"):
        await asyncio.sleep(float(body.text.removeprefix("slow:")))
    if body.text == "fail":
        raise RuntimeError("secret internal detail: SELECT * FROM partners")
    entry = AuditEntry(
        actor=caller.actor,
        action="create",
        entity_type="note",
        entity_id=str(uuid.uuid4()),
        changes={"text": body.text},
    )
    session.add(entry)
    await session.flush()
    return await idem.respond(session, {"id": entry.entity_id, "text": body.text})


NotesQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "notes",
            sortable=["occurred_at"],
            filterable=[],
            default_sort=("occurred_at", "ASC"),
            max_page_size=5,
        )
    ),
]


@router.get("/notes")
async def list_notes(session: SessionDep, query: NotesQuery, response: Response) -> list[str]:
    """Notes, five at most a page."""
    stmt = select(AuditEntry).where(AuditEntry.entity_type == "note")
    page = await fetch_page(
        session,
        stmt,
        query,
        sort_columns={"occurred_at": AuditEntry.occurred_at},
        id_column=AuditEntry.id,
    )
    page.apply(response, "notes")
    return [entry.entity_id for entry in page.items]


def _in_transaction(driver: Any) -> bool:
    """Whether the driver's connection (asyncpg or aiosqlite) is inside a transaction."""
    if hasattr(driver, "is_in_transaction"):
        return bool(driver.is_in_transaction())
    return bool(driver.in_transaction)


@router.get("/reads/transaction")
async def read_transaction(
    session: SessionDep, write: str | None = None, fail: bool = False, slow: float = 0.0
) -> dict[str, bool | None]:
    """Whether this read runs in a transaction after a SELECT, and after writing two notes
    (``write``), failing after the first (``fail``) or outliving its deadline (``slow``)."""
    await session.execute(select(func.count()).select_from(AuditEntry))
    raw = await (await session.connection()).get_raw_connection()
    after_read = _in_transaction(raw.driver_connection)
    after_write = None
    if write:
        for n in range(2):
            session.add(
                AuditEntry(
                    actor="reader",
                    action="create",
                    entity_type="note",
                    entity_id=f"{write}-{n}",
                    changes={},
                )
            )
            await session.flush()
            if fail:
                raise RuntimeError("failed after the first write")
        after_write = _in_transaction(raw.driver_connection)
    if slow:
        await asyncio.sleep(slow)
    return {"after_read": after_read, "after_write": after_write}


@router.post("/writes/transaction")
async def write_transaction(session: SessionDep) -> dict[str, bool]:
    """Whether a writing request's first statement (a SELECT) runs in its transaction."""
    await session.execute(select(func.count()).select_from(AuditEntry))
    raw = await (await session.connection()).get_raw_connection()
    return {"in_transaction": _in_transaction(raw.driver_connection)}


@asynccontextmanager
async def kit_app(
    backend: str, tmp: Path, *, connect_as: str | None = None, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, Tokens]]:
    """The kit app on a fresh migrated database; ``connect_as`` names another PostgreSQL
    role for the app's own connections (migrations still run as the test's user)."""
    keys = KeyStore(tmp / "data" / "keys" / "signing-keys.json")
    keys.ensure()
    tokens = Tokens(TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE))
    url = create_database(backend, "kit", tmp)
    upgrade("partners", url)
    app_url = url
    if connect_as is not None:
        app_url = make_url(url).set(username=connect_as, password=None).render_as_string(False)
    settings = service_settings(
        "partners", data_dir=tmp / "data", database_url=app_url, **overrides
    )
    app = create_service_app(settings, title="kit", description="kit test app", routers=[router])
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://kit.test",
            ) as client,
        ):
            yield app, client, tokens
    finally:
        drop_database(url)
