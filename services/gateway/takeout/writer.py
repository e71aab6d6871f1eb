"""Writing a takeout: JSON Lines and CSV per list, and a README, into one zip, flat in memory.

Rows arrive a page at a time and go straight to disk: JSON Lines into the zip, CSV into
a temporary file copied in once the list is done (a zip takes one entry at a time). File
work runs in a worker thread so the gateway's event loop never waits on the disk.
"""

import asyncio
import csv
import io
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from services.common.csvsafe import neutralise


def csv_cell(value: Any) -> str:
    """One value as a CSV cell: text as is (formulas neutralised, see ``csvsafe``), the rest
    as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


class ListFile:
    """One list being written: its JSON Lines entry in the zip and its CSV beside it."""

    def __init__(self, archive: zipfile.ZipFile, name: str, columns: tuple[str, ...], tmp: Path):
        self.archive = archive
        self.name = name
        self.columns = columns
        self.rows = 0
        self._csv_path = tmp / f"{name}.csv"
        self._jsonl: IO[bytes] | None = None
        self._csv: IO[str] | None = None

    def _open(self) -> None:
        self._jsonl = self.archive.open(f"{self.name}.jsonl", "w", force_zip64=True)
        self._csv = self._csv_path.open("w", newline="", encoding="utf-8")
        csv.writer(self._csv).writerow(self.columns)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        assert self._jsonl is not None and self._csv is not None
        self._jsonl.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
        writer = csv.writer(self._csv)
        writer.writerows([csv_cell(row.get(column)) for column in self.columns] for row in rows)

    def _close(self) -> None:
        assert self._jsonl is not None and self._csv is not None
        self._jsonl.close()
        self._csv.close()
        with (
            self._csv_path.open("rb") as source,
            self.archive.open(f"{self.name}.csv", "w", force_zip64=True) as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
        self._csv_path.unlink()

    async def __aenter__(self) -> "ListFile":
        await asyncio.to_thread(self._open)
        return self

    async def write(self, rows: list[dict[str, Any]]) -> None:
        self.rows += len(rows)
        await asyncio.to_thread(self._write, rows)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._close)


def readme(
    *, who: str, started: str, files: Iterable[tuple[str, str, tuple[str, ...], int]]
) -> str:
    """The README of a takeout: what each file is, where it comes from, and its columns."""
    lines = [
        "# Your Trellis takeout",
        "",
        f"Everything {who} could list through the Trellis API when this takeout ran "
        f"(started {started}). Each list is here twice: `<name>.jsonl` (one JSON record a "
        "line, exactly as the API answers it) and `<name>.csv` (the same rows; nested values "
        "are JSON text; a cell that a spreadsheet would run as a formula starts with an "
        "apostrophe). Money is in minor units (pence) beside its currency; times are UTC.",
        "",
        "| file | rows | read from | columns |",
        "| --- | --- | --- | --- |",
    ]
    for name, source, columns, rows in files:
        lines.append(f"| `{name}` | {rows} | `GET {source}` | {', '.join(columns)} |")
    return "\n".join(lines) + "\n"


def add_text(archive: zipfile.ZipFile, name: str, text: str) -> None:
    with archive.open(name, "w") as target, io.TextIOWrapper(target, encoding="utf-8") as out:
        out.write(text)
