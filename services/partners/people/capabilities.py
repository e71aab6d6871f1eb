"""The rules of what a funder's staff member may do beyond the staff role.

A funder's staff admins (``staff_admin``), or a platform admin, set a colleague's
capabilities (``finance``, ``trustee``, ``staff_admin``) and personal decision limit on
the colleague's membership. They reach the services as roles and a ``decision_limit``
claim in the access token the person gets when they sign in (or refresh), so funding's
four-eyes rule and approval limits read who the person is, not a role typed by hand.
Nobody changes their own: a second person always grants a payment or decision power.
A change refuses the person's current access tokens at once (revocation by membership),
so a capability taken away stops working within seconds, not at the token's expiry.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.errors import Forbidden, Unprocessable
from services.common.revocation import RevocationList, mid_key
from services.partners.identity.service import person_sub
from services.partners.people import service
from services.partners.people.models import Membership
from services.partners.people.schemas import MembershipUpdate
from services.partners.revocations.service import revoke


async def update_membership(
    *,
    session: AsyncSession,
    caller: Caller,
    membership_id: uuid.UUID,
    data: MembershipUpdate,
    if_match: str | None,
    local: RevocationList | None = None,
) -> Membership:
    """Set a staff member's capabilities and decision limit (staff admins, platform admins).
    ``local`` (this replica's revocation list) learns of it right after the commit."""
    membership = await service.get_membership(
        session=session, caller=caller, membership_id=membership_id
    )
    if not (caller.has("platform_admin") or caller.has("staff_admin")):
        raise Forbidden(
            "Only your funder's staff admins (the staff_admin capability) or a platform "
            "admin set capabilities and decision limits."
        )
    if membership.role != "funder_staff":
        raise Unprocessable(
            f"Capabilities and decision limits belong to a funder's staff; this is a "
            f"{membership.role} membership.",
            errors={"capabilities": ["only for funder_staff memberships"]},
        )
    if caller.sub == person_sub(membership.person_id):
        raise Forbidden(
            "You cannot change your own capabilities or decision limit: another staff admin "
            "of your funder (or a platform admin) does, so nobody grants themselves the "
            "power to pay or decide.",
            slug="own-membership",
        )
    check_if_match(if_match, membership)
    changes = data.changes()
    before = {
        "capabilities": list(membership.capabilities or []),
        "decision_limit": membership.decision_limit,
        "decision_limit_currency": membership.decision_limit_currency,
    }
    if "capabilities" in changes:
        membership.capabilities = sorted(set(changes["capabilities"]))
    if "decision_limit" in changes:
        membership.decision_limit = changes["decision_limit"]
        membership.decision_limit_currency = changes.get("decision_limit_currency")
    membership.version += 1
    await session.flush()
    # Revocation point: capabilities changed (the next token carries the new ones).
    await revoke(
        session=session,
        key=mid_key(membership.id),
        reason="capabilities_changed",
        caller=caller,
        local=local,
    )
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="membership",
        entity_id=membership.id,
        changes={
            "before": before,
            "after": {
                "capabilities": membership.capabilities,
                "decision_limit": membership.decision_limit,
                "decision_limit_currency": membership.decision_limit_currency,
            },
        },
    )
    return membership
