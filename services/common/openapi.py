"""The OpenAPI contract of a service, derived from what its routes really do.

FastAPI documents parameters and bodies; this adds, for every operation and without
anyone editing a route, what a client generator needs to type the rest:

- a readable, stable ``operationId``: ``<resource>_<action>`` (``grants_approve``,
  ``partners_list``), from the first path segment and the route function's name;
- every error status the operation can answer, each as ``application/problem+json``
  with the ``Problem`` schema (a status a route declares with its own ``model`` or
  content keeps that), derived from the dependencies the route uses (a
  signed-in caller: 401 and 403; a path id: 404; ``Idempotency-Key``: 400, 409 and
  422; ``If-Match``: 412; list parameters: 400; any input: 422) plus the statuses a
  route declares itself with ``responses=problem_responses(...)``;
- the headers: ``Content-Range`` (and ``X-Total-Count-Estimated``) on lists and
  ``X-Next-Cursor`` on those read by
  cursor; ``ETag`` on reads and writes of versioned records (a path where some
  operation takes ``If-Match``); ``Location`` on creates of records that have their
  own ``GET /{id}``; and the ``Idempotency-Key`` request header (and the
  ``Idempotent-Replayed`` answer header) on writes that accept it;
- security per operation: ``bearerAuth`` where a token is required, none where the
  operation is public, either where a token is optional (it shows more);
- an example on every JSON request body and on every component schema
  (``services.common.examples``);
- enums of mixed types split into one typed enum per type, which generators handle.
"""

import inspect
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from services.common.auth import get_caller, get_signed_in_caller
from services.common.errors import PROBLEM_MEDIA_TYPE, ProblemDetails
from services.common.examples import example_for
from services.common.idempotency import HEADER as IDEMPOTENCY_HEADER
from services.common.idempotency import idempotency
from services.common.lists import ListQuery

PROBLEM_REF = "#/components/schemas/Problem"
API_PREFIX = "/api/v1/"

BEARER_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An OAuth 2.0 access token (RFC 9068), sent as `Authorization: Bearer <token>`.",
}

# What each problem status means, in the words a client developer needs.
STATUS_TEXT: dict[int, str] = {
    400: "A malformed parameter (such as `sort`, `range`, `filter` or `Idempotency-Key`); "
    "`detail` says which and how to fix it.",
    401: "No valid access token: send `Authorization: Bearer <token>` with a token that has "
    "not expired.",
    403: "The token is valid, but its role may not do this.",
    404: "There is no such record, or it belongs to someone else (the two look the same).",
    409: "The request conflicts with the record's current state, or a request with the same "
    "`Idempotency-Key` is still running.",
    412: "The `If-Match` ETag is stale: someone changed the record since you read it. Read it "
    "again and re-apply your change.",
    422: "The request is not valid: `errors` names each field and what is wrong with it, or "
    "`detail` says which rule it breaks (also: an `Idempotency-Key` reused with a different "
    "request).",
    429: "Too many requests: slow down and retry after the time in `Retry-After`.",
    503: "A service this request needs is unavailable or too slow; nothing was written. "
    "Retry shortly.",
}

HEADER_DOCS: dict[str, dict[str, Any]] = {
    "Content-Range": {
        "description": "The window of this page and the total, as react-admin reads it: "
        "`grants 0-24/319` (`grants */0` when empty).",
        "schema": {"type": "string", "examples": ["grants 0-24/319"]},
    },
    "X-Total-Count-Estimated": {
        "description": "`true` when the total in `Content-Range` is an estimate (a large list "
        "past the service's exact-count limit, `TRELLIS_<SERVICE>_LIST_EXACT_COUNT_LIMIT`); "
        "absent when it is an exact count.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "X-Next-Cursor": {
        "description": "Send as `cursor=` to read the page after this one; absent on the "
        "last page.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The version of the record; send it back as `If-Match` when you change it.",
        "schema": {"type": "string", "examples": ['"v3"']},
    },
    "Location": {
        "description": "Where the created record can be read.",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "Any unique string (1 to 255 characters), such as a UUID. A retry with the "
    "same key and the same request replays the first answer; the same key with a different "
    "request is 422; a retry while the first is still running is 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "7f8c4c1e-2f7b-4b8e-9a55-0c9f3d1a2b6e",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Statuses a route answers beyond what its dependencies already say (``responses=``)."""
    return {
        status: {
            "description": STATUS_TEXT.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status in statuses
    }


def problem_response(status: int) -> dict[str, Any]:
    return problem_responses(status)[status]


# operationIds -----------------------------------------------------------------------------


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def resource_of(path: str) -> str:
    """The resource a path belongs to: ``grants`` for ``/api/v1/grants/{id}/approve``.

    Public paths (``/api/v1/public/...``) are ``public``; paths outside ``/api/v1``
    use their first segment (``oauth``, ``well_known``).
    """
    rest = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path.lstrip("/")
    first = rest.split("/", 1)[0]
    return re.sub(r"[^a-z0-9]+", "_", first.lower()).strip("_") or "root"


def operation_id(route: APIRoute) -> str:
    """``<resource>_<action>``: the route function's name without the resource's words.

    ``list_partners`` on ``/partners`` is ``partners_list``; ``approve_grant`` on
    ``/grants/{id}/approve`` is ``grants_approve``; ``list_commitment_versions`` is
    ``commitments_list_versions``. Used as FastAPI's ``generate_unique_id_function``.
    """
    resource = resource_of(route.path_format)
    resource_words = {_singular(word) for word in resource.split("_")}
    words = [w for w in route.name.lower().split("_") if w]
    action = [w for w in words if _singular(w) not in resource_words]
    if not action:
        method = sorted(route.methods or {"get"})[0].lower()
        action = ["list" if method == "get" and "{" not in route.path_format else method]
    return f"{resource}_{'_'.join(action)}"


# What a route's dependencies tell --------------------------------------------------------


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _returns_list_query(call: Any) -> bool:
    try:
        annotation = inspect.signature(call).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation is ListQuery or annotation == "ListQuery"


def _header_names(dependant: Dependant) -> set[str]:
    names = {str(field.alias) for field in dependant.header_params}
    for sub in dependant.dependencies:
        names |= _header_names(sub)
    return names


def _has_params(dependant: Dependant) -> bool:
    if (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.body_params
    ):
        return True
    return any(_has_params(sub) for sub in dependant.dependencies)


class RouteFacts:
    """What a route's dependencies say about the statuses and headers it answers."""

    def __init__(self, route: Any) -> None:
        calls = list(_calls(route.dependant))
        # A route that reads its bearer token itself (OIDC userinfo) says so with
        # ``openapi_extra={"security": [{"bearerAuth": []}]}``.
        declared_security = (route.openapi_extra or {}).get("security")
        self.signed_in = (
            get_signed_in_caller in calls
            or any(getattr(call, "signed_in", False) for call in calls)
            or bool(declared_security)
        )
        self.optional_token = not self.signed_in and get_caller in calls
        self.idempotent = idempotency in calls
        self.lists = any(_returns_list_query(call) for call in calls)
        headers = {name.lower() for name in _header_names(route.dependant)}
        self.if_match = "if-match" in headers
        self.has_path_ids = bool(re.search(r"{[^}]+}", route.path_format))
        self.has_input = _has_params(route.dependant)
        self.has_body = route.body_field is not None or bool(
            (route.openapi_extra or {}).get("requestBody")
        )
        self.status_code = route.status_code or 200
        self.declared = {
            int(status)
            for status in route.responses
            if str(status).isdigit() and int(status) >= 400
        }
        # Errors a route documents in another shape (an OAuth error body, say) stay as declared.
        self.custom = {
            str(status)
            for status, spec in route.responses.items()
            if "model" in spec or PROBLEM_MEDIA_TYPE not in (spec.get("content") or {})
        }

    def statuses(self) -> set[int]:
        found = set(self.declared)
        if self.signed_in:
            found |= {401, 403}
        if self.optional_token:
            found.add(401)
        if self.has_path_ids:
            found.add(404)
        if self.idempotent:
            found |= {400, 409, 422}
        if self.if_match:
            found.add(412)
        if self.lists:
            found.add(400)
        if self.has_input:
            found.add(422)
        if self.has_body:
            # A body that is not JSON (400), or over TRELLIS_MAX_BODY_BYTES (413).
            found |= {400, 413}
        found.add(414)  # a URL over the limit
        return found

    def security(self) -> list[dict[str, list[str]]]:
        if self.signed_in:
            return [{"bearerAuth": []}]
        if self.optional_token:
            return [{}, {"bearerAuth": []}]
        return []


# The document ----------------------------------------------------------------------------


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every documented API route of the app, through included routers, with its prefix."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield context


def _success(operation: dict[str, Any]) -> dict[str, Any] | None:
    responses = operation.get("responses") or {}
    for status in sorted(responses):
        if str(status).startswith("2"):
            return responses[status]
    return None


def _is_array(response: dict[str, Any]) -> bool:
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
    return schema.get("type") == "array"


def _add_headers(response: dict[str, Any], *names: str) -> None:
    headers = response.setdefault("headers", {})
    for name in names:
        headers.setdefault(name, HEADER_DOCS[name])


def _versioned_paths(doc: dict[str, Any]) -> set[str]:
    """Paths where some operation takes ``If-Match``: their records carry an ETag."""
    found = set()
    for path, item in (doc.get("paths") or {}).items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters") or []:
                if parameter.get("in") == "header" and parameter.get("name", "").lower() == (
                    "if-match"
                ):
                    found.add(path)
    return found


def _item_paths(path: str, candidates: set[str]) -> bool:
    """Whether a create at ``path`` makes a record read at one of ``candidates``: ``path/{id}``."""
    return any(
        other.startswith(path + "/{") and other.count("/") == path.count("/") + 1
        for other in candidates
    )


def _readable_paths(doc: dict[str, Any]) -> set[str]:
    return {path for path, item in (doc.get("paths") or {}).items() if "get" in item}


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
)


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


def split_mixed_enums(node: Any) -> Any:
    """Rewrite an ``enum`` of mixed JSON types (``1..5`` or ``"dont_know"``) as an
    ``anyOf`` of one typed ``enum`` per type: the same values, but a shape client
    generators (openapi-python-client among them) can turn into types."""
    if isinstance(node, list):
        return [split_mixed_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: split_mixed_enums(value) for key, value in node.items()}
    enum = out.get("enum")
    if isinstance(enum, list) and "type" not in out:
        by_type: dict[str, list[Any]] = {}
        for value in enum:
            by_type.setdefault(_json_type(value), []).append(value)
        if len(by_type) > 1:
            del out["enum"]
            out["anyOf"] = [{"type": kind, "enum": values} for kind, values in by_type.items()]
    return out


def _problem_schema() -> dict[str, Any]:
    schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["title"] = "Problem"
    return schema


def document_contract(
    doc: dict[str, Any], facts: dict[tuple[str, str], RouteFacts]
) -> dict[str, Any]:
    """Rewrite a FastAPI document in place so it states the contract; returns it."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = _problem_schema()
    components.setdefault("securitySchemes", {})["bearerAuth"] = BEARER_SCHEME
    versioned = _versioned_paths(doc)
    readable = _readable_paths(doc)
    for path, item in (doc.get("paths") or {}).items():
        for method, operation in item.items():
            fact = facts.get((path, method.upper()))
            if fact is None or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status in list(responses):
                if str(status).isdigit() and int(status) >= 400 and status not in fact.custom:
                    del responses[status]
            for status in sorted(fact.statuses()):
                if str(status) not in fact.custom:
                    responses[str(status)] = problem_response(status)
            operation["responses"] = dict(sorted(responses.items()))
            operation["security"] = fact.security()
            success = _success(operation)
            if success is not None:
                parameters = {p.get("name") for p in operation.get("parameters") or []}
                if fact.lists or _is_array(success):
                    _add_headers(success, "Content-Range", "X-Total-Count-Estimated")
                if "cursor" in parameters:
                    _add_headers(success, "X-Next-Cursor")
                if path in versioned and method in {"get", "put", "patch", "post"}:
                    _add_headers(success, "ETag")
                if method == "post" and fact.status_code == 201:
                    if _item_paths(path, readable):
                        _add_headers(success, "Location")
                    if _item_paths(path, versioned):
                        _add_headers(success, "ETag")
                if fact.idempotent:
                    _add_headers(success, "Idempotent-Replayed")
            if fact.idempotent:
                params = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_HEADER for p in params):
                    params.append(dict(IDEMPOTENCY_PARAMETER))
            body = (operation.get("requestBody") or {}).get("content") or {}
            for media in body.values():
                if "example" not in media and "examples" not in media and "schema" in media:
                    media["example"] = example_for(media["schema"], schemas)
    for name in ("HTTPValidationError", "ValidationError", "ProblemDetails"):
        schemas.pop(name, None)
    for name in list(schemas):
        schemas[name] = split_mixed_enums(schemas[name])
    for name, schema in schemas.items():
        if "examples" not in schema and "example" not in schema:
            value = example_for({"$ref": f"#/components/schemas/{name}"}, schemas)
            if value is not None:
                schema["examples"] = [value]
    return doc


def install_contract(app: FastAPI, *, servers: list[dict[str, str]] | None = None) -> None:
    """Make ``app.openapi()`` return the documented contract (built once, then kept)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=servers or [{"url": "/", "description": "This service"}],
            )
            facts = {
                (route.path_format, method): RouteFacts(route)
                for route in _routes(app)
                for method in route.methods or ()
            }
            app.openapi_schema = document_contract(doc, facts)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
