"""Examples made from JSON Schemas, for OpenAPI request bodies and component schemas.

A schema's own ``examples`` (or ``example``, ``const``, ``default``, first ``enum``
value) wins at every level; where there is none, a value is made from the type,
format and constraints, with a plain guess from the field's name (``currency``,
``email``, ``amount_...``). The result validates against the schema, which the
tests check for every example of the merged document, so a new model gets a
correct example without anyone writing one; a model that wants a better one sets
``json_schema_extra={"examples": [...]}`` or ``Field(examples=[...])``.
"""

import re
import uuid
from typing import Any

_UUID_NAMESPACE = uuid.UUID("6f1c1b2e-7d8a-4f52-9a3c-2b1e5d7c9a40")

# Plain words for fields whose names say what they hold; tried before generic text.
_NAMED_STRINGS: dict[str, str] = {
    "currency": "GBP",
    "country": "GB",
    "language": "en",
    "slug": "riverside-trust",
    "org_id": "GB-CHC-1000001",
    "prefix_360giving": "360G-riverside",
    "reference": "RCT-2026-01",
    "name": "Riverside Community Trust",
    "title": "Core funding 2026 to 2029",
    "description": "Core funding for the organisation's work with young people in Riverside.",
    "summary": "A good year; we learned a lot from the new drop-in.",
    "body": "Thank you for the update; it helped us understand the year.",
    "text": "Thank you for the update; it helped us understand the year.",
    "notes": "Met at their open day; they asked for nothing but time.",
    "reason": "The partner asked to move the second payment to the spring.",
    "comment": "Decisions came quickly and the team listened.",
    "phone": "+44 20 7946 0000",
    "role": "Director",
    "client_id": "partner-portal",
    "grant_type": "client_credentials",
    "scope": "openid",
    "password": "correct horse battery staple",
    "subject": "Our second year",
    "question": "How well did we listen?",
    "kind": "visit",
    "status": "active",
    "url": "https://riverside.example.org/annual-report-2025.pdf",
    "website": "https://riverside.example.org/",
    "link": "https://riverside.example.org/",
    "charity_number": "1000001",
    "company_number": "01234567",
    "region": "North West",
    "decided_by": "Board of trustees",
    "client_secret": "s3cr3t-shown-once",
    "email": "sam@riverside.example.org",
    "steward": "Sam Okafor",
}
_FORMATS: dict[str, str] = {
    "date": "2026-04-01",
    "date-time": "2026-04-01T09:30:00Z",
    "time": "09:30:00",
    "email": "sam@riverside.example.org",
    "uri": "https://riverside.example.org/annual-report-2025.pdf",
    "url": "https://riverside.example.org/",
    "hostname": "riverside.example.org",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "duration": "P30D",
    "binary": "",
    "password": "correct horse battery staple",
}
_END_WORDS = ("end", "until", "due", "to_date", "expires", "close")
# An object whose properties are all optional (an update) shows this many of them.
_OPTIONAL_SHOWN = 3


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> tuple[dict[str, Any], str]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        return components.get(name, {}), name
    return schema, ""


def _given(schema: dict[str, Any]) -> tuple[bool, Any]:
    """An example the schema states itself, if it does."""
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return True, examples[0]
    if "example" in schema:
        return True, schema["example"]
    if "const" in schema:
        return True, schema["const"]
    if schema.get("default") is not None:
        return True, schema["default"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return True, enum[0]
    return False, None


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid5(_UUID_NAMESPACE, name or "id"))
    candidates: list[str] = []
    if fmt == "date" and any(word in name for word in _END_WORDS):
        candidates.append("2029-03-31")
    if isinstance(fmt, str) and fmt in _FORMATS:
        candidates.append(_FORMATS[fmt])
    key = name.lower()
    if key in _NAMED_STRINGS:
        candidates.append(_NAMED_STRINGS[key])
    for word, value in _NAMED_STRINGS.items():
        if key.endswith("_" + word) or key.startswith(word + "_"):
            candidates.append(value)
    words = key.replace("_", " ").strip() or "text"
    candidates += [
        words.capitalize(),
        words.replace(" ", "-"),
        "GBP",
        "example",
        "360G-example",
        "example-1",
        "A1",
        "a",
        "x" * int(schema.get("minLength") or 1),
    ]
    pattern = schema.get("pattern")
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength")
    for candidate in candidates:
        text = candidate if high is None else candidate[: int(high)]
        if len(text) < low:
            continue
        if pattern and not re.search(pattern, text):
            continue
        return text
    return candidates[0]


def _number(schema: dict[str, Any], name: str, integer: bool) -> int | float:
    if "amount" in name or name.endswith(("_minor", "_pence", "total", "balance")):
        value: float = 2_500_000
    elif "year" in name:
        value = 2026
    elif name.endswith(("count", "quorum", "_days")) or name in {"count", "quorum"}:
        value = 3
    elif "rating" in name or "score" in name:
        value = 4
    else:
        value = 1
    minimum = schema.get("minimum")
    exclusive_minimum = schema.get("exclusiveMinimum")
    maximum = schema.get("maximum")
    exclusive_maximum = schema.get("exclusiveMaximum")
    if minimum is not None and value < minimum:
        value = minimum
    if exclusive_minimum is not None and value <= exclusive_minimum:
        value = exclusive_minimum + 1
    if maximum is not None and value > maximum:
        value = maximum
    if exclusive_maximum is not None and value >= exclusive_maximum:
        value = exclusive_maximum - 1
    return int(value) if integer else float(value)


def example_for(
    schema: dict[str, Any],
    components: dict[str, Any],
    *,
    name: str = "",
    depth: int = 0,
    seen: frozenset[str] = frozenset(),
) -> Any:
    """A value that validates against ``schema`` (refs resolve in ``components``)."""
    resolved, ref_name = _resolve(schema, components)
    if ref_name:
        if ref_name in seen or depth > 6:
            return None
        seen = seen | {ref_name}
    schema = resolved
    found, value = _given(schema)
    if found:
        return value
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if o.get("type") != "null"] or options
            return example_for(usable[0], components, name=name, depth=depth + 1, seen=seen)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part_value = example_for(part, components, name=name, depth=depth + 1, seen=seen)
            if isinstance(part_value, dict):
                merged.update(part_value)
            elif part_value is not None:
                return part_value
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        out: dict[str, Any] = {}
        required = set(schema.get("required") or [])
        properties = schema.get("properties") or {}
        for prop, prop_schema in properties.items():
            optional_null = prop not in required and _nullable(prop_schema, components)
            if optional_null and "examples" not in prop_schema:
                continue
            out[prop] = example_for(prop_schema, components, name=prop, depth=depth + 1, seen=seen)
        if not required:
            # All optional (an update, a form): show a few fields rather than nothing.
            for prop, prop_schema in list(properties.items())[:_OPTIONAL_SHOWN]:
                if prop not in out:
                    out[prop] = example_for(
                        prop_schema, components, name=prop, depth=depth + 1, seen=seen
                    )
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            key = "field" if name != "errors" else "amount_awarded"
            out[key] = example_for(extra, components, name=key, depth=depth + 1, seen=seen)
        return out
    if kind == "array":
        item = example_for(
            schema.get("items") or {},
            components,
            name=name.removesuffix("s"),
            depth=depth + 1,
            seen=seen,
        )
        return [item] * max(1, int(schema.get("minItems") or 1))
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        return _number(schema, name, integer=True)
    if kind == "number":
        return _number(schema, name, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string({}, name) if name else None


def _nullable(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    schema, _ = _resolve(schema, components)
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return any(o.get("type") == "null" for o in options) or schema.get("type") == "null"
