"""Bank details: the organisation's own, encrypted at rest, read only by it and by the
finance people of funders it shares with, held and confirmed before they can be paid to,
and never in events or audit entries."""

import logging
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text, update

from services.common.db import utcnow
from services.common.models import AuditEntry, OutboxMessage
from services.partners.bank import keys as bank_keys
from services.partners.bank.crypto import BankCipher
from services.partners.bank.models import BankAccount, BankNotice
from services.partners.people.models import Membership, Person
from tests.partners.people_helpers import mail_to, unique_email
from tests.support import Stack

IBAN = "GB33BUKB20201555555555"


def finance(stack: Stack, funder_id: str, sub: str = "finance@funder.test") -> dict[str, str]:
    token = stack.tokens.issuer.mint(
        sub=sub, roles=["funder_staff", "finance"], client_id="trellis-cli", funder_id=funder_id
    )
    return stack.tokens.headers(token)


async def _setup(stack: Stack) -> dict[str, Any]:
    funder = await stack.new_funder()
    org_id = f"GB-CHC-{random.randint(1000000, 9999999)}"
    partner = await stack.new_partner(funder["id"], org_id=org_id)
    return {"funder": funder, "partner": partner, "org_id": org_id}


def _url(partner: dict[str, Any]) -> str:
    return f"/api/v1/partners/{partner['id']}/bank-accounts"


async def _enter(stack: Stack, partner: dict[str, Any], **body: Any) -> Any:
    return await stack.partners.post(
        _url(partner),
        headers=stack.tokens.partner(partner["id"]),
        json={"account_name": "Riverside Youth Trust", "iban": IBAN, **body},
    )


async def _end_hold(stack: Stack, account_id: str) -> None:
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        await session.execute(
            update(BankAccount)
            .where(BankAccount.id == uuid.UUID(account_id))
            .values(held_until=utcnow() - timedelta(minutes=1))
        )
        await session.commit()


async def test_details_are_checked_with_a_clear_message(stack: Stack) -> None:
    s = await _setup(stack)
    response = await _enter(stack, s["partner"], iban="GB33BUKB20201555555556")
    assert response.status_code == 422
    assert "iban" in response.json()["errors"]
    response = await _enter(stack, s["partner"], iban=None, sort_code="20-20-1", account_number="1")
    assert response.status_code == 422
    assert "sort code is 6 digits" in response.json()["message"]
    response = await _enter(stack, s["partner"], bic="NOTABIC")
    assert response.status_code == 422
    response = await _enter(stack, s["partner"], iban=None)
    assert response.status_code == 422
    response = await _enter(
        stack, s["partner"], iban=None, sort_code="20-20-15", account_number="55555555"
    )
    assert response.status_code == 201
    assert response.json()["details"]["sort_code"] == "202015"


async def test_only_the_organisation_enters_and_only_it_and_sharing_finance_read(
    stack: Stack,
) -> None:
    s = await _setup(stack)
    funder, partner = s["funder"], s["partner"]
    response = await stack.partners.post(
        _url(partner),
        headers=finance(stack, funder["id"]),
        json={"account_name": "Not theirs", "iban": IBAN},
    )
    assert response.status_code == 404
    assert (await _enter(stack, partner)).status_code == 201
    mine = await stack.partners.get(_url(partner), headers=stack.tokens.partner(partner["id"]))
    assert mine.json()["held"]["details"]["iban"] == IBAN
    theirs = await stack.partners.get(_url(partner), headers=finance(stack, funder["id"]))
    assert theirs.status_code == 200
    assert theirs.json()["held"]["details"]["iban"] == IBAN
    # The funder's other staff, another funder, one that has not been accepted, another partner.
    other = await stack.new_funder()
    linked = await stack.new_funder()
    await stack.partners.post(
        "/api/v1/partners",
        headers=stack.tokens.staff(linked["id"]),
        json={"name": "Same org", "org_id": s["org_id"], "status": "active"},
    )
    someone = await stack.new_partner(other["id"])
    for headers in (
        stack.tokens.staff(funder["id"]),
        finance(stack, other["id"]),
        finance(stack, linked["id"]),
        stack.tokens.partner(someone["id"]),
    ):
        response = await stack.partners.get(_url(partner), headers=headers)
        assert response.status_code == 404, headers


async def test_a_change_is_held_then_confirmed_by_finance_and_the_partner_is_told(
    stack: Stack,
) -> None:
    s = await _setup(stack)
    funder, partner = s["funder"], s["partner"]
    first = (await _enter(stack, partner)).json()
    url = f"{_url(partner)}/{first['id']}/confirm"
    note = {"note": "Called the treasurer on the number we hold"}
    response = await stack.partners.post(url, headers=finance(stack, funder["id"]), json=note)
    assert response.status_code == 409
    assert "held until" in response.json()["message"]
    await _end_hold(stack, first["id"])
    response = await stack.partners.post(
        url, headers=stack.tokens.partner(partner["id"]), json=note
    )
    assert response.status_code == 404  # the organisation cannot confirm its own change
    response = await stack.partners.post(url, headers=finance(stack, funder["id"]), json=note)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "confirmed"
    # A change: payments keep going to the confirmed account while it is held.
    second = (await _enter(stack, partner, iban="DE89370400440532013000", bic=None)).json()
    internal = await stack.partners.get(
        f"/internal/partners/{partner['id']}/payable-account",
        headers=stack.tokens.service(),
        params={"funder_id": funder["id"]},
    )
    assert internal.status_code == 200
    assert internal.json()["iban"] == IBAN
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        notices = (
            await session.execute(
                select(BankNotice).where(BankNotice.partner_id == uuid.UUID(partner["id"]))
            )
        ).scalars()
        kinds = [n.kind for n in notices]
    assert kinds.count("bank_details_changed") == 2
    assert kinds.count("bank_details_confirmed") == 1
    await _end_hold(stack, second["id"])
    await stack.partners.post(
        f"{_url(partner)}/{second['id']}/confirm", headers=finance(stack, funder["id"]), json=note
    )
    internal = await stack.partners.get(
        f"/internal/partners/{partner['id']}/payable-account",
        headers=stack.tokens.service(),
        params={"funder_id": funder["id"]},
    )
    assert internal.json()["iban"] == "DE89370400440532013000"


async def test_details_are_encrypted_and_never_in_logs_events_or_audit(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = await _setup(stack)
    account = (await _enter(stack, s["partner"])).json()
    await _end_hold(stack, account["id"])
    await stack.partners.post(
        f"{_url(s['partner'])}/{account['id']}/confirm",
        headers=finance(stack, s["funder"]["id"]),
        json={"note": "checked"},
    )
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        raw = (
            await session.execute(
                text("SELECT ciphertext, key_id FROM bank_accounts WHERE id = :id"),
                {"id": uuid.UUID(account["id"]).hex if not db.is_postgres else account["id"]},
            )
        ).one()
        entries = (await session.execute(select(AuditEntry))).scalars().all()
        messages = (await session.execute(select(OutboxMessage))).scalars().all()
        notices = (await session.execute(select(BankNotice))).scalars().all()
    assert IBAN not in raw.ciphertext and "55555555" not in raw.ciphertext
    assert raw.key_id
    assert IBAN not in caplog.text and "Riverside Youth Trust" not in caplog.text
    for needle in (IBAN, "BUKB", "Riverside Youth Trust"):
        assert not any(needle in str(e.changes) for e in entries)
        assert not any(needle in str(m.payload) for m in messages)
        assert not any(needle in n.message for n in notices)


def test_a_rotated_key_still_reads_old_details() -> None:
    old = {"k1": Fernet.generate_key().decode()}
    key_id, token = BankCipher(old, "k1").encrypt("secret")
    rotated = BankCipher({**old, "k2": Fernet.generate_key().decode()}, "k2")
    assert rotated.decrypt(key_id, token) == "secret"
    assert rotated.encrypt("x")[0] == "k2"


async def test_the_organisations_people_are_told_by_email(stack: Stack) -> None:
    s = await _setup(stack)
    partner = s["partner"]
    address = unique_email("treasurer")
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        person = Person(
            email=address, email_key=address.lower(), name="Treasurer", created_at=utcnow()
        )
        session.add(person)
        await session.flush()
        session.add(
            Membership(
                person_id=person.id,
                role="partner",
                partner_id=uuid.UUID(partner["id"]),
                created_at=utcnow(),
                created_by="tests",
            )
        )
        await session.commit()
    await _enter(stack, partner)
    [msg] = await mail_to(stack, address)
    body = msg.get_content()
    assert "bank details" in str(msg["Subject"])
    assert "If this was not you" in body
    assert IBAN not in body and "BUKB" not in body


async def _raw(stack: Stack, account_id: str) -> Any:
    db = stack.apps["partners"].state.db
    async with db.sessionmaker() as session:
        return (
            await session.execute(
                select(BankAccount.key_id, BankAccount.ciphertext).where(
                    BankAccount.id == uuid.UUID(account_id)
                )
            )
        ).one()


async def test_rotating_the_bank_key_re_encrypts_and_every_detail_stays_readable(
    stack: Stack,
) -> None:
    """``trellis keys rotate-bank``: a new key, every row re-encrypted under it, the running
    service (which started before the key existed) still reads them; ``retire-bank`` then
    drops the old key, which no row uses any more."""
    s = await _setup(stack)
    entered = await _enter(stack, s["partner"])
    assert entered.status_code == 201, entered.text
    account_id = entered.json()["id"]
    before = await _raw(stack, account_id)
    settings = stack.apps["partners"].state.settings

    done = await bank_keys.rotate(settings)
    after = await _raw(stack, account_id)
    assert after.key_id == done.current != before.key_id
    assert after.ciphertext != before.ciphertext and IBAN not in after.ciphertext
    assert done.moved >= 1 and before.key_id in done.kept
    listed = await stack.partners.get(
        _url(s["partner"]), headers=stack.tokens.partner(s["partner"]["id"])
    )
    assert listed.status_code == 200, listed.text
    assert (
        listed.json()["held"]["id"] == account_id
        and listed.json()["held"]["details"]["iban"] == IBAN
    )
    # New details are written under the new key by the running service too.
    again = await _enter(stack, s["partner"], account_name="Riverside Youth Trust (new)")
    assert (await _raw(stack, again.json()["id"])).key_id == done.current

    removed, used = await bank_keys.retire(settings)
    assert before.key_id in removed and used == [done.current]
    assert before.key_id not in bank_keys.cipher_for(settings).key_ids
    listed = await stack.partners.get(
        _url(s["partner"]), headers=stack.tokens.partner(s["partner"]["id"])
    )
    assert listed.json()["held"]["details"]["iban"] == IBAN
    # Keys from the settings are the operator's to add: the command says how.
    with pytest.raises(bank_keys.KeyRotationError, match="TRELLIS_PARTNERS_BANK_KEYS"):
        await bank_keys.rotate(settings.model_copy(update={"bank_keys": {"k1": "x"}}))
