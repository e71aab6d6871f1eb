"""Benchmark: search over many reflective updates, beside a plain list page in the same run.

    uv run python -m benchmarks.search --backend postgres --updates 1000000
    uv run python -m benchmarks.search --backend sqlite --updates 100000

One funder and its partners are made through the API; the updates are
bulk-inserted straight into the partners database (the search path is what is
measured, not how the rows got there). The index follows by the database's own
triggers, exactly as for updates sent through the API. Texts are drawn from a
fixed vocabulary with a few planted words: "volunteering" in about 1 % of the
updates, "café" in about 0.1 %, the phrase "energy costs" in about 5 %.

The funder's staff have tagged about 1 % of the updates "energy costs" (its own
tags, bulk-inserted too), and there are thread messages from feedback (one for
every 20 updates, as the partners service keeps them from ``thread.message``).

It times ``GET /api/v1/search`` (the first page of 25, best first, with the
total counted and snippets made) for a rare word, an accented word, a phrase, a
common word, a rare word filtered to one partner, a word among the funder's
tagged records, the tagged records alone (no words), and a word in threads'
messages; and, as the reference in the same run, ``GET /api/v1/updates`` (the first page of 25 of the same rows,
newest first). Each figure is the median of repeated requests, interleaved.
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from services.partners.learning.models import Tag
from services.partners.search.models import ThreadMessageCopy
from services.partners.updates.models import Update
from tests.support import running_stack

REPEATS = 15
VOCABULARY = (
    "we the young people families club sessions evening weekend staff worker team board "
    "trustees community centre hall kitchen garden food bank rent building heating winter "
    "summer school holiday trips learned listening changed moved started stopped grew "
    "funding council partners local city neighbourhood advice money debt housing health "
    "mental wellbeing isolation older carers parents children music art sport football "
    "training course mentors peer support group meeting visit plan strategy review hard "
    "difficult slowly together trust honest proud tired waiting list referrals demand"
).split()


def text(rng: random.Random, words: int) -> str:
    body = [rng.choice(VOCABULARY) for _ in range(words)]
    if rng.random() < 0.01:
        body.insert(rng.randrange(len(body)), "volunteering")
    if rng.random() < 0.001:
        body.insert(rng.randrange(len(body)), "café")
    if rng.random() < 0.05:
        at = rng.randrange(len(body))
        body[at:at] = ["energy", "costs"]
    return " ".join(body).capitalize() + "."


async def bulk_updates(stack, funder_id: uuid.UUID, partner_ids: list[uuid.UUID], count: int):
    rng = random.Random(18)
    db = stack.apps["partners"].state.db
    start = datetime(2020, 1, 1, tzinfo=UTC)
    chunk = 5000
    for offset in range(0, count, chunk):
        rows = []
        for _ in range(offset, min(count, offset + chunk)):
            sent = start + timedelta(minutes=rng.randrange(6 * 365 * 24 * 60))
            rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "submission_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "partner_id": rng.choice(partner_ids),
                    "funder_id": funder_id,
                    "sent_at": sent,
                    "sent_by": "Benchmark",
                    "what_changed": text(rng, 25),
                    "what_we_learned": text(rng, 20),
                    "what_was_hard": None,
                    "want_you_to_know": None,
                    "document_ids": [],
                    "links": [],
                    "reply_count": 0,
                    "last_activity_at": sent,
                }
            )
        tags = [
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "funder_id": funder_id,
                "subject_kind": "update",
                "subject_id": row["id"],
                "partner_id": row["partner_id"],
                "tag": "energy costs",
                "key": "energy costs",
                "created_by": "Benchmark",
                "created_at": row["sent_at"],
            }
            for row in rows
            if rng.random() < 0.01
        ]
        messages = [
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "thread_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "funder_id": funder_id,
                "partner_id": row["partner_id"],
                "subject": "A question",
                "body": text(rng, 30),
                "created_at": row["sent_at"],
            }
            for row in rows[::20]
        ]
        async with db.sessionmaker() as session, session.begin():
            await session.execute(insert(Update), rows)
            if tags:
                await session.execute(insert(Tag), tags)
            await session.execute(insert(ThreadMessageCopy), messages)
        if offset and offset % 100_000 == 0:
            print(f"  {offset:,} updates", flush=True)
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
        await conn.commit()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_stack(args.backend, Path(tmp), max_page_size=100) as stack:
            funder = await stack.new_funder()
            partner_ids = [
                uuid.UUID((await stack.new_partner(funder["id"]))["id"])
                for _ in range(args.partners)
            ]
            started = time.perf_counter()
            await bulk_updates(stack, uuid.UUID(funder["id"]), partner_ids, args.updates)
            print(
                f"bulk-inserted {args.updates:,} updates (indexed by the triggers) "
                f"in {time.perf_counter() - started:.1f}s on {args.backend}"
            )
            staff = stack.tokens.staff(funder["id"])
            one_partner = f'{{"partner_id":"{partner_ids[0]}"}}'
            tagged = '{"tag":"energy costs"}'
            variants = {
                "search a rare word (volunteer)": ("/api/v1/search", {"q": "volunteer"}),
                "search an accented word (cafe)": ("/api/v1/search", {"q": "cafe"}),
                'search a phrase ("energy costs")': (
                    "/api/v1/search",
                    {"q": '"energy costs"'},
                ),
                "search a common word (community)": ("/api/v1/search", {"q": "community"}),
                "search a rare word, one partner": (
                    "/api/v1/search",
                    {"q": "volunteer", "filter": one_partner},
                ),
                "search a rare word, by date": (
                    "/api/v1/search",
                    {"q": "volunteer", "sort": '["at","DESC"]'},
                ),
                "search a common word, tagged": (
                    "/api/v1/search",
                    {"q": "community", "filter": tagged},
                ),
                "tagged records, no words, by date": ("/api/v1/search", {"filter": tagged}),
                "search threads (volunteer)": (
                    "/api/v1/search",
                    {"q": "volunteer", "filter": '{"kind":"thread"}'},
                ),
                "reference: list updates, first page": ("/api/v1/updates", {}),
            }
            client = stack.partners
            samples: dict[str, list[float]] = {name: [] for name in variants}
            totals: dict[str, str] = {}
            for path, params in variants.values():
                await client.get(path, headers=staff, params=params)
            for _ in range(REPEATS):
                for name, (path, params) in variants.items():
                    began = time.perf_counter()
                    response = await client.get(path, headers=staff, params=params)
                    samples[name].append(time.perf_counter() - began)
                    assert response.status_code == 200, response.text
                    totals[name] = response.headers["content-range"]
            reference = statistics.median(samples["reference: list updates, first page"])
            print(f"\n{args.updates:,} updates on {args.backend}, median of {REPEATS} requests:")
            for name, values in samples.items():
                median = statistics.median(values)
                print(
                    f"  {name:38} {median * 1000:8.1f} ms  "
                    f"({median / reference:5.1f}x reference)  {totals[name]}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Search over many reflective updates.")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
