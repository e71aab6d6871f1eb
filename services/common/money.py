"""ISO 4217 currencies as every service takes them: a code one can pay in, and its minor
units (2 for GBP, 0 for JPY, 3 for KWD), and amounts in words. Amounts are always integer
minor units, written exactly."""

from functools import lru_cache
from typing import Annotated

import iso4217
from pydantic import AfterValidator, Field


@lru_cache(maxsize=512)  # the enum lookup is slow, and exports call this for every grant
def currency_digits(code: str) -> int | None:
    """The minor-unit digits of an ISO 4217 currency (2 for GBP, 0 for JPY, 3 for KWD), or
    None if ``code`` is not a currency one can pay a partner in (unknown, gold, test codes)."""
    try:
        return iso4217.Currency(code).exponent
    except ValueError:
        return None


def minor_digits(currency: str) -> int:
    digits = currency_digits(currency)
    return 2 if digits is None else digits


def major_units_text(amount: int, currency: str) -> str:
    """An amount in minor units written exactly in major units: 10000001 GBP -> '100000.01'."""
    digits = minor_digits(currency)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"


def describe(amount: int, currency: str) -> str:
    """Human words for an amount: '£1,234.56' for GBP, '1,234.56 EUR' otherwise."""
    text = major_units_text(abs(amount), currency)
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    symbol = {"GBP": "£", "USD": "$", "EUR": "€"}.get(currency)
    return f"{symbol}{grouped}" if symbol else f"{grouped} {currency}"


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
