"""Shapes of a person's notification preferences."""

import uuid

from pydantic import BaseModel, Field

from services.common.schemas import InputModel
from services.partners.notifications.catalogue import Audience, Frequency, NotificationName


class NotificationChoice(BaseModel):
    """One notification: whether the person gets it, and how often."""

    notification: NotificationName
    audience: Audience = Field(description="``staff`` of a funder, or a ``partner``'s people")
    description: str
    enabled: bool
    frequency: Frequency = Field(
        description="``immediate``: an email each time; ``daily``: one digest a day"
    )


class NotificationPreferences(BaseModel):
    """The signed-in person's notifications: those of the sides their memberships are on."""

    id: uuid.UUID = Field(description="The person's id")
    email: str
    digest_hour_utc: int = Field(description="The hour (UTC) daily digests are sent at")
    notifications: list[NotificationChoice]


class NotificationChange(InputModel):
    """A change to one notification; leave a field out to keep it."""

    notification: NotificationName
    enabled: bool | None = None
    frequency: Frequency | None = None


class NotificationPreferencesUpdate(InputModel):
    notifications: list[NotificationChange] = Field(
        min_length=1,
        max_length=20,
        examples=[[{"notification": "update_received", "frequency": "daily"}]],
    )
