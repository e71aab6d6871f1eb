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
        "days_to_decision",
        "updates_replied_in_time",
        "rounds_published_with_actions",
    }
    # No comments, no partner anywhere in the public document.
    text = r.text
    for p in f.partners:
        assert p["id"] not in text and p["name"] not in text
    # Unpublishing takes it down.
    await f.set(scorecard_published=False)
    assert (await stack.feedback.get(url)).status_code == 404


async def test_k_is_fixed_when_a_round_opens_and_counts_below_it_show_nowhere(
    stack: Stack,
) -> None:
    f = await new_funder(stack, partners=4)
    await f.commitment("We pay on the date we promised")
    before = await f.round("Opened under k = 5")
    assert before["k_threshold"] == 5
    for i in range(3):
        await f.answer(before, i, [4], anonymous=i > 0)
    # Lowering k after the round opened changes nothing for it...
    await f.set(k_threshold=3)
    after = await f.round("Opened under k = 3")
    assert after["k_threshold"] == 3
    for i in range(3):
        await f.answer(after, i, [2])
    for round_ in (before, after):
        await f.close(round_)
        await f.publish(round_)
    r = await stack.feedback.get(f"{API}/rounds/{before['id']}/results", headers=f.staff)
    (old,) = r.json()
    assert old["k"] == 5 and old["responses"] is None and old["mean"] is None
    r = await stack.feedback.get(f"{API}/rounds/{before['id']}/comments", headers=f.staff)
    assert r.json()["k"] == 5 and r.json()["anonymous"] is None
    # ... while the round opened afterwards uses the new k.
    r = await stack.feedback.get(f"{API}/rounds/{after['id']}/results", headers=f.staff)
    (new,) = r.json()
    assert new["k"] == 3 and new["responses"] == 3 and new["mean"] == "2.00"
    # The count of a withheld round is shown nowhere: not to staff, not in public.
    r = await stack.feedback.get(f"{API}/rounds/{before['id']}", headers=f.staff)
    assert r.json()["response_count"] is None and r.json()["k_threshold"] == 5
    r = await stack.feedback.get(f"{API}/rounds/{after['id']}", headers=f.staff)
    assert r.json()["response_count"] == 3
    await f.set(scorecard_published=True)
    card = (await stack.feedback.get(f"{API}/public/feedback/{f.slug}/scorecard")).json()
    counts = {x["title"]: (x["k"], x["responses"]) for x in card["rounds"]}
    assert counts == {"Opened under k = 5": (5, None), "Opened under k = 3": (3, 3)}
    assert [t["k"] for t in card["commitments"][0]["trend"]] == [5, 3]
    assert card["k"] == 3
