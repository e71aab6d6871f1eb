"""``GET /api/v1/partners/{id}/overview``: one partner, whole, as the caller may see it.

Sections: the organisation (with the staff's relationship and its history), grants
with totals awarded and paid per currency and the next instalment due, the latest
reflective updates and those awaiting a reply, recent threads, the last interaction,
and the feedback rounds the partner was invited to (never its answers).
"""

import asyncio
from collections import defaultdict
from typing import Any

from services.common.auth import Caller
from services.gateway.views.compose import Answer, Calls, sections

#: Grants whose money is promised or paid (a proposal is the funder's deliberation).
AWARDED = ("approved", "active", "completed")
LATEST = 5


def _sum_by_currency(rows: list[dict[str, Any]], field: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += int(row[field])
    return dict(sorted(totals.items()))


async def build(calls: Calls, caller: Caller, partner_id: str) -> dict[str, dict[str, Any]]:
    """The sections of one partner's overview."""
    partner = asyncio.ensure_future(calls.get("partners", f"partners/{partner_id}"))
    staff = caller.has("funder_staff")
    mine = {"partner_id": partner_id}

    async def organisation() -> dict[str, Any]:
        return {"partner": (await partner).body}

    async def relationship() -> dict[str, Any]:
        record = (await partner).body.get("relationship")
        if not staff or record is None:
            return {"relationship": None, "history": []}
        history, _ = await calls.get_all(
            "partners", f"relationships/{record['id']}/history", sort=["changed_at", "ASC"]
        )
        return {"relationship": record, "history": history}

    async def grants() -> dict[str, Any]:
        (rows, complete), (payments, paid_complete), due = await asyncio.gather(
            calls.get_all("funding", "grants", filter=mine, sort=["awarded_on", "DESC"]),
            calls.get_all("funding", "payments", filter=mine, sort=["paid_on", "DESC"]),
            calls.get(
                "funding",
                "instalments",
                filter={**mine, "status": "scheduled"},
                sort=["due_date", "ASC"],
                range=[0, 0],
            ),
        )
        awarded = [g for g in rows if g["status"] in AWARDED]
        return {
            "grants": rows,
            "awarded": _sum_by_currency(awarded, "amount_awarded"),
            "paid": _sum_by_currency(payments, "amount"),
            "next_instalment": (due.body or [None])[0],
            "complete": complete and paid_complete,
        }

    async def updates() -> dict[str, Any]:
        latest, waiting = await asyncio.gather(
            calls.get(
                "partners", "updates", filter=mine, sort=["sent_at", "DESC"], range=[0, LATEST - 1]
            ),
            calls.get(
                "partners",
                "updates",
                filter={**mine, "replied": False},
                sort=["sent_at", "ASC"],
                range=[0, LATEST - 1],
            ),
        )
        return {
            "latest": latest.body,
            "awaiting_reply": waiting.body,
            "awaiting_reply_count": _count(waiting),
        }

    async def threads() -> dict[str, Any]:
        answer = await calls.get(
            "feedback",
            "threads",
            filter=mine,
            sort=["last_message_at", "DESC"],
            range=[0, LATEST - 1],
        )
        return {"threads": answer.body, "count": _count(answer)}

    async def last_interaction() -> dict[str, Any]:
        answer = await calls.get(
            "partners", "interactions", filter=mine, sort=["occurred_at", "DESC"], range=[0, 0]
        )
        return {"interaction": (answer.body or [None])[0]}

    async def rounds() -> dict[str, Any]:
        # A partner lists the rounds it was invited to; staff ask which of theirs invited it.
        invited = {"invited_partner_id": partner_id} if staff else {}
        rows, _ = await calls.get_all(
            "feedback", "rounds", filter=invited, sort=["opens_on", "DESC"]
        )
        return {"rounds": rows}

    try:
        return await sections(
            organisation=organisation(),
            relationship=relationship(),
            grants=grants(),
            updates=updates(),
            threads=threads(),
            last_interaction=last_interaction(),
            rounds=rounds(),
        )
    finally:
        if not partner.done():
            partner.cancel()


def _count(answer: Answer) -> int:
    total = answer.total
    return total if total is not None else len(answer.body or [])
