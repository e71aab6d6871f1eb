"""Which lists a takeout reads, found in the merged OpenAPI document.

A *top-level list* is a ``GET /api/v1/<things>`` with no path parameter answering an
array. A *nested list* is a ``GET /api/v1/<things>/{id}/<more>`` answering an array,
read once per row of its parent list. Public pages (already published), the gateway's
own views and exports are left out.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from services.gateway import routing

PARAM = re.compile(r"\{[^}]+\}")
LEFT_OUT = ("/api/v1/public/", "/api/v1/exports")


@dataclass(frozen=True, slots=True)
class Listing:
    """One list to read: its path, the service that answers it, and its row's columns."""

    path: str
    service: str
    columns: tuple[str, ...]
    parent: str | None = None
    """For a nested list, the path of the parent list whose row ids fill ``{...}``."""
    children: list["Listing"] = field(default_factory=list, compare=False, hash=False)

    @property
    def name(self) -> str:
        """The file name in the zip: ``pools/shares`` -> ``pools-shares``; a nested list is
        named after its parent with a dot: ``threads/{thread_id}/messages`` -> ``threads.messages``."""
        tail = self.path.removeprefix(routing.API_PREFIX)
        if self.parent is None:
            return tail.replace("/", "-")
        before, after = PARAM.split(tail, maxsplit=1)
        return before.strip("/").replace("/", "-") + "." + after.strip("/").replace("/", "-")


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _array_items(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = (operation.get("responses") or {}).get("200", {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if not schema:
        return None
    schema = _resolve(document, schema)
    if schema.get("type") != "array":
        return None
    return _resolve(document, schema.get("items") or {})


def listings(document: dict[str, Any]) -> list[Listing]:
    """The top-level lists of ``document``, each with the nested lists read per row."""
    found: dict[str, Listing] = {}
    nested: list[tuple[str, str, str, tuple[str, ...]]] = []
    for path, item in sorted((document.get("paths") or {}).items()):
        operation = item.get("get")
        if (
            operation is None
            or not path.startswith(routing.API_PREFIX)
            or path.startswith(LEFT_OUT)
            or routing.is_view(path)
        ):
            continue
        items = _array_items(document, operation)
        service = routing.service_for(path)
        if items is None or service is None or service == "gateway":
            continue
        columns = tuple((items.get("properties") or {}).keys())
        params = PARAM.findall(path)
        if not params:
            found[path] = Listing(path, service, columns)
        elif len(params) == 1:
            parent = path[: path.index(params[0])].rstrip("/")
            nested.append((path, service, parent, columns))
    for path, service, parent, columns in nested:
        if parent in found:
            found[parent].children.append(Listing(path, service, columns, parent=parent))
    return list(found.values())
