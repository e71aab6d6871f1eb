"""Request ids, the audit log, JSON logs and health endpoints."""

import io
import json
import logging
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import select

from services.common.logs import _ContextFilter
from services.common.models import AuditEntry
from tests.support import Stack, app_factory, service_settings


async def test_request_id_is_echoed_or_made(stack: Stack) -> None:
    response = await stack.partners.get("/healthz", headers={"X-Request-ID": "req-abc-123"})
    assert response.headers["x-request-id"] == "req-abc-123"
    made = await stack.partners.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    odd = await stack.partners.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert odd.headers["x-request-id"] != "bad id with spaces"


async def test_every_change_is_audited_with_who_and_which_request(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"], sub="grace@funder.test")
    response = await stack.partners.post(
        "/api/v1/partners",
        json={"name": "Audited Org"},
        headers={**staff, "X-Request-ID": "audit-req-1"},
    )
    partner_id = response.json()["id"]
    await stack.partners.put(
        f"/api/v1/partners/{partner_id}",
        json={"region": "Wales"},
        headers={**staff, "X-Request-ID": "audit-req-2"},
    )
    async with stack.apps["partners"].state.db.sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.entity_id == partner_id)
                    .order_by(AuditEntry.occurred_at)
                )
            )
            .scalars()
            .all()
        )
    assert [(r.action, r.actor, r.request_id) for r in rows] == [
        ("create", "grace@funder.test", "audit-req-1"),
        ("update", "grace@funder.test", "audit-req-2"),
    ]
    assert rows[1].changes == {"region": "Wales"}
    assert rows[1].actor_roles == "funder_staff"


async def test_log_lines_are_json_with_the_request_id(stack: Stack) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(_ContextFilter("partners"))
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    access = logging.getLogger("trellis.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        await stack.partners.get("/healthz", headers={"X-Request-ID": "log-me-1"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert any(line["request_id"] == "log-me-1" and line["path"] == "/healthz" for line in lines)


async def test_health_and_readiness(stack: Stack) -> None:
    for client in stack.clients.values():
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    settings = service_settings(
        "partners", data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:9/none"
    )
    app = app_factory("partners")(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["message"] == "The database is not reachable."
