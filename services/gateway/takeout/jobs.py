"""Takeout jobs: started by a caller, run in the gateway process, kept on disk.

A job's state is a small JSON file beside its zip under ``$TRELLIS_DATA_DIR/takeouts``,
written atomically, so its status and download outlive the request that started it.
The caller's token lives only in the running task's memory, never on disk. A job
whose gateway process stopped before it finished reads as failed ("start it again").
"""

import asyncio
import contextlib
import logging
import os
import tempfile
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.common.auth import Caller
from services.gateway.takeout.catalogue import Listing, listings
from services.gateway.takeout.writer import ListFile, add_text, readme
from services.gateway.views.compose import PAGE, Calls, Refused, Unavailable

logger = logging.getLogger("trellis.gateway.takeout")

#: This process (its pid, then a random part): a running job recorded by another process
#: is still running if that process is alive (``trellis serve gateway --workers N`` runs
#: several side by side on one data directory), and failed if it has gone.
BOOT = f"{os.getpid()}-{uuid.uuid4().hex}"

#: Nested lists read at once (one per parent row): each is a round trip to a service, so
#: reading a few together keeps the services busy; the rows of at most this many parents
#: are held in memory before they are written, in their parents' order.
NESTED_AT_ONCE = 8


def _running_elsewhere(boot: str) -> bool:
    """Whether the gateway process that recorded ``boot`` is another one, still alive."""
    pid, _, _ = boot.partition("-")
    if boot == BOOT or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_of(caller: Caller) -> str:
    """Whose takeouts these are: the person or system, and the organisation it acts for."""
    tenant = (
        f"funder:{caller.staff_funder_id}"
        if caller.has("funder_staff")
        else f"partner:{caller.own_partner_id}"
        if caller.has("partner")
        else "none"
    )
    return f"{tenant}|{caller.sub}"


@dataclass
class Job:
    id: str
    owner: str
    status: str
    created_at: str
    boot: str
    finished_at: str | None = None
    error: str | None = None
    size: int | None = None
    files: dict[str, int] = field(default_factory=dict)
    """Rows written per file (JSON Lines and CSV alike)."""


class TakeoutStore:
    """The jobs on disk, and the tasks running them in this process."""

    def __init__(self, root: Path, *, keep: timedelta) -> None:
        self.root = root
        self.keep = keep
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _state(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def archive(self, job_id: str) -> Path:
        return self.root / f"{job_id}.zip"

    def _save(self, job: Job) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".job-")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(asdict(job)))
        os.replace(tmp, self._state(job.id))

    def _load(self, job_id: str) -> Job | None:
        try:
            job = Job(**orjson.loads(self._state(job_id).read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
            return None
        if (
            job.status in {"queued", "running"}
            and job.boot != BOOT
            and not _running_elsewhere(job.boot)
        ):
            job.status, job.error = (
                "failed",
                "The gateway restarted during this takeout; start it again.",
            )
        return job

    async def get(self, job_id: str, owner: str) -> Job | None:
        """The job if it is this owner's (anyone else's reads as absent)."""
        try:
            uuid.UUID(job_id)
        except ValueError:
            return None
        job = await asyncio.to_thread(self._load, job_id)
        return job if job is not None and job.owner == owner else None

    async def of_owner(self, owner: str) -> list[Job]:
        def scan() -> list[Job]:
            if not self.root.exists():
                return []
            jobs = [self._load(p.stem) for p in self.root.glob("*.json")]
            return [j for j in jobs if j is not None and j.owner == owner]

        jobs = await asyncio.to_thread(scan)
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    async def start(self, *, owner: str, calls: Calls, document: dict[str, Any], who: str) -> Job:
        await asyncio.to_thread(self._forget_old)
        job = Job(
            id=str(uuid.uuid4()),
            owner=owner,
            status="running",
            created_at=datetime.now(UTC).isoformat(),
            boot=BOOT,
        )
        await asyncio.to_thread(self._save, job)
        task = asyncio.create_task(self._run(job, calls, listings(document), who))
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))
        return job

    async def delete(self, job: Job) -> None:
        task = self._tasks.get(job.id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        def remove() -> None:
            self.archive(job.id).unlink(missing_ok=True)
            self._state(job.id).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def close(self) -> None:
        """Stop the jobs of this process (they read as failed afterwards)."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _forget_old(self) -> None:
        if not self.root.exists():
            return
        cutoff = (datetime.now(UTC) - self.keep).isoformat()
        for state in self.root.glob("*.json"):
            job = self._load(state.stem)
            if job is not None and job.created_at < cutoff:
                self.archive(job.id).unlink(missing_ok=True)
                state.unlink(missing_ok=True)

    async def _run(self, job: Job, calls: Calls, lists: list[Listing], who: str) -> None:
        path = self.archive(job.id)
        try:
            with tempfile.TemporaryDirectory(dir=self.root) as scratch:
                archive = await asyncio.to_thread(
                    zipfile.ZipFile, path, "w", zipfile.ZIP_DEFLATED, True, 6
                )
                try:
                    written = await _write_all(archive, calls, lists, Path(scratch))
                    text = readme(who=who, started=job.created_at, files=written)
                    await asyncio.to_thread(add_text, archive, "README.md", text)
                finally:
                    await asyncio.to_thread(archive.close)
            job.files = {f"{name}.jsonl": rows for name, _, _, rows in written}
            job.size = path.stat().st_size
            job.status = "done"
        except asyncio.CancelledError:
            job.status, job.error = "failed", "The takeout was stopped before it finished."
            path.unlink(missing_ok=True)
            raise
        except Refused as exc:
            job.status = "failed"
            job.error = (
                f"The {exc.service} service refused a read ({exc.status}); if your access "
                "token expired during the takeout, sign in again and start it again."
            )
            path.unlink(missing_ok=True)
        except Unavailable as exc:
            job.status = "failed"
            job.error = (
                f"The {exc.service} service is unavailable: {exc.why}. Start it again later."
            )
            path.unlink(missing_ok=True)
        finally:
            job.finished_at = datetime.now(UTC).isoformat()
            await asyncio.to_thread(self._save, job)


async def _pages(calls: Calls, listing: Listing, path: str) -> Any:
    """Every page of one list, by cursor where the list gives one, else by offset."""
    start, cursor = 0, None
    while True:
        params: dict[str, Any] = {"range": [start, start + PAGE - 1]}
        if cursor:
            params["cursor"] = cursor
        answer = await calls.get_url(listing.service, path, **params)
        rows = answer.body or []
        if rows:
            yield rows
        start += len(rows)
        cursor = answer.next_cursor
        total = answer.total
        if (
            not rows
            or (total is not None and start >= total)
            or (cursor is None and len(rows) < PAGE)
        ):
            return


async def _nested_rows(calls: Calls, child: Listing, parent_id: str) -> list[dict[str, Any]]:
    """Every row of one parent's nested list (none if the caller's role does not read it)."""
    rows: list[dict[str, Any]] = []
    try:
        async for page in _pages(calls, child, _fill(child.path, parent_id)):
            rows.extend(page)
    except Refused as exc:
        # A row the caller reads whose nested list its role does not (or that went away
        # meanwhile) is skipped, not the takeout.
        if exc.status not in {403, 404}:
            raise
    return rows


class IdSpool:
    """Row ids of a parent list, kept on disk (not in memory) until its nested lists are read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def add(self, rows: list[dict[str, Any]]) -> None:
        text = "".join(f"{row['id']}\n" for row in rows if "id" in row)

        def append() -> None:
            with self.path.open("a") as out:
                out.write(text)

        await asyncio.to_thread(append)

    async def chunks(self, size: int = 1000) -> Any:
        """The ids in chunks of ``size``, read from disk as needed."""
        if not self.path.exists():
            return
        handle = await asyncio.to_thread(self.path.open)
        try:
            while True:
                lines = await asyncio.to_thread(handle.readlines, size * 37)
                if not lines:
                    return
                yield [line.strip() for line in lines if line.strip()]
        finally:
            await asyncio.to_thread(handle.close)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _fill(path: str, value: str) -> str:
    """A nested list's path with its one ``{parameter}`` filled in."""
    return path[: path.index("{")] + value + path[path.index("}") + 1 :]


async def _write_all(
    archive: zipfile.ZipFile, calls: Calls, lists: list[Listing], scratch: Path
) -> list[tuple[str, str, tuple[str, ...], int]]:
    """Every list the caller can read, and the nested lists of each of its rows."""
    written: list[tuple[str, str, tuple[str, ...], int]] = []
    for listing in lists:
        pages = _pages(calls, listing, listing.path)
        try:
            first = await anext(pages, None)
        except Refused as exc:
            if exc.status in {403, 404}:
                continue  # a list this caller's role does not read: not in its takeout
            raise
        spool = IdSpool(scratch / f"{listing.name}.ids")
        async with ListFile(archive, listing.name, listing.columns, scratch) as out:
            if first is not None:
                await out.write(first)
                if listing.children:
                    await spool.add(first)
                async for rows in pages:
                    await out.write(rows)
                    if listing.children:
                        await spool.add(rows)
        written.append((listing.name, listing.path, listing.columns, out.rows))
        for child in listing.children:
            async with ListFile(archive, child.name, child.columns, scratch) as out:
                async for chunk in spool.chunks():
                    for at in range(0, len(chunk), NESTED_AT_ONCE):
                        window = chunk[at : at + NESTED_AT_ONCE]
                        for rows in await asyncio.gather(
                            *(_nested_rows(calls, child, parent_id) for parent_id in window)
                        ):
                            if rows:
                                await out.write(rows)
            written.append((child.name, child.path, child.columns, out.rows))
        await asyncio.to_thread(spool.remove)
    return written
