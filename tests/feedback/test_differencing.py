"""No group below k can be reconstructed by differencing any two releases.

A funder with k = 3 runs rounds whose answers are split between named and anonymous in
every awkward way (the issue's own attack among them), publishes them and its scorecard,
and then the test gathers *every* figure released about them: results of every kind,
with and without filters, as staff and as a partner, per round and as trends, the staff
round view, the scorecard preview and the public scorecard, the comments; and, as the
strongest reader, the staff's own knowledge of each named answer (they read them one
by one). Then it tries every pair of releases about the same round and commitment."""

import itertools
import json
from typing import Any

from tests.feedback.support import API, new_funder
from tests.support import Stack

K = 3
DK = "dont_know"
# (anonymous?, [rating of commitment 1, rating of commitment 2]) per answering partner.
SCENARIOS: dict[str, list[tuple[bool, list[Any]]]] = {
    # The attack: all named rated; of the anonymous, one rates 1, the rest don't know.
    "subtraction": [(False, [4, 4])] * 3 + [(True, [1, 2]), (True, [DK, 3]), (True, [DK, 3])],
    "one anonymous": [(False, [3, 3])] * 3 + [(True, [1, 1])],
    "one named": [(False, [5, 5])] + [(True, [2, 2])] * 3,
    "balanced": [(False, [4, 2])] * 3 + [(True, [1, 5])] * 3,
    "anonymous only, few rated": [(True, [3, 2]), (True, [3, 2]), (True, [2, DK]), (True, [1, DK])],
    "two named only": [(False, [2, 2])] * 2,
    "named, few rated": [(False, [4, DK])] * 2 + [(False, [3, 5])] * 2,
}


def _filter(**values: object) -> dict[str, str]:
    return {"filter": json.dumps(values)}


def _release(source: str, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    dist = record.get("distribution")
    return {
        "source": source,
        "round": record["round_id"],
        "commitment": record.get("commitment_id"),
        "kind": kind,
        "responses": record.get("responses"),
        "rated": sum(dist.values()) if dist else None,
        "distribution": dist,
    }


# Which releases are about a population that contains the other's.
NESTED = {("all", "named"), ("all", "anonymous"), ("all", "named-known")}


async def test_no_pair_of_releases_differences_into_a_group_below_k(stack: Stack) -> None:
    f = await new_funder(stack, partners=6)
    await f.set(k_threshold=K)
    await f.commitment("We pay on the date we promised", position=1)
    await f.commitment("We reply within two weeks", position=2)
    rounds: dict[str, dict[str, Any]] = {}
    for name, answers in SCENARIOS.items():
        round_ = await f.round(name)
        rounds[round_["id"]] = {"name": name, "answers": answers}
        for i, (anonymous, scores) in enumerate(answers):
            comments = [f"{name} {i} said this", None] if anonymous else None
            await f.answer(round_, i, scores, anonymous=anonymous, comments=comments)
        await f.close(round_)
        await f.publish(round_, answer="Thank you.")
    await f.set(scorecard_published=True)
    get = stack.feedback.get
    releases: list[dict[str, Any]] = []
    round_counts: list[dict[str, Any]] = []

    # Results, every kind, as staff and as a partner; filtered by round and commitment too.
    for who, headers in (("staff", f.staff), ("partner", f.partner(0))):
        for kind in ("all", "named", "anonymous"):
            r = await get(f"{API}/results", headers=headers, params=_filter(kind=kind))
            assert r.status_code == 200, r.text
            releases += [_release(f"{who} results", kind, x) for x in r.json()]
            for round_id in rounds:
                r = await get(
                    f"{API}/results", headers=headers, params=_filter(kind=kind, round_id=round_id)
                )
                releases += [_release(f"{who} results by round", kind, x) for x in r.json()]
        for round_id in rounds:
            r = await get(f"{API}/rounds/{round_id}/results", headers=headers)
            releases += [_release(f"{who} round results", "all", x) for x in r.json()]
    first = next(iter(rounds))
    r = await get(f"{API}/rounds/{first}/results", headers=f.staff)
    for c in r.json():
        r = await get(
            f"{API}/results", headers=f.staff, params=_filter(commitment_id=c["commitment_id"])
        )
        releases += [_release("staff trend", "all", x) for x in r.json()]
    # The scorecard, previewed and public: trends, latest results, round counts.
    for source, r in (
        ("preview", await get(f"{API}/scorecards/preview", headers=f.staff)),
        ("public", await get(f"{API}/public/feedback/{f.slug}/scorecard")),
    ):
        assert r.status_code == 200, r.text
        card = r.json()
        for c in card["commitments"]:
            for point in [*c["trend"], *([c["latest"]] if c["latest"] else [])]:
                releases.append(
                    _release(f"{source} scorecard", "all", {**point, "commitment_id": c["id"]})
                )
        round_counts += [
            {"source": f"{source} scorecard", "round": x["id"], "responses": x["responses"]}
            for x in card["rounds"]
        ]
    for round_id in rounds:
        r = await get(f"{API}/rounds/{round_id}", headers=f.staff)
        round_counts.append(
            {"source": "staff round", "round": round_id, "responses": r.json()["response_count"]}
        )
    # What staff know besides: every named answer, one by one.
    r = await get(f"{API}/responses", headers=f.staff, params={"range": "[0,99]"})
    named_known: dict[tuple[str, str], dict[str, Any]] = {}
    named_count: dict[str, int] = dict.fromkeys(rounds, 0)
    for response in r.json():
        named_count[response["round_id"]] += 1
        for rating in response["ratings"]:
            key = (response["round_id"], rating["commitment_id"])
            known = named_known.setdefault(
                key, {"responses": 0, "distribution": {str(i): 0 for i in range(1, 6)}}
            )
            known["responses"] += 1
            if rating["rating"] != DK:
                known["distribution"][str(rating["rating"])] += 1
    for (round_id, commitment_id), known in named_known.items():
        releases.append(
            _release(
                "staff reading named answers",
                "named-known",
                {"round_id": round_id, "commitment_id": commitment_id, **known},
            )
        )

    # Every single release about a group of answers is about at least k of them.
    for x in releases:
        if x["kind"] == "named-known":
            continue
        assert x["responses"] is None or x["responses"] >= K, x
        assert x["rated"] is None or x["rated"] >= K, x
    for x in round_counts:
        assert x["responses"] is None or x["responses"] >= K, x
    # Every pair: the difference of two releases about nested groups is none or >= k.
    tried = 0
    for x, y in itertools.permutations(releases, 2):
        if (x["round"], x["commitment"]) != (y["round"], y["commitment"]):
            continue
        if (x["kind"], y["kind"]) not in NESTED:
            continue
        tried += 1
        for field in ("responses", "rated"):
            if x[field] is not None and y[field] is not None:
                gap = x[field] - y[field]
                assert gap == 0 or gap >= K, (
                    f"{rounds[x['round']]['name']}: {x['source']} {x['kind']} minus "
                    f"{y['source']} {y['kind']} leaves {gap} {field}"
                )
        if x["distribution"] and y["distribution"]:
            gap = {b: x["distribution"][b] - y["distribution"][b] for b in x["distribution"]}
            assert sum(gap.values()) in (0,) or sum(gap.values()) >= K, gap
    for x in round_counts:
        if x["responses"] is not None:
            gap = x["responses"] - named_count[x["round"]]
            assert gap == 0 or gap >= K, x
    assert tried > 100
    # Comments of anonymous answers only where at least k answers are anonymous.
    for round_id, scenario in rounds.items():
        anonymous = sum(1 for a, _ in scenario["answers"] if a)
        r = await get(f"{API}/rounds/{round_id}/comments", headers=f.staff)
        released = r.json()["anonymous"]
        if 0 < anonymous < K:
            assert released is None and r.json()["anonymous_withheld"], scenario["name"]
        elif anonymous:
            assert len(released) == anonymous

    # The issue's own attack: "all" minus "named" no longer reveals the one anonymous 1.
    subtraction = next(i for i, s in rounds.items() if s["name"] == "subtraction")
    everyone = [x for x in releases if x["round"] == subtraction and x["kind"] == "all"]
    # Commitment 2 (everyone rated) is shown; commitment 1 (one anonymous rating) is not,
    # though its counts (6 responses, 2 "don't know") are.
    assert {x["rated"] for x in everyone} == {6, None}
    assert {x["responses"] for x in everyone} == {6}
