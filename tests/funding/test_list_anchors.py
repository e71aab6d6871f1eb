"""Instalments and payments keep list versions like grants: their deep ``range`` pages,
read from anchors, are exactly the rows OFFSET gives, after writes, in each funder's
scope and in a partner's."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text, update

from services.funding.grants.models import Grant, Instalment
from tests.common.anchors import assert_deep_pages_are_offset_pages, ids, small_lists
from tests.funding.helpers import Funder, new_funder
from tests.support import Stack

INSTALMENT_SORTS = ["due_date", "amount", "created_at", "id"]
PAYMENT_SORTS = ["paid_on", "amount", "created_at", "id"]


async def awarded_grants(stack: Stack, count: int) -> tuple[Funder, list[dict[str, Any]]]:
    """A funder with ``count`` approved three-year grants (three annual instalments each),
    their amounts repeating (ties); the instalments, in schedule order."""
    f = await new_funder(stack)
    instalments = []
    for n in range(count):
        grant = await f.awarded(amount_awarded=(n % 2 + 1) * 300_000)
        instalments += (await f.schedule(grant))["instalments"]
    return f, instalments


async def test_instalment_pages_are_offset_pages_per_funder_and_partner(stack: Stack) -> None:
    first, _ = await awarded_grants(stack, 5)
    second, _ = await awarded_grants(stack, 2)
    with small_lists(stack, "funding"):
        for f, size in ((first, 15), (second, 6)):
            for headers in (f.staff, f.partner_headers):
                await assert_deep_pages_are_offset_pages(
                    stack.funding, "/api/v1/instalments", headers, INSTALMENT_SORTS, size
                )


async def test_payment_pages_follow_payments_made(stack: Stack) -> None:
    f, instalments = await awarded_grants(stack, 5)
    path = "/api/v1/payments"
    with small_lists(stack, "funding"):
        for instalment in instalments[:12]:
            assert (await f.pay(instalment["id"])).status_code == 201
        await assert_deep_pages_are_offset_pages(stack.funding, path, f.staff, PAYMENT_SORTS, 12)
        before = await ids(stack.funding, path, f.staff, "amount", "ASC", 0, 99)
        # One more payment, of the smallest amount: every deep page by amount moves on.
        smallest = min(instalments[12:], key=lambda i: (i["amount"], i["id"]))
        assert (await f.pay(smallest["id"])).status_code == 201
        after = await ids(stack.funding, path, f.staff, "amount", "ASC", 0, 99)
        assert len(after) == 13 and set(before) < set(after)
        for start in (4, 8, 9, 12):
            deep = await ids(stack.funding, path, f.staff, "amount", "ASC", start, start + 3)
            assert deep == after[start : start + 4]
        # Paying changed the instalments too: their pages follow.
        await assert_deep_pages_are_offset_pages(
            stack.funding, "/api/v1/instalments", f.staff, INSTALMENT_SORTS, 15
        )
        # The partner sees its own payments, read from anchors of its own scope.
        await assert_deep_pages_are_offset_pages(
            stack.funding, path, f.partner_headers, PAYMENT_SORTS, 13
        )


async def test_writers_committing_changes_to_several_lists_never_deadlock(
    stack: Stack, backend: str
) -> None:
    """On PostgreSQL the list versions are bumped at commit; two transactions that changed
    grants and instalments in opposite orders lock the counters in the same (name) order,
    so they queue instead of deadlocking."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time")
    _, instalments = await awarded_grants(stack, 2)
    engine = stack.apps["funding"].state.db.engine
    # Each writer its own grant and instalment: no row lock between them before commit.
    mine = [(uuid.UUID(i["grant_id"]), uuid.UUID(i["id"])) for i in instalments[::3]]

    def touch_grant(n: int) -> Any:
        return update(Grant).where(Grant.id == mine[n][0]).values(title=f"Core funding {n}")

    def touch_instalment(n: int) -> Any:
        return (
            update(Instalment).where(Instalment.id == mine[n][1]).values(amount=Instalment.amount)
        )

    async with engine.connect() as blocker, engine.connect() as first, engine.connect() as second:
        await blocker.begin()
        await blocker.execute(
            text("SELECT version FROM list_versions WHERE name = 'grants' FOR UPDATE")
        )
        await first.begin()
        await first.execute(touch_grant(0))
        await first.execute(touch_instalment(0))
        await second.begin()
        await second.execute(touch_instalment(1))
        await second.execute(touch_grant(1))
        # Both commit while the grants counter is held: each waits on it at its bump.
        commits = [asyncio.create_task(first.commit()), asyncio.create_task(second.commit())]
        await asyncio.sleep(0.5)
        await blocker.rollback()
        await asyncio.wait_for(asyncio.gather(*commits), timeout=10)


@contextmanager
def session_statements(stack: Stack) -> Iterator[list[str]]:
    """The statements funding sends through SQLAlchemy meanwhile (the driver's own reads,
    which go around it, are not among them)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.lower())

    engine = stack.apps["funding"].state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def deep_page_again(
    stack: Stack, path: str, headers: dict[str, str], params: dict[str, str]
) -> tuple[Any, Any, list[str]]:
    """A deep page read twice with small lists (the first builds the anchors): both answers,
    and the statements the second sent through SQLAlchemy."""
    with small_lists(stack, "funding"):
        first = await stack.funding.get(path, headers=headers, params=params)
        assert first.status_code == 200, first.text
        with session_statements(stack) as sent:
            deep = await stack.funding.get(path, headers=headers, params=params)
    return first, deep, sent


async def test_a_deep_page_takes_its_total_from_the_anchors_and_counts_nothing(
    stack: Stack,
) -> None:
    """The anchors hold the list's exact count at their version, and a page seeked from
    them is read at that version: its total needs no count of its own (a bounded count of
    the exact-count limit's rows, every deep page, was most of what a deep page of a
    large list cost beyond the first)."""
    f, instalments = await awarded_grants(stack, 5)  # 15 instalments
    params = {"sort": '["due_date","ASC"]', "range": "[8,11]"}
    first, deep, sent = await deep_page_again(stack, "/api/v1/instalments", f.staff, params)
    assert deep.status_code == 200
    assert deep.content == first.content
    # 15 instalments, over the exact-count limit of 10, yet exact: the anchors counted them.
    assert deep.headers["content-range"] == f"instalments 8-11/{len(instalments)}"
    assert "x-total-count-estimated" not in deep.headers
    assert sent, "the deep page was read through the session"
    assert not [s for s in sent if "count(" in s]


async def test_a_cursor_page_takes_the_total_kept_at_the_version(stack: Stack) -> None:
    """A page after a cursor counts nothing while the list's total is kept at the table's
    version (it counted the exact-count limit's rows on every page), and counts again,
    with the page, once the table has changed."""
    f, instalments = await awarded_grants(stack, 2)  # 6 instalments
    path = "/api/v1/instalments"
    params = {"sort": '["due_date","ASC"]', "range": "[0,3]"}
    with small_lists(stack, "funding"):
        first = await stack.funding.get(path, headers=f.staff, params=params)
        assert first.status_code == 200, first.text
        after = {**params, "cursor": first.headers["x-next-cursor"]}
        with session_statements(stack) as sent:
            cursor_page = await stack.funding.get(path, headers=f.staff, params=after)
        assert cursor_page.status_code == 200, cursor_page.text
        assert sent, "the cursor page was read through the session"
        assert not [s for s in sent if "count(" in s]
        rest = await stack.funding.get(path, headers=f.staff, params={**params, "range": "[4,7]"})
        assert cursor_page.json() == rest.json()
        assert cursor_page.headers["content-range"] == f"instalments 4-5/{len(instalments)}"
        await f.awarded()  # three more instalments: the table's version moves on
        with session_statements(stack) as sent:
            changed = await stack.funding.get(path, headers=f.staff, params=after)
        assert changed.headers["content-range"].endswith(f"/{len(instalments) + 3}")
        assert [s for s in sent if "count(" in s]


async def test_a_first_page_read_through_the_session_has_its_limit_written_out(
    stack: Stack, backend: str
) -> None:
    """Instalments are ORM objects, read through the session: their first page has its
    LIMIT written out too (bound, PostgreSQL planned it anew on every request), a later
    page its window bound."""
    f, _instalments = await awarded_grants(stack, 2)
    path = "/api/v1/instalments"
    with session_statements(stack) as sent:
        for window in ("[0,3]", "[4,5]"):
            page = await stack.funding.get(path, headers=f.staff, params={"range": window})
            assert page.status_code == 200, page.text
    pages = [s for s in sent if "from instalments" in s and "order by" in s]
    assert len(pages) == 2, sent
    first, later = pages
    assert "limit 5" in first.split("order by")[-1]
    assert "limit 3" not in later  # bound, with its offset
    if backend == "postgres":  # SQLAlchemy writes SQLite's LIMIT with an OFFSET, bound
        assert "offset" not in first.split("order by")[-1]


async def test_a_deep_page_of_plain_rows_is_read_on_the_driver(stack: Stack) -> None:
    """Grants are listed as plain rows: a page seeked from the anchors is compiled once and
    read on the driver (no statement through SQLAlchemy's session), with the same rows."""
    f, _instalments = await awarded_grants(stack, 7)
    params = {"sort": '["amount_awarded","ASC"]', "range": "[4,6]"}
    first, deep, sent = await deep_page_again(stack, "/api/v1/grants", f.staff, params)
    with small_lists(stack, "funding"):
        whole = await stack.funding.get(
            "/api/v1/grants",
            headers=f.staff,
            params={"sort": '["amount_awarded","ASC"]', "range": "[0,6]"},
        )
    assert deep.status_code == 200
    assert deep.content == first.content
    assert [g["id"] for g in deep.json()] == [g["id"] for g in whole.json()][4:7]
    assert deep.headers["content-range"] == "grants 4-6/7"
    assert sent == []


@pytest.mark.parametrize(
    "sort", ['["amount_awarded","ASC"]', '["awarded_on","DESC"]', '["id","DESC"]']
)
async def test_a_cursor_page_of_plain_rows_is_read_on_the_driver(stack: Stack, sort: str) -> None:
    """Grants are listed as plain rows: a page after a cursor is compiled once (the
    cursor's sort value and id bound by name) and read on the driver, with the rows the
    offset page has."""
    f, _instalments = await awarded_grants(stack, 7)
    params = {"sort": sort, "range": "[0,2]"}
    first = await stack.funding.get("/api/v1/grants", headers=f.staff, params=params)
    after = {"sort": sort, "cursor": first.headers["x-next-cursor"]}
    await stack.funding.get("/api/v1/grants", headers=f.staff, params=after)
    with session_statements(stack) as sent:
        page = await stack.funding.get("/api/v1/grants", headers=f.staff, params=after)
    assert page.status_code == 200, page.text
    assert sent == []
    offset = await stack.funding.get(
        "/api/v1/grants", headers=f.staff, params={"sort": sort, "range": "[3,6]"}
    )
    assert page.json() == offset.json()
    assert page.headers["content-range"] == "grants 3-6/7"


async def test_a_deep_page_is_prepared_with_its_window_written_out(
    stack: Stack, backend: str
) -> None:
    """A page seeked from an anchor has its window (rows skipped after the anchor, rows
    read) written out and only the anchor bound: with the window bound, PostgreSQL's
    generic plan looks dearer than each custom one, and it would plan every deep page
    anew. The same window asked again is the same prepared statement."""
    if backend != "postgres":
        pytest.skip("the statements PostgreSQL keeps prepared")
    f, _instalments = await awarded_grants(stack, 7)
    params = {"sort": '["amount_awarded","ASC"]', "range": "[4,6]"}
    first, deep, _sent = await deep_page_again(stack, "/api/v1/grants", f.staff, params)
    assert deep.content == first.content
    statements = []
    for kept in stack.apps["funding"].state.db.reads.idle:
        rows = await kept.driver_connection.fetch("SELECT statement FROM pg_prepared_statements")
        statements += [" ".join(row["statement"].split()) for row in rows]
    anchored = [s for s in statements if "grants.id) >= (" in s]
    assert anchored, "no page was seeked from an anchor"
    # An anchor every 4 rows in small lists: row 4 is the second anchor's own row.
    # The page's first row found in a subquery (rows skipped, one read), then the page read.
    assert all(
        "LIMIT 1 OFFSET 0)" in s and "LIMIT 4" in s and "OFFSET $" not in s and "LIMIT $" not in s
        for s in anchored
    ), anchored
