"""Request and response bodies of finance: settings, budgets and the forecast."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel
from services.funding.grants.schemas import Currency

GroupBy = Literal["partner", "pool", "currency", "month", "region"]


class FinanceSettingsUpdate(UpdateModel):
    """Your funder's financial year and the approval limit it delegates to its staff."""

    read_only = UpdateModel.read_only | {"funder_id"}

    year_start_month: int = Field(
        ge=1, le=12, description="The month your financial year starts: 4 for April to March"
    )
    approval_limit: int | None = Field(
        None,
        ge=0,
        description="The largest award (minor units) a staff member may approve; above it the "
        "approval needs a person with the trustee role. None: no limit",
    )
    approval_limit_currency: Currency | None = Field(
        None, description="The limit's currency (an award in another currency needs a trustee)"
    )
    debtor_name: str | None = Field(
        None, min_length=1, max_length=70, description="Your account's name, for bank files"
    )
    debtor_iban: str | None = Field(None, description="The IBAN payment files pay from")
    debtor_bic: str | None = Field(None, description="Its BIC")

    @field_validator("debtor_iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return IBAN(value).compact
        except SchwiftyException as exc:
            raise ValueError(f"not a valid IBAN: {exc}") from None

    @field_validator("debtor_bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(BIC(value))
        except SchwiftyException as exc:
            raise ValueError(f"not a valid BIC: {exc}") from None


class FinanceSettings(BaseModel):
    id: uuid.UUID = Field(description="Your funder's id")
    funder_id: uuid.UUID
    year_start_month: int
    approval_limit: int | None
    approval_limit_currency: str | None
    debtor_name: str | None
    debtor_iban: str | None
    debtor_bic: str | None
    version: int
    updated_at: datetime | None


class BudgetCreate(InputModel):
    """What you mean to spend in one financial year, in all or in one pooled fund."""

    financial_year: int = Field(
        ge=2000, le=2100, description="The calendar year the financial year starts in"
    )
    pool_id: uuid.UUID | None = Field(None, description="A pool's budget; omit for your whole")
    currency: Currency = "GBP"
    amount: int = Field(ge=0, description="Exact amount in minor units")
    notes: str | None = Field(None, max_length=2000)


class BudgetUpdate(UpdateModel):
    read_only = UpdateModel.read_only | {"funder_id", "financial_year", "pool_id", "currency"}
    nullable = frozenset({"notes"})

    amount: int | None = Field(None, ge=0)
    notes: str | None = Field(None, max_length=2000)


class Budget(TimestampedRecord):
    funder_id: uuid.UUID
    financial_year: int
    pool_id: uuid.UUID | None
    currency: str
    amount: int
    notes: str | None


class ForecastYear(BaseModel):
    """One financial year in one currency, against its budget."""

    financial_year: int
    label: str = Field(examples=["2025-26"])
    starts_on: date
    ends_on: date
    currency: str
    budget: int | None = Field(description="Your whole budget for the year, if set")
    committed: int = Field(description="Awarded (approved or active), unpaid instalments due")
    paid: int = Field(description="Payments made in the year")
    pipeline: int = Field(description="Proposed grants, by their planned schedule")
    headroom: int | None = Field(
        description="budget - committed - paid - pipeline (negative: over budget)"
    )


class ForecastRow(BaseModel):
    """One group of a financial year: a partner, a pool, a month or just the currency."""

    financial_year: int
    currency: str
    key: str | None = Field(
        description="The partner id, pool id, YYYY-MM month or region grouped by (region: null "
        "for partners that have not shared theirs with you, or have none)"
    )
    budget: int | None = Field(description="The pool's budget, when grouped by pool")
    committed: int
    paid: int
    pipeline: int


class Forecast(BaseModel):
    from_year: int
    to_year: int
    year_start_month: int
    group_by: GroupBy | None
    years: list[ForecastYear]
    rows: list[ForecastRow]


class PaperProposal(BaseModel):
    grant_id: uuid.UUID
    reference: str
    title: str
    partner_id: uuid.UUID
    region: str | None = Field(
        description="The partner's region, held by the partners service; null until the "
        "organisation shares it with you"
    )
    amount_awarded: int
    currency: str
    planned_start_date: date
    planned_end_date: date
    payment_frequency: str
    proposed_on: date


class PaperYear(BaseModel):
    financial_year: int
    label: str
    currency: str
    amount: int = Field(description="What the proposals would pay in the year, if approved")


class PaperRegion(BaseModel):
    region: str | None = Field(description="null: partners that have not shared a region")
    currency: str
    count: int = Field(description="Proposals awaiting a decision")
    amount: int = Field(description="What they would award")


class PaperStatus(BaseModel):
    status: str
    currency: str
    count: int
    amount: int


class TrusteePapers(BaseModel):
    """What awaits the trustees' decision, with its money by year, beside what is decided."""

    year_start_month: int
    proposals: list[PaperProposal] = Field(description="Proposed grants, oldest first")
    totals_by_year: list[PaperYear]
    totals_by_region: list[PaperRegion] = Field(
        description="The proposals by their partners' region (held by the partners service)"
    )
    totals_by_status: list[PaperStatus] = Field(
        description="All your grants by status, so the board sees proposals beside commitments"
    )
    variations_awaiting_decision: list[PaperProposal] = Field(
        description="Always empty: a variation is recorded with the decision that made it"
    )
