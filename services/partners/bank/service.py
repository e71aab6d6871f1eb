"""The rules of bank details: the organisation's own, encrypted, held, then confirmed.

- Only the organisation's own people or systems (a ``partner`` caller for it) enter them.
- They are read only by that organisation and by the ``finance`` people of a funder the
  organisation shares its data with (``relationships.sharing = 'accepted'``); anyone else
  gets 404, as if there were none.
- A new or changed account is ``held`` for ``bank_change_hold_hours``, then must be confirmed
  by such a finance person (who checks it with the organisation by a channel they already
  trust) before a payment file can use it; until then payments go to the confirmed account.
- The organisation's people are told of every change and confirmation by email (and a
  notice row is kept).
- Details never reach logs, events, audit entries or exports: only ids and states do.
"""

import json
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, outbox
from services.common.auth import Caller
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.mail import Mailer
from services.partners.bank import repository
from services.partners.bank.crypto import BankCipher
from services.partners.bank.models import BankAccount, BankNotice
from services.partners.bank.schemas import BankDetails, BankDetailsIn

NOT_FOUND = "There is no partner with this id."


def _may_enter(caller: Caller, partner_id: uuid.UUID) -> bool:
    return caller.has("partner") and caller.partner_id == partner_id


async def _may_read(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> bool:
    if _may_enter(caller, partner_id):
        return True
    return bool(
        caller.has("finance")
        and caller.has("funder_staff")
        and caller.funder_id
        and await repository.shares_with(session, partner_id, caller.funder_id)
    )


def details_of(cipher: BankCipher, account: BankAccount) -> BankDetails:
    return BankDetails.model_validate(
        json.loads(cipher.decrypt(account.key_id, account.ciphertext))
    )


SUBJECTS = {
    "bank_details_changed": "Your organisation's bank details were changed in Trellis",
    "bank_details_confirmed": "Your organisation's new bank details were confirmed",
}


async def _notice(
    session: AsyncSession, mailer: Mailer, partner_id: uuid.UUID, kind: str, message: str
) -> None:
    """Tell the organisation's people by email (sent once the change commits) and keep the
    notice. Neither names the account."""
    session.add(BankNotice(partner_id=partner_id, kind=kind, message=message, created_at=utcnow()))
    for email in await repository.people_emails(session, partner_id):
        mailer.send_after_commit(
            session, mailer.message(to=email, subject=SUBJECTS[kind], text=message)
        )


async def enter(
    *,
    session: AsyncSession,
    caller: Caller,
    cipher: BankCipher,
    mailer: Mailer,
    hold_hours: float,
    partner_id: uuid.UUID,
    data: BankDetailsIn,
) -> BankAccount:
    """Keep new details (encrypted), held; a change still held before it is replaced."""
    if not _may_enter(caller, partner_id):
        raise NotFound(NOT_FOUND)
    await repository.retire(session, partner_id, state="held", to="withdrawn")
    key_id, ciphertext = cipher.encrypt(
        json.dumps(BankDetails.model_validate(data.model_dump()).model_dump())
    )
    now = utcnow()
    account = BankAccount(
        partner_id=partner_id,
        state="held",
        key_id=key_id,
        ciphertext=ciphertext,
        held_until=now + timedelta(hours=hold_hours),
        entered_by=caller.actor,
    )
    session.add(account)
    await session.flush()
    await _notice(
        session,
        mailer,
        partner_id,
        "bank_details_changed",
        f"New bank details were entered for your organisation by {caller.actor} on "
        f"{now:%Y-%m-%d %H:%M} UTC. Payments keep going to the account you had until a "
        "funder's finance person confirms the new one with you, not before "
        f"{account.held_until:%Y-%m-%d %H:%M} UTC. If this was not you, tell your funders now.",
    )
    audit.record(
        session,
        caller=caller,
        action="enter",
        entity_type="bank_account",
        entity_id=account.id,
        changes={"state": "held", "held_until": account.held_until.isoformat()},
        funder_id=None,
        partner_id=partner_id,
    )
    outbox.emit(
        session,
        "partner.bank_account_changed",
        {"partner_id": str(partner_id), "bank_account_id": str(account.id), "state": "held"},
    )
    return account


async def accounts(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> tuple[BankAccount | None, BankAccount | None]:
    """(confirmed, held) for the organisation or a sharing funder's finance people."""
    if not await _may_read(session, caller, partner_id):
        raise NotFound(NOT_FOUND)
    return (
        await repository.current(session, partner_id, "confirmed"),
        await repository.current(session, partner_id, "held"),
    )


async def confirm(
    *,
    session: AsyncSession,
    caller: Caller,
    mailer: Mailer,
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    note: str,
) -> BankAccount:
    """A finance person of a sharing funder confirms a held account once its hold is over."""
    if _may_enter(caller, partner_id) or not await _may_read(session, caller, partner_id):
        raise NotFound(NOT_FOUND)
    account = await repository.get(session, partner_id, account_id)
    if account is None:
        raise NotFound("There are no such bank details.")
    if account.state != "held":
        raise Conflict(
            f"These bank details are {account.state}; only held details can be confirmed.",
            slug="bank-details-state",
            extra={"state": account.state},
        )
    now = utcnow()
    if now < account.held_until:
        raise Conflict(
            f"These bank details are held until {account.held_until:%Y-%m-%d %H:%M} UTC: a "
            "change is never payable at once, so a fraudulent change can be noticed and "
            "stopped. Confirm them with the organisation after that.",
            slug="bank-details-held",
            extra={"held_until": account.held_until.isoformat()},
        )
    await repository.retire(session, partner_id, state="confirmed", to="superseded")
    moved = await repository.move(
        session,
        account.id,
        source="held",
        confirmed_by=caller.actor,
        confirmed_by_funder_id=caller.funder_id,
        confirmed_at=now,
        confirmation_note=note,
    )
    if not moved:
        raise Conflict("These bank details were changed just now; look again.")
    await session.refresh(account)
    await _notice(
        session,
        mailer,
        partner_id,
        "bank_details_confirmed",
        f"Your new bank details were confirmed by {caller.actor} on {now:%Y-%m-%d %H:%M} UTC; "
        "payments now go to that account. If you did not agree this, tell your funders now.",
    )
    audit.record(
        session,
        caller=caller,
        action="confirm",
        entity_type="bank_account",
        entity_id=account.id,
        changes={"state": "confirmed"},
        partner_id=partner_id,
    )
    outbox.emit(
        session,
        "partner.bank_account_changed",
        {"partner_id": str(partner_id), "bank_account_id": str(account.id), "state": "confirmed"},
    )
    return account


async def payable(
    *, session: AsyncSession, partner_id: uuid.UUID, funder_id: uuid.UUID
) -> BankAccount | None:
    """The confirmed account a funder may pay to (internal: for payment files)."""
    if not await repository.shares_with(session, partner_id, funder_id):
        return None
    return await repository.current(session, partner_id, "confirmed")


async def reencrypt(*, session: AsyncSession, cipher: BankCipher) -> int:
    """Re-encrypt every account under the current key (after a rotation); how many moved."""
    moved = 0
    for account in await repository.all_accounts(session):
        if account.key_id != cipher.current:
            plaintext = cipher.decrypt(account.key_id, account.ciphertext)
            account.key_id, account.ciphertext = cipher.encrypt(plaintext)
            moved += 1
    await session.flush()
    return moved
