"""Anonymity by construction: an attacker who reads every table and every log line cannot
link an anonymous answer to the partner who gave it."""

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.feedback.support import API, Funder
from tests.support import Stack, running_stack


async def _dump(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the feedback database, with its physical position
    (SQLite rowid; PostgreSQL ctid) and, on PostgreSQL, the transaction that wrote it."""
    engine = stack.apps["feedback"].state.db.engine
    postgres = engine.dialect.name == "postgresql"
    tables: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for name in names:
            extra = (
                "(ctid::text::point)[0] * 100000 + (ctid::text::point)[1] AS _pos, "
                "xmin::text AS _xmin, "
                if postgres
                else "rowid AS _pos, "
            )
            rows = await conn.execute(text(f'SELECT {extra} * FROM "{name}"'))
            tables[name] = [dict(r._mapping) for r in rows]
    return tables


def _strings(value: Any) -> str:
    return json.dumps(value, default=str).lower()


async def test_an_attacker_with_every_table_and_log_line_cannot_link_an_anonymous_answer(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_stack(backend, tmp_path) as stack:
        record = await stack.new_funder()
        partners = [await stack.new_partner(record["id"]) for _ in range(5)]
        f = Funder(stack, record, partners)
        await f.commitment("We pay on the date we promised")
        await f.commitment("We reply within two weeks")
        round_ = await f.round()
        caplog.clear()

        await f.answer(round_, 0, [4, 4], comments=["named-said-this", None])
        secrets_of: dict[int, dict[str, Any]] = {}
        for i, (scores, word) in {
            1: ([1, 1], "alpha"),
            2: ([5, 5], "omega"),
            3: ([3, 2], "gamma"),
        }.items():
            out = await f.answer(
                round_,
                i,
                scores,
                anonymous=True,
                comments=[f"{word}-one", f"{word}-two"],
                comment=f"{word}-overall",
            )
            secrets_of[i] = {
                "receipt": out["receipt"],
                "words": [f"{word}-one", f"{word}-two", f"{word}-overall"],
            }
        # Partner 1 changes its anonymous answer with its receipt.
        r = await stack.feedback.put(
            f"{API}/rounds/{round_['id']}/responses/anonymous",
            headers={**f.partner(1), "X-Response-Receipt": secrets_of[1]["receipt"]},
            json={
                "ratings": [
                    {"commitment_id": c["commitment_id"], "rating": 2, "comment": "alpha-one"}
                    for c in round_["commitments"]
                ],
                "comment": "alpha-overall",
            },
        )
        assert r.status_code == 200, r.text
        secrets_of[1]["words"] = ["alpha-one", "alpha-overall"]
        logs = [
            _strings({k: v for k, v in rec.__dict__.items() if k not in {"args", "exc_info"}})
            + rec.getMessage().lower()
            for rec in caplog.records
        ]
        tables = await _dump(stack)

    anonymous_rows = [r for r in tables["responses"] if r["anonymous"]]
    assert len(anonymous_rows) == 3
    anon_ids = {str(r["id"]) for r in anonymous_rows}
    anon_ratings = [r for r in tables["ratings"] if str(r["response_id"]) in anon_ids]
    # What identifies each anonymous answer: its ids, its receipt and receipt hash, its words.
    markers: list[str] = [*anon_ids, *(str(r["id"]) for r in anon_ratings)]
    markers += [r["receipt_hash"] for r in anonymous_rows]
    for s in secrets_of.values():
        markers += [s["receipt"].lower(), *s["words"]]
    markers = [m.lower() for m in markers]

    # 1. The anonymous rows carry no partner and no time.
    for row in [*anonymous_rows, *anon_ratings]:
        assert row.get("partner_id") is None and row.get("partner_name") is None
        assert row.get("submitted_at") is None and row.get("changed_at") is None
    for p in partners:
        pid, name = p["id"].lower(), p["name"].lower()
        # 2. No row of any table that names a partner holds anything of an anonymous answer.
        for table, rows in tables.items():
            for row in rows:
                flat = _strings(row)
                if pid in flat or name in flat:
                    leaked = [m for m in markers if m in flat]
                    assert not leaked, f"{table} links {p['name']} to {leaked}"
        # 3. No log line that names a partner holds anything of an anonymous answer.
        for line in logs:
            if pid in line or name in line:
                assert not [m for m in markers if m in line], line
    # 4. No log line holds anything of an anonymous answer at all.
    for line in logs:
        assert not [m for m in markers if m in line], line
    # 5. What the audit log says of anonymous answers: who answered (as for a named one),
    #    and on which day some anonymous answer changed, with no actor or request id.
    anonymous_audit = [a for a in tables["audit_log"] if a["actor"] == "anonymous"]
    assert len(anonymous_audit) == 1
    assert anonymous_audit[0]["request_id"] is None
    assert set(str(anonymous_audit[0]["occurred_at"])[11:]) <= set("0:.+ ")  # midnight
    answered = [a for a in tables["audit_log"] if a["action"] == "answer"]
    assert len(answered) == 4 and all(a["changes"] in ({}, "{}") for a in answered)
    # 6. Order tells nothing: rows sit in the order of their (random) receipt hashes, not
    #    in the order partners answered; on PostgreSQL one transaction wrote them all.
    by_position = sorted(anonymous_rows, key=lambda r: r["_pos"])
    assert [r["receipt_hash"] for r in by_position] == sorted(
        r["receipt_hash"] for r in anonymous_rows
    )
    hash_of = {str(r["id"]): r["receipt_hash"] for r in anonymous_rows}
    rating_hashes = [
        hash_of[str(r["response_id"])] for r in sorted(anon_ratings, key=lambda r: r["_pos"])
    ]
    assert rating_hashes == sorted(rating_hashes)
    if backend == "postgres":
        assert len({r["_xmin"] for r in [*anonymous_rows, *anon_ratings]}) == 1
        invitations = {r["_xmin"] for r in tables["round_invitations"] if r["answered"]}
        assert not invitations & {r["_xmin"] for r in anonymous_rows}
    # 7. The invitations say only who answered: no time, no link.
    assert {c for c in tables["round_invitations"][0]} <= {
        "_pos",
        "_xmin",
        "id",
        "round_id",
        "partner_id",
        "answered",
    }
    # 8. Nothing of it is kept for idempotent replays, and no event went out.
    assert not [m for m in markers if m in _strings(tables["idempotency_keys"])]
    assert tables["outbox"] == []


async def test_anonymous_answers_given_at_once_are_all_kept(stack: Stack, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite serialises writers itself")
    record = await stack.new_funder()
    partners = [await stack.new_partner(record["id"]) for _ in range(6)]
    f = Funder(stack, record, partners)
    await f.commitment("We pay on time")
    round_ = await f.round()
    await asyncio.gather(*(f.answer(round_, i, [i % 5 + 1], anonymous=True) for i in range(6)))
    await f.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.json()[0]["responses"] == 6
