"""Helpers for the relationship tests: a funder with a partner, events, a look into the database."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, text

from tests.support import Stack


@dataclass
class Pair:
    """A funder, one of its partners, and a token for each side."""

    funder: dict[str, Any]
    partner: dict[str, Any]
    staff: dict[str, str]
    as_partner: dict[str, str]

    @property
    def funder_id(self) -> str:
        return self.funder["id"]

    @property
    def partner_id(self) -> str:
        return self.partner["id"]


async def pair(stack: Stack, **partner_fields: Any) -> Pair:
    funder = await stack.new_funder()
    partner = await stack.new_partner(funder["id"], **partner_fields)
    return Pair(
        funder,
        partner,
        stack.tokens.staff(funder["id"], sub=f"staff-{funder['slug']}@funder.test"),
        stack.tokens.partner(partner["id"]),
    )


def org_id() -> str:
    return f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}"


async def second_funder_of(stack: Stack, p: Pair, *, accept: bool = True) -> Pair:
    """Another funder that also has a relationship with the same partner (linked by org-id).

    The organisation accepts it (shares its own data with it) unless ``accept`` is false.
    """
    assert p.partner["org_id"], "give the partner an org_id to share it"
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"], sub=f"staff-{funder['slug']}@funder.test")
    response = await stack.partners.post(
        "/api/v1/partners",
        headers=staff,
        json={"name": p.partner["name"], "org_id": p.partner["org_id"], "status": "active"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] == p.partner_id
    assert response.json()["relationship"]["sharing"] == "pending"
    if accept:
        response = await stack.partners.put(
            f"/api/v1/partners/{p.partner_id}/sharing/{funder['id']}",
            headers=p.as_partner,
            json={"sharing": "accepted"},
        )
        assert response.status_code == 200, response.text
    return Pair(funder, p.partner, staff, p.as_partner)


async def interaction(stack: Stack, p: Pair, **fields: Any) -> dict[str, Any]:
    body = {
        "partner_id": p.partner_id,
        "kind": "visit",
        "occurred_at": "2025-03-04T10:30:00Z",
        "summary": "Visited the youth club.",
        **fields,
    }
    response = await stack.partners.post("/api/v1/interactions", headers=p.staff, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def update(stack: Stack, p: Pair, **fields: Any) -> dict[str, Any]:
    body = {"what_changed": "We moved the evening club to Thursdays.", **fields}
    response = await stack.partners.post("/api/v1/updates", headers=p.as_partner, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def send_event(
    stack: Stack, event_type: str, data: dict[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "source": "funding",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }
    response = await stack.partners.post(
        "/internal/events", headers=stack.tokens.service("funding"), json=envelope
    )
    assert response.status_code == 200, response.text
    return response.json()


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def find_in_database(stack: Stack, needles: list[str]) -> list[str]:
    """Every ``table.column [row]`` in the partners database where one of ``needles`` is written.

    Looks at every column of every table, as a database reader would: raw text,
    JSON (escaped or not) and bytes, case-insensitively.
    """
    forms = set()
    for needle in needles:
        forms.add(needle.lower())
        forms.add(json.dumps(needle)[1:-1].lower())
    engine = stack.apps["partners"].state.db.engine
    found: list[str] = []
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "contacts" in tables and "audit_log" in tables
        for table in tables:
            result = await conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                values = dict(zip(columns, row, strict=True))
                key = values.get("entity_id") or values.get("id") or ""
                for column, value in values.items():
                    if value is None:
                        continue
                    haystack = _as_text(value).lower()
                    if any(form in haystack for form in forms):
                        found.append(f"{table}.{column} [{_as_text(key).replace('-', '')}]")
    return found


async def outbox_events(stack: Stack, event_type: str) -> list[dict[str, Any]]:
    """The envelopes of ``event_type`` the partners service queued (one per event, not per
    subscriber)."""
    engine = stack.apps["partners"].state.db.engine
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT event_id, payload FROM outbox WHERE event_type = :t"), {"t": event_type}
        )
        seen: dict[str, dict[str, Any]] = {}
        for event_id, payload in result:
            seen[str(event_id)] = payload if isinstance(payload, dict) else json.loads(payload)
    return list(seen.values())
