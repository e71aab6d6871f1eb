"""Benchmark: the streaming 360Giving export, beside COPY and asyncpg + orjson.

    uv run python -m benchmarks.funding_export [--backend sqlite|postgres] [--grants 100000]

Makes a funder and its partners through the partners API, bulk-inserts the grants
into the funding database (generate_series on PostgreSQL), serves the funding app
with uvicorn on a loopback port (a real socket, so the response really streams) and
downloads ``GET /api/v1/exports/360giving`` (JSON, then CSV) with curl, a separate
process, so the client's work is not counted against the server. It reports grants
per second and the peak Python memory of the server (tracemalloc) over a tenth of the
grants and over all of them: flat memory means the two peaks are about the same.

Beside each figure, in the same run and on the same rows, the references: on
PostgreSQL ``COPY (SELECT the export's columns ...) TO STDOUT`` (the database's own
speed), and the *same bytes* as the export (the script checks the SHA-256 of every
output) written straight from the driver with orjson (JSON) or the csv module (CSV,
cells neutralised), each partner, the funder and each term shaped once: from one
``COPY`` of the rows as text (PostgreSQL; the cheaper way, the reference the ratio is
taken against) and from typed rows (asyncpg's server-side cursor; aiosqlite on SQLite).
A reference's bytes are sent as chunked HTTP from a bare asyncio server and downloaded by
curl, as the export's are. Each figure is the best of two runs taking turns (the typed
reference runs once). It prints the ratios. PostgreSQL:
``TRELLIS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres``.
"""

import asyncio
import csv
import hashlib
import io
import os
import re
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import aiosqlite
import asyncpg
import orjson
import uvicorn
from sqlalchemy import make_url

from benchmarks.funding_common import Seeded, arguments, seeded_stack
from services.common.csvsafe import neutralise
from services.common.money import minor_digits
from services.funding.grants.schedule import major_units_text, term_months
from services.funding.opendata import giving360

COLUMNS = (
    "id, grant_360_id, title, description, currency, amount_awarded, approved_on, "
    "planned_start_date, planned_end_date, partner_id, updated_at"
)
# The same rows as text written by PostgreSQL (see services/funding/opendata/repository.py).
COPY_COLUMNS = (
    "grant_360_id, title, description, currency, amount_awarded, "
    "to_char(approved_on, 'YYYY-MM-DD'), to_char(planned_start_date, 'YYYY-MM-DD'), "
    "to_char(planned_end_date, 'YYYY-MM-DD'), partner_id, "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE "
    "to_char(updated_at AT TIME ZONE 'UTC', 'US') WHEN '000000' THEN '' "
    "ELSE '.' || to_char(updated_at AT TIME ZONE 'UTC', 'US') END || '+00:00'"
)
BATCH = 2000
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(.)")


def _unescape(line: str) -> list[str]:
    """A line of COPY's text format with backslash escapes, as its fields."""
    return [_ESCAPED.sub(lambda m: _ESCAPES.get(m[1], m[1]), f) for f in line.split("\t")]


async def download(url: str, token: str) -> tuple[int, float, str]:
    """Stream the export with curl; (bytes, seconds, SHA-256 of the body)."""
    started = time.perf_counter()
    curl = await asyncio.create_subprocess_exec(
        "curl", "-sS", "--fail", "-H", f"Authorization: {token}", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    digest = hashlib.sha256()
    size = 0
    assert curl.stdout is not None
    while chunk := await curl.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    assert await curl.wait() == 0
    return size, time.perf_counter() - started, digest.hexdigest()


Emit = Callable[[bytes], Awaitable[None]]


async def served(produce: Callable[[Emit], Awaitable[None]], port: int) -> tuple[int, float, str]:
    """What ``produce`` emits, sent as a chunked HTTP/1.1 answer from a bare asyncio server
    and downloaded with curl like the export: the reference pays for the socket as the export
    does. (bytes, seconds, SHA-256)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )

        async def emit(chunk: bytes) -> None:
            if chunk:
                writer.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                await writer.drain()

        await produce(emit)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        return await download(f"http://127.0.0.1:{port}/", "none")


class Reference:
    """The same export written straight from the driver: what the database and orjson allow."""

    def __init__(self, seeded: Seeded, grants: int) -> None:
        self.seeded = seeded
        self.grants = grants
        self.url = make_url(str(seeded.stack.apps["funding"].state.db.engine.url))
        self.postgres = self.url.get_backend_name() == "postgresql"
        self.funder_id = uuid.UUID(seeded.funder["id"])
        self.recipients: dict[Any, dict[str, str]] = {}
        self.funders: list[dict[str, str]] = []
        # Shaped once, as any exporter would: a partner's and the funder's parts, each term.
        self.recipient_json: dict[Any, orjson.Fragment] = {}
        self.recipient_cells: dict[Any, tuple[str, ...]] = {}
        self.funders_json = orjson.Fragment(b"[]")
        self.funder_cells: tuple[str, ...] = ()
        self.terms: dict[Any, orjson.Fragment] = {}
        self.term_cells: dict[Any, tuple[str, str, str]] = {}
        self.digits: dict[str, int] = {}

    async def prepare(self) -> None:
        """The funder and recipients, from the partners service (untimed, as cached)."""
        partners = self.seeded.stack.apps["funding"].state.services["partners"]
        funder = await partners.get_json(f"/internal/funders/{self.funder_id}")
        org = giving360.funder_org(funder)
        self.funders = [org]
        ids = [uuid.UUID(p) for p in self.seeded.partner_ids]
        for start in range(0, len(ids), 100):
            found = await partners.get_json(
                f"/internal/funders/{self.funder_id}/partners",
                params={"ids": [str(i) for i in ids[start : start + 100]]},
            )
            for p in found:
                recipient = giving360.recipient_org(
                    p, partner_id=p["id"], prefix=funder["prefix_360giving"]
                )
                for key in (uuid.UUID(p["id"]), uuid.UUID(p["id"]).hex, str(uuid.UUID(p["id"]))):
                    self.recipients[key] = recipient
                    self.recipient_json[key] = orjson.Fragment(orjson.dumps([recipient]))
                    self.recipient_cells[key] = tuple(
                        neutralise(recipient.get(k, ""))
                        for k in ("id", "name", "charityNumber", "companyNumber")
                    )
        self.funders_json = orjson.Fragment(orjson.dumps(self.funders))
        self.funder_cells = (neutralise(org["id"]), neutralise(org["name"]))

    def _sql(self, columns: str) -> str:
        mark = "$1" if self.postgres else "?"
        return (
            f"SELECT {columns} FROM grants WHERE funder_id = {mark} "
            "AND status IN ('approved', 'active', 'completed') AND grant_360_id IS NOT NULL "
            "ORDER BY list_date, id"
        )

    async def _batches(self) -> Any:
        if self.postgres:
            conn = await asyncpg.connect(
                self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            )
            try:
                async with conn.transaction():
                    cursor = await conn.cursor(self._sql(COLUMNS), self.funder_id)
                    while rows := await cursor.fetch(BATCH):
                        yield rows
            finally:
                await conn.close()
            return
        async with aiosqlite.connect(self.url.database) as conn:
            conn.row_factory = aiosqlite.Row
            async with conn.execute(self._sql(COLUMNS), (self.funder_id.hex,)) as cursor:
                while rows := await cursor.fetchmany(BATCH):
                    yield [self._sqlite_row(r) for r in rows]

    @staticmethod
    def _sqlite_row(row: Any) -> dict[str, Any]:
        out = dict(row)
        for key in ("approved_on", "planned_start_date", "planned_end_date"):
            out[key] = date.fromisoformat(out[key])
        updated = datetime.fromisoformat(out["updated_at"])
        out["updated_at"] = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
        return out

    def _planned(self, start: date, end: date) -> orjson.Fragment:
        """A grant's plannedDates, serialised once per (start, end): grants share terms."""
        found = self.terms.get((start, end))
        if found is None:
            found = self.terms[(start, end)] = orjson.Fragment(
                orjson.dumps(
                    [
                        {
                            "startDate": f"{start}T00:00:00Z",
                            "endDate": f"{end}T00:00:00Z",
                            "duration": term_months(start, end),
                        }
                    ]
                )
            )
        return found

    def _amount(self, amount: int | str, currency: str) -> str:
        digits = self.digits.get(currency)
        if digits is None:
            digits = self.digits[currency] = minor_digits(currency)
        return (
            major_units_text(int(amount), currency)
            if digits != 2
            else (f"{int(amount) // 100}.{int(amount) % 100:02d}")
        )

    def _item(self, r: Any) -> dict[str, Any]:
        return {
            "id": r["grant_360_id"],
            "title": r["title"],
            "description": r["description"],
            "currency": r["currency"],
            "amountAwarded": orjson.Fragment(
                self._amount(r["amount_awarded"], r["currency"]).encode()
            ),
            "awardDate": f"{r['approved_on']}T00:00:00Z",
            "plannedDates": self._planned(r["planned_start_date"], r["planned_end_date"]),
            "recipientOrganization": self.recipient_json[r["partner_id"]],
            "fundingOrganization": self.funders_json,
            "dateModified": r["updated_at"].isoformat(),
        }

    def _cells(self, r: Any) -> list[str]:
        start, end = r["planned_start_date"], r["planned_end_date"]
        return [
            neutralise(r["grant_360_id"]), neutralise(r["title"]),
            neutralise(r["description"]), neutralise(r["currency"]),
            self._amount(r["amount_awarded"], r["currency"]),
            r["approved_on"].isoformat(), start.isoformat(), end.isoformat(),
            str(term_months(start, end)), *self.recipient_cells[r["partner_id"]],
            *self.funder_cells, r["updated_at"].isoformat(),
        ]  # fmt: skip

    async def run(self, fmt: str, emit: Emit) -> None:
        """The export's bytes written from typed rows (asyncpg's cursor, or aiosqlite)."""
        first = True
        await emit(giving360.PACKAGE_START if fmt == "json" else giving360.csv_header(1))
        writer_buffer = io.StringIO()
        writer = csv.writer(writer_buffer, lineterminator="\r\n")
        async for rows in self._batches():
            if fmt == "json":
                chunk = orjson.dumps([self._item(r) for r in rows])[1:-1]
                chunk = chunk if first else b"," + chunk
            else:
                writer.writerows([self._cells(r) for r in rows])
                chunk = writer_buffer.getvalue().encode()
                writer_buffer.seek(0)
                writer_buffer.truncate()
            first = False
            await emit(chunk)
        if fmt == "json":
            await emit(giving360.PACKAGE_END)

    async def run_copied(self, fmt: str, emit: Emit) -> None:
        """The same bytes from ``COPY (the rows, as text) TO STDOUT``, one statement: a line
        split per row and no typed values to decode."""
        first = True
        await emit(giving360.PACKAGE_START if fmt == "json" else giving360.csv_header(1))
        tail = b""
        writer_buffer = io.StringIO()
        writer = csv.writer(writer_buffer, lineterminator="\r\n")
        funder_cells = self.funder_cells

        async def sink(data: bytes) -> None:
            nonlocal tail, first
            data = tail + data
            end = data.rfind(b"\n") + 1
            tail = data[end:]
            lines = data[:end].decode().split("\n")
            lines.pop()
            rows = [line.split("\t") if "\\" not in line else _unescape(line) for line in lines]
            if fmt == "json":
                chunk = orjson.dumps(
                    [
                        {
                            "id": r[0],
                            "title": r[1],
                            "description": r[2],
                            "currency": r[3],
                            "amountAwarded": orjson.Fragment(self._amount(r[4], r[3]).encode()),
                            "awardDate": r[5] + "T00:00:00Z",
                            "plannedDates": self._planned_text(r[6], r[7]),
                            "recipientOrganization": self.recipient_json[r[8]],
                            "fundingOrganization": self.funders_json,
                            "dateModified": r[9],
                        }
                        for r in rows
                    ]
                )[1:-1]
                chunk = chunk if first else b"," + chunk
            else:
                writer.writerows(
                    [
                        neutralise(r[0]),
                        neutralise(r[1]),
                        neutralise(r[2]),
                        neutralise(r[3]),
                        self._amount(r[4], r[3]),
                        r[5],
                        *self._term_text(r[6], r[7]),
                        *self.recipient_cells[r[8]],
                        *funder_cells,
                        r[9],
                    ]
                    for r in rows
                )
                chunk = writer_buffer.getvalue().encode()
                writer_buffer.seek(0)
                writer_buffer.truncate()
            if rows:
                first = False
            await emit(chunk)

        conn = await asyncpg.connect(
            self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            await conn.copy_from_query(self._sql(COPY_COLUMNS), self.funder_id, output=sink)
            if fmt == "json":
                await emit(giving360.PACKAGE_END)
        finally:
            await conn.close()

    def _planned_text(self, start: str, end: str) -> orjson.Fragment:
        found = self.terms.get((start, end))
        if found is None:
            found = self.terms[(start, end)] = self._planned(
                date.fromisoformat(start), date.fromisoformat(end)
            )
        return found

    def _term_text(self, start: str, end: str) -> tuple[str, str, str]:
        found = self.term_cells.get((start, end))
        if found is None:
            months = term_months(date.fromisoformat(start), date.fromisoformat(end))
            found = self.term_cells[(start, end)] = (start, end, str(months))
        return found

    async def copy(self) -> tuple[int, float]:
        """``COPY (the export's rows) TO STDOUT`` as CSV: the database's own speed."""
        if not self.postgres:
            return 0, 0.0
        conn = await asyncpg.connect(
            self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        size = 0

        async def sink(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)

        try:
            started = time.perf_counter()
            await conn.copy_from_query(
                self._sql(COLUMNS), self.funder_id, output=sink, format="csv"
            )
            return size, time.perf_counter() - started
        finally:
            await conn.close()


async def measure(seeded: Seeded, base: str, fmt: str, grants: int) -> dict[str, Any]:
    """Each figure the best of two runs, the export and its references taking turns (the
    machine is shared); then the export once more under tracemalloc for its peak memory."""
    url = f"{base}/api/v1/exports/360giving?format={fmt}"
    token = seeded.staff["Authorization"]
    reference = Reference(seeded, grants)
    await reference.prepare()
    ours, typed, copied = [], [], []
    port = int(base.rsplit(":", 1)[1]) + 5
    for turn in range(2):
        ours.append(await download(url, token))
        if turn == 0 or not reference.postgres:  # the typed one is slower: run once
            typed.append(await served(lambda emit: reference.run(fmt, emit), port))
        if reference.postgres:
            copied.append(await served(lambda emit: reference.run_copied(fmt, emit), port))
    tracemalloc.start()
    await download(url, token)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    copy_size, copy_seconds = await reference.copy()
    size, seconds, digest = min(ours, key=lambda r: r[1])
    # The reference is the cheaper of the two ways to the same bytes from the driver.
    ref_seconds = min(r[1] for r in typed + copied)
    result = {
        "format": fmt,
        "grants": grants,
        "bytes": size,
        "seconds": round(seconds, 2),
        "grants_per_second": round(grants / seconds),
        "peak_python_memory_mib": round(peak / 2**20, 2),
        "reference_grants_per_second": round(grants / ref_seconds),
        "typed_reference_grants_per_second": round(grants / min(r[1] for r in typed)),
        "same_bytes_as_reference": all(
            r[2] == digest and r[0] == size for r in ours + typed + copied
        ),
        "ratio_to_reference": round(ref_seconds / seconds, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    if copied:
        result["copied_reference_grants_per_second"] = round(grants / min(r[1] for r in copied))
    if copy_seconds:
        result["copy_grants_per_second"] = round(grants / copy_seconds)
        result["copy_bytes"] = copy_size
        result["ratio_to_copy"] = round(copy_seconds / seconds, 3)
    return result


async def main() -> None:
    args = arguments(__doc__ or "")
    small = max(1, args.grants // 10)
    results = []
    for run, count in enumerate((small, args.grants)):
        async with seeded_stack(args.backend, count, args.partners) as seeded:
            port = args.port_base + run
            config = uvicorn.Config(
                seeded.stack.apps["funding"],
                host="127.0.0.1",
                port=port,
                lifespan="off",
                log_level="warning",
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.05)
            try:
                for fmt in ("json", "csv"):
                    result = await measure(seeded, f"http://127.0.0.1:{port}", fmt, count)
                    result["backend"] = args.backend
                    print(orjson.dumps(result).decode(), flush=True)
                    results.append(result)
            finally:
                server.should_exit = True
                await task
    for fmt in ("json", "csv"):
        a, b = (r for r in results if r["format"] == fmt)
        print(
            f"{args.backend} {fmt}: {b['grants']:,} grants at {b['grants_per_second']:,}/s "
            f"({b['ratio_to_reference']}x asyncpg/aiosqlite + orjson/csv at "
            f"{b['reference_grants_per_second']:,}/s"
            + (f"; {b['ratio_to_copy']}x COPY" if "ratio_to_copy" in b else "")
            + f"; load {b['load_average']}); peak memory {a['peak_python_memory_mib']} MiB at {a['grants']:,} grants, "
            f"{b['peak_python_memory_mib']} MiB at {b['grants']:,}"
        )


if __name__ == "__main__":
    asyncio.run(main())
