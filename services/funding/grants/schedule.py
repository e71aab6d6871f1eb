"""Exact money arithmetic for payment schedules: pure functions, integer minor units only."""

import calendar
from datetime import date, timedelta

#: ISO 4217 currencies whose minor unit is not the cent (default 2 digits).
MINOR_DIGITS = {
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}

MONTHS_PER_INSTALMENT = {"annual": 12, "quarterly": 3}


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


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


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def term_months(start: date, end: date) -> int:
    """Whole months covered by a term from ``start`` to ``end`` inclusive, rounded up."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) <= end:
        months += 1
    return max(months, 0)


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` equal whole amounts; the remainder goes on the first part."""
    if parts < 1:
        raise ValueError("a schedule needs at least one instalment")
    base, remainder = divmod(total, parts)
    return [base + remainder] + [base] * (parts - 1)


def default_schedule(total: int, start: date, end: date, frequency: str) -> list[tuple[date, int]]:
    """Instalments due at the start of each year (or quarter) of the term, summing to ``total``.

    The remainder minor units (e.g. the odd penny of £100,000.01 over 3 years) are
    placed on the first instalment, so a partner is never short-changed later.
    """
    step = MONTHS_PER_INSTALMENT[frequency]
    count = max(1, -(-term_months(start, end) // step))
    dates = [add_months(start, step * i) for i in range(count)]
    return list(zip(dates, split(total, count), strict=True))


def spread_increase(amounts: list[int], increase: int) -> list[int]:
    """Add ``increase`` across ``amounts`` evenly, the remainder on the first."""
    extra = split(increase, len(amounts))
    return [a + e for a, e in zip(amounts, extra, strict=True)]


def take_from_last(amounts: list[int], decrease: int) -> list[int]:
    """Remove ``decrease`` from the last amounts first; emptied ones become 0."""
    result = list(amounts)
    for i in range(len(result) - 1, -1, -1):
        taken = min(result[i], decrease)
        result[i] -= taken
        decrease -= taken
        if not decrease:
            break
    if decrease:
        raise ValueError("the decrease is larger than the amounts")
    return result


def last_day_of_term(start: date, years: int) -> date:
    return add_months(start, 12 * years) - timedelta(days=1)
