"""ISO 4217 currencies as every service takes them: a code one can pay in, and its minor
units (2 for GBP, 0 for JPY, 3 for KWD). Amounts are always integer minor units."""

from typing import Annotated

import iso4217
from pydantic import AfterValidator, Field


def currency_digits(code: str) -> int | None:
    """The minor-unit digits of an ISO 4217 currency (2 for GBP, 0 for JPY, 3 for KWD), or
    None if ``code`` is not a currency one can pay a partner in (unknown, gold, test codes)."""
    try:
        return iso4217.Currency(code).exponent
    except ValueError:
        return None


def _iso4217(code: str) -> str:
    digits = currency_digits(code)
    if digits is None:
        raise ValueError(
            f"'{code}' is not an ISO 4217 currency one can pay in: use a code such as GBP, "
            "EUR or USD (amounts are in its minor units, e.g. pence; 0 digits for JPY)"
        )
    return code


Currency = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code", examples=["GBP"]),
    AfterValidator(_iso4217),
]
