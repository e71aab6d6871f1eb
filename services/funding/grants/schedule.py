"""Exact money arithmetic for payment schedules: pure functions, integer minor units only."""

import calendar
from datetime import date, timedelta
from functools import lru_cache

import iso4217

#: Months between instalments of each regular frequency; ``custom`` has no rhythm.
MONTHS_PER_INSTALMENT = {"monthly": 1, "quarterly": 3, "annual": 12}


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


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def term_months(start: date, end: date) -> int:
    """Months of a term from ``start`` to ``end``, where ``end`` is the term's last day.

    2025-10-01..2028-09-30 is 36 months. A part month at the end counts as a month, so a
    term is never under-counted (the API refuses an end date on an anniversary of the
    start, which would add one day of a new month, see :func:`ends_on_anniversary`).
    """
    after = end + timedelta(days=1)
    months = (after.year - start.year) * 12 + (after.month - start.month)
    if add_months(start, months) > after:
        months -= 1
    if add_months(start, months) < after:
        months += 1
    return max(months, 0)


def ends_on_anniversary(start: date, end: date) -> int | None:
    """If ``end`` falls exactly whole months after ``start`` (2028-10-01 for a start on
    2025-10-01), the number of those months; such a term would have one day more than
    it means. None otherwise."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months if months > 0 and add_months(start, months) == end else None


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` equal whole amounts; the remainder goes on the first part."""
    if parts < 1:
        raise ValueError("a schedule needs at least one instalment")
    base, remainder = divmod(total, parts)
    return [base + remainder] + [base] * (parts - 1)


def default_schedule(total: int, start: date, end: date, frequency: str) -> list[tuple[date, int]]:
    """Instalments due at the start of each month, quarter or year of the term, summing to
    ``total``: a term of 2025-10-01..2028-09-30 paid annually has 3 instalments.

    The remainder minor units (e.g. the odd penny of £100,000.01 over 3 years) are
    placed on the first instalment, so a partner is never short-changed later. A
    ``custom`` schedule has no default: it is given with the approval.
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
