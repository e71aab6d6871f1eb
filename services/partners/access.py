"""Who may see which partner's records, and small parsers the relationship domains share.

Used by the interactions, documents, contacts, updates and timeline sub-packages.
A partner sees only its own records; funder staff see only partners their
funder has a relationship with, and the organisation's own data (contacts, the
documents it linked, its description) only once it has accepted their funder
(``sharing`` = accepted); anything else is answered as if it did not exist.
Checks read ``Caller.staff_funder_id`` and ``Caller.own_partner_id``, which are
empty unless the token holds the matching role.
"""

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller
from services.common.db import as_utc
from services.common.errors import BadRequest, NotFound, Unprocessable
from services.partners.relationships import repository as relationships_repository
from services.partners.relationships.models import SHARING_ACCEPTED, Relationship

PARTNER_NOT_FOUND = "There is no partner with this id."


async def staff_relationship(
    session: AsyncSession, caller: Caller, partner_id: uuid.UUID
) -> Relationship | None:
    """The caller's funder's relationship with a partner (None for anyone but funder staff)."""
    funder_id = caller.staff_funder_id
    if funder_id is None:
        return None
    return await relationships_repository.get_relationship(
        session, funder_id=funder_id, partner_id=partner_id
    )


def is_own(caller: Caller, partner_id: uuid.UUID) -> bool:
    """Whether the caller speaks for this organisation (its own people or systems)."""
    return caller.own_partner_id is not None and caller.own_partner_id == partner_id


async def can_see_partner(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> bool:
    """Whether the caller is this partner, or staff of a funder in relationship with it."""
    if is_own(caller, partner_id):
        return True
    return await staff_relationship(session, caller, partner_id) is not None


async def shares_with_caller(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> bool:
    """Whether the caller may see the organisation's own data (contacts, its own documents).

    The organisation itself always; a funder's staff only once the organisation has
    accepted that funder (``sharing`` = accepted on the relationship).
    """
    if is_own(caller, partner_id):
        return True
    relationship = await staff_relationship(session, caller, partner_id)
    return relationship is not None and relationship.sharing == SHARING_ACCEPTED


async def check_partner(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> None:
    """Raise 404 unless the caller is this partner or staff of a funder in relationship with it."""
    if not await can_see_partner(session, caller, partner_id):
        raise NotFound(PARTNER_NOT_FOUND)


async def check_partner_field(session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> None:
    """Like ``check_partner`` for a ``partner_id`` sent in a body: a 422 on that field."""
    try:
        await check_partner(session, caller, partner_id)
    except NotFound as exc:
        message = "There is no partner with this id among the partners you can see."
        raise Unprocessable(message, errors={"partner_id": [message]}) from exc


def own_partner_id(caller: Caller, given: uuid.UUID | None) -> uuid.UUID:
    """The partner a partner caller speaks for (a ``partner_id`` it sends must be its own)."""
    own = caller.own_partner_id
    assert own is not None
    if given is not None and given != own:
        message = "A partner adds records for its own organisation only; leave partner_id out."
        raise Unprocessable(message, errors={"partner_id": [message]})
    return own


def actor_name(caller: Caller) -> str:
    """How a record names the person or system that made it."""
    return (caller.name or caller.actor)[:200]


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Changes as an audit entry keeps them: ids, dates and URLs as strings."""
    return {
        k: (str(v) if v is not None and not isinstance(v, bool | int | str) else v)
        for k, v in values.items()
    }


def is_staff(caller: Caller) -> bool:
    return caller.staff_funder_id is not None


def date_bound(name: str, value: Any, *, upper: bool) -> datetime:
    """A ``*_gte`` / ``*_lte`` filter value: a date (whole day) or an ISO datetime, as UTC."""
    text = str(value)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if upper else moment
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"The '{name}' filter must be a date (YYYY-MM-DD) or an ISO 8601 datetime.",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be a date or datetime"]},
        ) from exc
    return as_utc(moment)


def check_web_url(value: str) -> str:
    """An http(s) link to a document. Trellis stores it and never fetches it."""
    value = value.strip()
    if re.search(r"\s", value):
        raise ValueError("must be a single web address without spaces")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        shown = f"'{scheme}:' links are" if scheme else "a link without http:// or https:// is"
        raise ValueError(f"must start with http:// or https://; {shown} not accepted")
    if not parts.hostname:
        raise ValueError("must name a host, like https://example.org/annual-report.pdf")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    return value


def check_boolean_filter(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise BadRequest(
        f"The '{name}' filter takes true or false.",
        slug="bad-list-parameter",
        errors={"filter": [f"{name} must be true or false"]},
    )
