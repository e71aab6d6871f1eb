"""The attack test: an operator who copies the feedback database and every log line at any
moment, and the funder's staff who read every API, cannot link an anonymous answer to the
partner who gave it.

Partners take their ballots as the round opens (as the ``trellis_ballot`` client advises)
and cast their answers later, one by one. After every single request the attacker takes a
copy of everything and tries, in turn:

1. rows: any row of any table, in any copy, that holds both a partner and anything of an
   anonymous answer (its ids, ballot hash, words);
2. log lines: the same, in every line logged, and whether casting logged anything of it;
3. transactions: SQLite's WAL, frame by frame, grouped into the transactions that wrote
   them; PostgreSQL's xmin / xmax of every tuple version, live and dead (``pageinspect``):
   any one transaction that wrote both a partner's row and an anonymous answer;
4. physical order: SQLite rowid, PostgreSQL ctid, in every copy, against the order in
   which partners took ballots and answers arrived;
5. freed pages: a changed answer's old words in the database file (SQLite, after a
   checkpoint) or in PostgreSQL's dead tuples of any table that names a partner;
6. the API: whether anything staff can read changes when an anonymous answer arrives;
7. the files' permissions (SQLite): readable by their owner only.

What it cannot rule out (``services/feedback/THREAT_MODEL.md``): someone who watches the
server *while* a partner takes its ballot and casts its answer in the same instant can
pair the two by their timing; the client keeps them apart.
"""

import json
import logging
import shutil
import sqlite3
import stat
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from services.common.logs import _ContextFilter
from services.feedback.responses.repository import empty_sqlite_wal
from tests.feedback.support import API, Funder
from tests.partners.people_helpers import claim
from tests.support import Stack, running_stack
from trellis_ballot import cast, change, take_ballot

IDENTITY_TABLES = ("round_invitations", "responses", "ratings", "audit_log")
ANONYMOUS_TABLES = ("anonymous_responses", "anonymous_ratings")


async def _dump(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, with its physical position (SQLite rowid, PostgreSQL ctid)
    and, on PostgreSQL, the transactions that wrote it (xmin) and locked or deleted it."""
    engine = stack.apps["feedback"].state.db.engine
    postgres = engine.dialect.name == "postgresql"
    tables: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for name in names:
            extra = (
                "(ctid::text::point)[0] * 100000 + (ctid::text::point)[1] AS _pos, "
                "xmin::text AS _xmin, xmax::text AS _xmax, "
                if postgres
                else "rowid AS _pos, "
            )
            rows = await conn.execute(text(f'SELECT {extra} * FROM "{name}"'))
            tables[name] = [dict(r._mapping) for r in rows]
    return tables


async def _tuples(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """PostgreSQL: every tuple version of every table, dead ones included (pageinspect)."""
    engine = stack.apps["feedback"].state.db.engine
    found: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        await conn.commit()
        for table in (*IDENTITY_TABLES, *ANONYMOUS_TABLES):
            rows = await conn.execute(
                text(
                    "SELECT blkno, lp, t_xmin::text AS xmin, t_xmax::text AS xmax, t_data "
                    f"FROM generate_series(0, (pg_relation_size('{table}') / "
                    "current_setting('block_size')::int)::int - 1) AS blkno, "
                    f"LATERAL heap_page_items(get_raw_page('{table}', blkno)) "
                    "WHERE t_xmin IS NOT NULL"
                )
            )
            found[table] = [dict(r._mapping) for r in rows]
    return found


def _wal_transactions(wal: bytes) -> list[bytes]:
    """The page images of each transaction in a SQLite WAL file (every generation of it)."""
    if len(wal) < 32:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    transactions: list[bytes] = []
    current: list[bytes] = []
    offset = 32
    while offset + 24 + page_size <= len(wal):
        _page, commit = struct.unpack(">II", wal[offset : offset + 8])
        current.append(wal[offset + 24 : offset + 24 + page_size])
        offset += 24 + page_size
        if commit:
            transactions.append(b"".join(current))
            current = []
    return transactions


def _s(value: Any) -> str:
    return json.dumps(value, default=str).lower()


class Attacker:
    """Copies everything after each request and keeps what it learnt."""

    def __init__(self, stack: Stack, backend: str, tmp: Path, partners: list[dict]) -> None:
        self.stack = stack
        self.backend = backend
        self.tmp = tmp
        self.partners = partners
        self.copies: list[dict[str, Any]] = []
        self.files: list[tuple[bytes, bytes]] = []
        self.tuples: list[dict[str, list[dict[str, Any]]]] = []

    @property
    def db_path(self) -> Path:
        return Path(self.stack.urls["feedback"].split("///", 1)[1])

    async def copy(self, event: str) -> None:
        tables = await _dump(self.stack)
        self.copies.append({"event": event, "tables": tables})
        if self.backend == "sqlite":
            wal = self.db_path.with_name(self.db_path.name + "-wal")
            self.files.append(
                (self.db_path.read_bytes(), wal.read_bytes() if wal.exists() else b"")
            )
        else:
            self.tuples.append(await _tuples(self.stack))


async def _staff_view(stack: Stack, f: Funder, round_id: str) -> str:
    """Everything the funder's staff can read about the round while it is open."""
    parts = []
    for url in (
        f"{API}/rounds/{round_id}",
        f"{API}/rounds",
        f"{API}/results",
        f"{API}/responses",
        f"{API}/rounds/{round_id}/results",
        f"{API}/rounds/{round_id}/comments",
        f"{API}/scorecards/preview",
    ):
        r = await stack.feedback.get(url, headers=f.staff)
        parts.append(f"{url} {r.status_code} {r.text} {r.headers.get('content-range')}")
    return "\n".join(parts)


async def test_an_attacker_with_every_copy_log_line_and_api_links_no_anonymous_answer(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_stack(backend, tmp_path) as stack:
        # The services configured logging as they start; listen to every line from here
        # on, with what the real lines carry (request id, trace id).
        root = logging.getLogger()
        if caplog.handler not in root.handlers:
            root.addHandler(caplog.handler)
        caplog.handler.addFilter(_ContextFilter("feedback"))
        caplog.set_level(logging.DEBUG)
        record = await stack.new_funder()
        partners = [await stack.new_partner(record["id"]) for _ in range(6)]
        for partner in partners:
            await claim(stack, partner["id"])
        f = Funder(stack, record, partners)
        await f.set(k_threshold=3)
        await f.commitment("We pay on the date we promised")
        await f.commitment("We reply within two weeks")
        round_ = await f.round()
        rid = round_["id"]
        attacker = Attacker(stack, backend, tmp_path, partners)
        await attacker.copy("opened")
        staff_views = [await _staff_view(stack, f, rid)]
        http = stack.feedback

        # Partners 1 to 4 take their ballots as the round opens, one by one.
        ballots = {}
        for i in (1, 2, 3, 4):
            ballots[i] = await take_ballot(http, rid, token=f.partner_token(i))
            await attacker.copy(f"partner {i} took its ballot")
        # Partner 0 answers by name.
        await f.answer(round_, 0, [4, 4], comments=["named-said-this", None])
        await attacker.copy("partner 0 answered by name")
        # Answers arrive one by one, when each partner's people are ready.
        words = {1: "alpha", 2: "omega", 3: "gamma", 4: "delta", 5: "kappa"}
        scores = {1: [1, 1], 2: [5, 5], 3: [3, 2], 4: [2, 2], 5: [4, 1]}
        for i in (3, 1, 5, 4, 2):
            if i == 5:
                # A late partner takes its ballot after some answers are in.
                ballots[5] = await take_ballot(http, rid, token=f.partner_token(5))
                await attacker.copy("partner 5 took its ballot")
            staff_before = await _staff_view(stack, f, rid)
            await cast(
                http,
                ballots[i],
                ratings=[
                    {"commitment_id": c["commitment_id"], "rating": s, "comment": f"{words[i]}-{n}"}
                    for n, (c, s) in enumerate(zip(round_["commitments"], scores[i], strict=True))
                ],
                comment=f"{words[i]}-overall",
            )
            await attacker.copy(f"an anonymous answer arrived ({words[i]})")
            # 6. Nothing staff can read changes when an anonymous answer arrives.
            assert await _staff_view(stack, f, rid) == staff_before
            staff_views.append(staff_before)
        # Partner 1 changes its answer: its old words must not survive in free space.
        await change(
            http,
            ballots[1],
            ratings=[
                {"commitment_id": c["commitment_id"], "rating": 2, "comment": "alpha-changed"}
                for c in round_["commitments"]
            ],
            comment="alpha-changed-overall",
        )
        await attacker.copy("an anonymous answer changed")
        logs = [
            _s({k: v for k, v in rec.__dict__.items() if k not in {"args", "exc_info"}})
            + rec.getMessage().lower()
            for rec in caplog.records
        ]
        access = [
            {"path": rec.path, "request_id": rec.request_id}
            for rec in caplog.records
            if rec.name == "trellis.access" and hasattr(rec, "path")
        ]
        data_dir = tmp_path
        if backend == "sqlite":
            # 5. Freed pages: checkpoint, then read the main file's every byte.
            engine = stack.apps["feedback"].state.db.engine
            await empty_sqlite_wal(engine)
            async with engine.connect() as conn:
                secure_delete = (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar()
            checkpointed = attacker.db_path.read_bytes()
            snapshot = tmp_path / "copy.db"
            shutil.copy(attacker.db_path, snapshot)
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in data_dir.iterdir()
                if p.suffix in {".db"} or p.name.endswith(("-wal", "-shm"))
            }
            dir_mode = stat.S_IMODE(data_dir.stat().st_mode)

    final = attacker.copies[-1]["tables"]
    anonymous_rows = final["anonymous_responses"]
    assert len(anonymous_rows) == 5
    # What identifies each anonymous answer, in any copy: ids, ballot hashes, ballots, words.
    markers: set[str] = set()
    for copy in attacker.copies:
        for table in ANONYMOUS_TABLES:
            for row in copy["tables"][table]:
                markers.add(str(row["id"]).lower())
                markers.add(str(row["id"]).replace("-", "").lower())
                if "ballot_hash" in row:
                    markers.add(row["ballot_hash"])
    for i, word in words.items():
        markers |= {f"{word}-0", f"{word}-1", f"{word}-overall"}
        markers.add(ballots[i].header.split(".")[0].lower())
    markers |= {"alpha-changed", "alpha-changed-overall"}
    identities = [
        (p["id"].lower(), p["id"].replace("-", "").lower(), p["name"].lower()) for p in partners
    ]

    def names_a_partner(blob: str) -> bool:
        return any(any(x in blob for x in ident) for ident in identities)

    # 1. Rows: no row of any table, in any copy, holds both a partner and an anonymous answer;
    #    anonymous rows have no partner and no time at all.
    for copy in attacker.copies:
        for table, rows in copy["tables"].items():
            for row in rows:
                flat = _s(row)
                if names_a_partner(flat):
                    leaked = [m for m in markers if m in flat]
                    assert not leaked, f"{copy['event']}: {table} links a partner to {leaked}"
        for table in ANONYMOUS_TABLES:
            for row in copy["tables"][table]:
                assert not {"partner_id", "partner_name", "submitted_at", "created_at"} & set(row)
    # The audit log says who took a ballot; casting and changing left no entry at all.
    actions = [a["action"] for a in final["audit_log"] if a["entity_id"] == rid]
    assert actions.count("take_ballot") == 5 and actions.count("answer") == 1
    assert not [a for a in final["audit_log"] if "anonymous" in _s(a)]
    # The only events are the round's opening (who was invited, before anyone answered).
    assert {r["event_type"] for r in final["outbox"]} <= {"round.opened"}
    assert not [m for m in markers if m in _s(final["idempotency_keys"])]

    assert len(logs) > 50
    # 2. Log lines: none holds anything of an anonymous answer; none ties a partner to one.
    for line in logs:
        assert not [m for m in markers if m in line], line
        if names_a_partner(line):
            assert "anonymous-responses" not in line, line
    # The requests that took ballots and those that cast answers share no request id.
    issued = {r["request_id"] for r in access if r["path"].endswith("/ballots")}
    casts = {r["request_id"] for r in access if "anonymous-responses" in r["path"]}
    assert len(issued) == 5 and len(casts) == 6 and not issued & casts

    # 3. Transactions: no single one wrote both a partner's row and an anonymous answer.
    if backend == "sqlite":
        partner_bytes = [ident[1].encode() for ident in identities]
        marker_bytes = [m.encode() for m in markers]
        seen = 0
        for _, wal in attacker.files:
            for tx in _wal_transactions(wal):
                seen += 1
                has_partner = any(p in tx for p in partner_bytes)
                has_answer = any(m in tx for m in marker_bytes)
                assert not (has_partner and has_answer), "a WAL transaction links them"
        assert seen > 10
        # And once an anonymous answer is written, the WAL is emptied into the database
        # file: a copy taken afterwards holds no order of writes at all.
        for copy, (_, wal) in zip(attacker.copies, attacker.files, strict=True):
            if "anonymous answer" in copy["event"]:
                assert _wal_transactions(wal) == [], copy["event"]
    else:
        for versions in attacker.tuples:
            identity_xids = {
                x
                for table in IDENTITY_TABLES
                for t in versions[table]
                for x in (t["xmin"], t["xmax"])
                if x not in (None, "0")
            }
            anonymous_xids = {
                x
                for table in ANONYMOUS_TABLES
                for t in versions[table]
                for x in (t["xmin"], t["xmax"])
                if x not in (None, "0")
            }
            assert not identity_xids & anonymous_xids
            # Dead tuples of anonymous tables hold no partner either.
            partner_raw = [uuid.UUID(p["id"]).bytes for p in partners]
            for table in ANONYMOUS_TABLES:
                for t in versions[table]:
                    assert not any(p in bytes(t["t_data"] or b"") for p in partner_raw)
        dead = [
            t for t in attacker.tuples[-1]["anonymous_responses"] if t["xmax"] not in (None, "0")
        ]
        assert dead, "pageinspect saw the dead versions of rewritten answers"

    # 4. Physical order: in every copy, anonymous rows sit in ballot-hash order (random),
    #    whatever the order partners took ballots or answers arrived.
    for copy in attacker.copies:
        rows = copy["tables"]["anonymous_responses"]
        by_position = sorted(rows, key=lambda r: r["_pos"])
        assert [r["ballot_hash"] for r in by_position] == sorted(r["ballot_hash"] for r in rows)
        hash_of = {str(r["id"]): r["ballot_hash"] for r in rows}
        ratings = sorted(copy["tables"]["anonymous_ratings"], key=lambda r: r["_pos"])
        rating_hashes = [hash_of[str(r["response_id"])] for r in ratings]
        assert rating_hashes == sorted(rating_hashes)
        if backend == "postgres" and rows:
            # The last write rewrote them all: one transaction for every anonymous row.
            assert len({r["_xmin"] for r in [*rows, *copy["tables"]["anonymous_ratings"]]}) == 1

    # 5. Freed pages: the changed answer's old words are gone from the database file.
    if backend == "sqlite":
        assert b"alpha-overall" not in checkpointed and b"alpha-0" not in checkpointed
        assert b"alpha-changed-overall" in checkpointed
        # Every connection of the service overwrites what it deletes.
        assert secure_delete == 1
        with sqlite3.connect(snapshot) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # 7. Files readable by their owner only, and the directory that holds them.
    if backend == "sqlite":
        assert modes and all(m == 0o600 for m in modes.values()), modes
        assert dir_mode == 0o700
