"""HTTP routes for people, memberships, invitations and password resets (the JSON API).

The pages a person opens from an email (accept an invitation, choose a new
password) are in ``people/pages.py``.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import AdminDep, Caller, require_roles
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.lists import ListQuery, list_query
from services.common.mail import Mailer
from services.common.service_app import problem_responses
from services.partners.people import capabilities, invitations, service
from services.partners.people.schemas import (
    Invitation,
    InvitationCreate,
    Membership,
    MembershipUpdate,
    PasswordResetRequest,
    PasswordResetRequested,
    Person,
)

router = APIRouter(tags=["people"])
PeopleCallerDep = Annotated[Caller, require_roles("platform_admin", "funder_staff", "partner")]

PeopleQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "people",
            sortable=["id", "name", "email", "created_at"],
            filterable=["email"],
            default_sort=("name", "ASC"),
        )
    ),
]
MembershipQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "memberships",
            sortable=["id", "role", "created_at"],
            filterable=["person_id", "funder_id", "partner_id", "role"],
        )
    ),
]
InvitationQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "invitations",
            sortable=["id", "email", "created_at", "expires_at"],
            filterable=["funder_id", "partner_id", "status", "accepted_by_person_id"],
        )
    ),
]


def _mailer(request: Request) -> Mailer:
    return request.app.state.mailer


@router.get("/people", response_model=list[Person])
async def list_people(
    session: SessionDep, caller: PeopleCallerDep, query: PeopleQuery, response: Response
) -> list[Person]:
    """People who hold a membership where you work: your funder's staff, or your
    organisation's people (platform admins: everyone)."""
    page = await service.list_people(session=session, caller=caller, query=query)
    page.apply(response, "people")
    return [Person.model_validate(p) for p in page.items]


@router.get("/people/{person_id}", response_model=Person)
async def get_person(person_id: uuid.UUID, session: SessionDep, caller: PeopleCallerDep) -> Person:
    """One person you share a funder or an organisation with."""
    person = await service.get_person(session=session, caller=caller, person_id=person_id)
    return Person.model_validate(person)


@router.post("/people/{person_id}/disable", response_model=Person)
async def disable_person(person_id: uuid.UUID, session: SessionDep, caller: AdminDep) -> Person:
    """Stop a person signing in; their sign-ins are revoked. Platform admins only."""
    person = await service.disable_person(session=session, caller=caller, person_id=person_id)
    return Person.model_validate(person)


@router.get("/memberships", response_model=list[Membership])
async def list_memberships(
    session: SessionDep, caller: PeopleCallerDep, query: MembershipQuery, response: Response
) -> list[Membership]:
    """Active memberships at your funder or organisation (platform admins: all)."""
    page = await service.list_memberships(session=session, caller=caller, query=query)
    page.apply(response, "memberships")
    return [Membership.model_validate(m) for m in page.items]


@router.get("/memberships/{membership_id}", response_model=Membership)
async def get_membership(
    membership_id: uuid.UUID, session: SessionDep, caller: PeopleCallerDep
) -> Membership:
    """One active membership of your funder or organisation."""
    membership = await service.get_membership(
        session=session, caller=caller, membership_id=membership_id
    )
    return Membership.model_validate(membership)


@router.put(
    "/memberships/{membership_id}", response_model=Membership, responses=problem_responses(412)
)
async def update_membership(
    membership_id: uuid.UUID,
    body: MembershipUpdate,
    session: SessionDep,
    caller: PeopleCallerDep,
    if_match: IfMatchDep,
    request: Request,
    response: Response,
) -> Membership:
    """Set a colleague's capabilities (``finance``: budgets, payment runs, bank details;
    ``trustee``: decisions above the limit; ``staff_admin``: set these) and personal
    decision limit. Your funder's staff admins and platform admins only (403), never on
    your own membership (403), only on a funder's staff membership (422). They are roles
    and a ``decision_limit`` claim in the person's next access token; their current tokens
    stop working at once."""
    membership = await capabilities.update_membership(
        session=session,
        caller=caller,
        membership_id=membership_id,
        data=body,
        if_match=if_match,
        local=request.app.state.revocations,
    )
    response.headers["ETag"] = etag(membership)
    return Membership.model_validate(membership)


@router.delete(
    "/memberships/{membership_id}", response_model=Membership, responses=problem_responses(409)
)
async def remove_membership(
    membership_id: uuid.UUID, session: SessionDep, caller: PeopleCallerDep
) -> Membership:
    """End a colleague's membership of your funder or organisation.

    Their sign-ins acting under it are revoked. An organisation always keeps at
    least one of its own people (409 for the last one).
    """
    membership = await service.remove_membership(
        session=session, caller=caller, membership_id=membership_id
    )
    return Membership.model_validate(membership)


@router.post(
    "/invitations", status_code=201, response_model=Invitation, responses=problem_responses(409)
)
async def create_invitation(
    body: InvitationCreate,
    request: Request,
    session: SessionDep,
    caller: PeopleCallerDep,
    response: Response,
) -> Invitation:
    """Invite someone by email; the one-time link goes by mail, after this is saved.

    A funder's staff invite colleagues, or an organisation they know through one of
    its contacts' emails (accepting claims the organisation's own record, and it
    then shares with your funder). An organisation's people invite colleagues.
    """
    settings = request.app.state.settings
    invitation, _link = await invitations.create_invitation(
        session=session,
        caller=caller,
        data=body,
        mailer=_mailer(request),
        base_url=settings.base_url,
        ttl=settings.invitation_ttl,
    )
    response.headers["Location"] = f"/api/v1/invitations/{invitation.id}"
    return Invitation.model_validate(invitation)


@router.get("/invitations", response_model=list[Invitation])
async def list_invitations(
    session: SessionDep, caller: PeopleCallerDep, query: InvitationQuery, response: Response
) -> list[Invitation]:
    """Invitations your funder or organisation sent (platform admins: all).
    Filter by ``status``: pending, accepted, withdrawn; ``funder_id``, ``partner_id``,
    ``accepted_by_person_id`` (the person who accepted it)."""
    page = await invitations.list_invitations(session=session, caller=caller, query=query)
    page.apply(response, "invitations")
    return [Invitation.model_validate(i) for i in page.items]


@router.get("/invitations/{invitation_id}", response_model=Invitation)
async def get_invitation(
    invitation_id: uuid.UUID, session: SessionDep, caller: PeopleCallerDep
) -> Invitation:
    """One invitation your funder or organisation sent (never its link)."""
    invitation = await invitations.get_invitation(
        session=session, caller=caller, invitation_id=invitation_id
    )
    return Invitation.model_validate(invitation)


@router.delete(
    "/invitations/{invitation_id}", response_model=Invitation, responses=problem_responses(409)
)
async def withdraw_invitation(
    invitation_id: uuid.UUID, session: SessionDep, caller: PeopleCallerDep
) -> Invitation:
    """Withdraw an invitation that was not accepted yet: its link stops working."""
    invitation = await invitations.withdraw_invitation(
        session=session, caller=caller, invitation_id=invitation_id
    )
    return Invitation.model_validate(invitation)


@router.post("/password-resets", status_code=202, response_model=PasswordResetRequested)
async def request_password_reset(
    body: PasswordResetRequest, request: Request, session: SessionDep
) -> PasswordResetRequested:
    """Ask for a password reset link by email. The answer is the same whether or not
    there is such an account."""
    settings = request.app.state.settings
    await service.request_password_reset(
        session=session,
        email=body.email,
        mailer=_mailer(request),
        base_url=settings.base_url,
        ttl=settings.password_reset_ttl,
    )
    return PasswordResetRequested()
