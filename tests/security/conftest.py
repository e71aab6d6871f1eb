"""The real gateway in front of the stack, for the generated tests of the gateway's own
operations (composite views, the merged audit trail, takeout)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.gateway.served import served_gateway
from tests.support import Stack


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway in front of ``stack``'s apps served on loopback."""
    async for client in served_gateway(stack):
        yield client


@pytest.fixture(scope="module")
async def merged_document(gateway: httpx.AsyncClient) -> dict:
    """The merged OpenAPI as the gateway serves it: the services' operations and its own."""
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    assert not document["x-trellis-missing"], document["x-trellis-missing"]
    assert "gateway" in document["x-trellis-services"]
    return document
