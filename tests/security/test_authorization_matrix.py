"""The authorization matrix: every operation of the merged OpenAPI x every kind of caller.

Built from the document a real gateway serves in front of the stack (the three
services' operations and the gateway's own: composite views, the merged audit
trail, takeout), so a new operation is covered without editing this file. The
services' operations are called on the services, the gateway's on the gateway. A victim
funder and a victim partner organisation are set up with a record of every kind;
then every operation is called with their ids in its path (and in its body's
``*_id`` fields), by callers who have nothing to do with them:

- staff of another funder;
- that funder's partner, and a partner shared by two other funders;
- staff of a funder that is a member of another funder's pooled fund;
- a person with no membership (a token with no role);
- a revoked API client of another partner;
- a ``partner`` token that carries the victim funder's id as a ``funder_id`` claim
  (a claim without its role), and a role-less token carrying both victim ids;
- no token at all;

and by two callers who do know part of the victim's world:

- staff of a funder that linked the victim partner by its org-id, which the partner
  has not accepted: it may read the partner's record (name and identifiers), never the
  partner's own data, and never write the partner's record or its sub-resources;
- another partner of the victim funder: it may name and see the funder, its
  commitments (and their words), rounds and actions, and nothing of the victim partner's.

The test fails on any 2xx to a request that names the victim's records, and on
any of the victim's ids, names, emails or phone numbers in any answer (beyond
what the caller itself sent). Operations whose OpenAPI ``security`` is empty are
public by design (open data, a published scorecard and commitments, discovery):
they must answer every caller alike, and a ``GET`` of them must succeed. Where a
token is optional (``security`` lists ``{}`` beside ``bearerAuth``), a caller may
see no more of the victim than the public does.
"""

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from services.feedback.results.service import RESULT_NAMESPACE
from services.gateway import routing
from tests.partners.people_helpers import claim, staff_person
from tests.support import Stack, Tokens

API = "/api/v1"
METHODS = ("get", "post", "put", "delete", "patch")


#: Path values that are not the victim's own (a slug is public; a measure's id is its name).
SHARED_NAMES = frozenset({"funder_slug", "measure_id"})


@dataclass
class Victim:
    """The records of a funder and a partner organisation nobody else should reach."""

    path_ids: dict[str, str] = field(default_factory=dict)
    needles: set[str] = field(default_factory=set)
    slug: str = ""
    org_id: str = ""
    #: What a funder that links the organisation by org-id may see before it is accepted.
    public_of_partner: set[str] = field(default_factory=set)
    #: What another partner of the victim funder may see of it (it works with that funder).
    funder_to_its_partners: set[str] = field(default_factory=set)

    def add(self, name: str, value: str, *, secret: bool = True) -> str:
        self.path_ids[name] = value
        if secret:
            self.needles.add(value)
        return value


def _unique() -> str:
    return uuid.uuid4().hex[:10]


async def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def _claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (read, not verified: the test's own token)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def build_victim(stack: Stack, gateway: httpx.AsyncClient) -> Victim:
    """A funder V and its partner A, with a record of every kind the API has."""
    victim = Victim()
    tag = _unique()
    victim.slug = f"victim-{tag}"
    v = await stack.new_funder(victim.slug)
    victim.needles.add(v["name"])
    victim.funder_to_its_partners |= {v["id"], v["name"]}
    staff = stack.tokens.staff(v["id"], sub=f"victim-staff-{tag}@victim.test")
    victim.needles.add(f"victim-staff-{tag}@victim.test")
    victim.add("funder_id", v["id"])
    org = f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}"
    a = await stack.new_partner(
        v["id"],
        name=f"Victim Partner {tag}",
        org_id=org,
        region=f"Region {tag}",
        description=f"What victim {tag} does",
    )
    victim.needles |= {a["name"], f"What victim {tag} does", f"Region {tag}"}
    victim.add("partner_id", a["id"])
    victim.org_id = org
    victim.public_of_partner = {a["id"], a["name"], org}
    victim.add("relationship_id", a["relationship"]["id"])
    as_a = stack.tokens.partner(a["id"], sub=f"victim-person-{tag}@partner.test")
    victim.needles.add(f"victim-person-{tag}@partner.test")

    p = stack.partners
    email, phone = (
        f"victim-contact-{tag}@partner.test",
        f"+44 20 7946 {tag[:4].translate(str.maketrans('abcdef', '123456'))}",
    )
    contact = await _ok(
        await p.post(
            f"{API}/contacts",
            headers=as_a,
            json={"name": f"Contact {tag}", "email": email, "phone": phone},
        ),
        201,
    )
    victim.add("contact_id", contact["id"])
    victim.needles |= {f"Contact {tag}", email}
    document = await _ok(
        await p.post(
            f"{API}/documents",
            headers=as_a,
            json={
                "title": f"Strategy {tag}",
                "kind": "strategy",
                "url": f"https://victim.example.org/{tag}",
            },
        ),
        201,
    )
    victim.add("document_id", document["id"])
    victim.needles.add(f"Strategy {tag}")
    interaction = await _ok(
        await p.post(
            f"{API}/interactions",
            headers=staff,
            json={
                "partner_id": a["id"],
                "kind": "visit",
                "occurred_at": "2025-03-04T10:30:00Z",
                "summary": f"Visit notes {tag}",
            },
        ),
        201,
    )
    victim.add("interaction_id", interaction["id"])
    victim.needles.add(f"Visit notes {tag}")
    # The organisation's own system hears of replies; the reply below queues a delivery.
    webhook_url = f"https://1.1.1.1/victim-hook-{tag}"
    webhook = await _ok(
        await p.post(
            f"{API}/webhooks",
            headers=as_a,
            json={"url": webhook_url, "event_types": ["update.replied"]},
        ),
        201,
    )
    victim.add("webhook_id", webhook["id"])
    victim.needles |= {webhook_url, webhook["secret"]}
    update = await _ok(
        await p.post(f"{API}/updates", headers=as_a, json={"what_changed": f"Our news {tag}"}), 201
    )
    victim.add("update_id", update["id"])
    victim.needles.add(f"Our news {tag}")
    await _ok(
        await p.post(
            f"{API}/updates/{update['id']}/replies", headers=staff, json={"body": f"Reply {tag}"}
        ),
        201,
    )
    victim.needles.add(f"Reply {tag}")
    deliveries = await _ok(await p.get(f"{API}/webhooks/{webhook['id']}/deliveries", headers=as_a))
    victim.add("delivery_id", deliveries[0]["id"])
    client = await _ok(
        await p.post(
            f"{API}/partners/{a['id']}/clients", headers=as_a, json={"name": f"CRM {tag}"}
        ),
        201,
    )
    victim.add("client_record_id", client["id"])

    # People: a person on the victim's staff (signed in), and an invitation still pending.
    address, tokens = await staff_person(stack, v["id"], f"victim-signin-{tag}@victim.test")
    victim.needles.add(address)
    claims = _claims(tokens["access_token"])
    victim.add("person_id", claims["sub"].removeprefix("person:"))
    victim.add("membership_id", claims["mid"])
    invitation = await _ok(
        await p.post(
            f"{API}/invitations",
            headers=staff,
            json={
                "email": f"victim-invited-{tag}@victim.test",
                "role": "funder_staff",
                "funder_id": v["id"],
            },
        ),
        201,
    )
    victim.add("invitation_id", invitation["id"])
    victim.needles.add(f"victim-invited-{tag}@victim.test")
    victim.needles |= {client["client_id"], client["client_secret"]}

    # Funding: a grant, its schedule, a payment and a variation; open data published.
    f = stack.funding
    grant = await _ok(
        await f.post(
            f"{API}/grants",
            headers=staff,
            json={
                "partner_id": a["id"],
                "title": f"Core funding {tag}",
                "description": "Unrestricted funding for the organisation's work.",
                "amount_awarded": 9_000_000,
                "planned_start_date": "2030-04-01",
                "planned_end_date": "2033-03-31",
            },
        ),
        201,
    )
    victim.add("grant_id", grant["id"])
    await _ok(
        await f.post(
            f"{API}/grants/{grant['id']}/approve",
            headers=staff,
            json={"decided_on": "2030-03-01", "decided_by": "Board", "reference": f"TM-{tag}"},
        )
    )
    schedule = await _ok(await f.get(f"{API}/grants/{grant['id']}/schedule", headers=staff))
    instalments = schedule["instalments"] if isinstance(schedule, dict) else schedule
    victim.add("instalment_id", instalments[0]["id"])
    payment = await _ok(
        await f.post(
            f"{API}/payments",
            headers={**staff, "Idempotency-Key": _unique()},
            json={"instalment_id": instalments[0]["id"], "paid_on": date.today().isoformat()},
        ),
        201,
    )
    victim.add("payment_id", payment["id"])
    variation = await _ok(
        await f.post(
            f"{API}/grants/{grant['id']}/variations",
            headers=staff,
            json={
                "kind": "uplift",
                "amount": 100,
                "decided_on": "2031-01-01",
                "decided_by": "Board",
                "reference": f"TV-{tag}",
            },
        ),
        201,
    )
    victim.add("variation_id", variation["id"])
    # Money operations: a budget and a payment run (by the victim's finance people) and the
    # partner's bank account.
    money = Tokens.headers(
        stack.tokens.issuer.mint(
            sub=f"victim-finance-{tag}@victim.test",
            roles=["funder_staff", "finance"],
            client_id="trellis-cli",
            funder_id=v["id"],
        )
    )
    budget = await _ok(
        await f.post(
            f"{API}/budgets", headers=money, json={"financial_year": 2031, "amount": 77_000_00}
        ),
        201,
    )
    victim.add("budget_id", budget["id"])
    run = await _ok(
        await f.post(
            f"{API}/payment-runs",
            headers={**money, "Idempotency-Key": _unique()},
            json={"due_by": "2032-12-31"},
        ),
        201,
    )
    victim.add("run_id", run["id"])
    account = await _ok(
        await stack.partners.post(
            f"{API}/partners/{a['id']}/bank-accounts",
            headers=as_a,
            json={"account_name": f"Victim account {tag}", "iban": "GB33BUKB20201555555555"},
        ),
        201,
    )
    victim.add("account_id", account["id"])
    victim.needles |= {"GB33BUKB20201555555555", f"Victim account {tag}"}
    settings = await f.get(f"{API}/funder-settings", headers=staff)
    await _ok(
        await f.put(
            f"{API}/funder-settings",
            headers={**staff, "If-Match": settings.headers["etag"]},
            json={"publish_360giving": True},
        )
    )
    # A pooled fund the victim hosts, with a pledge (a ledger entry) and a proposal.
    pool = await _ok(
        await f.post(
            f"{API}/pools",
            headers=staff,
            json={
                "name": f"Victim Pool {tag}",
                "purpose": "Listening.",
                "decision_rule": "majority",
            },
        ),
        201,
    )
    victim.add("pool_id", pool["id"])
    victim.needles.add(f"Victim Pool {tag}")
    pledge = await _ok(
        await f.post(
            f"{API}/pools/{pool['id']}/pledges",
            headers={**staff, "Idempotency-Key": _unique()},
            json={"amount": 50_000},
        ),
        201,
    )
    victim.add("entry_id", pledge["id"])
    proposal = await _ok(
        await f.post(
            f"{API}/pools/{pool['id']}/proposals",
            headers={**staff, "Idempotency-Key": _unique()},
            json={
                "partner_id": a["id"],
                "title": f"Pool grant {tag}",
                "description": "Unrestricted funding.",
                "amount": 10_000,
                "planned_start_date": "2030-04-01",
                "planned_end_date": "2033-03-31",
            },
        ),
        201,
    )
    victim.add("proposal_id", proposal["id"])

    # Feedback: a published commitment, an open round with the partner's named answer,
    # a thread, an action, and a published scorecard. Only an organisation that has claimed
    # its record is invited to a round: its first person joins it.
    victim.needles.add(await claim(stack, a["id"], f"victim-director-{tag}@partner.test"))
    fb = stack.feedback
    commitment = await _ok(
        await fb.post(
            f"{API}/commitments",
            headers=staff,
            json={"title": f"We pay on time {tag}", "status": "published"},
        ),
        201,
    )
    victim.add("commitment_id", commitment["id"])
    today = date.today()
    round_ = await _ok(
        await fb.post(
            f"{API}/rounds",
            headers=staff,
            json={
                "title": f"Round {tag}",
                "opens_on": today.isoformat(),
                "closes_on": (today + timedelta(days=28)).isoformat(),
            },
        ),
        201,
    )
    victim.add("round_id", round_["id"])
    round_ = await _ok(await fb.post(f"{API}/rounds/{round_['id']}/open", headers=staff))
    answer = await _ok(
        await fb.post(
            f"{API}/rounds/{round_['id']}/responses",
            headers=as_a,
            json={
                "anonymous": False,
                "ratings": [
                    {"commitment_id": c["commitment_id"], "rating": 4, "comment": f"Named {tag}"}
                    for c in round_["commitments"]
                ],
            },
        ),
        201,
    )
    victim.add("response_id", answer["id"])
    victim.needles.add(f"Named {tag}")
    thread = await _ok(
        await fb.post(
            f"{API}/threads",
            headers=as_a,
            json={"funder_id": v["id"], "subject": f"Thread {tag}", "body": f"Message {tag}"},
        ),
        201,
    )
    victim.add("thread_id", thread["id"])
    victim.needles |= {f"Thread {tag}", f"Message {tag}"}
    action = await _ok(
        await fb.post(
            f"{API}/actions", headers=staff, json={"title": f"Action {tag}", "published": True}
        ),
        201,
    )
    victim.add("action_id", action["id"])
    # The funder's own learning: a tag, a learning note and a gathering; the partner's
    # request to change its grant.
    victim_tag = await _ok(
        await p.post(
            f"{API}/tags",
            headers=staff,
            json={"subject_kind": "update", "subject_id": update["id"], "tag": f"Theme {tag}"},
        ),
        201,
    )
    victim.add("tag_id", victim_tag["id"])
    note = await _ok(
        await p.post(
            f"{API}/learning-notes",
            headers=staff,
            json={
                "title": f"Learnt {tag}",
                "body": f"Learning notes {tag}",
                "update_ids": [update["id"]],
                "interaction_ids": [interaction["id"]],
            },
        ),
        201,
    )
    victim.add("note_id", note["id"])
    gathering = await _ok(
        await p.post(
            f"{API}/gatherings",
            headers=staff,
            json={
                "kind": "learning_day",
                "title": f"Gathering {tag}",
                "held_at": "2030-05-01T10:00:00Z",
                "invited_partner_ids": [a["id"]],
                "attended_partner_ids": [a["id"]],
                "shared_notes": f"Shared notes {tag}",
                "private_notes": f"Private notes {tag}",
            },
        ),
        201,
    )
    victim.add("gathering_id", gathering["id"])
    request = await _ok(
        await f.post(
            f"{API}/grants/{grant['id']}/requests",
            headers=as_a,
            json={"kind": "extension", "reasons": f"Our reasons {tag}"},
        ),
        201,
    )
    victim.add("request_id", request["id"])
    victim.needles |= {
        f"Theme {tag}",
        f"Learnt {tag}",
        f"Learning notes {tag}",
        f"Gathering {tag}",
        f"Shared notes {tag}",
        f"Private notes {tag}",
        f"Our reasons {tag}",
    }

    # Records read one by one from their lists: the first row of each, as the victim sees it.
    async def first_id(client: Any, path: str) -> str:
        rows = await _ok(await client.get(f"{API}/{path}", headers=staff))
        assert rows, f"the victim has no {path} to name"
        return str(rows[0]["id"])

    version = victim.add(
        "version_id", await first_id(fb, f"commitments/{commitment['id']}/versions")
    )
    victim.funder_to_its_partners.add(version)  # the words of a published commitment
    victim.add("message_id", await first_id(fb, f"threads/{thread['id']}/messages"))
    victim.add("reply_id", await first_id(p, f"updates/{update['id']}/replies"))
    rel = victim.path_ids["relationship_id"]
    victim.add("change_id", await first_id(p, f"relationships/{rel}/history"))
    victim.add("audit_id", await first_id(p, "audit"))
    victim.add("hit_id", victim.path_ids["update_id"])
    # A result's id names its round, commitment and kind (the round's results, once closed).
    result = uuid.uuid5(RESULT_NAMESPACE, f"{round_['id']}:{commitment['id']}:all")
    victim.add("result_id", str(result))
    # A measure's id is its name, the same at every funder: each caller reads its own.
    victim.add("measure_id", await first_id(fb, "measures"), secret=False)
    victim.add("member_id", await first_id(f, f"pools/{pool['id']}/members"))
    # A pooled grant's share is named <grant id>.<funder id>; the victim's own grant's.
    victim.add("share_id", f"{victim.path_ids['grant_id']}.{v['id']}")
    victim.funder_to_its_partners |= {commitment["id"], round_["id"], action["id"]}
    scorecard = await fb.get(f"{API}/scorecards/settings", headers=staff)
    await _ok(
        await fb.put(
            f"{API}/scorecards/settings",
            headers={**staff, "If-Match": scorecard.headers.get("etag", "*")},
            json={"scorecard_published": True},
        )
    )
    # The gateway's own records: a takeout of the victim funder's data.
    takeout = await _ok(await gateway.post(f"{API}/exports/takeout", headers=staff), 202)
    victim.add("takeout_id", takeout["id"])
    victim.path_ids["funder_slug"] = victim.slug
    return victim


@dataclass
class Identity:
    """A caller, and what of the victim it may name and see."""

    headers: dict[str, str]
    #: Victim path ids it may name in a read (a linked funder reads the partner's record).
    may_name: frozenset[str] = frozenset()
    #: Victim needles it may see.
    may_see: frozenset[str] = frozenset()


async def build_identities(stack: Stack, victim: Victim) -> dict[str, Identity]:
    """Callers with no business with the victim, by name; and one funder that linked the
    victim partner by its org-id, which the partner has not accepted."""
    tokens = stack.tokens
    o = await stack.new_funder()
    o2 = await stack.new_funder()
    c = await stack.new_partner(o["id"])
    org = f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}"
    d = await stack.new_partner(o["id"], org_id=org)
    linked = await stack.partners.post(
        f"{API}/partners", headers=tokens.staff(o2["id"]), json={"name": d["name"], "org_id": org}
    )
    assert linked.status_code == 201, linked.text
    accepted = await stack.partners.put(
        f"{API}/partners/{d['id']}/sharing/{o2['id']}",
        headers=tokens.partner(d["id"]),
        json={"sharing": "accepted"},
    )
    assert accepted.status_code == 200, accepted.text

    # M is a member of a pooled fund that O hosts.
    m = await stack.new_funder()
    pool = await _ok(
        await stack.funding.post(
            f"{API}/pools",
            headers=tokens.staff(o["id"]),
            json={"name": "Other pool", "purpose": "Listening.", "decision_rule": "majority"},
        ),
        201,
    )
    await _ok(
        await stack.funding.post(
            f"{API}/pools/{pool['id']}/invitations",
            headers={**tokens.staff(o["id"]), "Idempotency-Key": _unique()},
            json={"funder_id": m["id"]},
        ),
        201,
    )
    await _ok(
        await stack.funding.post(
            f"{API}/pools/{pool['id']}/accept",
            headers={**tokens.staff(m["id"]), "Idempotency-Key": _unique()},
        )
    )

    # A client of C, revoked after it got a token.
    client = await _ok(
        await stack.partners.post(
            f"{API}/partners/{c['id']}/clients",
            headers=tokens.partner(c["id"]),
            json={"name": "CRM"},
        ),
        201,
    )
    token = await _ok(
        await stack.partners.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
    )
    await _ok(
        await stack.partners.delete(
            f"{API}/partners/{c['id']}/clients/{client['id']}", headers=tokens.partner(c["id"])
        )
    )

    # W links the victim partner by its org-id; the partner has not accepted W.
    w = await stack.new_funder()
    linked = await stack.partners.post(
        f"{API}/partners",
        headers=tokens.staff(w["id"]),
        json={"name": "As W knows it", "org_id": victim.org_id},
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["relationship"]["sharing"] == "pending"

    issuer = tokens.issuer
    plain = {
        "staff of another funder": tokens.staff(o["id"]),
        "a partner": tokens.partner(c["id"]),
        "a partner shared by two funders": tokens.partner(d["id"]),
        "a pool member": tokens.staff(m["id"]),
        "a person with no membership": Tokens.headers(
            issuer.mint(sub=f"person:{_unique()}", roles=[], client_id="trellis-web")
        ),
        "a revoked client": Tokens.headers(token["access_token"]),
        "a partner claiming the victim funder": Tokens.headers(
            issuer.mint(
                sub=f"partner:{c['id']}",
                roles=["partner"],
                client_id="partner-portal",
                partner_id=c["id"],
                funder_id=victim.path_ids["funder_id"],
            )
        ),
        "no role, the victim's ids as claims": Tokens.headers(
            issuer.mint(
                sub=f"person:{_unique()}",
                roles=[],
                client_id="trellis-web",
                partner_id=victim.path_ids["partner_id"],
                funder_id=victim.path_ids["funder_id"],
            )
        ),
        "no token": {},
    }
    identities = {who: Identity(headers) for who, headers in plain.items()}
    # B is another partner of the victim funder: it may name and see the funder, its
    # commitments, rounds and published actions, and nothing of the victim partner's.
    b = await stack.new_partner(victim.path_ids["funder_id"])
    identities["another partner of the victim funder"] = Identity(
        tokens.partner(b["id"]),
        may_name=frozenset({"funder_id", "commitment_id", "version_id", "round_id", "action_id"}),
        may_see=frozenset(victim.funder_to_its_partners),
    )
    identities["staff of a funder linked by org-id, not accepted"] = Identity(
        tokens.staff(w["id"]),
        may_name=frozenset({"partner_id"}),
        may_see=frozenset(victim.public_of_partner),
    )
    return identities


# Requests from the document ------------------------------------------------------------------


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        section, name = schema["$ref"].split("/")[-2:]
        schema = doc["components"][section][name]
    return schema


def _plain(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its references and its ``null`` alternative."""
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(doc, s) for s in schema[key] if s.get("type") != "null"]
            return (
                {**options[0], **{k: v for k, v in schema.items() if k != key}} if options else {}
            )
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(doc, schema["allOf"][0])
    return schema


#: Optional fields a body needs all the same (an update needs words in one of its parts).
ALWAYS_SENT = frozenset({"what_changed"})
#: Values for fields that need a particular shape to pass validation.
FIELD_VALUES: dict[str, Any] = {
    "planned_start_date": "2030-04-01",
    "planned_end_date": "2033-03-31",
    "opens_on": date.today().isoformat(),
    "closes_on": (date.today() + timedelta(days=28)).isoformat(),
    "decided_on": "2030-03-01",
    "paid_on": date.today().isoformat(),
    "received_on": date.today().isoformat(),
    "currency": "GBP",
    "email": "someone@example.org",
    "phone": "+44 20 7946 0000",
    "url": "https://example.org/a",
    "website": "https://example.org",
    "charity_number": "1164883",
    "company_number": "01234567",
    "what_changed": "Matrix words",
    # GET /search: words of the victim's document, interaction, update and reply.
    "q": "strategy or visit or notes or news or reply",
}


def _value(doc: dict[str, Any], name: str, schema: dict[str, Any], victim: Victim) -> Any:
    schema = _plain(doc, schema)
    if name.endswith("_ids"):
        singular = name[:-1]
        return [victim.path_ids.get(singular, str(uuid.uuid4()))]
    if name.endswith("_id") and name not in {"org_id"}:
        return victim.path_ids.get(name, str(uuid.uuid4()))
    if name == "org_id":
        return f"GB-CHC-{uuid.uuid4().int % 9_000_000 + 1_000_000}"
    if name == "slug":
        return f"m-{_unique()}"
    if name.startswith("prefix_360giving"):
        return f"360G-m{_unique()}"
    if name in FIELD_VALUES:
        return FIELD_VALUES[name]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _body(doc, schema, victim)
    if kind == "array":
        item = schema.get("items", {})
        return [_value(doc, name, item, victim) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1, 100)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "date":
        return "2030-04-01"
    if fmt == "date-time":
        return "2030-04-01T10:00:00Z"
    if fmt in {"uri", "url"}:
        return "https://example.org/a"
    if fmt == "uuid":
        return str(uuid.uuid4())
    return "Matrix words"[: max(schema.get("maxLength", 12), 1)].ljust(
        schema.get("minLength", 1), "x"
    )


def _names_record(name: str) -> bool:
    return (name.endswith("_id") or name.endswith("_ids")) and name != "org_id"


def _body(
    doc: dict[str, Any], schema: dict[str, Any], victim: Victim, *, only: str | None = None
) -> dict[str, Any]:
    """A minimal valid body: its required fields, and its optional fields that name a record
    (all of them, or ``only`` the one named)."""
    schema = _plain(doc, schema)
    required = set(schema.get("required", []))
    out = {}
    for name, prop in (schema.get("properties") or {}).items():
        wanted = _names_record(name) and (only is None or name == only)
        if name in required or wanted or name in ALWAYS_SENT:
            out[name] = _value(doc, name, prop, victim)
    return out


def _bodies(doc: dict[str, Any], schema: dict[str, Any], victim: Victim) -> list[dict[str, Any]]:
    """The body with every record field, then with each optional record field on its own
    (a thread names a partner or a funder, never both)."""
    plain = _plain(doc, schema)
    required = set(plain.get("required", []))
    optional = [n for n in plain.get("properties") or {} if _names_record(n) and n not in required]
    variants = [_body(doc, schema, victim)]
    if len(optional) > 1:
        variants += [_body(doc, schema, victim, only=name) for name in optional]
    return variants


@dataclass
class Call:
    method: str
    path: str
    url: str
    service: str
    public: bool
    params: dict[str, str]
    body: dict[str, Any] | None
    #: The victim's records the request names (keys of ``Victim.path_ids``).
    names: frozenset[str]
    #: A token is optional: the public gets an answer, a caller with a token may get more.
    token_optional: bool = False
    #: A public operation that asks for a capability in a header (an anonymous ballot): without
    #: it every caller is refused alike.
    capability: bool = False

    def may_succeed(self, who: Identity) -> bool:
        """Whether a 2xx is right for ``who``: it names nothing of the victim's, or only what
        ``who`` may name, and it is not a write to the organisation's own record (a path
        under ``/partners/{partner_id}``), which is the organisation's alone."""
        if not self.names:
            return True
        if not self.names <= who.may_name:
            return False
        return not (self.method != "get" and "{partner_id}" in self.path)


def calls(doc: dict[str, Any], victim: Victim) -> list[Call]:
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            assert "security" in op, f"{method.upper()} {path} does not say whether it is public"
            public = op["security"] == []
            token_optional = {} in op["security"] and not public
            url = path
            for name in re.findall(r"{(\w+)}", path):
                assert name in victim.path_ids, (
                    f"{method.upper()} {path}: give the victim a record for the path "
                    f"parameter {name!r} in build_victim"
                )
                url = url.replace("{" + name + "}", victim.path_ids[name])
            params = {}
            capability = False
            for param in op.get("parameters", []):
                param = _resolve(doc, param)
                capability |= public and param["in"] == "header"
                if param["in"] == "query" and param.get("required"):
                    params[param["name"]] = str(_value(doc, param["name"], param["schema"], victim))
            bodies: list[dict[str, Any] | None] = [None]
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                bodies = list(_bodies(doc, content["application/json"]["schema"], victim))
            service = routing.service_for(path)
            assert service, path
            for body in bodies:
                sent = json.dumps([url, params, body])
                names = frozenset(
                    k for k, v in victim.path_ids.items() if k not in SHARED_NAMES and v in sent
                )
                out.append(
                    Call(
                        method,
                        path,
                        url,
                        service,
                        public,
                        params,
                        body,
                        names,
                        token_optional,
                        capability,
                    )
                )
    return out


async def test_no_caller_reaches_another_partys_records(
    stack: Stack, gateway: httpx.AsyncClient, merged_document: dict[str, Any]
) -> None:
    merged = merged_document
    clients = {**stack.clients, "gateway": gateway}
    victim = await build_victim(stack, gateway)
    identities = await build_identities(stack, victim)
    planned = calls(merged, victim)
    failures: list[str] = []
    leaks = 0
    public_answers: dict[str, set[int]] = {}
    capabilities = {f"{c.method.upper()} {c.path}" for c in planned if c.capability}
    statuses: dict[int, int] = {}
    public_shown: dict[tuple[str, str], str] = {}
    for call in planned:
        # The public's answer first: where a token is optional, it is the baseline.
        for who, identity in sorted(identities.items(), key=lambda item: item[0] != "no token"):
            sent_headers = dict(identity.headers)
            if call.method in {"post", "put", "delete"}:
                sent_headers["Idempotency-Key"] = _unique()
            response = await clients[call.service].request(
                call.method.upper(),
                call.url,
                headers=sent_headers,
                params=call.params,
                json=call.body,
            )
            label = f"{call.method.upper()} {call.path} as {who}: {response.status_code}"
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if os.environ.get("MATRIX_DEBUG") and (
                response.status_code in (400, 422) or (call.names and response.status_code < 300)
            ):
                print(label, response.text[:200])
            if response.status_code >= 500:
                failures.append(f"{label} (a server error) {response.text[:200]}")
                continue
            if call.public:
                public_answers.setdefault(f"{call.method.upper()} {call.path}", set()).add(
                    response.status_code
                )
                continue
            if call.token_optional:
                # What the public is shown is fine; a caller may see no more of the victim.
                if who == "no token":
                    public_shown[(call.method, call.url)] = response.text
                seen_by_public = public_shown.get((call.method, call.url), "")
                shown = [
                    n
                    for n in victim.needles - identity.may_see
                    if n in response.text and n not in seen_by_public
                ]
                if shown:
                    leaks += 1
                    failures.append(f"{label}: shows more than the public sees: {shown}")
                continue
            if 200 <= response.status_code < 300 and not call.may_succeed(identity):
                failures.append(f"{label}: another party's record answered {response.text[:300]}")
            sent = json.dumps([call.url, call.params, call.body])
            shown = [
                n for n in victim.needles - identity.may_see if n in response.text and n not in sent
            ]
            if shown:
                leaks += 1
                failures.append(f"{label}: the answer shows {shown}")
    for operation, answered in public_answers.items():
        if len(answered) > 1:
            failures.append(f"{operation} (public) answers callers differently: {sorted(answered)}")
        elif (
            operation.startswith("GET")
            and operation not in capabilities
            and not all(200 <= s < 300 for s in answered)
        ):
            failures.append(f"{operation} (public) does not answer: {sorted(answered)}")
    operations = len({(c.method, c.path) for c in planned})
    assert any(c.service == "gateway" for c in planned), "the gateway's own operations are missing"
    print(
        f"\nauthorization matrix: {operations} operations x {len(identities)} identities "
        f"({len(planned) * len(identities)} calls with body variants; "
        f"{len(public_answers)} public operations), "
        f"{leaks} leaks, {len(failures)} failures; answers by status: {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n".join(failures)
