"""Answer a Trellis feedback round anonymously, for a partner's developer.

One call does it::

    from trellis_ballot import answer_anonymously_sync

    ballot, answer = answer_anonymously_sync(
        "https://trellis.example.org",
        round_id,
        token=access_token,  # your organisation's token: used only to take the ballot
        ratings=[{"commitment_id": "...", "rating": 4, "comment": "..."}],
    )
    keep(ballot.to_json())  # the only way to read or change the answer later

What happens (RFC 9474 RSA blind signatures, RSABSSA-SHA384-PSS-Randomized):

1. ``take_ballot``: fetch the round's ballot key *without* a token and check it is the
   key the round shows you signed in (one key for everyone: a key made for you alone
   would mark your ballot); blind a random message; send the blinded message with your
   token; unblind the signature and check it. Trellis records only that you took your
   ballot.
2. ``cast``: send the answer with the ballot and *no* token, no cookie, no request id,
   no trace context. Trellis checks the round's key signed the ballot; it cannot tell
   which partner's ballot it is.

Timing is the one link this cannot remove: if you take your ballot and cast the answer
in the same second, anyone who watches the server (or the network) at that moment can
pair the two. Take the ballot early (``take_ballot`` when the round opens or when the
person starts the form; keep ``ballot.to_json()``), and cast when the answer is ready.
A browser version for the console follows the same steps with the Web Crypto API.
"""

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from trellis_ballot import rsabssa

API = "/api/v1"
BALLOT_HEADER = "X-Ballot"
# Headers that could tie an anonymous request to the signed-in one.
IDENTIFYING_HEADERS = (
    "authorization",
    "cookie",
    "x-request-id",
    "traceparent",
    "tracestate",
    "baggage",
)


class BallotError(Exception):
    """Trellis answered something a ballot cannot be built or cast with."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Ballot:
    """A signed ballot for one round: keep it secret, it is the answer's only key."""

    round_id: str
    key_id: str
    message: bytes
    signature: bytes

    @property
    def header(self) -> str:
        return f"{_b64(self.message)}.{_b64(self.signature)}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "round_id": self.round_id,
                "key_id": self.key_id,
                "message": _b64(self.message),
                "signature": _b64(self.signature),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "Ballot":
        data = json.loads(text)
        return cls(
            round_id=data["round_id"],
            key_id=data["key_id"],
            message=_unb64(data["message"]),
            signature=_unb64(data["signature"]),
        )


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise BallotError(f"{what}: {response.status_code} {detail}")
    return response.json()


async def _anonymous(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """A request with nothing of the caller: no token, cookie, request id or trace."""
    request = http.build_request(method, url, **kwargs)
    for name in IDENTIFYING_HEADERS:
        request.headers.pop(name, None)
    return await http.send(request, auth=None)


async def take_ballot(http: httpx.AsyncClient, round_id: str, *, token: str) -> Ballot:
    """Take your ballot for a round (once per round; see the module's note on timing)."""
    signed_in = {"Authorization": f"Bearer {token}"}
    key = _check(
        await _anonymous(http, "GET", f"{API}/public/feedback/rounds/{round_id}/ballot-key"),
        "The round's ballot key",
    )
    round_ = _check(await http.get(f"{API}/rounds/{round_id}", headers=signed_in), "The round")
    public = rsabssa.load_public(key["public_key"])
    if not (
        secrets.compare_digest(rsabssa.key_id(public), key["key_id"])
        and secrets.compare_digest(str(round_.get("ballot_key_id")), key["key_id"])
    ):
        raise BallotError(
            "The ballot key shown to you signed in differs from the public one: a key for "
            "you alone would identify your answer. Do not answer anonymously; tell the funder."
        )
    prepared = rsabssa.prepare(secrets.token_bytes(32))
    blinded = rsabssa.blind(public, prepared)
    body = {"blinded_message": _b64(blinded.blinded_msg)}
    for attempt in range(3):
        try:
            response = await http.post(
                f"{API}/rounds/{round_id}/ballots", json=body, headers=signed_in
            )
            break
        except httpx.TransportError:
            # The same blinded message again gets the same signature, never a second ballot.
            if attempt == 2:
                raise
    signed = _check(response, "Taking the ballot")
    if signed["key_id"] != key["key_id"]:
        raise BallotError("The ballot was signed with another key than the round's public one.")
    try:
        signature = rsabssa.finalize(
            public, prepared, _unb64(signed["blind_signature"]), blinded.inv
        )
    except rsabssa.BlindSignatureError as exc:
        raise BallotError(f"The ballot's signature does not check: {exc}") from exc
    return Ballot(round_id=round_id, key_id=key["key_id"], message=prepared, signature=signature)


async def cast(
    http: httpx.AsyncClient,
    ballot: Ballot,
    *,
    ratings: list[dict[str, Any]],
    comment: str | None = None,
) -> dict[str, Any]:
    """Cast the anonymous answer with the ballot, without any identity."""
    return _check(
        await _anonymous(
            http,
            "POST",
            f"{API}/rounds/{ballot.round_id}/anonymous-responses",
            json={"ratings": ratings, "comment": comment},
            headers={BALLOT_HEADER: ballot.header},
        ),
        "Casting the answer",
    )


async def read(http: httpx.AsyncClient, ballot: Ballot) -> dict[str, Any]:
    """The answer cast with this ballot."""
    return _check(
        await _anonymous(
            http,
            "GET",
            f"{API}/rounds/{ballot.round_id}/anonymous-responses/mine",
            headers={BALLOT_HEADER: ballot.header},
        ),
        "Reading the answer",
    )


async def change(
    http: httpx.AsyncClient,
    ballot: Ballot,
    *,
    ratings: list[dict[str, Any]],
    comment: str | None = None,
) -> dict[str, Any]:
    """Change the answer cast with this ballot, while the round is open."""
    return _check(
        await _anonymous(
            http,
            "PUT",
            f"{API}/rounds/{ballot.round_id}/anonymous-responses/mine",
            json={"ratings": ratings, "comment": comment},
            headers={BALLOT_HEADER: ballot.header},
        ),
        "Changing the answer",
    )


async def answer_anonymously(
    http: httpx.AsyncClient,
    round_id: str,
    *,
    token: str,
    ratings: list[dict[str, Any]],
    comment: str | None = None,
    ballot: Ballot | None = None,
) -> tuple[Ballot, dict[str, Any]]:
    """Take a ballot (unless you pass the one you took earlier) and cast the answer."""
    ballot = ballot or await take_ballot(http, round_id, token=token)
    return ballot, await cast(http, ballot, ratings=ratings, comment=comment)


def answer_anonymously_sync(
    base_url: str,
    round_id: str,
    *,
    token: str,
    ratings: list[dict[str, Any]],
    comment: str | None = None,
    ballot: Ballot | None = None,
) -> tuple[Ballot, dict[str, Any]]:
    """``answer_anonymously`` for code that is not async."""

    async def run() -> tuple[Ballot, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            return await answer_anonymously(
                http, round_id, token=token, ratings=ratings, comment=comment, ballot=ballot
            )

    return asyncio.run(run())
