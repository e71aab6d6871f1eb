"""``list_query``'s parse of a request's own query string (the hot lists' way in)."""

from types import SimpleNamespace
from typing import Any

from starlette.requests import Request

from services.common.listparams import list_query

parse = list_query("things", sortable=["name"], filterable=["status"])


def _request(query_string: bytes, **settings: Any) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(**settings)))
    return Request({"type": "http", "query_string": query_string, "app": app, "headers": []})


async def test_a_query_string_parsed_again_gives_each_request_its_own_filters() -> None:
    raw = b"filter=%7B%22status%22%3A%5B%22open%22%5D%7D&sort=%5B%22name%22%2C%22ASC%22%5D"
    first = await parse.from_request(_request(raw))
    first.filters["status"] = ["changed by its request"]
    first.filters["extra"] = True
    second = await parse.from_request(_request(raw))
    assert second.filters == {"status": ["open"]}
    assert (second.sort, second.descending, second.start, second.end) == ("name", False, 0, 24)


async def test_a_query_string_parsed_again_takes_the_settings_it_is_read_with() -> None:
    raw = b"range=%5B0%2C49%5D"
    assert (await parse.from_request(_request(raw))).end == 49
    assert (await parse.from_request(_request(raw, max_page_size=10))).end == 9
    counted = await parse.from_request(_request(raw, list_exact_count_limit=7))
    assert (counted.end, counted.exact_count_limit) == (49, 7)


async def test_a_cursor_query_keeps_its_cursor_every_time() -> None:
    # ["created_at", true, null, "00000000-...", 2]: the third row of the default sort.
    cursor = (
        "WyJjcmVhdGVkX2F0Iix0cnVlLG51bGwsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCIsMl0"
    )
    raw = b"range=%5B0%2C9%5D&cursor=" + cursor.encode()
    for _ in range(2):
        query = await parse.from_request(_request(raw))
        assert query.cursor is not None
        assert (query.start, query.end) == (2, 11)
