"""The ISO 20022 ``pain.001.001.03`` credit-transfer file of a payment run, by ``sepaxml``.

sepaxml writes the file and validates it against the pain.001.001.03 XSD it ships
(``export(validate=True)``). It is used outside SEPA too: with ``domestic`` set the
SEPA service level is left out, and the currency is the run's (GBP for a UK funder's
bank). Creditors are paid by IBAN; a partner with only a UK sort code and account
number is paid from the CSV file (BACS) instead.
"""

import asyncio
import uuid
from datetime import date
from typing import Any

from sepaxml import SepaTransfer

from services.common.errors import Conflict
from services.common.http import ServiceClient
from services.funding.finance.models import FinanceSetting
from services.funding.grants.schedule import minor_digits
from services.funding.runs.models import PaymentRun, PaymentRunItem

SCHEMA = "pain.001.001.03"


async def payable_accounts(
    partners: ServiceClient, *, funder_id: uuid.UUID, partner_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """Each partner's confirmed account this funder may pay to (None if it has none)."""
    answers = await asyncio.gather(
        *(
            partners.get_json(
                f"/internal/partners/{pid}/payable-account", params={"funder_id": str(funder_id)}
            )
            for pid in partner_ids
        )
    )
    return dict(zip(partner_ids, answers, strict=True))


def build(
    *,
    run: PaymentRun,
    items: list[PaymentRunItem],
    settings: FinanceSetting | None,
    accounts: dict[uuid.UUID, Any],
    execution_date: date,
) -> bytes:
    if minor_digits(run.currency) != 2:
        raise Conflict(
            f"A pain.001 file is written for currencies with 2 decimal places; this run is in "
            f"{run.currency}. Use the CSV file.",
            slug="bank-file-currency",
        )
    if settings is None or not (settings.debtor_iban and settings.debtor_name):
        raise Conflict(
            "Set your funder's own account first (debtor_name, debtor_iban and debtor_bic in "
            "PUT /api/v1/finance-settings): a bank file says which account pays.",
            slug="bank-file-debtor-missing",
        )
    missing = sorted(
        str(pid) for pid, account in accounts.items() if not account or not account.get("iban")
    )
    if missing:
        raise Conflict(
            "These partners have no confirmed IBAN your funder may pay to (held or unconfirmed "
            "bank details are never paid to; a UK-only account is paid from the CSV file): "
            + ", ".join(missing),
            slug="bank-details-missing",
            extra={"partner_ids": missing},
        )
    config = {
        "name": settings.debtor_name,
        "IBAN": settings.debtor_iban,
        "BIC": settings.debtor_bic,
        "batch": True,
        "currency": run.currency,
        "domestic": run.currency != "EUR",
    }
    transfer = SepaTransfer(config, schema=SCHEMA, clean=True)
    for item in items:
        account = accounts[item.partner_id]
        payment = {
            "name": account["account_name"],
            "IBAN": account["iban"],
            "amount": item.amount,
            "execution_date": execution_date,
            "description": f"Grant instalment due {item.due_date.isoformat()}",
            "endtoend_id": item.instalment_id.hex[:35],
        }
        if account.get("bic"):
            payment["BIC"] = account["bic"]
        transfer.add_payment(payment)
    return transfer.export(validate=True)
