"""Anonymous answers with RFC 9474 blind-signed ballots: taken signed in, cast without a
token, once per partner, checked against the round's one key."""

import asyncio
import base64
import json
import secrets

import httpx
import pytest

from tests.feedback.support import API, new_funder
from tests.support import Stack
from trellis_ballot import Ballot, BallotError, cast, change, read, rsabssa, take_ballot


def _ratings(round_: dict, score: object, comment: str | None = None) -> list[dict]:
    return [
        {"commitment_id": c["commitment_id"], "rating": score, "comment": comment}
        for c in round_["commitments"]
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_ballot_casts_one_anonymous_answer_without_a_token(stack: Stack) -> None:
    f = await new_funder(stack, partners=3)
    await f.commitment("We pay on time")
    round_ = await f.round()
    other_round = await f.round("Autumn round")
    http = stack.feedback
    ballot = await take_ballot(http, round_["id"], token=f.partner_token(0))
    # The partner is marked as having taken its ballot; staff see no more than counts.
    r = await http.get(f"{API}/rounds/{round_['id']}", headers=f.partner(0))
    assert r.json()["answered"] is True
    assert r.json()["ballot_key_id"] == ballot.key_id
    # A client checking the key it was given finds the round it belongs to by the key's id.
    for key_id, found in ((ballot.key_id, [round_["id"]]), ("0" * 64, [])):
        listed = await http.get(
            f"{API}/rounds",
            headers=f.partner(0),
            params={"filter": json.dumps({"ballot_key_id": key_id})},
        )
        assert [x["id"] for x in listed.json()] == found
    # One ballot per partner: a second is refused, and so is a named answer.
    with_token = f.partner(0)
    second = rsabssa.blind(
        rsabssa.load_public(
            (await http.get(f"{API}/public/feedback/rounds/{round_['id']}/ballot-key")).json()[
                "public_key"
            ]
        ),
        rsabssa.prepare(b"again"),
    )
    r = await http.post(
        f"{API}/rounds/{round_['id']}/ballots",
        headers=with_token,
        json={"blinded_message": _b64(second.blinded_msg)},
    )
    assert r.status_code == 409 and "one answer per partner" in r.json()["detail"]
    await f.answer(round_, 0, [3], expect=409)
    # An anonymous answer is not given signed in.
    r = await http.post(
        f"{API}/rounds/{round_['id']}/responses",
        headers=f.partner(1),
        json={"anonymous": True, "ratings": _ratings(round_, 2)},
    )
    assert r.status_code == 422 and "/ballots" in r.json()["detail"]
    url = f"{API}/rounds/{round_['id']}/anonymous-responses"
    body = {"ratings": _ratings(round_, 2, "late again"), "comment": "Slow this year"}
    # Cast with a token: refused, it would say who is casting.
    r = await http.post(url, headers={**with_token, "X-Ballot": ballot.header}, json=body)
    assert r.status_code == 403 and "Authorization" in r.json()["detail"]
    # No ballot, a forged one, or one signed for another round: refused.
    r = await http.post(url, json=body)
    assert r.status_code == 403
    forged = f"{_b64(secrets.token_bytes(64))}.{_b64(secrets.token_bytes(256))}"
    r = await http.post(url, headers={"X-Ballot": forged}, json=body)
    assert r.status_code == 403
    elsewhere = await take_ballot(http, other_round["id"], token=f.partner_token(1))
    r = await http.post(url, headers={"X-Ballot": elsewhere.header}, json=body)
    assert r.status_code == 403
    # The ballot casts once.
    out = await cast(http, ballot, ratings=body["ratings"], comment=body["comment"])
    assert out["anonymous"] is True and "id" not in out and "partner_id" not in out
    assert out["ratings"][0]["rating"] == 2 and out["comment"] == "Slow this year"
    try:
        await cast(http, ballot, ratings=body["ratings"])
        raise AssertionError("a ballot cast twice")
    except BallotError as exc:
        assert "409" in str(exc)
    # Its holder reads and changes it, without a token.
    changed = await change(http, ballot, ratings=_ratings(round_, 4), comment=None)
    assert changed["ratings"][0]["rating"] == 4
    assert (await read(http, ballot))["comment"] is None
    r = await http.get(f"{url}/mine", headers={"X-Ballot": forged})
    assert r.status_code == 403
    # Staff never list it one by one.
    r = await http.get(f"{API}/responses", headers=f.staff)
    assert r.json() == []
    # Once closed: no ballot is signed (the private key is gone) and nothing changes.
    await f.close(round_)
    late = await http.post(
        f"{API}/rounds/{round_['id']}/ballots",
        headers=f.partner(2),
        json={"blinded_message": _b64(second.blinded_msg)},
    )
    assert late.status_code == 409
    try:
        await change(http, ballot, ratings=_ratings(round_, 1))
        raise AssertionError("changed after close")
    except BallotError as exc:
        assert "409" in str(exc)
    engine = stack.apps["feedback"].state.db.engine
    async with engine.connect() as conn:
        key = (
            await conn.exec_driver_sql(
                "SELECT private_key FROM ballot_keys WHERE round_id = ?"
                if engine.dialect.name == "sqlite"
                else "SELECT private_key FROM ballot_keys WHERE round_id = $1",
                (
                    round_["id"].replace("-", "")
                    if engine.dialect.name == "sqlite"
                    else round_["id"],
                ),
            )
        ).scalar_one()
    assert key is None


async def test_a_retried_ballot_request_gets_the_same_signature_not_a_second_ballot(
    stack: Stack,
) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We pay on time")
    round_ = await f.round()
    key = (
        await stack.feedback.get(f"{API}/public/feedback/rounds/{round_['id']}/ballot-key")
    ).json()
    public = rsabssa.load_public(key["public_key"])
    prepared = rsabssa.prepare(b"ballot")
    blinded = rsabssa.blind(public, prepared)
    sent = {"blinded_message": _b64(blinded.blinded_msg)}
    url = f"{API}/rounds/{round_['id']}/ballots"
    first = await stack.feedback.post(url, headers=f.partner(0), json=sent)
    again = await stack.feedback.post(url, headers=f.partner(0), json=sent)
    assert first.status_code == again.status_code == 201
    assert first.json()["blind_signature"] == again.json()["blind_signature"]
    signature = base64.urlsafe_b64decode(first.json()["blind_signature"] + "==")
    assert rsabssa.verify(
        public, prepared, rsabssa.finalize(public, prepared, signature, blinded.inv)
    )
    # Not invited: 404, as if the round did not exist.
    stranger = await new_funder(stack, partners=1)
    r = await stack.feedback.post(url, headers=stranger.partner(0), json=sent)
    assert r.status_code == 404
    r = await stack.feedback.post(url, headers=f.partner(0), json={"blinded_message": "!!"})
    assert r.status_code == 422


async def test_a_client_refuses_a_key_made_for_it_alone(stack: Stack) -> None:
    """The signer could try to mark a partner's ballot by giving it a key of its own. The
    client compares the key it is shown signed in with the one anyone gets without a token."""
    f = await new_funder(stack, partners=1)
    await f.commitment("We pay on time")
    round_ = await f.round()
    tagged = rsabssa.generate_key().public_key()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ballot-key"):
            return httpx.Response(
                200,
                json={
                    "round_id": round_["id"],
                    "key_id": rsabssa.key_id(tagged),
                    "public_key": rsabssa.public_pem(tagged),
                },
            )
        forwarded = await stack.feedback.request(
            request.method, request.url.path, headers=request.headers, content=request.content
        )
        return httpx.Response(forwarded.status_code, json=forwarded.json())

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://feedback.test"
    ) as http:
        try:
            await take_ballot(http, round_["id"], token=f.partner_token(0))
            raise AssertionError("a tagged key was accepted")
        except BallotError as exc:
            assert "differs from the public one" in str(exc)
    # Nothing was taken: the partner can still take its real ballot.
    ballot = await take_ballot(stack.feedback, round_["id"], token=f.partner_token(0))
    assert Ballot.from_json(ballot.to_json()) == ballot


async def test_anonymous_requests_carry_no_correlation_the_client_sent(stack: Stack) -> None:
    f = await new_funder(stack, partners=1)
    await f.commitment("We pay on time")
    round_ = await f.round()
    ballot = await take_ballot(stack.feedback, round_["id"], token=f.partner_token(0))
    r = await stack.feedback.post(
        f"{API}/rounds/{round_['id']}/anonymous-responses",
        headers={
            "X-Ballot": ballot.header,
            "X-Request-ID": "same-id-as-the-ballot-request",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        json={"ratings": _ratings(round_, 5)},
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] != "same-id-as-the-ballot-request"
    # Elsewhere the caller's request id is kept, as before.
    r = await stack.feedback.get(
        f"{API}/rounds/{round_['id']}", headers={**f.staff, "X-Request-ID": "kept-1"}
    )
    assert r.headers["x-request-id"] == "kept-1"


async def test_anonymous_answers_cast_at_once_are_all_kept(stack: Stack, backend: str) -> None:
    """Every cast rewrites the round's anonymous answers whole, under the round's lock."""
    if backend != "postgres":
        pytest.skip("SQLite serialises writers itself")
    f = await new_funder(stack, partners=6)
    await f.commitment("We pay on time")
    round_ = await f.round()
    ballots = [
        await take_ballot(stack.feedback, round_["id"], token=f.partner_token(i)) for i in range(6)
    ]
    await asyncio.gather(
        *(
            cast(stack.feedback, b, ratings=_ratings(round_, i % 5 + 1))
            for i, b in enumerate(ballots)
        )
    )
    await f.close(round_)
    r = await stack.feedback.get(f"{API}/rounds/{round_['id']}/results", headers=f.staff)
    assert r.json()[0]["responses"] == 6
