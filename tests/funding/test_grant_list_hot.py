"""The grant list on the hot path (``@hot_list`` in ``services.common.hotreads``) and its
kept statements (``lists.kept_statement``): the answers FastAPI's route gives, proven on
requests the router never saw."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.funding.grants import service as grants_service
from services.funding.grants.models import Grant
from tests.funding.helpers import Funder, new_funder, router_calls
from tests.support import Stack, running_stack

LIST = "/api/v1/grants"


def _unused() -> None:
    """A dependency no route has: overriding it sends every request to the router."""


@contextmanager
def through_the_router(app: FastAPI) -> Iterator[None]:
    """The route's own answers: the hot path steps aside while dependencies are overridden
    (as a test that overrides one expects)."""
    app.dependency_overrides[_unused] = _unused
    try:
        yield
    finally:
        del app.dependency_overrides[_unused]


async def _funder_with_grants(stack: Stack) -> Funder:
    """A funder with three awarded grants and a proposal; its list read once, so the hot
    path knows the route."""
    f = await new_funder(stack)
    for amount in (5000000, 7000000, 9000000):
        await f.awarded(amount_awarded=amount)
    await f.propose(title="Still a proposal")
    assert (await stack.funding.get(LIST, headers=f.staff)).status_code == 200
    return f


async def _hot_and_routed(
    stack: Stack, headers: dict[str, str], params: dict[str, str] | str
) -> tuple[Any, Any]:
    """The list's answer from the hot path (asserted: the router never saw it), then the
    route's own answer to the same request."""
    app = stack.apps["funding"]
    url = f"{LIST}?{params}" if isinstance(params, str) else LIST
    query = None if isinstance(params, str) else params
    with router_calls(app) as routed:
        hot = await stack.funding.get(url, headers=headers, params=query)
    assert routed == []
    with through_the_router(app), router_calls(app) as routed:
        slow = await stack.funding.get(url, headers=headers, params=query)
    assert routed == [LIST]
    return hot, slow


def _same_problem(hot: Any, routed: Any) -> None:
    assert hot.status_code == routed.status_code
    assert hot.headers["content-type"] == routed.headers["content-type"]
    assert hot.headers["content-type"] == "application/problem+json"
    ignore = {"request_id", "trace_id"}
    assert {k: v for k, v in hot.json().items() if k not in ignore} == {
        k: v for k, v in routed.json().items() if k not in ignore
    }


PAGES = [
    {},
    {"range": "[0,0]"},
    {"range": "[1,2]", "sort": '["amount_awarded","ASC"]'},
    {"filter": '{"status":"active"}'},
    {"filter": '{"status":["approved","proposed"],"year":2030}', "sort": '["id","DESC"]'},
    {"filter": '{"q":"still"}'},
]


@pytest.mark.parametrize("params", PAGES, ids=lambda p: json.dumps(p) if p else "default")
async def test_a_page_is_answered_without_the_router_as_the_route_answers(
    stack: Stack, params: dict[str, str]
) -> None:
    f = await _funder_with_grants(stack)
    hot, slow = await _hot_and_routed(stack, f.staff, params)
    assert hot.status_code == slow.status_code == 200, hot.text
    assert hot.content == slow.content
    for header in ("content-type", "content-range", "x-next-cursor", "x-total-count-estimated"):
        assert hot.headers.get(header) == slow.headers.get(header), header
    # A cursor page from the hot path continues as the route's does.
    if "x-next-cursor" in hot.headers:
        following = {**params, "cursor": hot.headers["x-next-cursor"]}
        hot_next, slow_next = await _hot_and_routed(stack, f.staff, following)
        assert hot_next.status_code == 200
        assert hot_next.content == slow_next.content
        assert hot_next.headers["content-range"] == slow_next.headers["content-range"]


BAD = [
    {"range": "[5,1]"},
    {"range": "0-24"},
    {"sort": '["title","ASC"]'},
    {"sort": '["amount_awarded","UP"]'},
    {"filter": '{"colour":"green"}'},
    {"filter": '{"status":"lost"}'},
    {"filter": '{"year":"last"}'},
    {"filter": '{"partner_id":"not-an-id"}'},
    {"cursor": "not-a-cursor"},
    {"sort": ""},
]


@pytest.mark.parametrize("params", BAD, ids=lambda p: json.dumps(p))
async def test_bad_parameters_get_the_same_400_as_from_the_route(
    stack: Stack, params: dict[str, str]
) -> None:
    f = await _funder_with_grants(stack)
    hot, slow = await _hot_and_routed(stack, f.staff, params)
    assert hot.status_code == 400, hot.text
    _same_problem(hot, slow)


async def test_a_parameter_sent_twice_counts_by_its_last_value_as_on_the_route(
    stack: Stack,
) -> None:
    f = await _funder_with_grants(stack)
    hot, slow = await _hot_and_routed(stack, f.staff, "range=%5B0%2C0%5D&range=%5B0%2C1%5D")
    assert len(hot.json()) == 2
    assert hot.content == slow.content
    assert hot.headers["content-range"] == slow.headers["content-range"]


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("nobody", {}, 401),
        # Anonymous and malformed: who is asking comes first, as on the route.
        ("nobody", {"range": "[5,1]"}, 401),
        ("service", {}, 403),
    ],
)
async def test_the_hot_list_keeps_roles(
    stack: Stack, who: str, params: dict[str, str], status: int
) -> None:
    await _funder_with_grants(stack)
    headers = {"nobody": {}, "service": stack.tokens.service()}[who]
    hot, slow = await _hot_and_routed(stack, headers, params)
    assert hot.status_code == status
    _same_problem(hot, slow)
    assert "content-range" not in hot.headers


async def test_each_caller_sees_only_their_own_grants_on_the_hot_list(stack: Stack) -> None:
    """Funders and partners share the list's kept statements only where they share a
    scope: another funder's staff and a partner each get their own."""
    f = await _funder_with_grants(stack)
    other = await _funder_with_grants(stack)
    app = stack.apps["funding"]
    with router_calls(app) as routed:
        mine = await stack.funding.get(LIST, headers=f.staff)
        theirs = await stack.funding.get(LIST, headers=other.staff)
        partner = await stack.funding.get(LIST, headers=f.partner_headers)
        other_partner = await stack.funding.get(LIST, headers=other.partner_headers)
    assert routed == []
    assert {g["funder_id"] for g in mine.json()} == {f.id}
    assert {g["funder_id"] for g in theirs.json()} == {other.id}
    assert not {g["id"] for g in mine.json()} & {g["id"] for g in theirs.json()}
    assert mine.headers["content-range"] == "grants 0-3/4"
    # A partner sees its own grants once awarded, never a proposal.
    assert {g["partner_id"] for g in partner.json()} == {f.partner["id"]}
    assert partner.headers["content-range"] == "grants 0-2/3"
    assert {g["partner_id"] for g in other_partner.json()} == {other.partner["id"]}


async def test_kept_statements_follow_each_filter_value(stack: Stack) -> None:
    """A statement is kept for the values it was built from: another value is another
    statement, the same filters in another order are the same, and a refused value keeps
    nothing."""
    f = await _funder_with_grants(stack)

    async def titles(filters: str) -> list[str]:
        response = await stack.funding.get(LIST, headers=f.staff, params={"filter": filters})
        assert response.status_code == 200, response.text
        return sorted(g["status"] for g in response.json())

    assert await titles('{"status":"approved"}') == ["approved"] * 3
    assert await titles('{"status":"proposed"}') == ["proposed"]
    assert await titles('{"status":"approved","year":2030}') == ["approved"] * 3
    assert await titles('{"year":2030,"status":"approved"}') == ["approved"] * 3
    assert await titles('{"status":"approved","year":2031}') == []
    refused = await stack.funding.get(
        LIST, headers=f.staff, params={"filter": '{"status":"approved","year":"soon"}'}
    )
    assert refused.status_code == 400
    assert await titles('{"status":"approved","year":2030}') == ["approved"] * 3


async def test_the_overdue_filter_is_read_for_the_day_it_is_asked_on(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which grants are overdue changes with the day: a statement kept yesterday is not
    today's."""
    f = await new_funder(stack)
    grant = await f.awarded()
    overdue = {"filter": '{"overdue":true}'}
    first = await stack.funding.get(LIST, headers=f.staff, params=overdue)
    assert first.json() == []
    # The first instalment falls due on the grant's planned start (2030-04-01).
    monkeypatch.setattr(grants_service, "today", lambda: date(2030, 6, 1))
    later = await stack.funding.get(LIST, headers=f.staff, params=overdue)
    assert [g["id"] for g in later.json()] == [grant["id"]]


async def test_a_pages_grants_read_as_their_read_ones(stack: Stack) -> None:
    """A page writes each grant's dates and times as read by the database as text
    (``json_text``): the same as its read-one, a time on a whole second too, and every
    sort's cursor still continues from the last row's own value."""
    f = await _funder_with_grants(stack)
    grants = (await stack.funding.get(LIST, headers=f.staff)).json()
    on_the_second = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
    async with stack.apps["funding"].state.db.engine.begin() as connection:
        await connection.execute(
            update(Grant)
            .where(Grant.id == uuid.UUID(grants[0]["id"]))
            .values(created_at=on_the_second, updated_at=on_the_second)
        )
    for sort in ("awarded_on", "planned_start_date", "created_at", "amount_awarded", "id"):
        params = {"sort": json.dumps([sort, "DESC"]), "range": "[0,1]"}
        page = await stack.funding.get(LIST, headers=f.staff, params=params)
        rest = await stack.funding.get(
            LIST, headers=f.staff, params={**params, "cursor": page.headers["x-next-cursor"]}
        )
        whole = await stack.funding.get(LIST, headers=f.staff, params={**params, "range": "[0,9]"})
        assert page.json() + rest.json() == whole.json(), sort
        for grant in whole.json():
            read = await stack.funding.get(f"{LIST}/{grant['id']}", headers=f.staff)
            assert grant == read.json()
    shown = {g["id"]: g for g in whole.json()}[grants[0]["id"]]
    assert shown["created_at"] == shown["updated_at"] == "2030-05-01T09:30:00Z"


async def test_a_query_string_parsed_before_keeps_each_services_settings(
    stack: Stack, backend: str, tmp_path: Any
) -> None:
    """The hot list keeps what it parsed of a query string; another service in the same
    process with a smaller page cap gets its own cap for the very same query string."""
    f = await _funder_with_grants(stack)
    query = "range=%5B0%2C99%5D"
    assert len((await stack.funding.get(f"{LIST}?{query}", headers=f.staff)).json()) == 4
    async with running_stack(backend, tmp_path / "capped", max_page_size=3) as capped:
        g = await _funder_with_grants(capped)
        page = await capped.funding.get(f"{LIST}?{query}", headers=g.staff)
        assert page.headers["content-range"] == "grants 0-2/4"
    again = await stack.funding.get(f"{LIST}?{query}", headers=f.staff)
    assert again.headers["content-range"] == "grants 0-3/4"


async def test_a_first_page_is_prepared_with_its_window_written_out(
    stack: Stack, backend: str
) -> None:
    """A first page's prepared statement has its LIMIT written out, not bound: with a bound
    LIMIT, PostgreSQL's generic plan looks dearer than each custom one, and it planned
    the page again on every request (at 2,000 grants, 330 us of a 600 us page; written
    out, it keeps one plan: the read_one benchmark shows it). Later pages bind theirs,
    so one statement serves every offset."""
    if backend != "postgres":
        pytest.skip("the statements PostgreSQL keeps prepared")
    f = await _funder_with_grants(stack)
    for params in ({}, {"range": "[1,2]"}, {"range": "[0,2]"}):
        assert (await stack.funding.get(LIST, headers=f.staff, params=params)).status_code == 200
    statements = []
    for kept in stack.apps["funding"].state.db.reads.idle:
        rows = await kept.driver_connection.fetch("SELECT statement FROM pg_prepared_statements")
        statements += [row["statement"] for row in rows]
    windows = {
        " ".join(statement.split("grants.id DESC", 1)[1].split())
        for statement in statements
        if "ORDER BY grants.list_date DESC, grants.id DESC" in statement
    }
    assert {"LIMIT 26", "LIMIT 4"} <= windows
    assert {w for w in windows if w.startswith("LIMIT $") and " OFFSET $" in w}
