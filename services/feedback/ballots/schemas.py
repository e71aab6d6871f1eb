"""Bodies of anonymous ballots."""

import uuid

from pydantic import BaseModel, Field

from services.common.schemas import InputModel
from trellis_ballot.rsabssa import ALGORITHM

BALLOT_HEADER = "X-Ballot"


class BallotKeyOut(BaseModel):
    """The one public key that signs every ballot of a round. Compare ``key_id`` with
    the one the ballot came back with: a different key would mark you out."""

    round_id: uuid.UUID
    algorithm: str = Field(ALGORITHM, description="RFC 9474 variant")
    key_id: str = Field(description="SHA-256 (hex) of the key's DER SubjectPublicKeyInfo")
    public_key: str = Field(description="PEM SubjectPublicKeyInfo")


class BallotRequest(InputModel):
    """Your blinded ballot (RFC 9474 ``Blind``), base64url. Trellis cannot read it."""

    blinded_message: str = Field(min_length=16, max_length=2048)


class BallotOut(BaseModel):
    """The blind signature of your ballot. Unblind it (RFC 9474 ``Finalize``) and cast
    your answer with the ballot, without a token."""

    round_id: uuid.UUID
    algorithm: str = ALGORITHM
    key_id: str
    blind_signature: str = Field(description="base64url")
