"""Operator tools for the embedded default: invitations made from the command line.

``trellis invite`` and ``trellis up --demo`` use this: it runs the same rules as
``POST /api/v1/invitations`` as the platform's operator, on the partners
database, and answers the one-time link (the mail goes out as well).
"""

import uuid

from services.common.auth import Caller
from services.common.db import Database
from services.common.errors import Problem
from services.common.mail import Mailer
from services.partners.config import Settings
from services.partners.funders import repository as funders_repository
from services.partners.people import invitations
from services.partners.people.schemas import InvitationCreate

OPERATOR = Caller(
    sub="operator:trellis-cli", roles=frozenset({"platform_admin"}), name="The Trellis operator"
)


class OperatorError(Exception):
    """Something the operator can fix, in one sentence."""


async def invite(
    settings: Settings,
    *,
    email: str,
    funder_slug: str | None = None,
    partner_id: str | None = None,
    admin: bool = False,
) -> str:
    """Invite ``email`` as staff of a funder, an organisation's first person, or an admin."""
    if sum(bool(x) for x in (funder_slug, partner_id, admin)) != 1:
        raise OperatorError("say one of --funder <slug>, --partner <id> or --admin")
    db = Database(settings.effective_database_url)
    mailer = Mailer(
        smtp_url=settings.smtp_url, mail_dir=settings.mail_dir, sender=settings.mail_from
    )
    try:
        async with db.sessionmaker() as session:
            funder_id = None
            if funder_slug:
                funder = await funders_repository.get_funder_by_slug(session, funder_slug)
                if funder is None:
                    raise OperatorError(f"there is no funder with the slug '{funder_slug}'")
                funder_id = funder.id
            target = None
            if partner_id:
                try:
                    target = uuid.UUID(partner_id)
                except ValueError as exc:
                    raise OperatorError("--partner takes the organisation's id (a UUID)") from exc
            role = "funder_staff" if funder_id else "partner" if target else "platform_admin"
            try:
                data = InvitationCreate(
                    email=email, role=role, funder_id=funder_id, partner_id=target
                )
                _invitation, link = await invitations.create_invitation(
                    session=session,
                    caller=OPERATOR,
                    data=data,
                    mailer=mailer,
                    base_url=settings.base_url,
                    ttl=settings.invitation_ttl,
                )
            except Problem as exc:
                raise OperatorError(exc.detail[0].lower() + exc.detail[1:]) from exc
            except ValueError as exc:
                raise OperatorError(f"{email!r} is not an email address") from exc
            await session.commit()
            for hook in session.info.pop("after_commit", []):
                hook()
        await mailer.drain()
    finally:
        await db.dispose()
    return link
