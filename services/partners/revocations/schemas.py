"""What the other services are told about revocations."""

from datetime import datetime

from pydantic import BaseModel


class RevokedKey(BaseModel):
    key: str
    revoked_at: datetime


class RevocationList(BaseModel):
    """Keys revoked after ``since``, and the time this answer is as of (the next cursor)."""

    revocations: list[RevokedKey]
    as_of: datetime
