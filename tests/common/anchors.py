"""What the deep-page tests of every list share: small limits, and deep ``range`` pages
compared with the rows OFFSET gives (the whole list read from row 0)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from tests.support import Stack

LIMIT = 10  # the exact-count limit of these tests
EVERY = 4  # an anchor every 4 rows
STARTS = (4, 5, 7, 9, 12, 13, 14, 20)


@contextmanager
def small_lists(stack: Stack, service: str) -> Iterator[None]:
    """``service`` counting exactly up to 10 rows, with an anchor every 4."""
    settings = stack.apps[service].state.settings
    saved = settings.list_exact_count_limit, settings.list_anchor_every
    settings.list_exact_count_limit, settings.list_anchor_every = LIMIT, EVERY
    try:
        yield
    finally:
        settings.list_exact_count_limit, settings.list_anchor_every = saved


async def page(
    client: Any, path: str, headers: dict[str, str], sort: str, direction: str, start: int, end: int
) -> Any:
    params = {"sort": orjson.dumps([sort, direction]).decode(), "range": f"[{start},{end}]"}
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response


def total(response: Any) -> int:
    return int(response.headers["content-range"].rsplit("/", 1)[1])


async def ids(
    client: Any, path: str, headers: dict[str, str], sort: str, direction: str, start: int, end: int
) -> list[str]:
    got = await page(client, path, headers, sort, direction, start, end)
    return [row["id"] for row in got.json()]


async def assert_deep_pages_are_offset_pages(
    client: Any, path: str, headers: dict[str, str], sorts: list[str], size: int
) -> list[str]:
    """Every deep page of every sort is the slice of the whole list OFFSET gives, with the
    exact total; the whole list in the last sort read. A list past the exact-count limit
    keeps its count with its anchors: read again, its first page says an exact total, not
    an estimate (an unversioned list estimates it, on either database)."""
    whole: list[str] = []
    for sort in sorts:
        for direction in ("ASC", "DESC"):
            whole = await ids(client, path, headers, sort, direction, 0, 99)
            assert len(whole) == size
            for start in STARTS:
                got = await page(client, path, headers, sort, direction, start, start + 4)
                assert [row["id"] for row in got.json()] == whole[start : start + 5]
                assert total(got) == size
    if size > LIMIT:
        for _ in range(2):
            first = await page(client, path, headers, sorts[0], "ASC", 0, 4)
            assert total(first) == size
            assert "x-total-count-estimated" not in first.headers
    return whole
