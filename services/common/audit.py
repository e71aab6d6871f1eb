"""The audit log: every change, with who made it, when, in which request, and whose it is.

``record`` adds an entry in the change's own transaction. Each entry says whose record
changed: the funder whose staff may read the entry and, for an organisation's own
records, the organisation whose people may read it. By default that is the caller's own
tenant (a funder's staff change their funder's records; a partner its own); a change
to someone else's record names them. ``router`` serves the entries as a list.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller, CallerDep
from services.common.db import SessionDep
from services.common.errors import BadRequest, Forbidden, NotFound
from services.common.lists import ListQuery, fetch_page, list_query, parse_uuid_list
from services.common.models import AuditEntry
from services.common.requestid import current_request_id


class _FromCaller:
    """The caller's own tenant (the default of ``record``)."""


FROM_CALLER: Any = _FromCaller()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def record(
    session: AsyncSession,
    *,
    caller: Caller,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
    funder_id: uuid.UUID | str | None = FROM_CALLER,
    partner_id: uuid.UUID | str | None = FROM_CALLER,
) -> AuditEntry:
    """Add an audit entry to the current transaction (it commits with the change).

    ``funder_id`` and ``partner_id`` say whose record it is; each defaults to the caller's
    own (staff: its funder; a partner: itself). Pass them for a change to another party's
    record, and ``partner_id=None`` for a funder's record that is not the organisation's.
    """
    if funder_id is FROM_CALLER:
        funder_id = caller.staff_funder_id
    if partner_id is FROM_CALLER:
        partner_id = caller.own_partner_id
    entry = AuditEntry(
        actor=caller.actor,
        actor_roles=" ".join(sorted(caller.roles)),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=_jsonable(changes or {}),
        request_id=current_request_id(),
        funder_id=_uuid(funder_id),
        partner_id=_uuid(partner_id),
    )
    session.add(entry)
    return entry


class AuditEntryOut(BaseModel):
    """One change to one record, as its funder's staff or its organisation's people read it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor: str
    actor_roles: str
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any]
    request_id: str | None
    funder_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    service: str


SORTS: dict[str, ColumnElement[Any]] = {"occurred_at": AuditEntry.occurred_at}
AuditListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "audit",
            sortable=["occurred_at"],
            filterable=[
                "entity_type",
                "entity_id",
                "actor",
                "action",
                "request_id",
                "occurred_at_gte",
                "occurred_at_lte",
                "funder_id",
                "partner_id",
            ],
            default_sort=("occurred_at", "DESC"),
        )
    ),
]


def _moment(name: str, value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"The '{name}' filter must be an ISO 8601 date or time.",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be an ISO 8601 date or time"]},
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _text(filters: dict[str, Any], name: str) -> list[str]:
    value = filters[name]
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v and "\x00" not in v for v in values):
        raise BadRequest(
            f"The '{name}' filter takes text or a list of texts.",
            slug="bad-list-parameter",
            errors={"filter": [f"{name} must be text"]},
        )
    return values


def router(service: str) -> APIRouter:
    """``GET /api/v1/audit``: the caller's audit entries in this service, newest first."""
    api = APIRouter(tags=["audit"])

    @api.get("/audit", response_model=list[AuditEntryOut])
    async def list_audit(
        session: SessionDep, caller: CallerDep, query: AuditListQuery, response: Response
    ) -> list[AuditEntryOut]:
        """Changes to your records: who made each, with which roles, when, what changed and
        in which request. Funder staff read their funder's; an organisation's people read
        their organisation's own records'. Filters: ``entity_type``, ``entity_id``,
        ``actor``, ``action``, ``request_id``, ``occurred_at_gte``, ``occurred_at_lte``,
        ``funder_id``, ``partner_id``, ``id``.
        """
        stmt = _scoped(caller)
        filters = query.filters
        for name, ids in (
            ("id", AuditEntry.id),
            ("funder_id", AuditEntry.funder_id),
            ("partner_id", AuditEntry.partner_id),
        ):
            if name in filters:
                stmt = stmt.where(ids.in_(parse_uuid_list(name, filters[name])))
        for name, column in (
            ("entity_type", AuditEntry.entity_type),
            ("entity_id", AuditEntry.entity_id),
            ("actor", AuditEntry.actor),
            ("action", AuditEntry.action),
            ("request_id", AuditEntry.request_id),
        ):
            if name in filters:
                stmt = stmt.where(column.in_(_text(filters, name)))
        if "occurred_at_gte" in filters:
            stmt = stmt.where(
                AuditEntry.occurred_at >= _moment("occurred_at_gte", filters["occurred_at_gte"])
            )
        if "occurred_at_lte" in filters:
            stmt = stmt.where(
                AuditEntry.occurred_at <= _moment("occurred_at_lte", filters["occurred_at_lte"])
            )
        page = await fetch_page(session, stmt, query, sort_columns=SORTS, id_column=AuditEntry.id)
        page.apply(response, "audit")
        return [
            AuditEntryOut.model_validate({**_fields(entry), "service": service})
            for entry in page.items
        ]

    @api.get("/audit/{audit_id}", response_model=AuditEntryOut)
    async def get_audit_entry(
        audit_id: uuid.UUID, session: SessionDep, caller: CallerDep
    ) -> AuditEntryOut:
        """One audit entry of your records (another's answers 404, as one that does not
        exist)."""
        stmt = _scoped(caller).where(AuditEntry.id == audit_id)
        entry = (await session.execute(stmt)).scalar_one_or_none()
        if entry is None:
            raise NotFound("There is no audit entry with this id.")
        return AuditEntryOut.model_validate({**_fields(entry), "service": service})

    return api


def _scoped(caller: Caller) -> Select[tuple[AuditEntry]]:
    """The audit entries ``caller`` may read: its funder's, or its organisation's own."""
    stmt = select(AuditEntry)
    if caller.has("platform_admin"):
        return stmt
    if caller.staff_funder_id is not None:
        return stmt.where(AuditEntry.funder_id == caller.staff_funder_id)
    if caller.own_partner_id is not None:
        return stmt.where(AuditEntry.partner_id == caller.own_partner_id)
    raise Forbidden("The audit trail is read by a funder's staff or an organisation's people.")


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        column: getattr(entry, column)
        for column in AuditEntryOut.model_fields
        if column != "service"
    }
