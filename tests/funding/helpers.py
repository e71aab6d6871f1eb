"""Helpers for funding tests: a funder with a partner, grants made and approved through the API."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from services.common.hotreads import HotReads
from services.common.models import OutboxMessage
from tests.support import Stack


@dataclass
class Funder:
    """A funder, its staff's headers and one partner of it."""

    stack: Stack
    funder: dict[str, Any]
    partner: dict[str, Any]

    @property
    def id(self) -> str:
        return self.funder["id"]

    @property
    def staff(self) -> dict[str, str]:
        return self.stack.tokens.staff(self.id)

    @property
    def partner_headers(self) -> dict[str, str]:
        return self.stack.tokens.partner(self.partner["id"])

    async def propose(self, **fields: Any) -> dict[str, Any]:
        body = {
            "partner_id": self.partner["id"],
            "title": "Core funding",
            "description": "Unrestricted funding for the organisation's work.",
            "amount_awarded": 9000000,
            "planned_start_date": "2030-04-01",
            "planned_end_date": "2033-03-31",
            **fields,
        }
        response = await self.stack.funding.post("/api/v1/grants", headers=self.staff, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def approve(self, grant: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"decided_on": "2030-03-01", "decided_by": "Board", "reference": "TM-1", **fields}
        response = await self.stack.funding.post(
            f"/api/v1/grants/{grant['id']}/approve", headers=self.staff, json=body
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def awarded(self, **fields: Any) -> dict[str, Any]:
        return await self.approve(await self.propose(**fields))

    async def schedule(self, grant: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = await self.stack.funding.get(
            f"/api/v1/grants/{grant['id']}/schedule", headers=headers or self.staff
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def pay(self, instalment_id: str, *, key: str | None = None, **fields: Any) -> Any:
        headers = {**self.staff, "Idempotency-Key": key or uuid.uuid4().hex}
        body = {"instalment_id": instalment_id, "paid_on": date.today().isoformat(), **fields}
        return await self.stack.funding.post("/api/v1/payments", headers=headers, json=body)


async def new_funder(stack: Stack, **partner_fields: Any) -> Funder:
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"], **partner_fields)
    return Funder(stack, funder, partner)


async def events(stack: Stack, event_type: str, **match: str) -> list[dict[str, Any]]:
    """Events the funding service wrote to its outbox (one per event id), filtered by data."""
    db = stack.apps["funding"].state.db
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.event_type == event_type)
            )
        ).scalars()
        seen: dict[str, dict[str, Any]] = {}
        for row in rows:
            data = row.payload["data"]
            if all(data.get(k) == v for k, v in match.items()):
                seen[row.payload["id"]] = data
    return list(seen.values())


@contextmanager
def router_calls(app: FastAPI) -> Iterator[list[str]]:
    """The paths the router (FastAPI's routing and dependencies) answered meanwhile."""
    hot = app.router.middleware_stack
    assert isinstance(hot, HotReads)
    inner = hot.app
    seen: list[str] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await inner(scope, receive, send)

    hot.app = spy
    try:
        yield seen
    finally:
        hot.app = inner
