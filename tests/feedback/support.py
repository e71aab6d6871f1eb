"""Helpers for the feedback tests: a funder with partners, commitments and rounds."""

from datetime import date, timedelta
from typing import Any

from tests.partners.people_helpers import claim
from tests.support import Stack
from trellis_ballot import BallotError, answer_anonymously

API = "/api/v1"


class Funder:
    """A funder with its staff token and some partners in an active relationship."""

    def __init__(self, stack: Stack, record: dict[str, Any], partners: list[dict[str, Any]]):
        self.stack = stack
        self.record = record
        self.id = record["id"]
        self.slug = record["slug"]
        self.staff = stack.tokens.staff(self.id)
        self.partners = partners

    def partner(self, i: int) -> dict[str, str]:
        return self.stack.tokens.partner(self.partners[i]["id"])

    def partner_token(self, i: int) -> str:
        return self.partner(i)["Authorization"].removeprefix("Bearer ")

    async def commitment(self, title: str, **fields: Any) -> dict[str, Any]:
        body = {"title": title, "status": "published", **fields}
        r = await self.stack.feedback.post(f"{API}/commitments", headers=self.staff, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def round(self, title: str = "Spring listening round", *, open_: bool = True) -> dict:
        today = date.today()
        r = await self.stack.feedback.post(
            f"{API}/rounds",
            headers=self.staff,
            json={
                "title": title,
                "opens_on": today.isoformat(),
                "closes_on": (today + timedelta(days=28)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        round_ = r.json()
        if open_:
            r = await self.stack.feedback.post(
                f"{API}/rounds/{round_['id']}/open", headers=self.staff
            )
            assert r.status_code == 200, r.text
            round_ = r.json()
        return round_

    async def answer(
        self,
        round_: dict[str, Any],
        i: int,
        scores: list[Any],
        *,
        anonymous: bool = False,
        comments: list[str | None] | None = None,
        comment: str | None = None,
        expect: int = 201,
    ) -> dict[str, Any]:
        ratings = [
            {
                "commitment_id": c["commitment_id"],
                "rating": s,
                "comment": (comments or [None] * len(scores))[n],
            }
            for n, (c, s) in enumerate(zip(round_["commitments"], scores, strict=True))
        ]
        if anonymous:
            # As a partner's developer would: the trellis_ballot client takes a ballot
            # (signed in) and casts the answer with it (without a token).
            try:
                ballot, out = await answer_anonymously(
                    self.stack.feedback,
                    round_["id"],
                    token=self.partner_token(i),
                    ratings=ratings,
                    comment=comment,
                )
            except BallotError as exc:
                assert str(expect) in str(exc), exc
                return {"error": str(exc)}
            assert expect == 201
            return {**out, "ballot": ballot}
        r = await self.stack.feedback.post(
            f"{API}/rounds/{round_['id']}/responses",
            headers=self.partner(i),
            json={"ratings": ratings, "comment": comment},
        )
        assert r.status_code == expect, r.text
        return r.json()

    async def close(self, round_: dict[str, Any]) -> dict[str, Any]:
        r = await self.stack.feedback.post(f"{API}/rounds/{round_['id']}/close", headers=self.staff)
        assert r.status_code == 200, r.text
        return r.json()

    async def publish(self, round_: dict[str, Any], answer: str | None = None) -> dict[str, Any]:
        r = await self.stack.feedback.post(
            f"{API}/rounds/{round_['id']}/publish",
            headers=self.staff,
            json={"answer": answer} if answer else None,
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def set(self, **settings: Any) -> dict[str, Any]:
        r = await self.stack.feedback.put(
            f"{API}/scorecards/settings", headers=self.staff, json=settings
        )
        assert r.status_code == 200, r.text
        return r.json()


async def new_funder(
    stack: Stack, partners: int = 0, *, claimed: bool = True, **partner_fields: Any
) -> Funder:
    """A funder with ``partners`` organisations it added; each claimed by its own first
    person (``claimed``), as only claimed organisations are invited to rounds."""
    record = await stack.new_funder()
    made = [await stack.new_partner(record["id"], **partner_fields) for _ in range(partners)]
    if claimed:
        for partner in made:
            await claim(stack, partner["id"])
    return Funder(stack, record, made)
