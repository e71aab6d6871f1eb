"""react-admin's own data provider, ``ra-data-simple-rest``, over every list, as every role.

The services and the gateway are served by uvicorn on loopback ports; data is seeded
through the API (the demo funder, then what the demo leaves out); then node runs
``drive.mjs``, which calls the real npm package (installed from ``package-lock.json``
with ``npm ci``) with react-admin's defaults: ``<List>`` sorts by ``id`` ASC and
``<ReferenceManyField>`` by ``id`` DESC. The lists come from the merged OpenAPI (every
``GET`` answering an array), so a new list is covered without editing this file; a new
list that can be written to must say here how (``CREATE``/``UPDATE``), or the test fails.
"""

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from services.common.auth import KeyStore, TokenIssuer
from services.common.migrate import upgrade
from services.common.settings import SERVICES
from services.gateway.app import create_app as create_gateway
from tests.gateway.conftest import Served, free_socket, gateway_settings
from tests.react_admin.seed import Seeded, ok, seed
from tests.support import (
    AUDIENCE,
    BACKENDS,
    ISSUER,
    Tokens,
    app_factory,
    create_database,
    drop_database,
    service_settings,
)

HERE = Path(__file__).resolve().parent
API = "/api/v1"
ROLES = ("platform_admin", "funder_staff", "partner", "public")
# Fields ending in ``_id`` that name no parent record a list is read by: identifiers
# of other systems, a record's own versions, and the pool ledger's links between entries.
NOT_PARENTS = {
    "org_id",
    "grant_360_id",
    "client_id",
    "source_id",
    "commitment_version_id",
    "reverses_id",
    "pledge_id",
    "payment_id",
    "proposal_id",
}
TODAY = date.today()

# How react-admin's <Create> and <Edit> would write each list that takes writes:
# (role, body). ``{partner_id}`` and the like are filled from the seeded data.
CREATE: dict[str, tuple[str, dict[str, Any]]] = {
    # A literal public address: no DNS needed, and the test never lets the sender reach it.
    "webhooks": ("partner", {"url": "https://1.1.1.1/trellis", "event_types": ["update.replied"]}),
    "actions": ("funder_staff", {"title": "Publish the round's answers within a month"}),
    "exports/takeout": ("funder_staff", {}),
    "invitations": ("funder_staff", {"email": "new.colleague@example.org", "role": "funder_staff"}),
    "budgets": ("funder_staff", {"financial_year": 2031, "amount": 150000000}),
    "commitments": ("funder_staff", {"title": "We will answer every email within a week"}),
    "contacts": ("partner", {"name": "Sam Patel", "role": "Treasurer"}),
    "documents": (
        "partner",
        {"title": "Strategy 2030", "kind": "strategy", "url": "https://example.org/s.pdf"},
    ),
    "funders": (
        "platform_admin",
        {"name": "Riverside Trust", "slug": "riverside-ra", "prefix_360giving": "360G-rsra"},
    ),
    "gatherings": (
        "funder_staff",
        {
            "kind": "network_meeting",
            "title": "Partner network meeting",
            "held_at": "2026-05-01T10:00:00Z",
            "invited_partner_ids": ["{partner_id}"],
        },
    ),
    "learning-notes": ("funder_staff", {"title": "Housing", "body": "Rents rose for many."}),
    "tags": (
        "funder_staff",
        {"subject_kind": "learning_note", "subject_id": "{note_id}", "tag": "housing"},
    ),
    "grants": (
        "funder_staff",
        {
            "partner_id": "{partner_id}",
            "title": "Core funding",
            "description": "Unrestricted core funding for three years.",
            "amount_awarded": 9000000,
            "planned_start_date": "2031-04-01",
            "planned_end_date": "2034-03-31",
        },
    ),
    "interactions": (
        "funder_staff",
        {
            "partner_id": "{partner_id}",
            "kind": "call",
            "occurred_at": "2026-01-05T10:00:00Z",
            "summary": "A call about the new lease.",
        },
    ),
    "partners": ("funder_staff", {"name": "Harbour Arts Collective", "status": "exploring"}),
    "partners/{partner_id}/clients": ("partner", {"name": "Our CRM"}),
    "payment-runs": ("funder_staff", {"due_by": "{today}", "currency": "EUR"}),
    "payments": ("funder_staff", {"instalment_id": "{open_instalment_id}", "paid_on": "{today}"}),
    "pools": (
        "funder_staff",
        {"name": "Second listening fund", "purpose": "Listen.", "decision_rule": "majority"},
    ),
    "pools/{pool_id}/proposals": (
        "funder_staff",
        {
            "partner_id": "{partner_id}",
            "title": "Core funding from the pool",
            "description": "Unrestricted funding for a youth organisation that listens.",
            "amount": 500000,
            "planned_start_date": "2031-04-01",
            "planned_end_date": "2034-03-31",
        },
    ),
    "rounds": (
        "funder_staff",
        {"title": "Autumn round", "opens_on": "2031-09-01", "closes_on": "2031-09-30"},
    ),
    "threads": ("partner", {"funder_id": "{funder_id}", "subject": "A question", "body": "Hi"}),
    "threads/{thread_id}/messages": ("partner", {"body": "Thank you."}),
    "updates": ("partner", {"what_changed": "We moved to a new hall."}),
    "updates/{update_id}/replies": ("funder_staff", {"body": "Thank you for telling us."}),
}
# What <Edit> changes on a record of each list that can be updated: (role, body).
# A third element names the record to edit (else the first one listed).
UPDATE: dict[str, tuple[Any, ...]] = {
    "actions": ("funder_staff", {"title": "Publish the answers within three weeks"}),
    "budgets": ("funder_staff", {"amount": 160000000}),
    "commitments": ("funder_staff", {"description": "Measured from the day it arrives."}),
    "contacts": ("partner", {"role": "Chair"}),
    "documents": ("partner", {"title": "Strategy 2031"}),
    "funders": ("platform_admin", {"name": "Riverside Community Trust"}),
    "gatherings": ("funder_staff", {"place": "Leeds Central Library"}),
    "learning-notes": ("funder_staff", {"body": "Rents rose again for many."}),
    "grants": ("funder_staff", {"title": "Core funding, renewed"}),
    "instalments": ("funder_staff", {"due_date": "{later_due}"}, "{later_instalment_id}"),
    "interactions": ("funder_staff", {"summary": "A call about the lease and the van."}),
    # A staff admin gives a colleague the finance capability (the seeded staff token is a
    # staff admin; the first membership listed is the colleague who accepted, not itself).
    "memberships": ("funder_staff", {"capabilities": ["finance"]}),
    "partners": ("funder_staff", {"description": "Arts with people of the harbour."}),
    "relationships": ("funder_staff", {"steward": "Tom Fletcher"}),
    # The organisation answers its funder again as before (a no-op it may always send).
    "partners/{partner_id}/sharing": ("partner", {"sharing": "accepted"}),
    "rounds": ("funder_staff", {"description": "Tell us how we are doing."}),
    "webhooks": ("partner", {"description": "Our CRM"}),
}
# Lists where <Edit> updates a record react-admin just created (a fresh one, free to change).
UPDATE_CREATED = {"actions", "commitments", "contacts", "documents", "funders", "grants"}
UPDATE_CREATED |= {"interactions", "partners", "rounds", "budgets", "webhooks"}
UPDATE_CREATED |= {"gatherings", "learning-notes"}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def list_paths(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Every GET in the merged OpenAPI that answers an array: path -> the parent ids of its items."""
    found: dict[str, list[str]] = {}
    for path, item in spec["paths"].items():
        schema = (
            item.get("get", {})
            .get("responses", {})
            .get("200", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        if schema is None:
            continue
        schema = _resolve(schema, spec)
        if schema.get("type") != "array":
            continue
        record = _resolve(schema.get("items", {}), spec)
        found[path.removeprefix(API + "/")] = [
            name
            for name in record.get("properties", {})
            if name.endswith("_id") and name not in NOT_PARENTS
        ]
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Tokens, Path]]:
    """The three services and the gateway, served over loopback on ``backend``'s databases."""
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"ra-{backend}")
    keys = KeyStore(tmp / "data" / "keys" / "signing-keys.json")
    keys.ensure()
    tokens = Tokens(TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE))
    sockets = {name: free_socket() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    databases = {}
    servers: list[Served] = []
    try:
        for name in SERVICES:
            databases[name] = create_database(backend, f"ra_{name}", tmp)
            upgrade(name, databases[name])
            settings = service_settings(
                name,
                data_dir=tmp / "data",
                database_url=databases[name],
                partners_url=urls["partners"],
                funding_url=urls["funding"],
                feedback_url=urls["feedback"],
                outbox_autostart=True,
            )
            servers.append(Served(app_factory(name)(settings), sockets[name]).start())
        keyring = SimpleNamespace(data_dir=tmp / "data", tokens=tokens)
        # Rate limits are tested on their own (tests/gateway/test_ratelimit.py); react-admin's
        # burst of calls here is about the list contract.
        front = Served(
            create_gateway(gateway_settings(keyring, urls, rate_limits_enabled=False))
        ).start()
        servers.append(front)
        yield front.url, tokens, tmp / "data"
    finally:
        for server in reversed(servers):
            server.stop()
        for url in databases.values():
            drop_database(url)


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _parent_resource(param: str) -> str:
    """``partner_id`` -> ``partners``: where the ids a nested path takes are listed."""
    return param.removesuffix("_id") + "s"


def plan_cases(seeded: Seeded, spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One case per list and role that may read it; the (list, role) pairs left out, and why."""
    lists = list_paths(spec)
    cases: list[dict[str, Any]] = []
    skipped: list[str] = []
    with httpx.Client(base_url=seeded.base, timeout=30) as client:
        for path, references in sorted(lists.items()):
            params = re.findall(r"\{(\w+)\}", path)
            for role in ROLES:
                headers = seeded.headers[role]
                values = dict(seeded.values)
                resource = _fill(path, values)
                # A nested list is read under a parent the role can see that has rows.
                pending = [p for p in params if p not in values]
                if pending:
                    (param,) = pending
                    parents = client.get(
                        f"{API}/{_parent_resource(param)}",
                        headers=headers,
                        params={"range": "[0,49]"},
                    )
                    if parents.status_code in (401, 403):
                        skipped.append(f"{path} as {role}: {parents.status_code} on its parents")
                        continue
                    candidates = [p["id"] for p in ok(parents)]
                    # The parent with the most rows, so page 2 is read where there is one.
                    chosen, most = None, 0
                    for candidate in candidates:
                        attempt = path.replace("{" + param + "}", candidate)
                        answer = client.get(f"{API}/{attempt}", headers=headers)
                        if answer.status_code == 200 and len(answer.json()) > most:
                            chosen, most = candidate, len(answer.json())
                    if chosen is None:
                        skipped.append(f"{path} as {role}: no parent with rows")
                        continue
                    values[param] = chosen
                    resource = _fill(path, values)
                probe = client.get(f"{API}/{resource}", headers=headers)
                if probe.status_code in (401, 403):
                    skipped.append(f"{path} as {role}: {probe.status_code}")
                    continue
                one_paths = [f"{path}/{{id}}", f"{path.rsplit('/', 1)[-1]}/{{id}}"]
                one = next(
                    (
                        candidate.rsplit("/{id}", 1)[0]
                        for candidate in one_paths
                        if _has_one(spec, candidate)
                    ),
                    None,
                )
                case: dict[str, Any] = {
                    "resource": resource,
                    "path": path,
                    "role": role,
                    "token": seeded.token(role),
                    "one": _fill(one, values) if one else None,
                    "references": references,
                    "expectRows": True,
                }
                if path in CREATE and CREATE[path][0] == role:
                    case["create"] = _fill(CREATE[path][1], values)
                    if path in UPDATE_CREATED:
                        case["update"] = UPDATE[path][1]
                    if _has_method(spec, f"{path}/{{id}}", "delete"):
                        case["delete"] = True
                elif path in UPDATE and UPDATE[path][0] == role and path not in UPDATE_CREATED:
                    case["update"] = _fill(UPDATE[path][1], values)
                    if len(UPDATE[path]) > 2:
                        case["updateId"] = _fill(UPDATE[path][2], values)
                cases.append(case)
    return cases, skipped


def _item_path(spec: dict[str, Any], template: str) -> dict[str, Any] | None:
    """The path item for ``template`` with ``{id}`` standing for the one path parameter."""
    pattern = re.escape(API + "/" + template).replace(re.escape("{id}"), r"\{\w+\}") + "$"
    return next((item for path, item in spec["paths"].items() if re.match(pattern, path)), None)


def _has_one(spec: dict[str, Any], template: str) -> bool:
    return _has_method(spec, template, "get")


def _has_method(spec: dict[str, Any], template: str, method: str) -> bool:
    item = _item_path(spec, template)
    return bool(item and method in item)


def test_writes_are_described_for_every_list_that_takes_them(gateway) -> None:
    """A list that takes POST or PUT needs an entry in CREATE or UPDATE, so it is driven too."""
    base, *_ = gateway
    spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
    missing = []
    for path in list_paths(spec):
        if "post" in spec["paths"][f"{API}/{path}"] and path not in CREATE:
            missing.append(f"POST {path}")
        if _has_method(spec, f"{path}/{{id}}", "put") and path not in UPDATE:
            missing.append(f"PUT {path}/{{id}}")
    assert missing == [], missing


@pytest.fixture(scope="module")
def seeded(gateway) -> Seeded:
    base, tokens, data_dir = gateway
    return seed(base, tokens, mail_dir=data_dir / "mail")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_ra_data_simple_rest_over_every_list_and_role(gateway, seeded, capsys) -> None:
    base, *_ = gateway
    if not (HERE / "node_modules" / "ra-data-simple-rest").exists():
        # CI installs them (.ci/run); elsewhere, say how.
        if os.environ.get("CI"):
            pytest.fail("the npm packages are not installed: run `npm ci` in tests/react_admin")
        pytest.skip("run `npm ci` in tests/react_admin to drive react-admin's data provider")
    spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
    cases, skipped = plan_cases(seeded, spec)
    plan = {"apiUrl": f"{base}{API}", "cases": cases}
    run = subprocess.run(
        ["node", str(HERE / "drive.mjs")],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    table = [
        f"{r['resource']:<60} {r['role']:<15} {r['method']:<32} "
        f"{'ok' if r['ok'] else 'FAIL'} {r['detail']}"
        for r in results
    ]
    with capsys.disabled():
        print("\n" + "\n".join(table))
        print("\nnot readable: " + "; ".join(skipped))
    failed = sorted({_gap_key(r) for r in results if not r["ok"]})
    lines = [line for line, r in zip(table, results, strict=True) if not r["ok"]]
    assert failed == [], f"{failed}\n" + "\n".join(lines)
    # Every list was read by at least one role, and every role read something.
    unread = set(list_paths(spec)) - {c["path"] for c in cases}
    assert unread == set(), sorted(unread)
    assert {c["role"] for c in cases} == set(ROLES)


UUID_IN_PATH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _gap_key(result: dict[str, Any]) -> tuple[str, str]:
    return (UUID_IN_PATH.sub("{id}", result["resource"]), result["method"])


def _declared_filters(client: httpx.Client, url: str, headers: dict[str, str]) -> list[str]:
    """The filters a list says it takes (its 400 for an unknown one names them)."""
    refused = client.get(url, headers=headers, params={"filter": '{"no_such_field":1}'})
    assert refused.status_code == 400, refused.text
    named = re.search(r"Filter by one of: (.*)\.$", refused.json()["detail"])
    assert named, refused.json()["detail"]
    return [name.strip() for name in named.group(1).split(",")]


def test_no_declared_filter_is_ignored(gateway, seeded) -> None:
    """Every filter a list names narrows it: a value that matches nothing answers an empty
    list (or a 400 for a value the filter does not take), never the unfiltered rows."""
    base, *_ = gateway
    spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
    cases, _ = plan_cases(seeded, spec)
    ignored = []
    checked = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        for case in cases:
            headers = seeded.headers[case["role"]]
            url = f"{API}/{case['resource']}"
            if not client.get(url, headers=headers).json():
                continue
            for name in _declared_filters(client, url, headers):
                nothing = str(uuid.uuid4()) if name.endswith("id") else "zz-matches-nothing"
                answer = client.get(
                    url, headers=headers, params={"filter": json.dumps({name: nothing})}
                )
                checked += 1
                if answer.status_code == 400:
                    continue
                assert answer.status_code == 200, (url, name, answer.text)
                if answer.json():
                    ignored.append(f"{case['path']} as {case['role']}: {name}")
    assert ignored == []
    assert checked > 100
