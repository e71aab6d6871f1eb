"""Results: computed in the database, every figure below k withheld, filters included."""

import json

from tests.feedback.support import API, new_funder
from tests.support import Stack


def _filter(**values: object) -> dict[str, str]:
    return {"filter": json.dumps(values)}


async def test_figures_below_k_are_withheld_and_above_are_exact(stack: Stack) -> None:
    f = await new_funder(stack, partners=6)
    pay = await f.commitment("We pay on the date we promised", position=1)
    await f.commitment("We reply within two weeks", position=2)
    round_ = await f.round()
    scores = [(1, 4), (2, 4), (2, 4), (5, 3), (5, "dont_know"), ("dont_know", "dont_know")]
    for i, (a, b) in enumerate(scores[:4]):
        await f.answer(round_, i, [a, b])
    # Nothing while the round is open.
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.status_code == 404
    await f.close(round_)
    # Four responses: below k = 5, every figure withheld, with the reason.
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.status_code == 200
    for result in r.json():
        assert result["responses"] is None and result["mean"] is None
        assert result["distribution"] is None and result["dont_know"] is None
        assert "Fewer than 5 responses" in result["withheld"][0]

    g = await new_funder(stack, partners=6)
    await g.commitment("We pay on the date we promised", position=1)
    await g.commitment("We reply within two weeks", position=2)
    round_ = await g.round()
    for i, (a, b) in enumerate(scores):
        await g.answer(round_, i, [a, b])
    await g.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=g.staff)
    first, second = r.json()
    assert first["responses"] == 6 and first["dont_know"] == 1
    assert first["mean"] == "3.00"  # (1+2+2+5+5)/5, in the database
    assert first["distribution"] == {"1": 1, "2": 2, "3": 0, "4": 0, "5": 2}
    assert first["withheld"] == []
    # Only four ratings other than "don't know": mean and distribution withheld.
    assert second["responses"] == 6 and second["dont_know"] == 2
    assert second["mean"] is None and second["distribution"] is None
    assert "ratings other than" in second["withheld"][0]
    # Other funders' staff see nothing of it.
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.status_code == 404
    r = await stack.feedback.get(
        f"{API}/results", headers=f.staff, params=_filter(round_id=round_["id"])
    )
    assert r.json() == []
    assert pay["id"] != first["commitment_id"]


async def test_the_mean_is_exact_to_two_places(stack: Stack) -> None:
    f = await new_funder(stack, partners=6)
    await f.commitment("We do not ask for what we will not use")
    round_ = await f.round()
    for i, s in enumerate([5, 5, 4, 4, 4, 3]):
        await f.answer(round_, i, [s])
    await f.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.json()[0]["mean"] == "4.17"  # 25 / 6 = 4.1666...


async def test_no_filter_or_breakdown_goes_below_k(stack: Stack) -> None:
    f = await new_funder(stack, partners=8)
    await f.commitment("We pay on time")
    round_ = await f.round()
    for i in range(6):
        await f.answer(round_, i, [4])
    for i in (6, 7):
        await f.answer(round_, i, [1], anonymous=True)
    await f.close(round_)
    results = f"{API}/results"
    # Anonymous only: 2 responses, withheld.
    r = await stack.feedback.get(
        results, headers=f.staff, params=_filter(round_id=round_["id"], kind="anonymous")
    )
    (anon,) = r.json()
    assert anon["kind"] == "anonymous" and anon["mean"] is None and anon["responses"] is None
    assert "Fewer than 5 anonymous responses" in anon["withheld"][0]
    # All responses: 8, but the two anonymous ones could be read off by subtracting the
    # named answers (which staff can read): withheld too.
    r = await stack.feedback.get(results, headers=f.staff, params=_filter(round_id=round_["id"]))
    (everyone,) = r.json()
    assert everyone["mean"] is None and everyone["responses"] is None
    assert any("anonymous" in reason for reason in everyone["withheld"])
    # Named only: 6, shown.
    r = await stack.feedback.get(
        results, headers=f.staff, params=_filter(round_id=round_["id"], kind="named")
    )
    assert r.json()[0]["responses"] == 6 and r.json()[0]["mean"] == "4.00"
    # A breakdown the service does not offer is refused, not computed.
    r = await stack.feedback.get(
        results, headers=f.staff, params=_filter(round_id=round_["id"], region="North East")
    )
    assert r.status_code == 400
    # Comments from the two anonymous responses are not released either.
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/comments", headers=f.staff)
    assert r.json()["anonymous"] is None and "at least 5" in r.json()["anonymous_withheld"]


async def test_k_is_set_per_funder_and_never_below_3(stack: Stack) -> None:
    f = await new_funder(stack, partners=3)
    await f.commitment("We pay on time")
    r = await stack.feedback.put(
        f"{API}/scorecards/settings", headers=f.staff, json={"k_threshold": 2}
    )
    assert r.status_code == 422 and "below 3" in r.json()["detail"]
    assert (await f.set(k_threshold=3))["k_threshold"] == 3
    round_ = await f.round()
    for i in range(3):
        await f.answer(
            round_, i, [5], anonymous=True, comments=[f"comment {'cba'[i]}"], comment=None
        )
    await f.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.json()[0]["responses"] == 3 and r.json()[0]["k"] == 3
    # Three anonymous responses reach k = 3: their comments are released, ordered by text.
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/comments", headers=f.staff)
    assert [c["comment"] for c in r.json()["anonymous"]] == ["comment a", "comment b", "comment c"]
    assert all("partner_id" not in c or c["partner_id"] is None for c in r.json()["anonymous"])


async def test_partners_see_results_when_published_and_trend_follows_versions(
    stack: Stack,
) -> None:
    f = await new_funder(stack, partners=5)
    c = await f.commitment("We pay on tme")
    first = await f.round("2025 round")
    for i in range(5):
        await f.answer(first, i, [2], anonymous=True)
    await f.close(first)
    r = await stack.feedback.get(f"{API}/results", headers=f.partner(0))
    assert r.json() == []  # closed is not published
    await f.publish(first, answer="Thank you. We heard that payments were late.")
    r = await stack.feedback.get(f"{API}/rounds/{first['id']}", headers=f.partner(0))
    assert r.json()["answer"].startswith("Thank you")
    # New words make version 2; the next round rates version 2.
    await stack.feedback.put(
        f"{API}/commitments/{c['id']}", headers=f.staff, json={"title": "We pay on time"}
    )
    second = await f.round("2026 round")
    for i in range(5):
        await f.answer(second, i, [4], anonymous=i % 2 == 0)
    await f.close(second)
    await f.publish(second)
    r = await stack.feedback.get(
        f"{API}/results",
        headers=f.partner(1),
        params={"filter": json.dumps({"commitment_id": c["id"]}), "sort": '["closes_on","ASC"]'},
    )
    trend = r.json()
    assert [(t["commitment_version"], t["title"]) for t in trend] == [
        (1, "We pay on tme"),
        (2, "We pay on time"),
    ]
    assert trend[0]["mean"] == "2.00"
    # 5 responses, 3 anonymous: 0 < 3 < 5, so the figures over everyone are withheld.
    assert trend[1]["mean"] is None
    r = await stack.feedback.get(f"{API}/results", headers=(await new_funder(stack, 1)).partner(0))
    assert r.json() == []
