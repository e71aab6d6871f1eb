"""Base classes for request and response bodies.

Input is strict about JSON types, the way a client library expects: a number is a
JSON number (not ``"100"``, not ``true``), a flag is ``true`` or ``false`` (not
``0``/``1``), a date is ISO 8601 text (not ``0``), and every whole number fits the
64-bit integer the databases store. Pydantic's own strict mode cannot be used for
this: FastAPI validates bodies as Python objects, where strict mode would also
refuse ids and dates sent as text.
"""

import types
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from fastapi import Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError, to_json

READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at", "version"})

#: The range of a 64-bit signed integer (PostgreSQL ``BIGINT``, SQLite ``INTEGER``).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: The largest amount of money the API takes, in minor units: 10^16 pence is
#: £100 trillion, more than any funder holds, and far enough below the 64-bit limit
#: (about 9.2 x 10^18) that totals of hundreds of amounts (a pool's ledger, a grant's
#: variations) still fit. It is above 2^53, so amounts are never floats anywhere.
MAX_AMOUNT = 10**16


def _leaves(annotation: Any) -> set[Any]:
    """The scalar types an annotation accepts (``Optional``, ``Annotated`` and ``Literal``
    unwrapped); anything else (models, lists, ``Any``) is ``object``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaves(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        found: set[Any] = set()
        for arg in get_args(annotation):
            found |= _leaves(arg)
        return found
    if origin is Literal:
        return {type(v) for v in get_args(annotation)}
    if annotation is type(None):
        return {type(None)}
    if annotation in (int, bool, str, float, Decimal, date, datetime, time, uuid.UUID):
        return {annotation}
    if isinstance(annotation, type) and issubclass(annotation, str):
        return {str}
    return {object}


def _type_error(value: Any, leaves: set[Any]) -> PydanticCustomError | None:
    """Why ``value`` (as JSON gave it) is not of the field's type, or ``None`` if it may be."""
    if object in leaves:
        return None
    numeric = leaves & {int, float, Decimal}
    if isinstance(value, bool):
        if bool in leaves:
            return None
        if numeric:
            return PydanticCustomError("strict_number", "must be a number, not true or false")
        if leaves & {date, datetime, time}:
            return PydanticCustomError("strict_date", "must be a date as text, like 2025-04-01")
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and int in leaves and not INT64_MIN <= value <= INT64_MAX:
            return PydanticCustomError("int_range", "is too large a number")
        if numeric:
            if isinstance(value, float) and int in leaves and not leaves & {float, Decimal}:
                return PydanticCustomError("strict_int", "must be a whole number")
            return None
        if leaves & {date, datetime, time}:
            return PydanticCustomError(
                "strict_date", "must be a date or time as ISO 8601 text, like 2025-04-01"
            )
        if bool in leaves:
            return PydanticCustomError("strict_bool", "must be true or false")
        return None
    if isinstance(value, str):
        if leaves & {str, date, datetime, time, uuid.UUID, Decimal}:
            return None
        if int in leaves:
            return PydanticCustomError(
                "strict_number", 'must be a number, not text (send 100, not "100")'
            )
        if bool in leaves:
            return PydanticCustomError("strict_bool", "must be true or false, not text")
    return None


class InputModel(BaseModel):
    """A request body: unknown fields are refused by name, strings are trimmed, and JSON
    types are taken as they are (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_json_types(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        problem = _type_error(value, _leaves(field.annotation))
        if problem is not None:
            raise problem
        return value


#: A funder's slug, the short name in its public URLs.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"

#: A funder's slug as a path parameter: anything else is refused before any lookup, so no
#: odd text (``%0A``, ``?``, ``/``) ever reaches a query or another service's URL.
FunderSlug = Annotated[
    str,
    Path(pattern=SLUG_PATTERN, description="The funder's slug", examples=["northern-lights"]),
]


#: An amount of money in minor units, as the API takes it.
Amount = Annotated[
    int,
    Field(
        gt=0,
        le=MAX_AMOUNT,
        description="Exact amount in minor units (pence), at most 10^16",
        examples=[10000001],
    ),
]


def _not_nullable_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON schema of an update says ``null`` only where null is taken (``nullable``)."""
    nullable = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf")
        if name in nullable or not options or {"type": "null"} not in options:
            continue
        rest = [option for option in options if option != {"type": "null"}]
        del prop["anyOf"]
        if prop.get("default", "") is None:
            del prop["default"]
        if len(rest) == 1:
            prop.update({k: v for k, v in rest[0].items() if k not in prop})
        else:
            prop["anyOf"] = rest


class UpdateModel(InputModel):
    """A ``PUT`` body. It may echo the record's read-only fields (react-admin sends the
    whole record back); they are accepted and ignored, never written."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_not_nullable_in_schema
    )

    read_only: ClassVar[frozenset[str]] = READ_ONLY_FIELDS
    #: Fields that may be emptied with ``null``; any other field sent as ``null`` is a 422
    #: (leave a field out to keep its value).
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError(
                "null_not_allowed", "cannot be null; leave it out to keep its current value"
            )
        return value

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


def json_response(
    content: BaseModel | list[BaseModel],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A model (or a list of models) as the JSON answer, serialised once.

    A route that returns its models lets FastAPI validate them again against the
    ``response_model`` before serialising them; a route that has just built them
    from its rows returns this instead (``response_model`` still documents it).
    """
    return Response(
        to_json(content, by_alias=True),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
