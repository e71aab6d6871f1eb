"""Base classes for request and response bodies."""

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at", "version"})


class InputModel(BaseModel):
    """A request body: unknown fields are refused by name, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UpdateModel(InputModel):
    """A ``PUT`` body. It may echo the record's read-only fields (react-admin sends the
    whole record back); they are accepted and ignored, never written."""

    read_only: ClassVar[frozenset[str]] = READ_ONLY_FIELDS

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in cls.read_only}
        return data

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent."""
        return self.model_dump(exclude_unset=True)


class Record(BaseModel):
    """A stored record as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID


class TimestampedRecord(Record):
    created_at: datetime
    updated_at: datetime
    version: int
