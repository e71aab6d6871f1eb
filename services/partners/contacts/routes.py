"""HTTP routes of contacts."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import PartnerDep, StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.contacts import service
from services.partners.contacts.schemas import Contact, ContactCreate, ContactErased, ContactUpdate

router = APIRouter(tags=["contacts"])

ContactQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "contacts",
            sortable=["name", "created_at", "updated_at"],
            filterable=["partner_id", "q"],
            default_sort=("name", "ASC"),
        )
    ),
]


@router.post("/contacts", status_code=201, response_model=Contact, responses=problem_responses(409))
async def create_contact(
    body: ContactCreate, session: SessionDep, caller: PartnerDep, idem: IdempotencyDep
) -> Response:
    """Add a person at your organisation (partners manage their own contacts). Example::

    {"name": "Jo Baker", "role": "Director", "email": "jo@hillside.example.org",
     "phone": "+44 191 496 0000"}
    """
    contact = await service.create_contact(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        Contact.model_validate(contact),
        headers={"Location": f"/api/v1/contacts/{contact.id}", "ETag": etag(contact)},
    )


@router.get("/contacts", response_model=list[Contact])
async def list_contacts(
    session: SessionDep, caller: StaffOrPartnerDep, query: ContactQuery, response: Response
) -> list[Contact]:
    """Your organisation's contacts (partner), or those of partners that share with your funder.

    A funder's staff see an organisation's contacts only once it has accepted the
    funder (see ``/partners/{id}/sharing``).

    Filters: ``partner_id``, ``q`` (name or role contains), ``id``.
    """
    page = await service.list_contacts(session=session, caller=caller, query=query)
    page.apply(response, "contacts")
    return [Contact.model_validate(c) for c in page.items]


@router.get("/contacts/{contact_id}", response_model=Contact)
async def get_contact(
    contact_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Contact:
    """One contact."""
    contact = await service.get_contact(session=session, caller=caller, contact_id=contact_id)
    response.headers["ETag"] = etag(contact)
    return Contact.model_validate(contact)


@router.put("/contacts/{contact_id}", response_model=Contact, responses=problem_responses(412))
async def update_contact(
    contact_id: uuid.UUID,
    body: ContactUpdate,
    session: SessionDep,
    caller: PartnerDep,
    if_match: IfMatchDep,
    response: Response,
) -> Contact:
    """Change one of your contacts (partners)."""
    contact = await service.update_contact(
        session=session, caller=caller, contact_id=contact_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(contact)
    return Contact.model_validate(contact)


@router.delete("/contacts/{contact_id}", response_model=ContactErased)
async def erase_contact(
    contact_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep
) -> ContactErased:
    """Erase a contact on request: their personal data is removed from every record about them.

    The contact goes; the audit log keeps that changes happened, not what they
    were; queued events and stored answers about the contact lose the person's
    data. Where the person signed in with their email, what they wrote
    themselves (updates, replies, documents) loses their name, email and phone,
    and every "who did it" that names them becomes ``[erased]``. Records are
    found by their links to the person, never by searching for words: notes
    other people wrote (a funder's interaction summaries) keep their words; edit
    them with ``PUT`` if they name the person. The partner, or staff of a funder
    it shares with (a person may ask either), may erase.
    """
    contact, erased_at = await service.erase_contact(
        session=session, caller=caller, contact_id=contact_id
    )
    return ContactErased(id=contact.id, partner_id=contact.partner_id, erased_at=erased_at)
