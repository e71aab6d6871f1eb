"""``GET /api/v1/overview``: a funder's home page, what needs its staff's attention.

Sections: reflective updates waiting for a reply (and those past the reply time the
funder promised: a published commitment measured by days to first reply, with its
``promised_days``, or the gateway's ``reply_within_days`` setting); instalments due
this month and overdue; feedback rounds open; pool proposals awaiting this funder's
vote.
"""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.common.auth import Caller
from services.gateway.views.compose import Answer, Calls, Refused, Unavailable, sections

LISTED = 10


def _month_end(today: date) -> date:
    first_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _count(answer: Answer) -> int:
    total = answer.total
    return total if total is not None else len(answer.body or [])


async def build(
    calls: Calls, caller: Caller, *, reply_within_days: int, today: date | None = None
) -> dict[str, dict[str, Any]]:
    """The sections of the caller's funder's home page."""
    today = today or datetime.now(UTC).date()

    async def promised_days() -> tuple[int, str]:
        try:
            answer = await calls.get(
                "feedback",
                "commitments",
                filter={"measure": "days_to_first_reply", "status": "published"},
                sort=["position", "ASC"],
                range=[0, 0],
            )
        except (Unavailable, Refused):
            # The promise is read where it can be; the setting stands in while feedback is away.
            return reply_within_days, "setting"
        rows = answer.body or []
        if rows and rows[0].get("promised_days"):
            return int(rows[0]["promised_days"]), "commitment"
        return reply_within_days, "setting"

    async def updates() -> dict[str, Any]:
        days, source = await promised_days()
        late_before = datetime.combine(today - timedelta(days=days), time.min, tzinfo=UTC)
        waiting, late = await asyncio.gather(
            calls.get(
                "partners",
                "updates",
                filter={"replied": False},
                sort=["sent_at", "ASC"],
                range=[0, LISTED - 1],
            ),
            calls.get(
                "partners",
                "updates",
                filter={"replied": False, "sent_at_lte": late_before.isoformat()},
                sort=["sent_at", "ASC"],
                range=[0, LISTED - 1],
            ),
        )
        return {
            "reply_within_days": days,
            "reply_within_days_from": source,
            "awaiting_reply": waiting.body,
            "awaiting_reply_count": _count(waiting),
            "past_promised_time": late.body,
            "past_promised_time_count": _count(late),
        }

    async def instalments() -> dict[str, Any]:
        end = _month_end(today)
        scheduled, overdue = await asyncio.gather(
            calls.get_all(
                "funding",
                "instalments",
                filter={"status": "scheduled", "year": today.year},
                sort=["due_date", "ASC"],
            ),
            calls.get(
                "funding",
                "instalments",
                filter={"overdue": True},
                sort=["due_date", "ASC"],
                range=[0, LISTED - 1],
            ),
        )
        rows, complete = scheduled
        month_start = today.replace(day=1).isoformat()
        this_month = [r for r in rows if month_start <= r["due_date"] <= end.isoformat()]
        return {
            "due_this_month": this_month,
            "due_this_month_count": len(this_month),
            "overdue": overdue.body,
            "overdue_count": _count(overdue),
            "complete": complete,
        }

    async def rounds() -> dict[str, Any]:
        answer = await calls.get(
            "feedback",
            "rounds",
            filter={"status": "open"},
            sort=["closes_on", "ASC"],
            range=[0, LISTED - 1],
        )
        return {"open": answer.body, "open_count": _count(answer)}

    async def proposals() -> dict[str, Any]:
        pools, _ = await calls.get_all("funding", "pools", sort=["name", "ASC"])
        member = [p for p in pools if p.get("my_status") == "active"]
        found = await asyncio.gather(
            *(
                calls.get_all("funding", f"pools/{p['id']}/proposals", filter={"status": "open"})
                for p in member
            )
        )
        waiting = [
            {**proposal, "pool_name": pool["name"]}
            for pool, (rows, _) in zip(member, found, strict=True)
            for proposal in rows
            if not any(v["funder_id"] == str(caller.staff_funder_id) for v in proposal["votes"])
        ]
        return {"awaiting_your_vote": waiting, "awaiting_your_vote_count": len(waiting)}

    return await sections(
        updates=updates(), instalments=instalments(), rounds=rounds(), proposals=proposals()
    )
