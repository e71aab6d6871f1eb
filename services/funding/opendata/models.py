"""Tables of open data: each funder's choice to publish its grants."""

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import TimestampMixin, VersionedMixin
from services.funding.db import Base


class FunderSetting(TimestampMixin, VersionedMixin, Base):
    """A funder's funding settings: whether its grants are published as 360Giving open data."""

    __tablename__ = "funder_settings"

    funder_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    funder_slug: Mapped[str | None] = mapped_column(String(63), unique=True)
    publish_360giving: Mapped[bool] = mapped_column(default=False)
