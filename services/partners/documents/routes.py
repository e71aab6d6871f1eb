"""HTTP routes of documents."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.auth import StaffOrPartnerDep
from services.common.concurrency import IfMatchDep, etag
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.partners.documents import service
from services.partners.documents.schemas import Document, DocumentCreate, DocumentUpdate

router = APIRouter(tags=["documents"])

DocumentQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "documents",
            sortable=["created_at", "updated_at", "year", "title", "kind"],
            filterable=[
                "partner_id",
                "kind",
                "year",
                "added_by_partner",
                "created_at_gte",
                "created_at_lte",
            ],
            default_sort=("created_at", "DESC"),
        )
    ),
]


@router.post(
    "/documents", status_code=201, response_model=Document, responses=problem_responses(409)
)
async def create_document(
    body: DocumentCreate, session: SessionDep, caller: StaffOrPartnerDep, idem: IdempotencyDep
) -> Response:
    """Link a document the partner already has: annual report, accounts, strategy, policy.

    Example body (a partner; staff add ``"partner_id"``)::

        {"title": "Annual report 2024", "kind": "annual_report", "year": 2024,
         "url": "https://hillside.example.org/annual-report-2024.pdf"}

    ``kind`` is one of annual_report, accounts, strategy, policy, other. The URL
    must be http:// or https://; Trellis stores it and never fetches it. A
    partner adds its own documents (every funder it shares with sees them); staff
    may add a link they found (only their funder and the partner see it). There
    is no application form. Accepts ``Idempotency-Key``.
    """
    document = await service.create_document(session=session, caller=caller, data=body)
    return await idem.respond(
        session,
        Document.model_validate(document),
        headers={"Location": f"/api/v1/documents/{document.id}", "ETag": etag(document)},
    )


@router.get("/documents", response_model=list[Document])
async def list_documents(
    session: SessionDep, caller: StaffOrPartnerDep, query: DocumentQuery, response: Response
) -> list[Document]:
    """Documents of your organisation (partner), or of your funder's partners (staff).

    Filters: ``partner_id``, ``kind`` (one or a list), ``year``, ``added_by_partner``
    (true/false), ``created_at_gte`` / ``created_at_lte``, ``id``.
    """
    page = await service.list_documents(session=session, caller=caller, query=query)
    page.apply(response, "documents")
    return [Document.model_validate(d) for d in page.items]


@router.get("/documents/{document_id}", response_model=Document)
async def get_document(
    document_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, response: Response
) -> Document:
    """One document link."""
    document = await service.get_document(session=session, caller=caller, document_id=document_id)
    response.headers["ETag"] = etag(document)
    return Document.model_validate(document)


@router.put("/documents/{document_id}", response_model=Document, responses=problem_responses(412))
async def update_document(
    document_id: uuid.UUID,
    body: DocumentUpdate,
    session: SessionDep,
    caller: StaffOrPartnerDep,
    if_match: IfMatchDep,
    response: Response,
) -> Document:
    """Change a document link; the side that added it changes it."""
    document = await service.update_document(
        session=session, caller=caller, document_id=document_id, data=body, if_match=if_match
    )
    response.headers["ETag"] = etag(document)
    return Document.model_validate(document)


@router.delete(
    "/documents/{document_id}", response_model=Document, responses=problem_responses(412)
)
async def delete_document(
    document_id: uuid.UUID, session: SessionDep, caller: StaffOrPartnerDep, if_match: IfMatchDep
) -> Document:
    """Remove a document link; the side that added it removes it."""
    document = await service.delete_document(
        session=session, caller=caller, document_id=document_id, if_match=if_match
    )
    return Document.model_validate(document)
