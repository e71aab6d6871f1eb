"""Partners' updates, their replies and timelines keep list versions: their deep
``range`` pages, read from anchors, are exactly the rows OFFSET gives, after writes, in
each funder's scope and in the partner's."""

from tests.common.anchors import assert_deep_pages_are_offset_pages, ids, small_lists, total
from tests.partners.helpers import Pair, pair, update
from tests.support import Stack

UPDATE_SORTS = ["sent_at", "last_activity_at", "id"]


async def partner_with_updates(stack: Stack, count: int) -> Pair:
    p = await pair(stack)
    for n in range(count):
        await update(stack, p, what_changed=f"Change number {n}.")
    return p


async def test_update_pages_are_offset_pages_per_funder_and_partner(stack: Stack) -> None:
    first = await partner_with_updates(stack, 14)
    second = await partner_with_updates(stack, 6)
    with small_lists(stack, "partners"):
        for p, size in ((first, 14), (second, 6)):
            for headers in (p.staff, p.as_partner):
                await assert_deep_pages_are_offset_pages(
                    stack.partners, "/api/v1/updates", headers, UPDATE_SORTS, size
                )


async def test_update_pages_follow_replies_and_new_updates(stack: Stack) -> None:
    p = await partner_with_updates(stack, 13)
    path = "/api/v1/updates"
    with small_lists(stack, "partners"):
        before = await ids(stack.partners, path, p.staff, "last_activity_at", "DESC", 0, 99)
        assert (
            await ids(stack.partners, path, p.staff, "last_activity_at", "DESC", 8, 11)
            == before[8:12]
        )
        # A reply to the oldest update makes it the most recently active.
        oldest = before[-1]
        thread = f"/api/v1/updates/{oldest}/replies"
        response = await stack.partners.post(thread, headers=p.staff, json={"body": "Thanks!"})
        assert response.status_code == 201
        after = await ids(stack.partners, path, p.staff, "last_activity_at", "DESC", 0, 99)
        assert after[0] == oldest and after[1:] == before[:-1]
        assert (
            await ids(stack.partners, path, p.staff, "last_activity_at", "DESC", 8, 11)
            == after[8:12]
        )
        # A new update: every deep page by sent_at moves on by one.
        await update(stack, p, what_changed="The newest change.")
        await assert_deep_pages_are_offset_pages(stack.partners, path, p.staff, UPDATE_SORTS, 14)
        # The thread's own pages.
        for n in range(13):
            side = p.staff if n % 2 else p.as_partner
            response = await stack.partners.post(thread, headers=side, json={"body": f"#{n}"})
            assert response.status_code == 201
        await assert_deep_pages_are_offset_pages(
            stack.partners, thread, p.staff, ["created_at", "id"], 14
        )


async def test_timeline_pages_are_offset_pages(stack: Stack) -> None:
    p = await partner_with_updates(stack, 14)
    path = f"/api/v1/partners/{p.partner_id}/timeline"
    with small_lists(stack, "partners"):
        whole = await ids(stack.partners, path, p.staff, "occurred_at", "DESC", 0, 99)
        assert whole
        for headers in (p.staff, p.as_partner):
            await assert_deep_pages_are_offset_pages(
                stack.partners,
                path,
                headers,
                ["occurred_at", "id"],
                len(await ids(stack.partners, path, headers, "id", "ASC", 0, 99)),
            )


async def test_search_counts_up_to_the_limit_then_says_its_total_is_an_estimate(
    stack: Stack,
) -> None:
    p = await partner_with_updates(stack, 14)
    with small_lists(stack, "partners"):
        small = await stack.partners.get(
            "/api/v1/search", headers=p.staff, params={"q": "number 3", "range": "[0,4]"}
        )
        assert small.status_code == 200, small.text
        assert "x-total-count-estimated" not in small.headers
        for params in ({"range": "[0,4]"}, {"q": "change", "range": "[0,4]"}):
            answers = [
                await stack.partners.get("/api/v1/search", headers=p.staff, params=params)
                for _ in "ab"
            ]
            assert all(a.status_code == 200 for a in answers)
            # Never fewer than the limit allows, a number react-admin parses, and said to
            # be an estimate (SQLite reuses its count, PostgreSQL asks the planner).
            assert all(total(a) > 10 for a in answers)
            assert answers[-1].headers["x-total-count-estimated"] == "true"
