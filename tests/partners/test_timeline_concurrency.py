"""Events about one grant handled at the same moment merge; none fails on a duplicate key.

The outbox delivers a batch of events concurrently, so ``grant.approved`` and an
``instalment.paid`` of the same grant, or the same fact under two event ids, can be
handled in overlapping transactions (on PostgreSQL truly in parallel).
"""

import asyncio
import uuid

from tests.partners.helpers import pair, send_event
from tests.partners.test_timeline import approved, paid, timeline
from tests.support import Stack


async def test_events_about_one_grant_at_once_all_land(stack: Stack) -> None:
    for _ in range(3):
        p = await pair(stack)
        grant_id = str(uuid.uuid4())
        instalment_ids = [str(uuid.uuid4()) for _ in range(3)]
        await asyncio.gather(
            send_event(stack, "grant.approved", approved(p, grant_id, "2024-07-15")),
            *(
                send_event(stack, "instalment.paid", paid(p, grant_id, i, "2024-08-01"))
                for i in instalment_ids
            ),
            # The same payment again, under a new event id, at the same time.
            send_event(
                stack, "instalment.paid", paid(p, grant_id, instalment_ids[0], "2024-08-01")
            ),
        )
        entries = (await timeline(stack, p.partner_id, stack.tokens.staff(p.funder_id))).json()
        kinds = sorted(entry["kind"] for entry in entries)
        assert kinds == ["grant.approved", *["instalment.paid"] * 3], kinds
