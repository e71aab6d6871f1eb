"""``Idempotency-Key`` on writes that move money or create records.

A retry with the same key and the same request replays the first answer
(with ``Idempotent-Replayed: true``); the same key with a different request is
a 422; a retry while the first is still running is a 409. The first answer is
stored in the same transaction as the write it describes, so a replay never
promises something the database did not keep.

A key being worked on names the process working on it (``holder``: host name,
process id, boot id). If that process is known to be gone, the key is free at
once: a process frees the keys of crashed processes on its host when it starts,
and a retry takes over a key whose process, on the same host, no longer exists
(or is this same process id after a container restart). A key held on another
host is taken over once it is ``ABANDONED_AFTER`` old.
"""

import functools
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.common.auth import Caller, get_signed_in_caller
from services.common.db import Database, SessionDep, after_rollback, utcnow
from services.common.errors import BadRequest, Conflict, Problem, Unprocessable
from services.common.models import IdempotencyRecord

HEADER = "Idempotency-Key"
ABANDONED_AFTER = timedelta(minutes=2)

logger = logging.getLogger("trellis.idempotency")


@dataclass(frozen=True)
class Holder:
    """The process that holds a key while it runs its request."""

    host: str
    pid: int
    boot: str

    def __str__(self) -> str:
        return f"{self.host} {self.pid} {self.boot}"

    @classmethod
    def parse(cls, text: str | None) -> "Holder | None":
        host, _, rest = (text or "").partition(" ")
        pid, _, boot = rest.partition(" ")
        return cls(host, int(pid), boot) if host and pid.isdigit() and boot else None


_process: Holder | None = None


def this_process() -> Holder:
    """This process (made afresh in a forked child)."""
    global _process
    if _process is None or _process.pid != os.getpid():
        _process = Holder(socket.gethostname(), os.getpid(), uuid.uuid4().hex)
    return _process


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_gone(holder: Holder | None) -> bool:
    """Whether the process that held a key is known to have ended."""
    me = this_process()
    if holder is None or holder.host != me.host or holder.boot == me.boot:
        return False
    # Same host: our own pid with another boot id is our previous life (a container
    # restarted); any other pid is gone if no such process exists any more.
    return holder.pid == me.pid or not _pid_exists(holder.pid)


async def release_keys_of_ended_processes(db: Database) -> int:
    """At start: free the keys that crashed processes on this host left in flight."""
    me = this_process()
    async with db.sessionmaker() as session, session.begin():
        rows = await session.execute(
            select(IdempotencyRecord.id, IdempotencyRecord.holder).where(
                IdempotencyRecord.completed_at.is_(None),
                IdempotencyRecord.holder.like(f"{me.host} %"),
            )
        )
        ended = [id_ for id_, holder in rows if is_gone(Holder.parse(holder))]
        if ended:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id.in_(ended), IdempotencyRecord.completed_at.is_(None)
                )
            )
    if ended:
        logger.warning(
            "freed idempotency keys left in flight by a process that ended",
            extra={"keys": len(ended)},
        )
    return len(ended)


class Replay(Problem):
    """Raised to answer a retry with the stored first response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("replay", status=record.status_code or 200)
        self.record = record

    def to_response(self, instance: str) -> Response:
        headers = dict(self.record.headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(
            self.record.body or b"",
            status_code=self.record.status_code or 200,
            media_type="application/json",
            headers=headers,
        )


class Idempotency:
    """What a handler uses to answer, so the answer is kept for retries."""

    def __init__(self, record_id: uuid.UUID | None) -> None:
        self.record_id = record_id

    async def respond(
        self,
        session: AsyncSession,
        content: Any,
        *,
        status_code: int = 201,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Build the JSON response and, under a key, store it with the write."""
        body = orjson.dumps(jsonable_encoder(content))
        headers = headers or {}
        if self.record_id is not None:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == self.record_id)
                .values(status_code=status_code, headers=headers, body=body, completed_at=utcnow())
            )
        return Response(
            body, status_code=status_code, media_type="application/json", headers=headers
        )


def owner_of(caller: Caller) -> str:
    """Whose keys these are: the subject within its tenant, not the subject alone.

    Two callers share keys only when every part of who they act as is the same:
    ``sub``, roles, the funder or organisation they act for, the client they use
    and the membership they act under. The same ``sub`` at another funder (or as
    another client) gets its own key space, so it can never replay another
    tenant's answer.
    """
    parts = [
        caller.sub or "",
        " ".join(sorted(caller.roles)),
        str(caller.funder_id or ""),
        str(caller.partner_id or ""),
        caller.client_id or "",
        str(caller.claims.get("mid") or ""),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.url.path.encode() + b"\0" + request.url.query.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _claim(db: Database, owner: str, key: str, fingerprint: str) -> uuid.UUID:
    holder = str(this_process())
    async with db.sessionmaker() as session:
        record = IdempotencyRecord(owner=owner, key=key, fingerprint=fingerprint, holder=holder)
        session.add(record)
        try:
            await session.commit()
            return record.id
        except IntegrityError:
            await session.rollback()
        existing = (
            await session.execute(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.owner == owner, IdempotencyRecord.key == key
                )
            )
        ).scalar_one()
        if existing.fingerprint != fingerprint:
            raise Unprocessable(
                f"This {HEADER} was already used for a different request. "
                "Use a new key for a new request; reuse a key only to retry the same one.",
                slug="idempotency-key-reused",
            )
        if existing.completed_at is not None:
            raise Replay(existing)
        gone = is_gone(Holder.parse(existing.holder))
        if not gone and utcnow() - existing.created_at < ABANDONED_AFTER:
            raise Conflict(
                f"A request with this {HEADER} is still being processed. "
                "Retry in a moment to get its answer.",
                slug="idempotency-in-progress",
            )
        # The first attempt died without answering: this retry takes the key over.
        taken = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == existing.id,
                IdempotencyRecord.created_at == existing.created_at,
                IdempotencyRecord.completed_at.is_(None),
            )
            .values(created_at=utcnow(), holder=holder)
        )
        await session.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                f"A request with this {HEADER} is still being processed.",
                slug="idempotency-in-progress",
            )
        return existing.id


async def _release(record_id: uuid.UUID, session: AsyncSession) -> None:
    """Free a key whose request failed, on the request's own connection.

    The session dependency calls it once it has rolled the failed write back
    (whatever failed it: the handler, the commit, or the request's deadline);
    reusing the connection matters under load: a second checkout while holding
    the first can exhaust the pool when many requests fail at once.
    """
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id, IdempotencyRecord.completed_at.is_(None)
        )
    )
    await session.commit()


async def idempotency(
    request: Request,
    caller: Annotated[Caller, Depends(get_signed_in_caller)],
    session: SessionDep,
) -> AsyncIterator[Idempotency]:
    key = request.headers.get(HEADER)
    if key is None:
        yield Idempotency(None)
        return
    if not 1 <= len(key) <= 255:
        raise BadRequest(
            f"The {HEADER} header must be 1 to 255 characters long.",
            errors={HEADER: ["must be 1 to 255 characters"]},
        )
    db: Database = request.app.state.db
    fingerprint = _fingerprint(request, await request.body())
    record_id = await _claim(db, owner_of(caller), key, fingerprint)
    # If the write is not kept, free the key so a corrected retry can run.
    after_rollback(session, functools.partial(_release, record_id))
    yield Idempotency(record_id)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency, scope="function")]
