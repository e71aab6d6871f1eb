"""Helpers for pooled-fund tests: a pool of several member funders, made through the API."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.funding.helpers import Funder, new_funder
from tests.support import Stack

TODAY = date.today().isoformat()


@dataclass
class PoolUnderTest:
    """A pool, its host and members (each a Funder with one partner)."""

    stack: Stack
    pool: dict[str, Any]
    members: list[Funder] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.pool["id"]

    @property
    def host(self) -> Funder:
        return self.members[0]

    @property
    def url(self) -> str:
        return f"/api/v1/pools/{self.id}"

    async def post(self, who: Funder, path: str, body: Any = None, **headers: str) -> Any:
        return await self.stack.funding.post(
            self.url + path,
            headers={**who.staff, "Idempotency-Key": uuid.uuid4().hex, **headers},
            json=body,
        )

    async def get(self, who: Funder, path: str = "", **params: Any) -> Any:
        return await self.stack.funding.get(self.url + path, headers=who.staff, params=params)

    async def contribute(self, who: Funder, amount: int, **fields: Any) -> dict[str, Any]:
        response = await self.post(
            who, "/contributions", {"amount": amount, "received_on": TODAY, **fields}
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def propose(self, who: Funder, amount: int, **fields: Any) -> dict[str, Any]:
        body = {
            "partner_id": who.partner["id"],
            "title": "Core funding from the pool",
            "description": "Unrestricted funding for a youth organisation that listens.",
            "amount": amount,
            "planned_start_date": "2030-04-01",
            "planned_end_date": "2033-03-31",
            **fields,
        }
        response = await self.post(who, "/proposals", body)
        assert response.status_code == 201, response.text
        return response.json()

    async def vote(
        self, who: Funder, proposal: dict[str, Any], choice: str, comment: str = "Yes"
    ) -> Any:
        return await self.post(
            who, f"/proposals/{proposal['id']}/votes", {"vote": choice, "comment": comment}
        )

    async def statement(self, who: Funder | None = None, **params: Any) -> dict[str, Any]:
        response = await self.get(who or self.host, "/statement", **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def ledger(self, who: Funder | None = None, **params: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while True:
            response = await self.get(
                who or self.host, "/ledger", range=f"[{len(entries)},{len(entries) + 499}]"
            )
            assert response.status_code == 200, response.text
            page = response.json()
            entries += page
            if len(page) < 500:
                return entries


async def new_pool(
    stack: Stack, *, members: int = 3, rule: str = "majority", quorum: int | None = None
) -> PoolUnderTest:
    """A pool hosted by a new funder, with ``members - 1`` other funders invited and joined."""
    host = await new_funder(stack)
    body: dict[str, Any] = {
        "name": f"Listening Fund {uuid.uuid4().hex[:6]}",
        "purpose": "Help youth organisations listen to young people and act on it.",
        "decision_rule": rule,
    }
    if quorum is not None:
        body["quorum"] = quorum
    response = await stack.funding.post("/api/v1/pools", headers=host.staff, json=body)
    assert response.status_code == 201, response.text
    pool = PoolUnderTest(stack, response.json(), [host])
    for _ in range(members - 1):
        other = await new_funder(stack)
        response = await pool.post(host, "/invitations", {"funder_id": other.id})
        assert response.status_code == 201, response.text
        response = await pool.post(other, "/accept")
        assert response.status_code == 200, response.text
        pool.members.append(other)
    return pool
