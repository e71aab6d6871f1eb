"""Contacts: people at a partner, managed by the partner, erased everywhere on request."""

import uuid

from sqlalchemy import text

from tests.partners.helpers import find_in_database, interaction, org_id, pair, second_funder_of
from tests.support import Stack


async def test_a_partner_manages_its_own_contacts(stack: Stack) -> None:
    p = await pair(stack)
    response = await stack.partners.post(
        "/api/v1/contacts",
        headers=p.as_partner,
        json={"name": "Jo Baker", "role": "Director", "email": "jo@hillside.example.org"},
    )
    assert response.status_code == 201, response.text
    jo = response.json()
    assert jo["partner_id"] == p.partner_id
    url = f"/api/v1/contacts/{jo['id']}"
    response = await stack.partners.put(
        url, headers={**p.as_partner, "If-Match": '"v1"'}, json={**jo, "phone": "+44 191 496 0000"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+44 191 496 0000"
    response = await stack.partners.get("/api/v1/contacts", headers=p.staff)
    assert [c["name"] for c in response.json()] == ["Jo Baker"]
    response = await stack.partners.get(
        "/api/v1/contacts", headers=p.staff, params={"filter": '{"q":"direct"}'}
    )
    assert len(response.json()) == 1

    # Staff read; the partner manages.
    response = await stack.partners.post(
        "/api/v1/contacts", headers=p.staff, json={"name": "Someone"}
    )
    assert response.status_code == 403
    response = await stack.partners.put(url, headers=p.staff, json={"role": "Chair"})
    assert response.status_code == 403
    for bad in ({"email": "not-an-email"}, {"phone": "call me"}, {"name": ""}):
        response = await stack.partners.post(
            "/api/v1/contacts", headers=p.as_partner, json={"name": "Al", **bad}
        )
        assert response.status_code == 422, bad
        assert set(bad) <= set(response.json()["errors"])


async def test_erasure_leaves_no_personal_data_anywhere(stack: Stack) -> None:
    p = await pair(stack)
    tag = uuid.uuid4().hex[:8]
    name = f"Siân Quockerwodger-{tag}"
    email = f"sian.{tag}@hillside.example.org"
    phone = f"+44 7700 9{int(tag, 16) % 100000:05d}"
    old_phone = f"+44 7700 8{int(tag, 16) % 100000:05d}"
    response = await stack.partners.post(
        "/api/v1/contacts",
        headers={**p.as_partner, "Idempotency-Key": f"contact-{tag}"},
        json={"name": name, "role": "Youth worker", "email": email, "phone": old_phone},
    )
    assert response.status_code == 201
    contact = response.json()
    url = f"/api/v1/contacts/{contact['id']}"
    await stack.partners.put(url, headers=p.as_partner, json={"phone": phone})

    # The person is written about elsewhere too.
    await stack.partners.put(
        f"/api/v1/partners/{p.partner_id}",
        headers=p.as_partner,
        json={"description": f"Youth club. Ask for {name}."},
    )
    met = await interaction(
        stack,
        p,
        summary=f"Long call with {name} about the summer.",
        participants=["Amina (us)", name],
        kind="call",
    )
    # The person signs in to the partner portal with their email.
    response = await stack.partners.post(
        "/api/v1/updates",
        headers={**stack.tokens.partner(p.partner_id, sub=email), "Idempotency-Key": tag},
        json={"want_you_to_know": f"Write to {email} or ring {phone} while I am away."},
    )
    assert response.status_code == 201
    sent = response.json()
    assert sent["sent_by"] == email
    await stack.partners.post(
        f"/api/v1/updates/{sent['id']}/replies",
        headers={**p.staff, "Idempotency-Key": f"reply-{tag}"},
        json={"body": f"Thanks, we will speak to {name.upper()}."},
    )
    # Another organisation's contact who happens to share the name is someone else.
    q = await pair(stack)
    namesake = await stack.partners.post(
        "/api/v1/contacts", headers=q.as_partner, json={"name": name}
    )
    assert namesake.status_code == 201

    needles = [name, email, phone, old_phone]
    assert await find_in_database(stack, needles), "the test must first see the data"

    response = await stack.partners.delete(url, headers=p.as_partner)
    assert response.status_code == 200, response.text
    erased = response.json()
    assert erased["id"] == contact["id"] and erased["erased"] is True
    assert (await stack.partners.get(url, headers=p.as_partner)).status_code == 404

    # Nothing about the person remains: not the contact, not what they wrote themselves
    # (their update, signed in as their email), not who did what.
    about_person = {contact["id"].replace("-", ""), sent["id"].replace("-", "")}
    hits = sorted(await find_in_database(stack, needles))
    assert not [hit for hit in hits if any(key in hit for key in about_person)], hits
    assert await find_in_database(stack, [email, phone, old_phone]) == []
    response = await stack.partners.get(f"/api/v1/updates/{sent['id']}", headers=p.as_partner)
    assert response.json()["sent_by"] == "[erased]"
    assert (
        response.json()["want_you_to_know"] == "Write to [erased] or ring [erased] while I am away."
    )
    # The namesake at the other partner is someone else and keeps their name.
    response = await stack.partners.get(
        f"/api/v1/contacts/{namesake.json()['id']}", headers=q.as_partner
    )
    assert response.json()["name"] == name

    # Notes other people wrote keep their words: erasure follows links, not words.
    response = await stack.partners.get(f"/api/v1/interactions/{met['id']}", headers=p.staff)
    assert response.json()["participants"] == ["Amina (us)", name]
    assert response.json()["summary"] == f"Long call with {name} about the summer."
    async with stack.apps["partners"].state.db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT action, changes FROM audit_log WHERE entity_id = :id"),
                {"id": contact["id"]},
            )
        ).all()
    assert sorted(action for action, _ in rows) == ["create", "erase", "update"]
    # Replaying the contact's creation answers without the person in it.
    replay = await stack.partners.post(
        "/api/v1/contacts",
        headers={**p.as_partner, "Idempotency-Key": f"contact-{tag}"},
        json={"name": name, "role": "Youth worker", "email": email, "phone": old_phone},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert name not in replay.text and email not in replay.text


async def test_erasure_never_rewrites_other_records_that_share_a_word(stack: Stack) -> None:
    """Erasing a contact called "director" leaves "director" in a funder's private notes."""
    p = await pair(stack, org_id=org_id())
    other = await second_funder_of(stack, p)
    notes = "Met the director: the board wants a finance director by spring."
    private = await interaction(
        stack, other, summary=notes, private=True, private_reason="Board matters"
    )
    response = await stack.partners.post(
        "/api/v1/contacts", headers=p.as_partner, json={"name": "Director", "role": "director"}
    )
    assert response.status_code == 201, response.text
    url = f"/api/v1/contacts/{response.json()['id']}"
    assert (await stack.partners.delete(url, headers=p.as_partner)).status_code == 200

    response = await stack.partners.get(
        f"/api/v1/interactions/{private['id']}", headers=other.staff
    )
    assert response.json()["summary"] == notes
    async with stack.apps["partners"].state.db.engine.connect() as conn:
        changes = (
            await conn.execute(
                text("SELECT changes FROM audit_log WHERE entity_id = :id"),
                {"id": private["id"]},
            )
        ).scalars()
        assert any("finance director" in str(c) for c in changes)
    hits = await find_in_database(stack, ["finance director"])
    assert any(hit.startswith("interactions.summary") for hit in hits)


async def test_staff_of_a_funder_in_relationship_may_erase_on_request(stack: Stack) -> None:
    p = await pair(stack)
    stranger = await pair(stack)
    response = await stack.partners.post(
        "/api/v1/contacts", headers=p.as_partner, json={"name": "Pat Doe"}
    )
    url = f"/api/v1/contacts/{response.json()['id']}"
    assert (await stack.partners.delete(url, headers=stranger.staff)).status_code == 404
    assert (await stack.partners.delete(url, headers=stranger.as_partner)).status_code == 404
    assert (await stack.partners.delete(url, headers=p.staff)).status_code == 200
    assert (await stack.partners.get(url, headers=p.as_partner)).status_code == 404
