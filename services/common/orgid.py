"""Organisation identifiers in the org-id scheme (as 360Giving uses them).

``GB-CHC-1164883`` (charity, England and Wales), ``GB-SC-SC012345`` (Scottish
charity), ``GB-NIC-100001`` (Northern Ireland charity), ``GB-COH-01234567``
(company: 8 characters, leading zeros kept). Other lists are accepted in the
general ``XX-LIST-identifier`` form.
"""

import re

GB_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "GB-CHC": (
        re.compile(r"^GB-CHC-\d{6,7}$"),
        "GB-CHC- followed by a 6 or 7 digit charity number",
    ),
    "GB-SC": (re.compile(r"^GB-SC-SC\d{6}$"), "GB-SC-SC followed by 6 digits"),
    "GB-NIC": (re.compile(r"^GB-NIC-\d{6}$"), "GB-NIC- followed by a 6 digit charity number"),
    "GB-COH": (
        re.compile(r"^GB-COH-(?:\d{8}|[A-Z]{2}\d{6})$"),
        "GB-COH- followed by the 8 character company number, leading zeros kept",
    ),
}
GENERAL = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,10}-[A-Za-z0-9_.\-]+$")
UNREGISTERED = re.compile(r"^360G-[A-Za-z0-9]+-[A-Za-z0-9_.\-]+$")


def check_org_id(value: str) -> str:
    """Return ``value`` if it is a well-formed org-id; raise ValueError saying why not."""
    value = value.strip()
    for prefix, (pattern, shape) in GB_PATTERNS.items():
        if value.startswith(prefix + "-"):
            if not pattern.match(value):
                raise ValueError(f"'{value}' is not a valid {prefix} identifier: expected {shape}")
            return value
    if GENERAL.match(value) or UNREGISTERED.match(value):
        return value
    raise ValueError(
        f"'{value}' is not an org-id: use a list code and number such as GB-CHC-1164883 "
        "or GB-COH-01234567"
    )


def check_charity_number(value: str) -> str:
    value = value.strip().upper()
    if not re.match(r"^(?:\d{6,7}|SC\d{6}|NIC?\d{6})$", value):
        raise ValueError(
            "a charity number is 6 or 7 digits (SC012345 in Scotland, NIC100001 in NI)"
        )
    return value


def check_company_number(value: str) -> str:
    value = value.strip().upper()
    if not re.match(r"^(?:\d{8}|[A-Z]{2}\d{6})$", value):
        raise ValueError(
            "a company number has 8 characters, leading zeros kept (01234567, SC123456)"
        )
    return value
