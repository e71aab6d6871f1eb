"""Request and response bodies of payment runs."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.schemas import InputModel, TimestampedRecord
from services.funding.grants.schemas import Currency

RunStatus = Literal["prepared", "approved", "paid", "cancelled"]


class PaymentRunCreate(InputModel):
    """Prepare a run of every unpaid instalment due by a day (overdue ones included)."""

    due_by: date = Field(description="Take instalments due on or before this day")
    currency: Currency = Field("GBP", description="A run pays in one currency")


class PaymentRunPaid(InputModel):
    paid_on: date = Field(description="The day the bank paid the file")
    reference: str | None = Field(
        None, max_length=200, description="The bank's reference of the batch, e.g. a BACS id"
    )


class PaymentRunItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    instalment_id: uuid.UUID
    grant_id: uuid.UUID
    partner_id: uuid.UUID
    due_date: date
    amount: int
    currency: str


class PaymentRun(TimestampedRecord):
    funder_id: uuid.UUID
    currency: str
    due_by: date
    status: RunStatus
    payment_count: int
    total: int = Field(description="Sum of the run's payments, in minor units")
    prepared_by: str
    approved_by: str | None
    approved_at: datetime | None
    paid_on: date | None
    paid_by: str | None
    cancelled_by: str | None


class PaymentRunDetail(PaymentRun):
    items: list[PaymentRunItem]
