"""The public scorecard: page-ready JSON, only when the funder publishes it."""

from tests.feedback.support import API, new_funder
from tests.support import Stack


async def test_public_scorecard_only_when_published(stack: Stack) -> None:
    f = await new_funder(stack, partners=5)
    pay = await f.commitment("We pay on the date we promised", position=1)
    await f.commitment("We reply within two weeks", position=2, measure="days_to_first_reply")
    url = f"{API}/public/feedback/{f.slug}/scorecard"
    r = await stack.feedback.get(url)
    assert r.status_code == 404
    first = await f.round("2025")
    for i in range(5):
        await f.answer(first, i, [3, 4], anonymous=True)
    await f.close(first)
    second = await f.round("2026")
    for i in range(5):
        await f.answer(second, i, [5, 4], anonymous=True)
    await f.close(second)
    await f.publish(first, answer="We heard you.")
    await f.set(scorecard_published=True)
    r = await stack.feedback.get(url)
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["funder"]["slug"] == f.slug and card["k"] == 5
    # Only published rounds: the closed 2026 round is not there yet.
    assert [x["title"] for x in card["rounds"]] == ["2025"]
    assert card["rounds"][0]["answer"] == "We heard you."
    assert card["rounds"][0]["invited"] == 5 and card["rounds"][0]["responses"] == 5
    paying = card["commitments"][0]
    assert paying["id"] == pay["id"] and paying["latest"]["mean"] == "3.00"
    await f.publish(second)
    card = (await stack.feedback.get(url)).json()
    paying = card["commitments"][0]
    assert [t["mean"] for t in paying["trend"]] == ["3.00", "5.00"]
    assert paying["latest"]["round_title"] == "2026"
    assert card["commitments"][1]["measure"]["id"] == "days_to_first_reply"
    assert {m["id"] for m in card["measures"]} == {
        "instalments_paid_on_time",
        "days_to_first_reply",
    }
    # No comments, no partner anywhere in the public document.
    text = r.text
    for p in f.partners:
        assert p["id"] not in text and p["name"] not in text
    # Unpublishing takes it down.
    await f.set(scorecard_published=False)
    assert (await stack.feedback.get(url)).status_code == 404
