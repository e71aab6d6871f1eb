"""Request and response bodies of bank details."""

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from services.common.errors import Unprocessable
from services.common.schemas import InputModel

BankState = Literal["held", "confirmed", "superseded", "withdrawn"]


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors={field: [message]}, slug="invalid-bank-details")


class BankDetailsIn(InputModel):
    """Your organisation's bank account: a UK sort code and account number, or an IBAN (with
    its BIC). Checked before it is kept; held, then confirmed by a funder's finance person."""

    account_name: str = Field(min_length=1, max_length=140, description="Name on the account")
    sort_code: str | None = Field(None, examples=["20-20-15"])
    account_number: str | None = Field(None, examples=["55555555"])
    iban: str | None = Field(None, examples=["GB33BUKB20201555555555"])
    bic: str | None = Field(None, examples=["BUKBGB22"])

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        uk = data.get("sort_code") is not None or data.get("account_number") is not None
        iban = data.get("iban") is not None
        if uk == iban:
            raise _invalid(
                "iban",
                "Give either sort_code and account_number (a UK account) or iban (and bic).",
            )
        if uk:
            sort = re.sub(r"[\s-]", "", str(data.get("sort_code") or ""))
            number = re.sub(r"\s", "", str(data.get("account_number") or ""))
            if not re.fullmatch(r"\d{6}", sort):
                raise _invalid("sort_code", "A sort code is 6 digits, e.g. 20-20-15.")
            if not re.fullmatch(r"\d{8}", number):
                raise _invalid("account_number", "A UK account number is 8 digits.")
            data = {**data, "sort_code": sort, "account_number": number}
        else:
            try:
                parsed = IBAN(str(data["iban"]))
            except SchwiftyException as exc:
                raise _invalid("iban", f"This is not a valid IBAN: {exc}.") from None
            data = {**data, "iban": parsed.compact}
            if data.get("bic") is not None:
                try:
                    bic = BIC(str(data["bic"]))
                except SchwiftyException as exc:
                    raise _invalid("bic", f"This is not a valid BIC: {exc}.") from None
                data["bic"] = str(bic)
            elif parsed.bic is not None:
                data["bic"] = str(parsed.bic)
        return data


class BankDetails(BaseModel):
    account_name: str
    sort_code: str | None
    account_number: str | None
    iban: str | None
    bic: str | None


class BankConfirmation(InputModel):
    note: str = Field(
        min_length=1,
        max_length=500,
        description="How you checked it with the organisation, e.g. 'called the treasurer on "
        "the number we have held since 2022'",
    )


class BankAccount(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    state: BankState
    details: BankDetails
    held_until: datetime = Field(description="Not payable before this, and not till confirmed")
    entered_by: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    created_at: datetime


class BankAccounts(BaseModel):
    """The account payments go to (confirmed) and a change waiting, if any."""

    partner_id: uuid.UUID
    confirmed: BankAccount | None
    held: BankAccount | None


class PayableAccount(BankDetails):
    """What a funder's payment file needs (internal: service callers only)."""

    bank_account_id: uuid.UUID
    partner_id: uuid.UUID
