"""``/internal/outbox``: the operator's view of event deliveries that have not been made.

For callers with the ``service`` or ``platform_admin`` role, inside the network
(the gateway does not route ``/internal``). The same as ``trellis events
list|redeliver``, for tools that speak HTTP.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.auth import Caller, require_roles
from services.common.db import SessionDep, after_commit
from services.common.outbox import State, deliveries_query, describe, redeliver_statement

OperatorDep = Annotated[Caller, require_roles("service", "platform_admin")]


class Redeliver(BaseModel):
    """Which deliveries to make due now: the given events', or every dead one."""

    model_config = ConfigDict(extra="forbid")

    event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    all_dead: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> "Redeliver":
        if bool(self.event_ids) == self.all_dead:
            raise ValueError("give either event_ids or all_dead: true")
        return self


def outbox_router() -> APIRouter:
    router = APIRouter(prefix="/internal/outbox", include_in_schema=False)

    @router.get("")
    async def list_deliveries(
        session: SessionDep,
        _: OperatorDep,
        state: State = "all",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Undelivered event deliveries, oldest first: waiting (being retried) and dead."""
        rows = (await session.scalars(deliveries_query(state, limit=limit))).all()
        return [describe(row) for row in rows]

    @router.post("/redeliver")
    async def redeliver(
        body: Redeliver, request: Request, session: SessionDep, _: OperatorDep
    ) -> dict[str, int]:
        """Make the chosen deliveries due now; dead ones are tried again."""
        dispatcher = request.app.state.dispatcher
        result = await session.execute(
            redeliver_statement(
                dispatcher.clock(), event_ids=body.event_ids, all_dead=body.all_dead
            )
        )
        after_commit(session, request.app.state.outbox.wake.set)
        return {"redelivered": result.rowcount}  # type: ignore[attr-defined]

    return router
