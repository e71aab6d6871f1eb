"""Rounds answered before ballots keep their answers, their receipts and their results."""

import asyncio
import hashlib
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from services.common.db import sync_url
from services.common.migrate import alembic_config, upgrade
from tests.feedback.support import API, Funder
from tests.partners.people_helpers import claim
from tests.support import running_stack

LEGACY_RESPONSES = sa.table(
    "responses",
    sa.column("id", sa.Uuid()),
    sa.column("round_id", sa.Uuid()),
    sa.column("anonymous", sa.Boolean()),
    sa.column("receipt_hash", sa.String()),
    sa.column("comment", sa.Text()),
)
LEGACY_RATINGS = sa.table(
    "ratings",
    sa.column("id", sa.Uuid()),
    sa.column("response_id", sa.Uuid()),
    sa.column("round_id", sa.Uuid()),
    sa.column("commitment_id", sa.Uuid()),
    sa.column("commitment_version_id", sa.Uuid()),
    sa.column("anonymous", sa.Boolean()),
    sa.column("score", sa.SmallInteger()),
    sa.column("comment", sa.Text()),
)


def _add_legacy_anonymous(url: str, round_: dict, receipts: list[str]) -> None:
    """Anonymous answers as revision 0002 stored them: in ``responses``/``ratings``."""
    engine = sa.create_engine(sync_url(url))
    commitment = round_["commitments"][0]
    with engine.begin() as conn:
        for n, receipt in enumerate(receipts):
            response_id = uuid.uuid4()
            conn.execute(
                sa.insert(LEGACY_RESPONSES).values(
                    id=response_id,
                    round_id=uuid.UUID(round_["id"]),
                    anonymous=True,
                    receipt_hash=hashlib.sha256(receipt.encode()).hexdigest(),
                    comment=f"legacy comment {n}",
                )
            )
            conn.execute(
                sa.insert(LEGACY_RATINGS).values(
                    id=uuid.uuid4(),
                    response_id=response_id,
                    round_id=uuid.UUID(round_["id"]),
                    commitment_id=uuid.UUID(commitment["commitment_id"]),
                    commitment_version_id=uuid.UUID(commitment["commitment_version_id"]),
                    anonymous=True,
                    score=1,
                    comment=None,
                )
            )
    engine.dispose()


async def test_answers_given_before_ballots_survive_the_migration(
    backend: str, tmp_path: Path
) -> None:
    async with running_stack(backend, tmp_path) as stack:
        record = await stack.new_funder()
        partners = [await stack.new_partner(record["id"]) for _ in range(6)]
        for partner in partners:
            await claim(stack, partner["id"])
        f = Funder(stack, record, partners)
        await f.set(k_threshold=3)
        await f.commitment("We pay on the date we promised")
        round_ = await f.round()
        for i in range(3):
            await f.answer(round_, i, [5])
        url = stack.urls["feedback"]
        db = stack.apps["feedback"].state.db
        await db.engine.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config("feedback", url), "0002")
        receipts = [f"rcpt_legacy_{n}" for n in range(3)]
        await asyncio.to_thread(_add_legacy_anonymous, url, round_, receipts)
        await asyncio.to_thread(upgrade, "feedback", url)
        await db.engine.dispose()

        # A receipt given before ballots still reads and changes its answer, without a token.
        mine = f"{API}/rounds/{round_['id']}/anonymous-responses/mine"
        r = await stack.feedback.get(mine, headers={"X-Response-Receipt": receipts[0]})
        assert r.status_code == 200, r.text
        assert r.json()["comment"] == "legacy comment 0"
        body = {
            "ratings": [{"commitment_id": round_["commitments"][0]["commitment_id"], "rating": 2}]
        }
        r = await stack.feedback.put(mine, headers={"X-Response-Receipt": receipts[0]}, json=body)
        assert r.status_code == 200 and r.json()["ratings"][0]["rating"] == 2
        r = await stack.feedback.get(mine, headers={"X-Response-Receipt": "rcpt_guess"})
        assert r.status_code == 404
        # The round, open across the migration, has its ballot key: partners that have not
        # answered yet answer anonymously with a ballot.
        await f.answer(round_, 3, [1], anonymous=True)
        # The round keeps the k its funder had (3), and its results count every answer.
        await f.close(round_)
        r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
        (result,) = r.json()
        assert result["k"] == 3 and result["responses"] == 7
        assert result["distribution"] == {"1": 3, "2": 1, "3": 0, "4": 0, "5": 3}
        r = await stack.feedback.get(
            f"{API}/results",
            headers=f.staff,
            params={"filter": f'{{"round_id":"{round_["id"]}","kind":"anonymous"}}'},
        )
        assert r.json()[0]["responses"] == 4
        r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/comments", headers=f.staff)
        assert sorted(c["comment"] for c in r.json()["anonymous"]) == [
            "legacy comment 1",
            "legacy comment 2",
        ]
        r = await stack.feedback.get(f"{API}/responses", headers=f.staff)
        assert len(r.json()) == 3
