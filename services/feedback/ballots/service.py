"""The rules of anonymous ballots (RFC 9474 RSA blind signatures).

A round that opens gets its own RSA key. An invited partner, signed in, asks once
for a ballot: it sends a *blinded* message and gets back a blind signature; Trellis
records only that the partner has taken its ballot (the invitation's bare flag) and
the hash of the blinded message (so that a retry of the same request gets the same
signature, and no second ballot). The partner's client unblinds the signature and
later casts its answer *without a token*, presenting the ballot: the message and its
signature. Trellis checks the signature with the round's key and keeps the hash of
the message, refusing a second use. The blinded message and the ballot are unrelated
to anyone without the client's blinding secret, the signing key included: the
service never holds the link between a partner and its answer.
"""

import asyncio
import base64
import binascii
import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.feedback.ballots import repository
from services.feedback.ballots.schemas import BALLOT_HEADER
from services.feedback.models import Round
from services.feedback.rounds import repository as rounds_repo
from services.feedback.rounds import service as rounds
from trellis_ballot import rsabssa


def b64decode(value: str) -> bytes:
    """base64url, padded or not."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


async def public_key(*, session: AsyncSession, round_id: uuid.UUID) -> dict[str, Any]:
    """The round's public ballot key, for anyone (the same for every caller)."""
    key = await repository.key_of(session, round_id)
    if key is None:
        raise NotFound("There is no open feedback round with this id.")
    return {"round_id": round_id, "key_id": key.key_id, "public_key": key.public_key}


async def issue(
    *, session: AsyncSession, caller: Caller, round_id: uuid.UUID, blinded_message: str
) -> dict[str, Any]:
    """Blind-sign an invited partner's ballot, once per round."""
    assert caller.own_partner_id is not None
    round_ = await rounds_repo.lock(session, round_id)
    invitation = (
        await rounds_repo.invitation(session, round_id=round_id, partner_id=caller.own_partner_id)
        if round_ is not None
        else None
    )
    if round_ is None or invitation is None:
        raise NotFound("There is no feedback round with this id that you were invited to.")
    if not rounds.accepting_answers(round_):
        raise Conflict("The round is not open for answers: no ballot can be given.")
    key = await repository.key_of(session, round_id)
    if key is None or key.private_key is None:
        raise Conflict("The round has no ballot key; it is not open for anonymous answers.")
    try:
        blinded = b64decode(blinded_message)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable(
            "blinded_message must be base64url.",
            errors={"blinded_message": ["is not base64url"]},
        ) from exc
    digest = hashlib.sha256(blinded).hexdigest()
    if invitation.answered and not (
        invitation.ballot_hash and secrets.compare_digest(invitation.ballot_hash, digest)
    ):
        raise Conflict(
            "You have answered this round already, by name or by taking your anonymous "
            "ballot; there is one answer per partner. If you took a ballot, cast it at "
            f"POST /api/v1/rounds/{round_id}/anonymous-responses."
        )
    private = rsabssa.load_private(key.private_key)
    try:
        signature = await asyncio.to_thread(rsabssa.blind_sign, private, blinded)
    except rsabssa.BlindSignatureError as exc:
        raise Unprocessable(
            f"The blinded message cannot be signed: {exc}. Blind it with the round's key "
            f"(GET /api/v1/public/feedback/rounds/{round_id}/ballot-key).",
            errors={"blinded_message": [str(exc)]},
        ) from exc
    if not invitation.answered:
        invitation.answered = True
        invitation.ballot_hash = digest
        await session.flush()
        audit.record(
            session, caller=caller, action="take_ballot", entity_type="round", entity_id=round_id
        )
    return {"round_id": round_id, "key_id": key.key_id, "blind_signature": b64encode(signature)}


async def ballot_hash(*, session: AsyncSession, round_: Round, ballot: str | None) -> str:
    """The hash an anonymous answer is kept under, for a ballot signed with the round's
    key; 403 for anything else."""
    if not ballot:
        raise Forbidden(
            f"Send your ballot in the {BALLOT_HEADER} header: the message and its signature, "
            "base64url, joined by a dot."
        )
    key = await repository.key_of(session, round_.id)
    message, _, signature = ballot.partition(".")
    try:
        message_bytes, signature_bytes = b64decode(message), b64decode(signature)
    except (binascii.Error, ValueError):
        message_bytes = signature_bytes = b""
    if (
        key is None
        or not message_bytes
        or not rsabssa.verify(rsabssa.load_public(key.public_key), message_bytes, signature_bytes)
    ):
        raise Forbidden("This is not a ballot signed for this round.")
    return hashlib.sha256(message_bytes).hexdigest()
