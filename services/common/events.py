"""Receiving events from other services at ``/internal/events``, once per event id."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from services.common.auth import ServiceCallerDep
from services.common.db import SessionDep
from services.common.errors import Conflict
from services.common.models import InboxEvent


class Event(BaseModel):
    """The envelope every Trellis event travels in."""

    id: uuid.UUID
    type: str
    source: str
    occurred_at: datetime
    data: dict[str, Any]


EventHandler = Callable[..., Awaitable[None]]


def combine(*tables: dict[str, EventHandler]) -> dict[str, EventHandler]:
    """One table of handlers from several: each event runs every handler of its type, in
    the order the tables are given, in the same transaction."""
    grouped: dict[str, list[EventHandler]] = {}
    for table in tables:
        for event_type, handler in table.items():
            grouped.setdefault(event_type, []).append(handler)
    return {t: hs[0] if len(hs) == 1 else _all_of(hs) for t, hs in grouped.items()}


def _all_of(handlers: list[EventHandler]) -> EventHandler:
    async def each(*, session: Any, event: "Event") -> None:
        for handler in handlers:
            await handler(session=session, event=event)

    return each


def events_router(handlers: dict[str, EventHandler]) -> APIRouter:
    """The internal endpoint that consumes events with ``handlers[type](session=, event=)``.

    An event id seen before is acknowledged and not handled again; the handler's
    writes and the inbox row commit together, so a crash mid-way is retried whole.
    """
    router = APIRouter()

    @router.post("/internal/events", include_in_schema=False)
    async def receive(event: Event, session: SessionDep, _: ServiceCallerDep) -> dict[str, str]:
        if await session.get(InboxEvent, event.id) is not None:
            return {"status": "duplicate"}
        session.add(InboxEvent(event_id=event.id, event_type=event.type, source=event.source))
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict("This event is being handled already; it will be acknowledged.") from exc
        handler = handlers.get(event.type)
        if handler is not None:
            await handler(session=session, event=event)
            return {"status": "handled"}
        return {"status": "ignored"}

    return router
