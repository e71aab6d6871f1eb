"""Schemathesis over the merged OpenAPI: no input answers 5xx or a status the document hides.

The merged document is the one a real gateway serves, in front of the stack's
apps served on loopback: the services' operations and the gateway's own
(composite views, the merged audit trail, takeout). Schemathesis draws cases for
every operation, both valid (positive) and invalid (negative) ones, from a fixed
seed (Hypothesis ``derandomize``), so a run is the same every time and in CI.
Each case is sent as every role and with no token (a platform admin, a funder's
staff, a partner, and the public): over ASGI to the service the gateway routes
it to, or to the gateway itself for its own operations. Half of the cases have
their path ids replaced by ids of real records (a funder, its partner, a grant,
an instalment, a pool, a round, a takeout...), so the handlers past the 404 are
fuzzed too.

The operations are dealt into ``SHARDS`` shards by their place in the document;
each shard is its own test module (``test_fuzz.py``, ``test_fuzz_second_shard.py``)
so that the test workers run them side by side.

``TRELLIS_FUZZ_EXAMPLES`` sets how many cases are drawn per operation and mode
(4 by default: about a thousand cases, four thousand requests per database).
"""

import os
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from services.gateway import routing
from tests.funding.helpers import new_funder
from tests.funding.pool_helpers import new_pool
from tests.partners.people_helpers import claim
from tests.support import Stack

EXAMPLES = int(os.environ.get("TRELLIS_FUZZ_EXAMPLES", "4"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
SHARDS = 2
#: Drawn once per test session and shard: the document is the same on both databases.
_drawn: dict[int, tuple[list[Any], list[tuple[Any, Any]]]] = {}


def _draw(doc: dict[str, Any], shard: int) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The shard's operations, and (operation, case) pairs for each and every mode."""
    schema = schemathesis.openapi.from_dict(doc)
    operations = [
        result.ok()
        for index, result in enumerate(schema.get_all_operations())
        if index % SHARDS == shard
    ]
    drawn: list[tuple[Any, Any]] = []
    for operation in operations:
        for mode in MODES:
            drawn.extend((operation, case) for case in _cases(operation, mode))
    return operations, drawn


def _cases(operation: Any, mode: GenerationMode) -> list[Any]:
    cases: list[Any] = []

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:
        pass  # e.g. no invalid input exists for an operation without parameters
    return cases


def _documented(operation: Any, status: int) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return str(status) in responses or f"{str(status)[0]}XX" in responses or "default" in responses


async def world(
    stack: Stack, gateway: httpx.AsyncClient
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Identities to send as, and ids of real records to put in paths."""
    f = await new_funder(stack, org_id=f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}")
    grant = await f.awarded()
    instalment = (await f.schedule(grant))["instalments"][0]
    payment = (await f.pay(instalment["id"])).json()
    pool = await new_pool(stack, members=2)
    await claim(stack, f.partner["id"])  # so that the round opens (it invites claimed ones)
    round_ = await stack.feedback.post(
        "/api/v1/rounds",
        headers=f.staff,
        json={"title": "Spring", "opens_on": "2030-01-01", "closes_on": "2030-02-01"},
    )
    request = await stack.funding.post(
        f"/api/v1/grants/{grant['id']}/requests",
        headers=f.partner_headers,
        json={"kind": "extension", "reasons": "Our building works slipped."},
    )
    note = await stack.partners.post(
        "/api/v1/learning-notes", headers=f.staff, json={"title": "Heating", "body": "Costs."}
    )
    tag = await stack.partners.post(
        "/api/v1/tags",
        headers=f.staff,
        json={"subject_kind": "learning_note", "subject_id": note.json()["id"], "tag": "energy"},
    )
    gathering = await stack.partners.post(
        "/api/v1/gatherings",
        headers=f.staff,
        json={
            "kind": "learning_day",
            "title": "Learning day",
            "held_at": "2030-05-01T10:00:00Z",
            "invited_partner_ids": [f.partner["id"]],
            "attended_partner_ids": [f.partner["id"]],
        },
    )
    takeout = await gateway.post("/api/v1/exports/takeout", headers=f.staff)
    ids = {
        "request_id": request.json()["id"],
        "note_id": note.json()["id"],
        "tag_id": tag.json()["id"],
        "gathering_id": gathering.json()["id"],
        "funder_id": f.id,
        "partner_id": f.partner["id"],
        "grant_id": grant["id"],
        "instalment_id": instalment["id"],
        "payment_id": payment.get("id", instalment["id"]),
        "pool_id": pool.id,
        "round_id": round_.json().get("id", grant["id"]),
        "funder_slug": f.funder["slug"],
        "slug": f.funder["slug"],
        "takeout_id": takeout.json().get("id", grant["id"]),
    }
    identities = {
        "platform_admin": stack.tokens.admin(),
        "funder_staff": f.staff,
        "partner": f.partner_headers,
        "public": {},
    }
    return identities, ids


def _request(
    operation: Any, case: Any, ids: dict[str, str] | None, auth: dict[str, str]
) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="")
    path = kwargs["url"]
    if ids is not None and case.path_parameters:
        values = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        path = operation.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
    headers = {
        k: v
        for k, v in (kwargs.get("headers") or {}).items()
        if k.lower() not in {"authorization", "x-schemathesis-testcaseid"}
    }
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": path,
        "params": kwargs.get("params") or None,
        "headers": {**headers, **auth},
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), dict):
        request["data"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    return request


async def fuzz_shard(
    stack: Stack, gateway: httpx.AsyncClient, doc: dict[str, Any], shard: int
) -> None:
    """Send every case of ``shard`` as every role; fail on a 5xx or an undocumented status."""
    if shard not in _drawn:
        _drawn[shard] = _draw(doc, shard)
    operations, drawn = _drawn[shard]
    identities, ids = await world(stack, gateway)
    clients = {**stack.clients, "gateway": gateway}

    sent, skipped = 0, 0
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    started = time.perf_counter()
    for index, (operation, case) in enumerate(drawn):
        service = routing.service_for(operation.path)
        assert service is not None, operation.path
        client = clients[service]
        for role, auth in identities.items():
            request = _request(operation, case, ids if index % 2 else None, auth)
            try:
                built = client.build_request(**request)
            except (UnicodeEncodeError, httpx.InvalidURL, httpx.LocalProtocolError):
                skipped += 1  # not sendable over HTTP (e.g. a header value outside Latin-1)
                continue
            shown = {k: v for k, v in request.items() if k != "headers"}
            sent += 1
            try:
                response = await client.send(built)
            except Exception as exc:  # the in-process transport re-raises what a 500 hides
                statuses[500] += 1
                failures.append(
                    f"{operation.method.upper()} {operation.path} as {role} -> 500 "
                    f"({type(exc).__name__}: {exc}): {shown}"
                )
                continue
            statuses[response.status_code] += 1
            status = response.status_code
            if status >= 500 or not _documented(operation, status):
                failures.append(
                    f"{operation.method.upper()} {operation.path} as {role} -> {status}: "
                    f"{shown} {response.text[:300]}"
                )
    elapsed = time.perf_counter() - started
    print(
        f"\nfuzz shard {shard}: {len(operations)} operations, {len(drawn)} cases, {sent} requests ({skipped} unsendable) "
        f"in {elapsed:.1f}s; statuses {dict(sorted(statuses.items()))}"
    )
    assert len(operations) >= len(doc["paths"]) // SHARDS, "too few operations in the shard"
    missed = {(o.method, o.path) for o in operations} - {(o.method, o.path) for o, _ in drawn}
    assert not missed, f"no case was drawn for {sorted(missed)}"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])
