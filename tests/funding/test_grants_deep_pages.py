"""Large grant lists: estimated totals beyond the exact-count limit, and deep ``range``
pages read from anchors that give exactly the rows OFFSET gives, whatever changes."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, update

from services.funding.grants.models import Grant, GrantFundingOrganisation, Instalment
from tests.funding.helpers import Funder, new_funder
from tests.support import Stack

LIMIT = 10  # the exact-count limit of these tests
EVERY = 4  # an anchor every 4 rows
SORTS = ["awarded_on", "amount_awarded", "planned_start_date", "planned_end_date", "created_at"]
SORTS += ["id"]


@pytest.fixture
async def small_lists(stack: Stack) -> AsyncIterator[Stack]:
    """The funding service counting exactly up to 10 rows, with an anchor every 4."""
    settings = stack.apps["funding"].state.settings
    saved = settings.list_exact_count_limit, settings.list_anchor_every
    settings.list_exact_count_limit, settings.list_anchor_every = LIMIT, EVERY
    yield stack
    settings.list_exact_count_limit, settings.list_anchor_every = saved


async def grants_with_ties(stack: Stack, count: int) -> Funder:
    """A funder with ``count`` proposed grants whose amounts and dates repeat (ties)."""
    f = await new_funder(stack)
    for n in range(count):
        await f.propose(
            title=f"Grant {n}",
            amount_awarded=(n % 3 + 1) * 100_000,
            planned_start_date=f"2030-0{n % 2 + 1}-01",
            planned_end_date=f"2033-0{n % 3 + 1}-28",
        )
    return f


async def page(f: Funder, sort: str, direction: str, start: int, end: int, **extra: Any) -> Any:
    params = {"sort": orjson.dumps([sort, direction]).decode(), "range": f"[{start},{end}]"}
    response = await f.stack.funding.get(
        "/api/v1/grants", headers=f.staff, params={**params, **extra}
    )
    assert response.status_code == 200, response.text
    return response


async def ids(f: Funder, sort: str, direction: str, start: int, end: int) -> list[str]:
    return [g["id"] for g in (await page(f, sort, direction, start, end)).json()]


def total(response: Any) -> int:
    return int(response.headers["content-range"].rsplit("/", 1)[1])


async def test_small_lists_count_exactly_and_say_nothing_more(small_lists: Stack) -> None:
    f = await grants_with_ties(small_lists, LIMIT)
    response = await page(f, "id", "ASC", 0, 4)
    assert response.headers["content-range"] == f"grants 0-4/{LIMIT}"
    assert "x-total-count-estimated" not in response.headers


async def test_a_large_total_is_a_number_and_says_when_it_is_an_estimate(
    small_lists: Stack, backend: str
) -> None:
    f = await grants_with_ties(small_lists, 14)
    first = await page(f, "awarded_on", "DESC", 0, 4)
    # Always a number react-admin parses, never fewer than the rows the page proves exist.
    assert first.headers["content-range"].startswith("grants 0-4/")
    assert total(first) > LIMIT
    if backend == "postgres":
        # The planner's estimate, not a count: the response says so.
        assert first.headers["x-total-count-estimated"] == "true"
    else:
        # SQLite counted once, exactly, at the table's current version.
        assert total(first) == 14
        assert "x-total-count-estimated" not in first.headers
    # Once a deep page has read the list's anchors, the count at this version is exact.
    await page(f, "awarded_on", "DESC", 8, 12)
    again = await page(f, "awarded_on", "DESC", 0, 4)
    assert total(again) == 14
    assert "x-total-count-estimated" not in again.headers
    # A filter read without anchors (overdue changes by the day) is estimated when large.
    unversioned = [await page(f, "id", "ASC", 0, 4, filter='{"overdue":false}') for _ in "ab"]
    assert all(total(r) >= LIMIT + 1 for r in unversioned)
    assert unversioned[-1].headers.get("x-total-count-estimated") == "true"


async def test_the_estimate_header_is_documented(stack: Stack) -> None:
    spec = (await stack.funding.get("/openapi.json")).json()
    headers = spec["paths"]["/api/v1/grants"]["get"]["responses"]["200"]["headers"]
    assert "X-Total-Count-Estimated" in headers
    assert "estimate" in headers["X-Total-Count-Estimated"]["description"]


async def test_deep_pages_are_exactly_the_offset_rows_in_every_sort(small_lists: Stack) -> None:
    f = await grants_with_ties(small_lists, 14)
    for sort in SORTS:
        for direction in ("ASC", "DESC"):
            whole = await ids(f, sort, direction, 0, 99)  # start 0: read by OFFSET 0
            assert len(whole) == 14
            for start in (4, 5, 7, 9, 12, 13, 14, 20):
                assert await ids(f, sort, direction, start, start + 4) == whole[start : start + 5]


async def direct_delete(stack: Stack, grant_id: str) -> None:
    """Delete a grant straight in the database, as another writer would."""
    async with stack.apps["funding"].state.db.sessionmaker() as session, session.begin():
        gid = uuid.UUID(grant_id)
        await session.execute(delete(Instalment).where(Instalment.grant_id == gid))
        await session.execute(
            delete(GrantFundingOrganisation).where(GrantFundingOrganisation.grant_id == gid)
        )
        await session.execute(delete(Grant).where(Grant.id == gid))


async def test_anchors_follow_inserts_updates_and_deletes(small_lists: Stack) -> None:
    f = await grants_with_ties(small_lists, 13)
    sort = "amount_awarded"
    before = await ids(f, sort, "ASC", 0, 99)
    assert await ids(f, sort, "ASC", 8, 11) == before[8:12]  # anchors now cached
    # A grant that sorts first shifts every deep page by one.
    await f.propose(amount_awarded=1)
    after_insert = await ids(f, sort, "ASC", 0, 99)
    assert after_insert[1:] == before
    assert await ids(f, sort, "ASC", 8, 11) == after_insert[8:12]
    # An update that moves a row (a new amount) is seen too.
    async with small_lists.apps["funding"].state.db.sessionmaker() as session, session.begin():
        moved = uuid.UUID(after_insert[0])
        await session.execute(update(Grant).where(Grant.id == moved).values(amount_awarded=10**9))
    after_update = await ids(f, sort, "ASC", 0, 99)
    assert after_update[-1] == after_insert[0]
    assert await ids(f, sort, "ASC", 8, 11) == after_update[8:12]
    # A delete by another writer (here straight in the database) as well.
    await direct_delete(small_lists, after_update[2])
    after_delete = await ids(f, sort, "ASC", 0, 99)
    assert len(after_delete) == 13
    assert await ids(f, sort, "ASC", 8, 11) == after_delete[8:12]
    assert total(await page(f, sort, "ASC", 8, 11)) == 13
    # Past the end: empty, and still the right total.
    beyond = await page(f, sort, "ASC", 16, 19)
    assert beyond.json() == []
    assert beyond.headers["content-range"] == "grants */13"


async def test_anchors_and_counts_are_never_another_funders(small_lists: Stack) -> None:
    first = await grants_with_ties(small_lists, 14)
    second = await grants_with_ties(small_lists, 12)
    for f, size in ((first, 14), (second, 12)):
        whole = await ids(f, "awarded_on", "DESC", 0, 99)
        assert len(whole) == size
        deep = await page(f, "awarded_on", "DESC", 8, 11)
        assert [g["id"] for g in deep.json()] == whole[8:12]
        assert all(g["funder_id"] == f.id for g in deep.json())
        assert total(deep) == size
