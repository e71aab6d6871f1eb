"""People: invitations by email, memberships, claiming an organisation, password reset."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from services.common.auth import hash_secret
from services.partners.identity.models import SignInSession
from services.partners.organisations.models import Partner
from services.partners.people.models import Invitation, Membership, Person
from services.partners.relationships.models import Relationship
from tests.partners.helpers import org_id, pair, second_funder_of
from tests.partners.people_helpers import (
    CALLBACK,
    PASSWORD,
    accept,
    add_contact,
    bearer,
    browser,
    hidden_fields,
    invite,
    link_in,
    mail_to,
    pkce,
    sign_in,
    sql,
    staff_person,
    token_of,
    unique_email,
)
from tests.support import Stack


async def test_staff_invite_a_colleague_who_signs_in_as_staff(stack: Stack) -> None:
    p = await pair(stack)
    address, tokens = await staff_person(stack, p.funder_id)
    colleague = unique_email("colleague")
    invitation = await invite(stack, bearer(tokens), email=colleague, role="funder_staff")
    assert invitation["funder_id"] == p.funder_id and invitation["kind"] == "colleague"
    assert "token" not in str(invitation).lower().replace("token_", "")

    [msg] = await mail_to(stack, colleague)
    assert p.funder["name"] in msg["Subject"] or p.funder["name"] in msg.get_content()
    assert (await accept(stack, colleague, name="Ada Colleague")).status_code == 200
    theirs = await sign_in(stack, colleague)
    own = await stack.partners.get(f"/api/v1/funders/{p.funder_id}", headers=bearer(theirs))
    assert own.status_code == 200

    people = await stack.partners.get(
        "/api/v1/people", headers=bearer(tokens), params={"sort": '["id","ASC"]'}
    )
    assert people.status_code == 200
    assert {person["email"] for person in people.json()} == {address, colleague}
    assert people.headers["content-range"] == "people 0-1/2"


async def test_staff_cannot_invite_staff_of_another_funder(stack: Stack) -> None:
    p = await pair(stack)
    other = await stack.new_funder()
    response = await stack.partners.post(
        "/api/v1/invitations",
        headers=p.staff,
        json={"email": unique_email(), "role": "funder_staff", "funder_id": other["id"]},
    )
    assert response.status_code == 422
    assert "own funder" in response.json()["message"]
    response = await stack.partners.post(
        "/api/v1/invitations",
        headers=p.staff,
        json={"email": unique_email(), "role": "platform_admin"},
    )
    assert response.status_code == 403


async def test_inviting_an_organisation_claims_it(stack: Stack) -> None:
    p = await pair(stack, org_id=org_id())
    second = await second_funder_of(stack, p, accept=False)
    contact = unique_email("director")
    await add_contact(stack, p.partner_id, contact)

    # The funder it shares with invites one of its own contacts, nobody else.
    refused = await stack.partners.post(
        "/api/v1/invitations",
        headers=p.staff,
        json={"email": unique_email("staff-self"), "role": "partner", "partner_id": p.partner_id},
    )
    assert refused.status_code == 422
    assert "contacts" in refused.json()["message"]
    # A funder it has not accepted cannot invite its first person, and learns nothing
    # about its contacts by trying: the answer is the same for a contact and a stranger.
    answers = []
    for address in (contact, unique_email("stranger")):
        response = await stack.partners.post(
            "/api/v1/invitations",
            headers=second.staff,
            json={"email": address, "role": "partner", "partner_id": p.partner_id},
        )
        answers.append((response.status_code, response.json()["message"]))
    assert answers[0] == answers[1] and answers[0][0] == 409
    stranger = await stack.new_funder()
    unknown = await stack.partners.post(
        "/api/v1/invitations",
        headers=stack.tokens.staff(stranger["id"]),
        json={"email": contact, "role": "partner", "partner_id": p.partner_id},
    )
    assert unknown.status_code == 404  # no relationship: as if it did not exist

    invitation = await invite(
        stack, p.staff, email=contact.upper(), role="partner", partner_id=p.partner_id
    )
    assert invitation["kind"] == "organisation"
    [(claimed,)] = await sql(
        stack, select(Partner.claimed_at).where(Partner.id == uuid.UUID(p.partner_id))
    )
    assert claimed is None
    assert (await accept(stack, contact.upper())).status_code == 200

    [(claimed,)] = await sql(
        stack, select(Partner.claimed_at).where(Partner.id == uuid.UUID(p.partner_id))
    )
    assert claimed is not None
    rows = await sql(
        stack,
        select(Relationship.funder_id, Relationship.sharing).where(
            Relationship.partner_id == uuid.UUID(p.partner_id)
        ),
    )
    sharing = {str(uuid.UUID(str(f))): s for f, s in rows}
    assert sharing == {p.funder_id: "accepted", second.funder_id: "pending"}

    # The organisation's first person signs in as the organisation.
    tokens = await sign_in(stack, contact.upper())
    me = await stack.partners.get(f"/api/v1/partners/{p.partner_id}", headers=bearer(tokens))
    assert me.status_code == 200


async def test_an_already_claimed_organisation_is_accepted_only_by_its_own_people(
    stack: Stack,
) -> None:
    p = await pair(stack, org_id=org_id())
    first_contact, second_contact = unique_email("first"), unique_email("second")
    await add_contact(stack, p.partner_id, first_contact)
    await add_contact(stack, p.partner_id, second_contact)
    await invite(stack, p.staff, email=first_contact, role="partner", partner_id=p.partner_id)
    assert (await accept(stack, first_contact)).status_code == 200

    later = await second_funder_of(stack, p, accept=False)
    rows = await sql(
        stack,
        select(Relationship.sharing).where(
            Relationship.partner_id == uuid.UUID(p.partner_id),
            Relationship.funder_id == uuid.UUID(later.funder_id),
        ),
    )
    assert rows == [("pending",)]

    # A contact who is not one of its people cannot take the organisation over.
    await invite(stack, later.staff, email=second_contact, role="partner", partner_id=p.partner_id)
    refused = await accept(stack, second_contact)
    assert refused.status_code == 403
    assert "already has its own people" in refused.text
    # One of its people accepts: the new funder is accepted, nobody new joins.
    await invite(stack, later.staff, email=first_contact, role="partner", partner_id=p.partner_id)
    assert (await accept(stack, first_contact)).status_code == 200
    rows = await sql(
        stack,
        select(Relationship.sharing).where(
            Relationship.partner_id == uuid.UUID(p.partner_id),
            Relationship.funder_id == uuid.UUID(later.funder_id),
        ),
    )
    assert rows == [("accepted",)]
    # Accepting went through the organisation's own rule for sharing: its audit trail says
    # so, as it would for PUT /partners/{id}/sharing/{funder_id}.
    trail = await stack.partners.get(
        "/api/v1/audit",
        headers=p.as_partner,
        params={"filter": '{"action":["claim","sharing.accepted"]}', "range": "[0,99]"},
    )
    actions = {(e["action"], e["changes"].get("funder_id")) for e in trail.json()}
    assert ("sharing.accepted", later.funder_id) in actions
    assert ("claim", None) in actions
    members = await sql(
        stack,
        select(func.count()).where(
            Membership.partner_id == uuid.UUID(p.partner_id), Membership.removed_at.is_(None)
        ),
    )
    assert members == [(1,)]


async def test_organisation_people_invite_colleagues_and_keep_their_last_person(
    stack: Stack,
) -> None:
    p = await pair(stack)
    contact = unique_email("first")
    await add_contact(stack, p.partner_id, contact)
    await invite(stack, p.staff, email=contact, role="partner", partner_id=p.partner_id)
    await accept(stack, contact)
    tokens = await sign_in(stack, contact)

    colleague = unique_email("colleague")
    invitation = await invite(stack, bearer(tokens), email=colleague, role="partner")
    assert invitation["partner_id"] == p.partner_id
    # Another organisation's people cannot invite into this one.
    other = await stack.new_partner(p.funder_id)
    intruder = await stack.partners.post(
        "/api/v1/invitations",
        headers=stack.tokens.partner(other["id"]),
        json={"email": unique_email(), "role": "partner", "partner_id": p.partner_id},
    )
    assert intruder.status_code == 422

    memberships = await stack.partners.get(
        "/api/v1/memberships", headers=bearer(tokens), params={"sort": '["id","DESC"]'}
    )
    assert memberships.headers["content-range"] == "memberships 0-0/1"
    [mine] = memberships.json()
    last = await stack.partners.delete(f"/api/v1/memberships/{mine['id']}", headers=bearer(tokens))
    assert last.status_code == 409
    assert "last person" in last.json()["message"]

    # The funder's staff see none of the organisation's people.
    seen = await stack.partners.get("/api/v1/memberships", headers=p.staff)
    assert mine["id"] not in {m["id"] for m in seen.json()}
    staff_remove = await stack.partners.delete(f"/api/v1/memberships/{mine['id']}", headers=p.staff)
    assert staff_remove.status_code == 404
    own = await stack.partners.get(f"/api/v1/memberships/{mine['id']}", headers=bearer(tokens))
    assert own.json()["partner_id"] == p.partner_id
    seen_by_staff = await stack.partners.get(f"/api/v1/memberships/{mine['id']}", headers=p.staff)
    assert seen_by_staff.status_code == 404


async def test_removing_a_membership_ends_its_sign_ins(stack: Stack) -> None:
    p = await pair(stack)
    _, boss = await staff_person(stack, p.funder_id)
    leaver_email, leaver = await staff_person(stack, p.funder_id)
    [membership] = (
        await stack.partners.get(
            "/api/v1/memberships",
            headers=bearer(boss),
            params={"filter": f'{{"person_id":"{(await _person_id(stack, leaver_email))}"}}'},
        )
    ).json()
    removed = await stack.partners.delete(
        f"/api/v1/memberships/{membership['id']}", headers=bearer(boss)
    )
    assert removed.status_code == 200 and removed.json()["removed_at"]
    refreshed = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": leaver["refresh_token"],
            "client_id": "trellis-console",
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    rows = await sql(
        stack,
        select(SignInSession.revoked_reason).where(
            SignInSession.membership_id == uuid.UUID(membership["id"])
        ),
    )
    assert rows == [("membership_removed",)]


async def _person_id(stack: Stack, address: str) -> str:
    [(person_id,)] = await sql(stack, select(Person.id).where(Person.email_key == address.lower()))
    return str(uuid.UUID(str(person_id)))


async def test_invitation_links_work_once_expire_and_are_stored_hashed(stack: Stack) -> None:
    p = await pair(stack)
    address = unique_email()
    invitation = await invite(stack, p.staff, email=address, role="funder_staff")
    [msg] = await mail_to(stack, address)
    token = token_of(link_in(msg))
    stored = await sql(
        stack, select(Invitation.token_hash).where(Invitation.id == uuid.UUID(invitation["id"]))
    )
    assert stored == [(hash_secret(token),)]
    assert token not in str(stored)

    assert (await accept(stack, address)).status_code == 200
    async with browser(stack) as client:
        again = await client.get("/account/invitation", params={"token": token})
    assert again.status_code == 404
    assert "already used" in again.text

    # An expired link says so.
    late = unique_email()
    expired = await invite(stack, p.staff, email=late, role="funder_staff")
    async with stack.apps["partners"].state.db.engine.begin() as conn:
        await conn.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(expired["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert (await accept_page_status(stack, late)) == 404

    # A withdrawn one too.
    gone = unique_email()
    withdrawn = await invite(stack, p.staff, email=gone, role="funder_staff")
    response = await stack.partners.delete(
        f"/api/v1/invitations/{withdrawn['id']}", headers=p.staff
    )
    assert response.status_code == 200 and response.json()["withdrawn_at"]
    assert (await accept_page_status(stack, gone)) == 404

    listed = await stack.partners.get(
        "/api/v1/invitations", headers=p.staff, params={"filter": '{"status":"pending"}'}
    )
    assert {i["id"] for i in listed.json()} == {expired["id"]}
    other = await stack.new_funder()
    theirs = stack.tokens.staff(other["id"])
    assert (await stack.partners.get("/api/v1/invitations", headers=theirs)).json() == []
    one = f"/api/v1/invitations/{expired['id']}"
    assert (await stack.partners.get(one, headers=p.staff)).json()["email"] == late
    assert (await stack.partners.get(one, headers=theirs)).status_code == 404
    assert (await stack.partners.delete(one, headers=theirs)).status_code == 404


async def accept_page_status(stack: Stack, address: str) -> int:
    link = link_in((await mail_to(stack, address))[-1])
    async with browser(stack) as client:
        return (
            await client.get("/account/invitation", params={"token": token_of(link)})
        ).status_code


async def test_an_existing_person_accepts_with_their_password_and_holds_two_memberships(
    stack: Stack,
) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    other = await stack.new_funder()
    await invite(
        stack,
        stack.tokens.admin(),
        email=address.upper(),
        role="funder_staff",
        funder_id=other["id"],
    )
    wrong = await accept(stack, address.upper(), password="not the password")
    assert wrong.status_code == 422
    assert "already have an account" in wrong.text
    assert (await accept(stack, address.upper())).status_code == 200
    people = await sql(stack, select(func.count()).where(Person.email_key == address.lower()))
    assert people == [(1,)]  # one account, whatever the case of the email


async def test_the_accept_form_needs_its_csrf_token(stack: Stack) -> None:
    p = await pair(stack)
    address = unique_email()
    await invite(stack, p.staff, email=address, role="funder_staff")
    link = link_in((await mail_to(stack, address))[-1])
    async with browser(stack) as client:
        page = await client.get("/account/invitation", params={"token": token_of(link)})
        fields = hidden_fields(page.text)
        client.cookies.clear()
        forged = await client.post(
            "/account/invitation",
            data={**fields, "name": "X", "password": PASSWORD, "password_confirm": PASSWORD},
        )
    assert forged.status_code == 400
    assert (await accept_page_status(stack, address)) == 200  # still unused


async def test_password_reset_by_email_once_and_it_ends_sign_ins(stack: Stack) -> None:
    p = await pair(stack)
    address, tokens = await staff_person(stack, p.funder_id)
    unknown = await stack.partners.post(
        "/api/v1/password-resets", json={"email": unique_email("nobody")}
    )
    known = await stack.partners.post("/api/v1/password-resets", json={"email": address.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()  # nothing tells who has an account

    [msg] = [m for m in await mail_to(stack, address) if "Reset" in m["Subject"]]
    link = link_in(msg)
    new_password = "a much better passphrase"
    async with browser(stack) as client:
        page = await client.get("/account/password-reset", params={"token": token_of(link)})
        fields = hidden_fields(page.text)
        short = await client.post(
            "/account/password-reset",
            data={**fields, "password": "short", "password_confirm": "short"},
        )
        assert short.status_code == 422
        done = await client.post(
            "/account/password-reset",
            data={**fields, "password": new_password, "password_confirm": new_password},
        )
        assert done.status_code == 200, done.text
        again = await client.post(
            "/account/password-reset",
            data={**fields, "password": new_password, "password_confirm": new_password},
        )
        assert again.status_code == 404
    refreshed = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "trellis-console",
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert await sign_in(stack, address, new_password)


async def test_a_disabled_person_cannot_sign_in_or_refresh(stack: Stack) -> None:
    p = await pair(stack)
    address, tokens = await staff_person(stack, p.funder_id)
    person_id = await _person_id(stack, address)
    refused = await stack.partners.post(f"/api/v1/people/{person_id}/disable", headers=p.staff)
    assert refused.status_code == 403
    done = await stack.partners.post(
        f"/api/v1/people/{person_id}/disable", headers=stack.tokens.admin()
    )
    assert done.status_code == 200 and done.json()["disabled_at"]
    refreshed = await stack.partners.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "trellis-console",
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"
    async with browser(stack) as client:
        _, challenge = pkce()
        page = await client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": "trellis-console",
                "redirect_uri": CALLBACK,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        answer = await client.post(
            "/oauth/authorize",
            data={**hidden_fields(page.text), "email": address, "password": PASSWORD},
        )
    assert answer.status_code == 400
    assert "not right" in answer.text


async def test_another_funders_people_are_not_visible(stack: Stack) -> None:
    p = await pair(stack)
    address, _ = await staff_person(stack, p.funder_id)
    person_id = await _person_id(stack, address)
    other = await stack.new_funder()
    theirs = stack.tokens.staff(other["id"])
    assert (
        await stack.partners.get(f"/api/v1/people/{person_id}", headers=theirs)
    ).status_code == 404
    assert (
        await stack.partners.get(f"/api/v1/people/{person_id}", headers=p.staff)
    ).status_code == 200
    listed = await stack.partners.get("/api/v1/people", headers=theirs)
    assert person_id not in {x["id"] for x in listed.json()}
    assert (await stack.partners.get("/api/v1/people")).status_code == 401


async def test_two_invitations_accepted_at_once_make_one_account(stack: Stack) -> None:
    first, second = await stack.new_funder(), await stack.new_funder()
    address = unique_email("twice")
    for funder in (first, second):
        await invite(
            stack, stack.tokens.admin(), email=address, role="funder_staff", funder_id=funder["id"]
        )
    links = [link_in(m) for m in await mail_to(stack, address)]

    async def accept_link(link: str) -> int:
        async with browser(stack) as client:
            page = await client.get("/account/invitation", params={"token": token_of(link)})
            form = {
                **hidden_fields(page.text),
                "name": "Twice Invited",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            }
            return (await client.post("/account/invitation", data=form)).status_code

    statuses = await asyncio.gather(*(accept_link(link) for link in links))
    assert sorted(statuses) in ([200, 200], [200, 409]), statuses
    people = await sql(stack, select(func.count()).where(Person.email_key == address.lower()))
    assert people == [(1,)]
    pending = await sql(
        stack,
        select(func.count()).where(Invitation.email == address, Invitation.accepted_at.is_(None)),
    )
    assert pending == [(statuses.count(409),)]  # a refused acceptance left its invitation unused
