"""The reference for ``benchmarks/read_one.py``: the least a grant read can cost.

A minimal Starlette app with two routes. ``GET /api/v1/grants/{id}``: the same bearer
token check as the services (``TokenVerifier`` on the same keys, with its cache),
one query for the grant and its funding organisations straight through asyncpg (or
aiosqlite), the same visibility rule (staff of the grant's funder or of one of its
funding organisations), the row answered as JSON with orjson. No ORM, no
dependencies, no middleware. ``GET /api/v1/grants``: the caller's funder's first 25
grants in the service's default order (newest award first), each with its funding
organisations, in one query, as a JSON array: the least a first page can cost (it
reads no total: the service keeps its totals between changes, this cannot).

    BENCH_DATABASE_URL=... BENCH_KEYS_FILE=... uvicorn --factory benchmarks.raw_grant:create_app
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import orjson
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.auth import TokenVerifier, bearer_token
from services.common.errors import Problem

COLUMNS = (
    "id, funder_id, pool_id, partner_id, title, description, amount_awarded, currency, "
    "planned_start_date, planned_end_date, payment_frequency, reference, status, grant_360_id, "
    "approved_on, approved_by, decision_reference, original_amount, original_start_date, "
    "original_end_date, activated_on, completed_on, withdrawn_on, withdrawal_reason, "
    "created_at, updated_at, version"
)
PG_QUERY = (
    f"SELECT {COLUMNS}, ARRAY(SELECT o.funder_id FROM grant_funding_organisations o "
    "WHERE o.grant_id = g.id ORDER BY o.position) AS funder_ids FROM grants g WHERE g.id = $1"
)
PG_PAGE = (
    f"SELECT {COLUMNS}, ARRAY(SELECT o.funder_id FROM grant_funding_organisations o "
    "WHERE o.grant_id = g.id ORDER BY o.position) AS funder_ids FROM grants g "
    "WHERE g.funder_id = $1 ORDER BY g.list_date DESC, g.id DESC LIMIT 25"
)
SQLITE_PAGE = (
    f"SELECT {COLUMNS}, (SELECT group_concat(o.funder_id) FROM grant_funding_organisations o "
    "WHERE o.grant_id = g.id ORDER BY o.position) AS funder_ids FROM grants g "
    "WHERE g.funder_id = ? ORDER BY g.list_date DESC, g.id DESC LIMIT 25"
)
SQLITE_QUERY = (
    f"SELECT {COLUMNS}, (SELECT group_concat(o.funder_id) FROM grant_funding_organisations o "
    "WHERE o.grant_id = g.id ORDER BY o.position) AS funder_ids FROM grants g WHERE g.id = ?"
)


def _sqlite_uuid(text: str | bytes) -> uuid.UUID:
    return uuid.UUID(bytes=text) if isinstance(text, bytes) else uuid.UUID(text)


def _answer(row: dict[str, Any] | list[dict[str, Any]]) -> Response:
    # asyncpg has its own UUID type, which orjson writes through ``default``.
    return Response(orjson.dumps(row, default=str), media_type="application/json")


def create_app() -> Starlette:
    url = make_url(os.environ["BENCH_DATABASE_URL"])
    verifier = TokenVerifier(
        issuer=os.environ.get("TRELLIS_AUTH_ISSUER", "http://127.0.0.1:8000"),
        audience=os.environ.get("TRELLIS_AUTH_AUDIENCE", "trellis"),
        keys_file=Path(os.environ["BENCH_KEYS_FILE"]),
    )
    postgres = url.get_backend_name() == "postgresql"
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if postgres:
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            state["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        else:
            connection = await aiosqlite.connect(url.database)
            connection.row_factory = aiosqlite.Row
            state["sqlite"] = connection
        yield
        if postgres:
            await state["pool"].close()
        else:
            await state["sqlite"].close()

    async def read(query: str, key: uuid.UUID) -> list[dict[str, Any]]:
        if postgres:
            async with state["pool"].acquire() as conn:
                return [dict(record) for record in await conn.fetch(query, key)]
        if query is SQLITE_QUERY:  # as this reference has always read one row
            cursor = await state["sqlite"].execute(query, (key.hex,))
            records = [record for record in [await cursor.fetchone()] if record is not None]
            await cursor.close()
        else:
            records = await state["sqlite"].execute_fetchall(query, (key.hex,))
        rows = [dict(record) for record in records]
        for row in rows:
            for name in ("id", "funder_id", "partner_id", "pool_id"):
                if row[name] is not None:
                    row[name] = _sqlite_uuid(row[name])
            row["funder_ids"] = [_sqlite_uuid(x) for x in (row["funder_ids"] or "").split(",") if x]
            for name in ("created_at", "updated_at"):
                row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=UTC)
        return rows

    async def caller_of(request: Request) -> Any:
        """The verified caller, or the answer to give instead."""
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is None:
                return Response(status_code=401)
            return await verifier.verify(token)
        except Problem as problem:
            return problem.to_response(request.url.path)

    async def get_grant(request: Request) -> Response:
        caller = await caller_of(request)
        if isinstance(caller, Response):
            return caller
        try:
            grant_id = uuid.UUID(request.path_params["grant_id"])
        except ValueError:
            return Response(status_code=422)
        rows = await read(PG_QUERY if postgres else SQLITE_QUERY, grant_id)
        mine = caller.staff_funder_id
        if not rows or (rows[0]["funder_id"] != mine and mine not in rows[0]["funder_ids"]):
            return Response(status_code=404)
        return _answer(rows[0])

    async def first_page(request: Request) -> Response:
        caller = await caller_of(request)
        if isinstance(caller, Response):
            return caller
        if caller.staff_funder_id is None:
            return Response(status_code=403)
        rows = await read(PG_PAGE if postgres else SQLITE_PAGE, caller.staff_funder_id)
        return _answer(rows)

    return Starlette(
        routes=[Route("/api/v1/grants", first_page), Route("/api/v1/grants/{grant_id}", get_grant)],
        lifespan=lifespan,
    )
