"""The ISO 20022 ``pain.001.001.03`` credit-transfer file of a payment run, by ``sepaxml``.

sepaxml writes the file and validates it against the pain.001.001.03 XSD it ships
(``export(validate=True)``). It is used outside SEPA too: with ``domestic`` set the
SEPA service level is left out, and the currency is the run's (GBP for a UK funder's
bank). Creditors are paid by IBAN; a partner with only a UK sort code and account
number is paid from the CSV file (BACS) instead.

sepaxml writes every amount as if it had two decimal places (cents). Trellis keeps
integer minor units of each currency's own ISO 4217 exponent, so the file's amounts
and control sums are rewritten exactly from the run's integers (``1000`` for
1,000 JPY, ``1.234`` for 1.234 BHD) and only then validated against the XSD.
"""

import asyncio
import uuid
from datetime import date
from typing import Any
from xml.etree import ElementTree

from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError, try_valid_xml

from services.common.errors import Conflict
from services.common.http import ServiceClient
from services.funding.finance.models import FinanceSetting
from services.funding.grants.schedule import major_units_text
from services.funding.runs.models import PaymentRun, PaymentRunItem

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
NS = {"p": NAMESPACE}
# The file is written back with its namespace as the default one, as sepaxml wrote it.
ElementTree.register_namespace("", NAMESPACE)

#: ISO 4217 fund codes and units of account (and the SDR's kin): in the code list, so a
#: grant may be recorded in them, but no bank pays a credit transfer in them.
NOT_PAYABLE = frozenset(
    {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "XSU", "XUA"}
)


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
    if run.currency in NOT_PAYABLE:
        raise Conflict(
            f"{run.currency} is an ISO 4217 fund code or unit of account, not a currency a "
            "bank pays a credit transfer in, so there is no pain.001 file for this run. Pay "
            "it in the currency the partner's bank holds (a run of grants in that currency), "
            "or from the CSV file.",
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
    exact = exact_amounts(transfer.export(validate=False), items, run.currency)
    try:
        try_valid_xml(exact, SCHEMA)
    except ValidationError as exc:
        raise Conflict(
            "The bank file would not be valid pain.001.001.03 (a name or reference the "
            "scheme cannot carry?): " + str(exc.__cause__ or exc),
            slug="bank-file-invalid",
        ) from None
    return exact


def exact_amounts(xml: bytes, items: list[PaymentRunItem], currency: str) -> bytes:
    """``xml`` with each amount and control sum written from the items' minor units, in the
    currency's own decimal places."""
    root = ElementTree.fromstring(xml)
    amounts = {item.instalment_id.hex[:35]: item.amount for item in items}
    total = 0
    for batch in root.iterfind(".//p:PmtInf", NS):
        batch_total = 0
        for tx in batch.iterfind("p:CdtTrfTxInf", NS):
            amount = amounts[tx.findtext("p:PmtId/p:EndToEndId", "", NS)]
            _set(tx, "p:Amt/p:InstdAmt", major_units_text(amount, currency))
            batch_total += amount
        if batch.find("p:CtrlSum", NS) is not None:
            _set(batch, "p:CtrlSum", major_units_text(batch_total, currency))
        total += batch_total
    _set(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", major_units_text(total, currency))
    body = ElementTree.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode()


def _set(node: ElementTree.Element, path: str, text: str) -> None:
    found = node.find(path, NS)
    assert found is not None, path
    found.text = text
