"""Bodies of threads: named conversations between a partner and its funder."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.schemas import InputModel, TimestampedRecord

Body = Field(min_length=1, max_length=20000)


class ThreadCreate(InputModel):
    """Staff name the ``partner_id``; a partner names the ``funder_id``."""

    subject: str = Field(min_length=1, max_length=300)
    body: str = Body
    partner_id: uuid.UUID | None = Field(None, description="Staff: the partner to write to")
    funder_id: uuid.UUID | None = Field(None, description="Partner: the funder to write to")


class MessageCreate(InputModel):
    body: str = Body


class Thread(TimestampedRecord):
    funder_id: uuid.UUID
    partner_id: uuid.UUID
    partner_name: str
    subject: str
    started_by: Literal["partner", "funder"]
    last_message_at: datetime


class Message(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    author_role: Literal["partner", "funder"]
    author: str
    body: str
    created_at: datetime
