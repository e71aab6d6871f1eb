"""Request and response bodies of core grants, instalments, payments and variations."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.common.errors import Unprocessable
from services.common.money import Currency
from services.common.schemas import Amount, InputModel, Record, TimestampedRecord, UpdateModel

GrantStatus = Literal["proposed", "approved", "active", "completed", "withdrawn"]
InstalmentStatus = Literal["scheduled", "paid", "cancelled"]
VariationKind = Literal["uplift", "reduction", "extension", "reprofile"]
Frequency = Literal["monthly", "quarterly", "annual", "custom"]
RegularFrequency = Literal["monthly", "quarterly", "annual"]


#: The most instalments a schedule takes: monthly over the longest term (10 years) is 120.
MAX_INSTALMENTS = 200
Text = Annotated[str, Field(min_length=1, max_length=200)]

#: Fields a project grant would carry and a core grant never does.
KPI_FIELDS = frozenset(
    {
        "kpis",
        "kpi",
        "targets",
        "target",
        "outcomes",
        "outcome_measures",
        "milestones",
        "indicators",
        "deliverables",
        "restricted",
        "restrictions",
        "conditions",
    }
)
NO_KPIS_MESSAGE = (
    "Core grants carry no KPIs, targets or restrictions: a core grant funds the organisation, "
    "not a project, and the partner may change how it uses the money as its world changes. "
    "Trellis does not ask partners for information the funder won't use. Remove {fields}."
)


class NoKpiInput(InputModel):
    """An input body of the funding service: KPI-like fields are refused, saying why."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_kpis(cls, data: Any) -> Any:
        if isinstance(data, dict):
            found = sorted(k for k in data if isinstance(k, str) and k.lower() in KPI_FIELDS)
            if found:
                names = ", ".join(f"'{f}'" for f in found)
                raise Unprocessable(
                    NO_KPIS_MESSAGE.format(fields=names),
                    slug="core-grants-carry-no-kpis",
                    title="Core grants carry no KPIs",
                    errors={
                        f: ["core grants carry no KPIs, targets or restrictions"] for f in found
                    },
                )
        return data


class NoKpiUpdate(UpdateModel, NoKpiInput):
    """A PUT body that refuses KPI-like fields and ignores echoed read-only ones."""


# Grants -------------------------------------------------------------------------------------


class GrantCreate(NoKpiInput):
    """A proposed core grant to one of your funder's partners."""

    partner_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(
        min_length=1, max_length=10000, description="In plain words: who and why, not a project"
    )
    amount_awarded: Amount
    currency: Currency = "GBP"
    planned_start_date: date
    planned_end_date: date = Field(
        description="The last day of the term (1 to 10 years): a 3-year grant from 2025-10-01 "
        "ends on 2028-09-30"
    )
    payment_frequency: Frequency | None = Field(
        None,
        description="monthly, quarterly, annual (the default), or custom: the instalments are "
        "then given with the approval",
    )
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_. -]+$",
        description="Your reference; the 360Giving id is 360G-<prefix>-<reference>",
    )


GRANT_READ_ONLY = UpdateModel.read_only | {
    "status",
    "grant_360_id",
    "funder_id",
    "pool_id",
    "award",
    "approved_on",
    "approved_by",
    "decision_reference",
    "activated_on",
    "completed_on",
    "withdrawn_on",
    "withdrawal_reason",
    "funder_ids",
}


class GrantUpdate(NoKpiUpdate):
    """Changes to a grant. Amount, dates and partner change only while it is proposed;
    after approval they change by a variation with its own decision."""

    read_only = GRANT_READ_ONLY

    partner_id: uuid.UUID | None = None
    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, min_length=1, max_length=10000)
    amount_awarded: Amount | None = None
    currency: Currency | None = None
    planned_start_date: date | None = None
    planned_end_date: date | None = None
    payment_frequency: Frequency | None = None
    reference: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_. -]+$")


class Decision(NoKpiInput):
    """A decision of the trustees (or whoever decides): when, who, and the minute or paper."""

    decided_on: date
    decided_by: Text = Field(description="Who decided, e.g. 'Board of trustees'")
    reference: Text = Field(description="Minute or paper reference, e.g. 'TM-2025-03 item 4'")


class InstalmentIn(NoKpiInput):
    due_date: date
    amount: Amount


class Approval(Decision):
    payment_frequency: Frequency | None = Field(
        None,
        description="Schedule to make: monthly, quarterly, annual or custom (the grant's if "
        "omitted)",
    )
    instalments: list[InstalmentIn] | None = Field(
        None,
        min_length=1,
        max_length=600,
        description="A custom schedule: required when the frequency is custom, refused "
        "otherwise; it must add up to the award and fall within the term",
    )


class Transition(NoKpiInput):
    on: date | None = Field(None, description="When it happened (today if omitted)")


class Withdrawal(NoKpiInput):
    reason: str = Field(min_length=1, max_length=5000, description="Why, in plain words")
    on: date | None = Field(None, description="When (today if omitted)")


class Award(BaseModel):
    """The award as first made, before any variation."""

    amount_awarded: int
    currency: str
    planned_start_date: date
    planned_end_date: date
    decided_on: date
    decided_by: str
    decision_reference: str


class Grant(TimestampedRecord):
    funder_id: uuid.UUID
    pool_id: uuid.UUID | None
    funder_ids: list[uuid.UUID] = Field(description="Funding organisations (several when pooled)")
    partner_id: uuid.UUID
    title: str
    description: str
    amount_awarded: int
    currency: str
    planned_start_date: date
    planned_end_date: date
    payment_frequency: Frequency
    reference: str
    status: GrantStatus
    grant_360_id: str | None
    approved_on: date | None
    approved_by: str | None
    decision_reference: str | None
    activated_on: date | None
    completed_on: date | None
    withdrawn_on: date | None
    withdrawal_reason: str | None
    award: Award | None = Field(None, description="The award as first made (history)")


# Instalments and payments ------------------------------------------------------------------


class ScheduleUpdate(NoKpiUpdate):
    """The unpaid part of a schedule, replacing today's unpaid instalments."""

    instalments: list[InstalmentIn] = Field(min_length=1, max_length=MAX_INSTALMENTS)


class InstalmentUpdate(NoKpiUpdate):
    read_only = UpdateModel.read_only | {
        "grant_id",
        "funder_id",
        "partner_id",
        "sequence",
        "currency",
        "status",
        "paid_on",
        "cancelled_on",
        "overdue",
    }

    due_date: date | None = None
    amount: Amount | None = None


class Instalment(TimestampedRecord):
    grant_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    sequence: int
    due_date: date
    amount: int
    currency: str
    status: InstalmentStatus
    paid_on: date | None
    cancelled_on: date | None
    overdue: bool = Field(description="Unpaid after its due date")


class Schedule(BaseModel):
    grant_id: uuid.UUID
    amount_awarded: int
    currency: str
    amount_paid: int
    amount_unpaid: int
    instalments: list[Instalment]


class PaymentCreate(NoKpiInput):
    """A payment of one instalment, in full."""

    instalment_id: uuid.UUID
    paid_on: date
    reference: str | None = Field(None, max_length=200, description="e.g. the BACS reference")
    amount: Amount | None = Field(None, description="The instalment's amount if omitted")


class Payment(Record):
    instalment_id: uuid.UUID
    grant_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    amount: int
    currency: str
    due_date: date
    paid_on: date
    reference: str | None
    recorded_by: str
    created_at: datetime
    late: bool = Field(description="Paid after its due date")


# Variations --------------------------------------------------------------------------------


class VariationCreate(Decision):
    """An approved change to a grant, with its own decision."""

    kind: VariationKind
    amount: Amount | None = Field(
        None, description="For uplift and reduction: by how much the award changes"
    )
    planned_end_date: date | None = Field(None, description="For extension: the new end date")
    instalments: list[InstalmentIn] | None = Field(
        None,
        max_length=MAX_INSTALMENTS,
        description="The new unpaid schedule (required for reprofile). If omitted, an uplift is "
        "spread over the unpaid instalments, a reduction is taken from the last ones first, "
        "and an extension leaves them as they are.",
    )
    reason: str | None = Field(None, max_length=5000, description="Why, in plain words")
    request_id: uuid.UUID | None = Field(
        None,
        description="The partner's open request (GET /grant-requests) this variation answers: "
        "it is decided as varied in the same transaction",
    )


class ScheduleLine(BaseModel):
    due_date: date
    amount: int
    status: str


class Variation(Record):
    grant_id: uuid.UUID
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    kind: VariationKind
    decided_on: date
    decided_by: str
    decision_reference: str
    reason: str | None
    currency: str
    amount_before: int
    amount_after: int
    start_date_before: date
    start_date_after: date
    end_date_before: date
    end_date_after: date
    schedule_before: list[ScheduleLine]
    schedule_after: list[ScheduleLine]
    recorded_by: str
    created_at: datetime


class GrantHistory(BaseModel):
    """The award as first made and every variation since, oldest first."""

    grant_id: uuid.UUID
    award: Award | None
    variations: list[Variation]
    current: Grant
