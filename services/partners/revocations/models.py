"""The revocations table: which grants were revoked, and when."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, UTCDateTime
from services.partners.db import Base


class Revocation(IdMixin, Base):
    """One revocation of a key (``client:<id>``, ``sid:<grant>``, ``mid:<id>``, ``sub:<sub>``).

    Tokens issued at or before ``revoked_at`` under that key are refused by every
    service. Rows are only added, never changed: they are also the record of who
    revoked what.
    """

    __tablename__ = "revocations"

    key: Mapped[str] = mapped_column(String(300), index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_revocations_revoked_at", "revoked_at"),)
