"""One OpenAPI document for the whole API, and interactive docs."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.openapi import merge_documents
from tests.gateway.conftest import Keys, Served, Services, gateway_settings
from tests.gateway.served import closed_port_url


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _resolves(doc: dict[str, Any], ref: str) -> bool:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


async def test_merged_document_has_every_services_paths(gateway: str, services: Services) -> None:
    async with httpx.AsyncClient() as client:
        merged = (await client.get(f"{gateway}/openapi.json")).json()
        assert merged["x-trellis-missing"] == []
        for name, url in services.urls.items():
            own = (await client.get(f"{url}/openapi.json")).json()
            public = {
                p for p in own["paths"] if p.startswith(("/api/v1/", "/oauth/", "/.well-known/"))
            }
            assert public <= set(merged["paths"]), name
    assert "/api/v1/partners" in merged["paths"]
    assert "/oauth/token" in merged["paths"]
    assert not [p for p in merged["paths"] if p.startswith(("/internal", "/healthz", "/readyz"))]
    assert merged["x-trellis-services"] == ["partners", "funding", "feedback", "gateway"]
    assert "/api/v1/overview" in merged["paths"]  # the gateway's own views
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    unresolved = [ref for ref in _refs(merged) if not _resolves(merged, ref)]
    assert unresolved == []


async def test_interactive_docs(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


@pytest.fixture
def gateway_without_feedback(keys: Keys, services: Services) -> Iterator[str]:
    urls = {**services.urls, "feedback": closed_port_url()}
    served = Served(create_app(gateway_settings(keys, urls))).start()
    yield served.url
    served.stop()


async def test_a_missing_service_is_named_in_the_document(gateway_without_feedback: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_without_feedback) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    merged = response.json()
    assert merged["x-trellis-missing"] == ["feedback"]
    assert "feedback service did not answer" in merged["info"]["description"]
    assert "/api/v1/partners" in merged["paths"]


def _doc(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def _op(schema: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {"get": {"responses": {"200": {"description": "ok", "content": content}}}}


def test_colliding_component_names_are_prefixed_and_refs_follow() -> None:
    problem = {"type": "object", "properties": {"status": {"type": "integer"}}}
    merged = merge_documents(
        {
            "partners": _doc(
                {"/api/v1/partners": _op("Page"), "/internal/x": _op("Page")},
                {
                    "Page": {
                        "type": "object",
                        "properties": {"item": {"$ref": "#/components/schemas/Item"}},
                    },
                    "Item": {"type": "string"},
                    "Problem": problem,
                },
            ),
            "funding": _doc(
                {"/api/v1/grants": _op("Page"), "/api/v1/partners/x": _op("Item")},
                {
                    "Page": {
                        "type": "object",
                        "properties": {"item": {"$ref": "#/components/schemas/Item"}},
                    },
                    "Item": {"type": "integer"},
                    "Problem": problem,
                },
            ),
            "feedback": None,
        }
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Problem"] == problem  # identical: kept once
    assert "Item" not in schemas and "Page" not in schemas
    assert schemas["Partners_Item"] == {"type": "string"}
    assert schemas["Funding_Item"] == {"type": "integer"}
    # Page was the same text but points at different Items: it is prefixed too
    assert (
        schemas["Funding_Page"]["properties"]["item"]["$ref"] == "#/components/schemas/Funding_Item"
    )
    grants = merged["paths"]["/api/v1/grants"]["get"]["responses"]["200"]["content"]
    assert grants["application/json"]["schema"]["$ref"] == "#/components/schemas/Funding_Page"
    # only paths the gateway routes to that service are kept
    assert set(merged["paths"]) == {"/api/v1/partners", "/api/v1/grants"}
    assert merged["x-trellis-missing"] == ["feedback"]
