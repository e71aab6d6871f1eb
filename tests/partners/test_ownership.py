"""Ownership: an organisation's own record, contacts, documents and API clients belong to it.

Each "finding" test replays one of the attacks that issue 10 reported on the
earlier main and shows it can no longer be done.
"""

import uuid
from typing import Any

from sqlalchemy import text

from services.common.auth import Caller
from services.partners.organisations import service as organisations_service
from tests.partners.helpers import Pair, org_id, pair, second_funder_of
from tests.support import Stack, Tokens

API = "/api/v1"


async def claim(stack: Stack, partner_id: str) -> None:
    """The organisation's own people claim its record (what an accepted invitation does)."""
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        await organisations_service.claim_partner(
            session=session,
            caller=Caller(sub="invitation", roles=frozenset({"partner"})),
            partner_id=uuid.UUID(partner_id),
        )
        await session.commit()


async def own_data(stack: Stack, p: Pair) -> dict[str, Any]:
    """A contact and a document of the organisation's own, and a description and region."""
    contact = await stack.partners.post(
        f"{API}/contacts",
        headers=p.as_partner,
        json={"name": "Jo Baker", "email": f"jo-{uuid.uuid4().hex[:6]}@hillside.example.org"},
    )
    assert contact.status_code == 201, contact.text
    document = await stack.partners.post(
        f"{API}/documents",
        headers=p.as_partner,
        json={"title": "Our strategy", "kind": "strategy", "url": "https://example.org/s.pdf"},
    )
    assert document.status_code == 201, document.text
    described = await stack.partners.put(
        f"{API}/partners/{p.partner_id}",
        headers=p.as_partner,
        json={"description": "A youth club run by young people", "region": "North East"},
    )
    assert described.status_code == 200, described.text
    return {"contact": contact.json(), "document": document.json()}


async def sees_own_data(stack: Stack, staff: dict[str, str], p: Pair, data: dict) -> bool:
    """Whether ``staff`` sees any of the organisation's own data, asked every way there is."""
    contact, document = data["contact"], data["document"]
    seen = []
    seen.append(
        (await stack.partners.get(f"{API}/contacts/{contact['id']}", headers=staff)).status_code
        == 200
    )
    listed = await stack.partners.get(f"{API}/contacts", headers=staff)
    seen.append(contact["id"] in listed.text)
    seen.append(
        (await stack.partners.get(f"{API}/documents/{document['id']}", headers=staff)).status_code
        == 200
    )
    listed = await stack.partners.get(f"{API}/documents", headers=staff)
    seen.append(document["id"] in listed.text)
    timeline = await stack.partners.get(f"{API}/partners/{p.partner_id}/timeline", headers=staff)
    assert timeline.status_code == 200
    seen.append(document["id"] in timeline.text)
    record = await stack.partners.get(f"{API}/partners/{p.partner_id}", headers=staff)
    assert record.status_code == 200
    seen.append("youth club run by young people" in record.text or "North East" in record.text)
    listed = await stack.partners.get(f"{API}/partners", headers=staff)
    seen.append("North East" in listed.text)
    by_region = await stack.partners.get(
        f"{API}/partners", headers=staff, params={"filter": '{"region": "North East"}'}
    )
    seen.append(p.partner_id in by_region.text)
    erased = await stack.partners.get(f"{API}/contacts/{contact['id']}", headers=staff)
    seen.append(erased.status_code == 200)
    return any(seen)


# Finding: Y links A by org-id and reads A's contacts and documents, and renames A -----------


async def test_linking_by_org_id_reveals_nothing_until_the_organisation_accepts(
    stack: Stack,
) -> None:
    x = await pair(stack, org_id=org_id())
    data = await own_data(stack, x)
    assert await sees_own_data(stack, x.staff, x, data)  # the funder that added it shares

    y = await second_funder_of(stack, x, accept=False)
    linked = await stack.partners.get(f"{API}/partners/{x.partner_id}", headers=y.staff)
    body = linked.json()
    assert body["relationship"]["sharing"] == "pending"
    assert body["description"] is None and body["region"] is None and body["website"] is None
    assert not await sees_own_data(stack, y.staff, x, data)
    # Only the organisation accepts: a funder sending sharing on its relationship changes nothing.
    forced = await stack.partners.put(
        f"{API}/relationships/{body['relationship']['id']}",
        headers=y.staff,
        json={**body["relationship"], "sharing": "accepted"},
    )
    assert forced.status_code == 200 and forced.json()["sharing"] == "pending"
    assert not await sees_own_data(stack, y.staff, x, data)
    # Nor does it learn of the other funder: not its id, not its name.
    for url in (f"{API}/partners/{x.partner_id}", f"{API}/partners", f"{API}/relationships"):
        answer = await stack.partners.get(url, headers=y.staff)
        assert x.funder_id not in answer.text and x.funder["name"] not in answer.text

    renamed = await stack.partners.put(
        f"{API}/partners/{x.partner_id}", headers=y.staff, json={"name": "Renamed by Y"}
    )
    assert renamed.status_code == 403
    assert "did not add this organisation" in renamed.json()["message"]
    as_x = await stack.partners.get(f"{API}/partners/{x.partner_id}", headers=x.staff)
    assert as_x.json()["name"] == x.partner["name"]

    # The organisation accepts Y: now Y sees its own data, but still never edits its record.
    accepted = await stack.partners.put(
        f"{API}/partners/{x.partner_id}/sharing/{y.funder_id}",
        headers=x.as_partner,
        json={"sharing": "accepted"},
    )
    assert accepted.status_code == 200 and accepted.json()["sharing"] == "accepted"
    assert await sees_own_data(stack, y.staff, x, data)
    renamed = await stack.partners.put(
        f"{API}/partners/{x.partner_id}", headers=y.staff, json={"name": "Renamed by Y"}
    )
    assert renamed.status_code == 403

    # It stops sharing with Y: Y loses sight of it again, X keeps it.
    stopped = await stack.partners.put(
        f"{API}/partners/{x.partner_id}/sharing/{y.funder_id}",
        headers=x.as_partner,
        json={"sharing": "stopped"},
    )
    assert stopped.status_code == 200
    assert not await sees_own_data(stack, y.staff, x, data)
    assert await sees_own_data(stack, x.staff, x, data)


async def test_a_declined_funder_keeps_its_own_records_but_sees_nothing_of_the_organisation(
    stack: Stack,
) -> None:
    x = await pair(stack, org_id=org_id())
    data = await own_data(stack, x)
    y = await second_funder_of(stack, x, accept=False)
    declined = await stack.partners.put(
        f"{API}/partners/{x.partner_id}/sharing/{y.funder_id}",
        headers=x.as_partner,
        json={"sharing": "declined"},
    )
    assert declined.status_code == 200
    assert not await sees_own_data(stack, y.staff, x, data)
    # Y's own notes about the relationship are still Y's.
    note = await stack.partners.post(
        f"{API}/interactions",
        headers=y.staff,
        json={
            "partner_id": x.partner_id,
            "kind": "call",
            "occurred_at": "2025-03-04T10:30:00Z",
            "summary": "Called to introduce ourselves.",
        },
    )
    assert note.status_code == 201
    link = await stack.partners.post(
        f"{API}/documents",
        headers=y.staff,
        json={
            "partner_id": x.partner_id,
            "title": "Charity Commission entry",
            "kind": "other",
            "url": "https://example.org/register",
        },
    )
    assert link.status_code == 201
    mine = await stack.partners.get(f"{API}/documents/{link.json()['id']}", headers=y.staff)
    assert mine.status_code == 200
    # What the other services learn for Y: the name and identifiers, not the region.
    summary = await stack.partners.get(
        f"/internal/funders/{y.funder_id}/partners/{x.partner_id}",
        headers=stack.tokens.service("funding"),
    )
    assert summary.json()["sharing"] == "declined" and summary.json()["region"] is None
    summary = await stack.partners.get(
        f"/internal/funders/{x.funder_id}/partners/{x.partner_id}",
        headers=stack.tokens.service("funding"),
    )
    assert summary.json()["region"] == "North East"


async def test_the_organisation_lists_its_funders_and_answers_each(stack: Stack) -> None:
    x = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, x, accept=False)
    listed = await stack.partners.get(
        f"{API}/partners/{x.partner_id}/sharing",
        headers=x.as_partner,
        params={"sort": '["related_since","ASC"]'},
    )
    assert listed.status_code == 200
    assert listed.headers["content-range"] == "sharing 0-1/2"
    rows = {r["id"]: r for r in listed.json()}
    assert rows[x.funder_id]["sharing"] == "accepted"
    assert rows[x.funder_id]["funder_name"] == x.funder["name"]
    assert rows[y.funder_id]["sharing"] == "pending"
    pending = await stack.partners.get(
        f"{API}/partners/{x.partner_id}/sharing",
        headers=x.as_partner,
        params={"filter": '{"sharing": "pending"}'},
    )
    assert [r["id"] for r in pending.json()] == [y.funder_id]

    url = f"{API}/partners/{x.partner_id}/sharing/{y.funder_id}"
    wrong = await stack.partners.put(url, headers=x.as_partner, json={"sharing": "stopped"})
    assert wrong.status_code == 409 and "send 'declined'" in wrong.json()["message"]
    # react-admin sends the whole record back: read-only fields are accepted and ignored.
    record = {**rows[y.funder_id], "sharing": "accepted"}
    accepted = await stack.partners.put(url, headers=x.as_partner, json=record)
    assert accepted.status_code == 200 and accepted.json()["sharing_changed_at"]
    again = await stack.partners.put(url, headers=x.as_partner, json={"sharing": "declined"})
    assert again.status_code == 409 and "send 'stopped'" in again.json()["message"]

    # Nobody else answers for the organisation, or sees whom it works with.
    other = await pair(stack)
    for headers, status in ((other.as_partner, 404), (x.staff, 403), (y.staff, 403)):
        answer = await stack.partners.get(f"{API}/partners/{x.partner_id}/sharing", headers=headers)
        assert answer.status_code == status
        answer = await stack.partners.put(url, headers=headers, json={"sharing": "declined"})
        assert answer.status_code == status
    unknown = await stack.partners.get(
        f"{API}/partners/{x.partner_id}/sharing/{other.funder_id}", headers=x.as_partner
    )
    assert unknown.status_code == 404


# Funder staff edit an organisation they added, until it is claimed ---------------------------


async def test_the_adding_funder_edits_until_the_organisation_claims_its_record(
    stack: Stack,
) -> None:
    x = await pair(stack, org_id=org_id())
    assert x.partner["claimed_at"] is None
    edited = await stack.partners.put(
        f"{API}/partners/{x.partner_id}",
        headers=x.staff,
        json={"description": "Met them at the youth forum", "charity_number": "1164883"},
    )
    assert edited.status_code == 200, edited.text
    # If the organisation stops sharing with it, the funder no longer edits it either.
    sharing = f"{API}/partners/{x.partner_id}/sharing/{x.funder_id}"
    stopped = await stack.partners.put(sharing, headers=x.as_partner, json={"sharing": "stopped"})
    assert stopped.status_code == 200
    refused = await stack.partners.put(
        f"{API}/partners/{x.partner_id}", headers=x.staff, json={"region": "Wales"}
    )
    assert refused.status_code == 403 and "does not share" in refused.json()["message"]
    await stack.partners.put(sharing, headers=x.as_partner, json={"sharing": "accepted"})
    await claim(stack, x.partner_id)
    record = await stack.partners.get(f"{API}/partners/{x.partner_id}", headers=x.staff)
    assert record.json()["claimed_at"] is not None
    refused = await stack.partners.put(
        f"{API}/partners/{x.partner_id}",
        headers={**x.staff, "If-Match": record.headers["etag"]},
        json={"name": "Renamed by the funder"},
    )
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"].endswith("owned-by-organisation")
    assert "claimed its own record" in problem["message"]
    assert "PUT /api/v1/relationships" in problem["message"]
    # The organisation itself changes anything of its own.
    own = await stack.partners.put(
        f"{API}/partners/{x.partner_id}", headers=x.as_partner, json={"name": "Hillside Youth"}
    )
    assert own.status_code == 200 and own.json()["name"] == "Hillside Youth"
    # The funder's view stays the funder's to change.
    relationship = x.partner["relationship"]["id"]
    changed = await stack.partners.put(
        f"{API}/relationships/{relationship}", headers=x.staff, json={"steward": "Amina"}
    )
    assert changed.status_code == 200 and changed.json()["sharing"] == "accepted"


# Finding: staff of X create an API client for D and act as D ---------------------------------


async def test_only_the_organisations_own_people_manage_its_api_clients(stack: Stack) -> None:
    x = await pair(stack, org_id=org_id())
    y = await second_funder_of(stack, x)  # even a funder the organisation accepted
    url = f"{API}/partners/{x.partner_id}/clients"
    for staff in (x.staff, y.staff):
        made = await stack.partners.post(url, headers=staff, json={"name": "Funder's CRM"})
        assert made.status_code == 403
        assert made.json()["message"] == "This needs one of the roles: partner."
        assert (await stack.partners.get(url, headers=staff)).status_code == 403

    made = await stack.partners.post(url, headers=x.as_partner, json={"name": "Our CRM"})
    assert made.status_code == 201
    client = made.json()
    assert client["confirmed_at"] is not None
    revoke = f"{url}/{client['id']}"
    for staff in (x.staff, y.staff):
        assert (await stack.partners.delete(revoke, headers=staff)).status_code == 403

    token = await stack.partners.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200
    access = token.json()["access_token"]
    caller = await stack.apps["partners"].state.verifier.verify(access)
    assert caller.sid == f"client:{client['id']}"
    assert caller.own_partner_id == uuid.UUID(x.partner_id)
    # A system cannot mint more systems: only people manage clients.
    as_system = Tokens.headers(access)
    more = await stack.partners.post(url, headers=as_system, json={"name": "Another"})
    assert more.status_code == 403 and "a person of the organisation" in more.json()["message"]
    assert (await stack.partners.delete(revoke, headers=as_system)).status_code == 403


async def test_a_client_from_before_ownership_needs_the_organisation_to_keep_it(
    stack: Stack,
) -> None:
    x = await pair(stack)
    made = await stack.partners.post(
        f"{API}/partners/{x.partner_id}/clients", headers=x.as_partner, json={"name": "Old CRM"}
    )
    client = made.json()
    # What migration 0004 leaves of a client registered before organisations owned them.
    async with stack.apps["partners"].state.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_clients SET confirmed_at = NULL, confirmed_by = NULL WHERE id = :id"),
            {
                "id": uuid.UUID(client["id"]).hex
                if stack.apps["partners"].state.db.engine.dialect.name == "sqlite"
                else client["id"]
            },
        )
    credentials = (client["client_id"], client["client_secret"])
    refused = await stack.partners.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"
    assert f"/clients/{client['id']}/confirm" in refused.json()["error_description"]
    # A wrong secret still says nothing about the client's state.
    wrong = await stack.partners.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client["client_id"], "x")
    )
    assert wrong.status_code == 401

    confirm = f"{API}/partners/{x.partner_id}/clients/{client['id']}/confirm"
    assert (await stack.partners.post(confirm, headers=x.staff)).status_code == 403
    other = await pair(stack)
    assert (await stack.partners.post(confirm, headers=other.as_partner)).status_code == 404
    kept = await stack.partners.post(confirm, headers=x.as_partner)
    assert kept.status_code == 200 and kept.json()["confirmed_at"] is not None
    works = await stack.partners.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    assert works.status_code == 200


# Finding: a token with role partner and a funder_id claim reads that funder ------------------


async def test_a_claim_without_its_role_is_ignored_everywhere(stack: Stack) -> None:
    x = await pair(stack)
    mixed = Tokens.headers(
        stack.tokens.issuer.mint(
            sub="partner:sly",
            roles=["partner"],
            client_id="partner-portal",
            partner_id=x.partner_id,
            funder_id=x.funder_id,
        )
    )
    funder = await stack.partners.get(f"{API}/funders/{x.funder_id}", headers=mixed)
    assert funder.status_code == 404
    relationships = await stack.partners.get(f"{API}/relationships", headers=mixed)
    assert relationships.status_code == 403
    partners = await stack.partners.get(f"{API}/partners", headers=mixed)
    assert [p["relationship"] for p in partners.json()] == [None]
    interaction = await stack.partners.post(
        f"{API}/interactions",
        headers=x.staff,
        json={
            "partner_id": x.partner_id,
            "kind": "visit",
            "occurred_at": "2025-03-04T10:30:00Z",
            "summary": "Private visit notes",
            "private": True,
            "private_reason": "Staffing matter",
        },
    )
    listed = await stack.partners.get(f"{API}/interactions", headers=mixed)
    assert interaction.json()["id"] not in listed.text
    settings = await stack.funding.get(f"{API}/funder-settings", headers=mixed)
    assert settings.status_code == 403
    rounds = await stack.feedback.post(
        f"{API}/rounds", headers=mixed, json={"title": "x", "opens_on": "2030-01-01"}
    )
    assert rounds.status_code == 403

    # A token with no role at all is nobody, whatever ids it carries.
    nobody = Tokens.headers(
        stack.tokens.issuer.mint(
            sub="person:new",
            roles=[],
            client_id="trellis-web",
            partner_id=x.partner_id,
            funder_id=x.funder_id,
        )
    )
    assert (
        await stack.partners.get(f"{API}/funders/{x.funder_id}", headers=nobody)
    ).status_code == 404
    # A token that claims both sides is refused outright.
    both = Tokens.headers(
        stack.tokens.issuer.mint(
            sub="both",
            roles=["partner", "funder_staff"],
            client_id="x",
            partner_id=x.partner_id,
            funder_id=x.funder_id,
        )
    )
    refused = await stack.partners.get(f"{API}/partners", headers=both)
    assert refused.status_code == 401 and "not both" in refused.json()["message"]


def test_caller_keeps_a_claim_only_with_its_role() -> None:
    funder, partner = uuid.uuid4(), uuid.uuid4()
    as_partner = Caller(sub="p", roles=frozenset({"partner"}), funder_id=funder, partner_id=partner)
    assert as_partner.funder_id is None and as_partner.staff_funder_id is None
    assert as_partner.own_partner_id == partner
    as_staff = Caller(
        sub="s", roles=frozenset({"funder_staff"}), funder_id=funder, partner_id=partner
    )
    assert as_staff.partner_id is None and as_staff.own_partner_id is None
    assert as_staff.staff_funder_id == funder
    admin = Caller(sub="a", roles=frozenset({"platform_admin"}), funder_id=funder)
    assert admin.funder_id is None
