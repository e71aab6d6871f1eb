"""One OpenAPI document for the whole API, merged from the services' own.

Each service's ``/openapi.json`` is fetched, only the paths the gateway routes to
that service are kept, and paths and components are merged. Components with the
same name and the same definition are kept once; names whose definitions differ
between services are prefixed with the service's name (``Funding_Grant``) and
every ``$ref`` to them is rewritten. The result is cached; a service that does
not answer is left out and named in the document's description.

The services document their own contract (``services.common.openapi``); the gateway
adds what it answers itself on every proxied operation: 401 for a token it cannot
verify (even on a public operation), 429 when a caller is rate limited and 503 when
the service behind it is down or too slow. Every ``operationId`` stays unique across
the merged document (a clash is prefixed with the service's name).
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from services.common.openapi import BEARER_SCHEME, problem_response
from services.gateway import routing
from services.gateway.proxy import Upstream

SECURITY_SCHEME = BEARER_SCHEME
GATEWAY_STATUSES = (401, 429, 503)
SERVERS = [{"url": "/", "description": "The gateway that served this document"}]
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """A copy of ``node`` with ``$ref`` targets renamed (keys are full ref strings)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = renames.get(value, value)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _routed_paths(service: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        path: item
        for path, item in (doc.get("paths") or {}).items()
        if (routing.is_routed(path) or routing.is_view(path))
        and routing.service_for(path) == service
    }


def _prefixed(service: str, name: str) -> str:
    return f"{service.capitalize()}_{name}"


def merge_documents(
    docs: dict[str, dict[str, Any] | None],
    *,
    title: str = "Trellis API",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """Merge the services' documents (``None`` for a service that did not answer)."""
    present = {name: doc for name, doc in docs.items() if doc is not None}
    missing = [name for name, doc in docs.items() if doc is None]
    # renames[service]["#/components/<section>/<name>"] = new name
    renames: dict[str, dict[tuple[str, str], str]] = {name: {} for name in present}
    rewritten: dict[str, dict[str, Any]] = {}
    for _ in range(10):
        rewritten = {}
        for name, doc in present.items():
            refs = {
                f"#/components/{section}/{old}": f"#/components/{section}/{new}"
                for (section, old), new in renames[name].items()
            }
            part = {
                "paths": _rewrite_refs(_routed_paths(name, doc), refs),
                "components": {},
            }
            for section, entries in (doc.get("components") or {}).items():
                part["components"][section] = {
                    renames[name].get((section, key), key): _rewrite_refs(value, refs)
                    for key, value in entries.items()
                }
            rewritten[name] = part
        seen: dict[tuple[str, str], dict[bytes, list[str]]] = {}
        for name, part in rewritten.items():
            for section, entries in part["components"].items():
                for key, value in entries.items():
                    seen.setdefault((section, key), {}).setdefault(_canonical(value), []).append(
                        name
                    )
        changed = False
        for (section, key), variants in seen.items():
            if len(variants) < 2:
                continue
            for services in variants.values():
                for service in services:
                    renames[service][(section, key)] = _prefixed(service, key)
                    changed = True
        if not changed:
            break

    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for name, part in rewritten.items():
        for path, item in part["paths"].items():
            if path in paths:
                continue
            paths[path] = item
            for method, operation in item.items():
                if method in HTTP_METHODS and isinstance(operation, dict):
                    _gateway_contract(operation, name, operation_ids)
        for section, entries in part["components"].items():
            components.setdefault(section, {}).update(entries)
        for tag in present[name].get("tags") or []:
            tags.setdefault(tag["name"], tag)
    components.setdefault("securitySchemes", {})["bearerAuth"] = SECURITY_SCHEME

    lines = [
        "The whole Trellis API, through its gateway. Send an access token as "
        "`Authorization: Bearer <token>`; public endpoints need none.",
        "",
        "Services: " + ", ".join(docs) + ".",
    ]
    if missing:
        names = ", ".join(missing)
        lines += [
            "",
            f"**Incomplete:** the {names} service{'s' if len(missing) > 1 else ''} did not "
            "answer, so {} paths are missing from this document. Reload later.".format(
                "their" if len(missing) > 1 else "its"
            ),
        ]
    openapi = next((doc.get("openapi") for doc in present.values()), None) or "3.1.0"
    merged: dict[str, Any] = {
        "openapi": openapi,
        "info": {"title": title, "version": version, "description": "\n".join(lines)},
        "paths": dict(sorted(paths.items())),
        "components": components,
        "servers": SERVERS,
        "x-trellis-services": list(present),
        "x-trellis-missing": missing,
    }
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _gateway_contract(operation: dict[str, Any], service: str, seen: set[str]) -> None:
    """What the gateway adds to a proxied operation: its own statuses, a unique id."""
    responses = operation.setdefault("responses", {})
    for status in GATEWAY_STATUSES:
        responses.setdefault(str(status), problem_response(status))
    operation["responses"] = dict(sorted(responses.items()))
    operation.setdefault("security", [])
    operation_id = operation.get("operationId")
    if operation_id:
        if operation_id in seen:
            operation_id = f"{service}_{operation_id}"
            operation["operationId"] = operation_id
        seen.add(operation_id)


class OpenAPICache:
    """Fetches and merges the services' documents, keeping the result for a while.

    A complete document is kept ``ttl`` seconds; an incomplete one only a few, so a
    service that comes back appears soon.
    """

    def __init__(
        self,
        upstreams: dict[str, Upstream],
        *,
        ttl: float,
        fetch_timeout: float,
        own: Callable[[], dict[str, Any]] | None = None,
    ):
        self.upstreams = upstreams
        self.own = own
        """The gateway's own document (its composite views), merged as the service "gateway"."""
        self.ttl = ttl
        self.fetch_timeout = fetch_timeout
        self._body: bytes | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        try:
            async with upstream.session.get(
                upstream.base_url + "/openapi.json",
                timeout=aiohttp.ClientTimeout(total=self.fetch_timeout),
            ) as response:
                if response.status != 200:
                    return None
                return orjson.loads(await response.read())
        except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError):
            return None

    async def document(self) -> dict[str, Any]:
        """The merged document (a fresh copy the caller may change)."""
        return orjson.loads(await self.body())

    async def body(self) -> bytes:
        """The merged document, encoded."""
        if self._body is not None and time.monotonic() < self._expires:
            return self._body
        async with self._lock:
            if self._body is not None and time.monotonic() < self._expires:
                return self._body
            names = list(self.upstreams)
            fetched = await asyncio.gather(*(self._fetch(self.upstreams[n]) for n in names))
            docs = dict(zip(names, fetched, strict=True))
            if self.own is not None:
                docs["gateway"] = self.own()
            merged = merge_documents(docs)
            self._body = orjson.dumps(merged)
            ttl = self.ttl if not merged["x-trellis-missing"] else min(self.ttl, 5.0)
            self._expires = time.monotonic() + ttl
            return self._body
