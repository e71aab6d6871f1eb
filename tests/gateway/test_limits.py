"""Limits at the door of the gateway: bodies over TRELLIS_MAX_BODY_BYTES, over-long URLs."""

from collections.abc import AsyncIterator

import httpx

from tests.gateway.conftest import EchoStack

LIMIT = 1024 * 1024


async def test_a_body_over_the_limit_is_413_before_it_reaches_a_service(
    echo_stack: EchoStack,
) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url, timeout=30) as client:
        response = await client.post("/api/v1/documents/upload", content=b"x" * (LIMIT + 1))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["limit"] == LIMIT
        assert "x-request-id" in response.headers

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"y" * 65536

        # Streamed without a length: cut off once past the limit, and answered the same.
        response = await client.post("/api/v1/documents/upload", content=chunks())
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"

        # At the limit it goes through.
        response = await client.post("/api/v1/documents/upload", content=b"z" * LIMIT)
        assert response.json()["body_length"] == LIMIT


async def test_an_over_long_url_is_a_414_problem(echo_stack: EchoStack) -> None:
    async with httpx.AsyncClient(base_url=echo_stack.url, timeout=30) as client:
        response = await client.get("/api/v1/grants", params={"filter": "x" * 9000})
    assert response.status_code == 414
    assert response.headers["content-type"] == "application/problem+json"
