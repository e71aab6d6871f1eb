"""Feedback's lists as react-admin reads them: results and measures have a GET by id,
measures honour ``range``, nested lists page and refuse filters they do not know."""

import json

from tests.feedback.support import API, new_funder
from tests.support import Stack


def q(**params: object) -> dict[str, str]:
    return {k: json.dumps(v) for k, v in params.items()}


async def test_results_have_a_get_and_round_results_page(stack: Stack) -> None:
    f = await new_funder(stack, partners=5)
    await f.commitment("We pay on the date we promised", position=1)
    await f.commitment("We reply within two weeks", position=2)
    round_ = await f.round()
    for i in range(5):
        await f.answer(round_, i, [4, 5])
    await f.close(round_)
    url = f"{API}/rounds/{round_['id']}/results"
    first = await stack.feedback.get(url, headers=f.staff, params=q(range=[0, 0]))
    second = await stack.feedback.get(url, headers=f.staff, params=q(range=[1, 1]))
    assert first.headers["content-range"] == "results 0-0/2"
    assert second.headers["content-range"] == "results 1-1/2"
    assert first.json()[0]["id"] != second.json()[0]["id"]
    refused = await stack.feedback.get(url, headers=f.staff, params=q(filter={"kind": "x"}))
    assert refused.status_code == 400
    result = first.json()[0]
    one = await stack.feedback.get(f"{API}/results/{result['id']}", headers=f.staff)
    assert one.status_code == 200, one.text
    assert one.json() == result
    # Another funder's staff, and a partner before publication, read nothing of it.
    g = await new_funder(stack)
    for headers in (g.staff, f.partner(0)):
        r = await stack.feedback.get(f"{API}/results/{result['id']}", headers=headers)
        assert r.status_code == 404


async def test_measures_page_and_have_a_get(stack: Stack) -> None:
    f = await new_funder(stack)
    everything = await stack.feedback.get(f"{API}/measures", headers=f.staff)
    assert everything.headers["content-range"] == "measures 0-4/5"
    ids = [m["id"] for m in everything.json()]
    assert ids == sorted(ids)
    page_two = await stack.feedback.get(f"{API}/measures", headers=f.staff, params=q(range=[1, 1]))
    assert [m["id"] for m in page_two.json()] == ids[1:2]
    assert page_two.headers["content-range"] == "measures 1-1/5"
    one = await stack.feedback.get(f"{API}/measures/{ids[0]}", headers=f.staff)
    assert one.json()["id"] == ids[0]
    missing = await stack.feedback.get(f"{API}/measures/kpi", headers=f.staff)
    assert missing.status_code == 404


async def test_messages_page_and_have_a_get(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    r = await stack.feedback.post(
        f"{API}/threads",
        headers=f.partner(0),
        json={"funder_id": f.id, "subject": "About the round", "body": "Can we talk?"},
    )
    thread = r.json()
    await stack.feedback.post(
        f"{API}/threads/{thread['id']}/messages", headers=f.staff, json={"body": "Of course."}
    )
    url = f"{API}/threads/{thread['id']}/messages"
    page = await stack.feedback.get(url, headers=f.staff, params=q(range=[1, 1]))
    assert page.headers["content-range"] == "messages 1-1/2"
    message = page.json()[0]
    assert message["body"] == "Of course."
    one = await stack.feedback.get(f"{url}/{message['id']}", headers=f.partner(0))
    assert one.json() == message
    g = await new_funder(stack)
    assert (await stack.feedback.get(f"{url}/{message['id']}", headers=g.staff)).status_code == 404
