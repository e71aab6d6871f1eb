"""Bodies of the contacts API."""

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord, UpdateModel

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{4,30}$")


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("must be an email address like jo@example.org")
    return value


def _phone(value: str) -> str:
    if not PHONE.match(value):
        raise ValueError("must be a phone number of digits, spaces and + ( ) - only")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200)]
Role = Annotated[str, Field(max_length=200, description="Their role, e.g. Director")]
Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Phone = Annotated[str, Field(max_length=50), AfterValidator(_phone)]


class ContactCreate(InputModel):
    """A person at your organisation (partners manage their own contacts)."""

    name: Name
    role: Role | None = None
    email: Email | None = None
    phone: Phone | None = None


class ContactUpdate(UpdateModel):
    nullable = frozenset({"role", "email", "phone"})

    read_only = UpdateModel.read_only | {"partner_id"}

    name: Name | None = None
    role: Role | None = None
    email: Email | None = None
    phone: Phone | None = None


class Contact(TimestampedRecord):
    partner_id: uuid.UUID
    name: str
    role: str | None
    email: str | None
    phone: str | None


class ContactErased(BaseModel):
    """What is left of an erased contact: that it existed and was erased, nothing personal."""

    id: uuid.UUID
    partner_id: uuid.UUID
    erased: Literal[True] = True
    erased_at: datetime
