"""HTTP routes of bank details: entered by the organisation, confirmed by a funder's finance
person, read by both; the internal route gives a payment file its confirmed account."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.common.auth import CallerDep, ServiceCallerDep
from services.common.db import SessionDep
from services.common.errors import NotFound
from services.common.service_app import problem_responses
from services.partners.bank import service
from services.partners.bank.crypto import BankCipher
from services.partners.bank.keys import cipher_for
from services.partners.bank.models import BankAccount as AccountRow
from services.partners.bank.schemas import (
    BankAccount,
    BankAccounts,
    BankConfirmation,
    BankDetailsIn,
    PayableAccount,
)
from services.partners.config import Settings

router = APIRouter()
internal = APIRouter(prefix="/internal", include_in_schema=False)


def get_cipher(request: Request) -> BankCipher:
    """The app's bank cipher: keys from settings, else the service's own key file."""
    cipher = getattr(request.app.state, "bank_cipher", None)
    if cipher is None:
        cipher = cipher_for(request.app.state.settings)
        request.app.state.bank_cipher = cipher
    return cipher


CipherDep = Annotated[BankCipher, Depends(get_cipher)]


def account_out(cipher: BankCipher, account: AccountRow | None) -> BankAccount | None:
    if account is None:
        return None
    return BankAccount(
        id=account.id,
        partner_id=account.partner_id,
        state=account.state,  # type: ignore[arg-type]
        details=service.details_of(cipher, account),
        held_until=account.held_until,
        entered_by=account.entered_by,
        confirmed_by=account.confirmed_by,
        confirmed_at=account.confirmed_at,
        created_at=account.created_at,
    )


@router.get(
    "/partners/{partner_id}/bank-accounts", response_model=BankAccounts, tags=["bank details"]
)
async def get_bank_accounts(
    partner_id: uuid.UUID, session: SessionDep, caller: CallerDep, cipher: CipherDep
) -> BankAccounts:
    """The organisation's confirmed bank account and a change waiting, if any. Only the
    organisation itself and the finance people of funders it shares its data with can
    read them; anyone else gets 404."""
    confirmed, held = await service.accounts(session=session, caller=caller, partner_id=partner_id)
    return BankAccounts(
        partner_id=partner_id,
        confirmed=account_out(cipher, confirmed),
        held=account_out(cipher, held),
    )


@router.post(
    "/partners/{partner_id}/bank-accounts",
    status_code=201,
    response_model=BankAccount,
    tags=["bank details"],
)
async def enter_bank_account(
    partner_id: uuid.UUID,
    body: BankDetailsIn,
    session: SessionDep,
    caller: CallerDep,
    cipher: CipherDep,
    request: Request,
) -> BankAccount:
    """Enter your organisation's bank account (its own people or systems only). The details
    are checked (IBAN and BIC with schwifty), encrypted, and **held**: payments keep going
    to the confirmed account until the hold is over and a funder's finance person has
    confirmed the new one with you. You are told of the change."""
    settings: Settings = request.app.state.settings
    account = await service.enter(
        session=session,
        caller=caller,
        cipher=cipher,
        mailer=request.app.state.mailer,
        hold_hours=settings.bank_change_hold_hours,
        partner_id=partner_id,
        data=body,
    )
    out = account_out(cipher, account)
    assert out is not None
    return out


@router.post(
    "/partners/{partner_id}/bank-accounts/{account_id}/confirm",
    response_model=BankAccount,
    tags=["bank details"],
    responses=problem_responses(409),
)
async def confirm_bank_account(
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    body: BankConfirmation,
    session: SessionDep,
    caller: CallerDep,
    cipher: CipherDep,
    request: Request,
) -> BankAccount:
    """Confirm held bank details (finance role of a funder the organisation shares with),
    after their hold and after checking them with the organisation by a channel you
    already trust. 409 while still held."""
    account = await service.confirm(
        session=session,
        caller=caller,
        mailer=request.app.state.mailer,
        partner_id=partner_id,
        account_id=account_id,
        note=body.note,
    )
    out = account_out(cipher, account)
    assert out is not None
    return out


@internal.get("/partners/{partner_id}/payable-account", response_model=PayableAccount)
async def internal_payable_account(
    partner_id: uuid.UUID,
    funder_id: uuid.UUID,
    session: SessionDep,
    _: ServiceCallerDep,
    cipher: CipherDep,
) -> PayableAccount:
    """The confirmed account a funder may pay to, for its payment file; 404 if none."""
    account = await service.payable(session=session, partner_id=partner_id, funder_id=funder_id)
    if account is None:
        raise NotFound("This partner has no confirmed bank account this funder may pay to.")
    details = service.details_of(cipher, account)
    return PayableAccount(
        **details.model_dump(), bank_account_id=account.id, partner_id=account.partner_id
    )
