"""The merged OpenAPI document is a contract a client generator can trust.

Every check walks the document the gateway serves, so an operation added later is
covered without editing this file: problems typed under ``application/problem+json``,
the statuses each kind of operation answers, readable unique operationIds, security
per operation (checked against what the API really does without a token), the
headers, and an example on every request body and schema that validates against it.
"""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.common.openapi import resource_of
from tests.gateway.conftest import Keys

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch"}
PUBLIC_PREFIXES = ("/api/v1/public/", "/.well-known/", "/oauth/")


@pytest.fixture(scope="module")
def merged(gateway: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway}/openapi.json", timeout=30)
    assert response.status_code == 200
    doc = response.json()
    assert doc["x-trellis-missing"] == []
    return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _success(operation: dict[str, Any]) -> dict[str, Any]:
    return next(r for s, r in sorted(operation["responses"].items()) if s.startswith("2"))


def _params(operation: dict[str, Any], where: str) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == where}


def test_the_document_is_valid_openapi(merged: dict[str, Any]) -> None:
    validate(merged)
    assert merged["openapi"].startswith("3.1")
    assert merged["servers"] and merged["servers"][0]["url"] == "/"
    assert len(list(operations(merged))) > 100


def test_every_problem_is_typed_under_problem_json(merged: dict[str, Any]) -> None:
    problem = merged["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance", "message"}
    assert problem["properties"]["errors"]["anyOf"][0]["additionalProperties"]["type"] == "array"
    wrong = []
    for path, method, operation in operations(merged):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            typed = set(content) == {PROBLEM} and content[PROBLEM].get("schema") == {
                "$ref": "#/components/schemas/Problem"
            }
            if path.startswith("/oauth/") and not typed:
                # RFC 6749 section 5.2: OAuth errors are application/json, typed all the same.
                typed = set(content) == {"application/json"} and content["application/json"].get(
                    "schema"
                ) == {"$ref": "#/components/schemas/OAuthError"}
            if not typed:
                wrong.append(f"{method.upper()} {path} {status}")
            if not response.get("description"):
                wrong.append(f"{method.upper()} {path} {status}: no description")
    assert wrong == []
    # FastAPI's own validation error shape is never sent, so it is not documented.
    assert "HTTPValidationError" not in merged["components"]["schemas"]


def test_every_operation_declares_the_statuses_it_can_answer(merged: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in operations(merged):
        statuses = set(operation["responses"])
        expected = {"401", "429", "503"}  # the gateway: a bad token, rate limits, upstream down
        if operation["security"] == [{"bearerAuth": []}]:
            expected |= {"403"}
        if "{" in path:
            expected.add("404")
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        if "If-Match" in _params(operation, "header"):
            expected.add("412")
        if "Idempotency-Key" in _params(operation, "header"):
            expected |= {"400", "409", "422"}
        if "range" in _params(operation, "query"):
            expected.add("400")
        if not expected <= statuses:
            missing.append(f"{method.upper()} {path}: {sorted(expected - statuses)}")
    assert missing == []


def test_operation_ids_are_readable_unique_and_named_by_resource(merged: dict[str, Any]) -> None:
    ids = [(path, operation["operationId"]) for path, _, operation in operations(merged)]
    names = [name for _, name in ids]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for path, name in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", name), name
        assert name.startswith(resource_of(path) + "_"), (path, name)
        assert "api_v1" not in name and not name.endswith(("_get_get", "_post")), name
    assert {"partners_list", "grants_approve", "grants_create", "funders_get"} <= set(names)
    # every operation is tagged, so generated clients group it
    assert all(operation.get("tags") for _, _, operation in operations(merged))


def _enums(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield node
        for value in node.values():
            yield from _enums(value)
    elif isinstance(node, list):
        for item in node:
            yield from _enums(item)


def test_enums_have_one_type_each(merged: dict[str, Any]) -> None:
    """Mixed-type enums (1..5 or "dont_know") break Python client generators."""
    mixed = [
        node["enum"]
        for node in _enums(merged["components"])
        if len({type(value) for value in node["enum"]}) > 1
    ]
    assert mixed == []


#: OAuth endpoints that take the access token itself (OIDC userinfo).
BEARER_OAUTH = {"/oauth/userinfo"}


def test_security_is_declared_per_operation(merged: dict[str, Any]) -> None:
    assert "security" not in merged  # no global "token optional" for everything
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method, operation in operations(merged):
        security = operation["security"]
        assert security in ([], [{"bearerAuth": []}], [{}, {"bearerAuth": []}]), (path, security)
        if path.startswith(PUBLIC_PREFIXES) and path not in BEARER_OAUTH:
            assert security == [], (method, path)


def _fill(path: str) -> str:
    return re.sub(r"{[^}]+}", lambda m: str(uuid.uuid4()), path)


async def test_declared_security_is_what_the_api_enforces(
    merged: dict[str, Any], gateway: str
) -> None:
    """An operation that declares bearerAuth only answers 401 without a token; a public
    one never does."""
    wrong = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        for path, method, operation in operations(merged):
            response = await client.request(method.upper(), _fill(path))
            required = operation["security"] == [{"bearerAuth": []}]
            if required and response.status_code != 401:
                wrong.append(f"{method.upper()} {path} answered {response.status_code}")
            if not required and response.status_code == 401:
                wrong.append(f"{method.upper()} {path} is documented as public but wants a token")
            if response.status_code >= 400:
                expected = "application/json" if path.startswith("/oauth/") else PROBLEM
                assert response.headers["content-type"].startswith((PROBLEM, expected)), path
                if str(response.status_code) not in operation["responses"]:
                    wrong.append(f"{method.upper()} {path}: undocumented {response.status_code}")
    assert wrong == []


def test_headers_are_described(merged: dict[str, Any]) -> None:
    problems = []
    for path, method, operation in operations(merged):
        headers = _success(operation).get("headers", {})
        query = _params(operation, "query")
        schema = _success(operation).get("content", {}).get("application/json", {}).get("schema")
        if "range" in query or (schema or {}).get("type") == "array":
            if "Content-Range" not in headers:
                problems.append(f"{method.upper()} {path}: no Content-Range")
        if "cursor" in query and "X-Next-Cursor" not in headers:
            problems.append(f"{method.upper()} {path}: no X-Next-Cursor")
        if (
            "If-Match" in _params(operation, "header")
            and method != "delete"
            and ("ETag" not in headers)
        ):
            problems.append(f"{method.upper()} {path}: If-Match but no ETag")
        if "Idempotency-Key" in _params(operation, "header") and method != "post":
            problems.append(f"{method.upper()} {path}: Idempotency-Key on a non-create")
    assert problems == []
    grants = merged["paths"]["/api/v1/grants"]
    assert "Idempotency-Key" in _params(grants["post"], "header")
    assert {"Location", "ETag"} <= set(grants["post"]["responses"]["201"]["headers"])
    assert (
        "ETag" in merged["paths"]["/api/v1/grants/{grant_id}"]["get"]["responses"]["200"]["headers"]
    )
    assert "If-Match" in _params(merged["paths"]["/api/v1/grants/{grant_id}"]["put"], "header")


async def test_documented_headers_are_sent(gateway: str, keys: Keys) -> None:
    admin = keys.tokens.admin()
    async with httpx.AsyncClient(base_url=gateway, headers=admin, timeout=30) as client:
        for _ in range(2):
            slug = f"contract-{uuid.uuid4().hex[:8]}"
            created = await client.post(
                "/api/v1/funders",
                json={
                    "name": "The Contract Trust",
                    "slug": slug,
                    "prefix_360giving": f"360G-{slug.replace('-', '')}",
                    "org_id": "GB-CHC-1000001",
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert created.status_code == 201, created.text
            assert created.headers["Location"].endswith(created.json()["id"])
            assert created.headers["ETag"]
        read = await client.get(created.headers["Location"])
        assert read.headers["ETag"] == created.headers["ETag"]
        listed = await client.get("/api/v1/funders", params={"range": "[0,0]"})
        assert re.fullmatch(r"funders 0-0/\d+", listed.headers["Content-Range"])
        assert listed.headers["X-Next-Cursor"]
        missing = await client.get(f"/api/v1/funders/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    body = missing.json()
    assert {"type", "title", "status", "detail", "instance", "message"} <= set(body)


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """Validates against ``schema``, whose ``#/components/...`` refs point into ``doc``."""
    root = Resource.from_contents(
        {"components": doc["components"], "x-checked": schema}, default_specification=DRAFT202012
    )
    registry: Registry = Registry().with_resource("urn:trellis", root)
    return Draft202012Validator({"$ref": "urn:trellis#/x-checked"}, registry=registry)


def test_every_request_body_has_a_valid_example(merged: dict[str, Any]) -> None:
    wrong = []
    for path, method, operation in operations(merged):
        for media_type, media in (operation.get("requestBody") or {}).get("content", {}).items():
            if media_type != "application/json":
                continue
            if "example" not in media:
                wrong.append(f"{method.upper()} {path}: no example")
                continue
            errors = list(_validator(merged, media["schema"]).iter_errors(media["example"]))
            if errors:
                wrong.append(f"{method.upper()} {path}: {errors[0].message}")
    assert wrong == []


def test_every_schema_has_a_valid_example(merged: dict[str, Any]) -> None:
    wrong = []
    for name, schema in merged["components"]["schemas"].items():
        examples = schema.get("examples")
        if not examples:
            wrong.append(f"{name}: no example")
            continue
        validator = _validator(merged, {"$ref": f"#/components/schemas/{name}"})
        errors = list(validator.iter_errors(examples[0]))
        if errors:
            wrong.append(f"{name}: {errors[0].message}")
    assert wrong == []
