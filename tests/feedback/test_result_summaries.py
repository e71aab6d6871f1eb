"""A closed round's results are read from the summaries written when it closed: the same
figures and k rules as the live aggregate, and nothing in them but aggregates."""

import uuid

import orjson
import sqlalchemy as sa

from services.feedback.models import Rating, ResultRelease, ResultSummary
from services.feedback.results import repository
from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_closing_writes_summaries_that_results_read(stack: Stack) -> None:
    f = await new_funder(stack, partners=10)
    await f.commitment("We pay on the date we promised", position=1)
    await f.commitment("We reply within two weeks", position=2)
    round_ = await f.round()
    for i in range(5):
        await f.answer(round_, i, [i % 5 + 1, "dont_know" if i == 0 else 4])
    for i in range(5, 10):
        await f.answer(round_, i, [5, 3], anonymous=True)
    db = stack.apps["feedback"].state.db
    round_id = uuid.UUID(round_["id"])
    async with db.sessionmaker() as session:
        live = await repository.aggregates(session, [round_id])
        assert await repository.summaries(session, [round_id]) == {}  # none while open
    await f.close(round_)
    async with db.sessionmaker() as session:
        assert await repository.summaries(session, [round_id]) == live
    first = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert first.status_code == 200
    pay, reply = first.json()
    assert pay["responses"] == 10 and pay["mean"] == "4.00"  # (1+2+3+4+5 + 5*5) / 10
    # Four named ratings other than "don't know": below k, so mean and distribution withheld.
    assert reply["dont_know"] == 1 and reply["mean"] is None
    assert "ratings other than" in reply["withheld"][0]
    # What results read is the summary: a rating slipped in behind the round's back
    # after it closed (no API path can) changes nothing that is released.
    async with db.sessionmaker() as session, session.begin():
        row = (
            await session.execute(sa.select(Rating).where(Rating.round_id == round_id).limit(1))
        ).scalar_one()
        await session.execute(
            sa.insert(Rating).values(
                id=uuid.uuid4(),
                response_id=row.response_id,
                round_id=round_id,
                commitment_id=row.commitment_id,
                commitment_version_id=row.commitment_version_id,
                score=1,
            )
        )
    again = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert again.json() == first.json()


async def test_summaries_keep_the_k_rules(stack: Stack) -> None:
    f = await new_funder(stack, partners=8)
    await f.commitment("We do not ask for what we will not use")
    round_ = await f.round()
    for i in range(6):
        await f.answer(round_, i, [4])
    for i in range(6, 8):
        await f.answer(round_, i, [2], anonymous=True)
    await f.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    (result,) = r.json()
    # Two anonymous answers: with the named six known they would show, so all is withheld.
    assert result["responses"] is None and result["mean"] is None
    assert "Fewer than 5 anonymous responses" in result["withheld"][0]
    named = await stack.feedback.get(
        f"{API}/results",
        headers=f.staff,
        params={"filter": f'{{"round_id":"{round_["id"]}","kind":"named"}}'},
    )
    assert named.json()[0]["responses"] == 6 and named.json()[0]["mean"] == "4.00"


def test_summaries_hold_aggregates_only() -> None:
    columns = {c.name for c in ResultSummary.__table__.columns}
    assert columns == {"round_id", "commitment_id", "anonymous", "n", "rated", "total"} | {
        f"s{i}" for i in range(1, 6)
    }


async def test_a_closed_round_is_read_from_its_release_with_its_own_fields_as_now(
    stack: Stack,
) -> None:
    """Closing stores the round's results once (the k rules applied); reading them is that
    row, with the round's title as it is now, and a partner reads the same once published."""
    f = await new_funder(stack, partners=10)
    await f.commitment("We pay on the date we promised")
    round_ = await f.round("Before")
    for i in range(10):
        await f.answer(round_, i, [4], anonymous=i >= 5)
    closed = await f.close(round_)
    db = stack.apps["feedback"].state.db
    round_id = uuid.UUID(round_["id"])
    # The stored release is what the API shows: a figure tampered with in it is what is read.
    async with db.sessionmaker() as session, session.begin():
        body = (
            await session.execute(
                sa.select(ResultRelease.body).where(ResultRelease.round_id == round_id)
            )
        ).scalar_one()
        (stored,) = orjson.loads(body)
        assert stored["responses"] == 10 and "round_title" not in stored
        stored["dont_know"] = 7
        await session.execute(
            sa.update(ResultRelease)
            .where(ResultRelease.round_id == round_id)
            .values(body=orjson.dumps([stored]).decode())
        )
    r = await stack.feedback.put(
        f"{API}/rounds/{round_['id']}",
        headers={**f.staff, "If-Match": f'"v{closed["version"]}"'},
        json={"title": "After"},
    )
    assert r.status_code == 200, r.text
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    (result,) = r.json()
    assert result["dont_know"] == 7 and result["round_title"] == "After"
    assert r.headers["content-range"] == "results 0-0/1"
    # Partners read it once published, not before.
    partner = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.partner(0))
    assert partner.status_code == 404
    await f.publish(round_)
    partner = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.partner(0))
    assert partner.status_code == 200 and partner.json()[0]["dont_know"] == 7
    # Another funder's staff: 404, as for a round that does not exist.
    other = await new_funder(stack)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=other.staff)
    assert r.status_code == 404


async def test_a_release_holds_no_figure_the_k_rules_withhold(stack: Stack) -> None:
    f = await new_funder(stack, partners=8)
    await f.commitment("We do not ask for what we will not use")
    round_ = await f.round()
    for i in range(8):
        await f.answer(round_, i, [2], anonymous=i >= 6)
    await f.close(round_)
    async with stack.apps["feedback"].state.db.sessionmaker() as session:
        stmt = sa.select(ResultRelease.body).where(
            ResultRelease.round_id == uuid.UUID(round_["id"])
        )
        body = (await session.execute(stmt)).scalar_one()
    (stored,) = orjson.loads(body)
    # Two anonymous answers beside six named ones: nothing about the base is stored.
    assert stored["responses"] is None and stored["dont_know"] is None
    assert stored["mean"] is None and stored["distribution"] is None
    assert stored["withheld"]
