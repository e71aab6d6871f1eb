"""Table of links to documents a partner already has."""

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import IdMixin, TimestampMixin, VersionedMixin
from services.partners.db import Base

DOCUMENT_KINDS = ("annual_report", "accounts", "strategy", "policy", "other")


class Document(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A link to a document the partner already has. The server never fetches it.

    ``funder_id`` is empty when the partner added it (every funder in relationship
    sees it); when a funder's staff added a link they found, only that funder and
    the partner see it.
    """

    __tablename__ = "documents"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    funder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("funders.id"))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int | None] = mapped_column()
    url: Mapped[str] = mapped_column(String(2000))
    added_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_documents_partner_created", "partner_id", "created_at"),)
