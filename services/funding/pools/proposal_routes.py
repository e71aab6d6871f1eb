"""HTTP routes of a pool's proposals and votes. Thin handlers; the rules live in ``proposals``.

Only the staff of member funders see a pool's proposals (anyone else gets 404); a
vote or a decision answers the proposal as the pool's rule left it.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Caller, StaffDep
from services.common.db import SessionDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import problem_responses
from services.funding.grants.routes import PartnersDep
from services.funding.pools import proposals
from services.funding.pools.models import PoolProposal as ProposalRow
from services.funding.pools.models import PoolVote as VoteRow
from services.funding.pools.routes import pool_location
from services.funding.pools.schemas import Proposal, ProposalCreate, Tally, Vote, VoteCreate

router = APIRouter(tags=["pools"])

ProposalListQuery = Annotated[
    ListQuery,
    Depends(
        list_query(
            "proposals",
            sortable=["created_at", "amount"],
            filterable=["status", "partner_id", "pool_id", "proposed_by_funder_id", "grant_id"],
        )
    ),
]


def proposal_out(row: ProposalRow, votes: list[VoteRow], members: int) -> Proposal:
    counts = row.tally or proposals.tally(votes, None, members)
    return Proposal.model_validate(
        {
            **{k: getattr(row, k) for k in Proposal.model_fields if k not in ("tally", "votes")},
            "tally": Tally(**counts),
            "votes": [Vote.model_validate(v) for v in votes],
        }
    )


async def proposal_now(
    session: AsyncSession, caller: Caller, pool_id: uuid.UUID, proposal: ProposalRow
) -> Proposal:
    """``proposal`` as a change left it, read again with its votes and tally."""
    _, votes, members = await proposals.get_proposal(
        session=session, caller=caller, pool_id=pool_id, proposal_id=proposal.id
    )
    return proposal_out(proposal, votes, members)


@router.post(
    "/pools/{pool_id}/proposals",
    status_code=201,
    response_model=Proposal,
    responses=problem_responses(403, 404, 422, 503),
)
async def propose(
    pool_id: uuid.UUID,
    body: ProposalCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
    partners: PartnersDep,
) -> Response:
    """Propose a core grant from the pool to a partner of your funder or of the host
    (checked with the partners service: 503 and nothing written if it cannot be reached).
    No KPIs, targets or restrictions, as for every core grant. Members then vote."""
    proposal = await proposals.propose(
        session=session, caller=caller, partners=partners, pool_id=pool_id, data=body
    )
    return await idem.respond(
        session,
        await proposal_now(session, caller, pool_id, proposal),
        headers=pool_location(pool_id, f"/proposals/{proposal.id}"),
    )


@router.get("/pools/{pool_id}/proposals", response_model=list[Proposal])
async def list_proposals(
    pool_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    query: ProposalListQuery,
    response: Response,
) -> list[Proposal]:
    """The pool's proposals with their votes. Filters: ``status``, ``partner_id``, ``id``."""
    page, votes, members = await proposals.list_proposals(
        session=session, caller=caller, pool_id=pool_id, query=query
    )
    page.apply(response, "proposals")
    return [proposal_out(p, votes[p.id], members) for p in page.items]


@router.get("/pools/{pool_id}/proposals/{proposal_id}", response_model=Proposal)
async def get_proposal(
    pool_id: uuid.UUID, proposal_id: uuid.UUID, session: SessionDep, caller: StaffDep
) -> Proposal:
    """One proposal: its votes with comments, the tally, and the rule's reasoning."""
    proposal, votes, members = await proposals.get_proposal(
        session=session, caller=caller, pool_id=pool_id, proposal_id=proposal_id
    )
    return proposal_out(proposal, votes, members)


@router.post(
    "/pools/{pool_id}/proposals/{proposal_id}/votes",
    status_code=201,
    response_model=Proposal,
    responses=problem_responses(403, 404, 409, 503),
)
async def vote(
    pool_id: uuid.UUID,
    proposal_id: uuid.UUID,
    body: VoteCreate,
    session: SessionDep,
    caller: StaffDep,
    idem: IdempotencyDep,
    partners: PartnersDep,
) -> Response:
    """Vote ``approve``, ``object`` or ``abstain`` with a comment (a second vote by your
    funder replaces its first while the proposal is open). The pool's rule then decides:
    the answer is the proposal with its status and the reasoning in words. Approval
    commits the money (only if the pool's available balance covers it; otherwise the
    proposal is ``awaiting_funds``) and makes the core grant."""
    proposal = await proposals.vote(
        session=session,
        caller=caller,
        partners=partners,
        pool_id=pool_id,
        proposal_id=proposal_id,
        data=body,
    )
    return await idem.respond(
        session,
        await proposal_now(session, caller, pool_id, proposal),
        headers=pool_location(pool_id, f"/proposals/{proposal.id}"),
    )


@router.post(
    "/pools/{pool_id}/proposals/{proposal_id}/decide",
    response_model=Proposal,
    responses=problem_responses(403, 404, 409, 503),
)
async def decide(
    pool_id: uuid.UUID,
    proposal_id: uuid.UUID,
    session: SessionDep,
    caller: StaffDep,
    partners: PartnersDep,
) -> Proposal:
    """Apply the pool's rule again, e.g. to a proposal awaiting funds once more is received."""
    proposal = await proposals.decide(
        session=session, caller=caller, partners=partners, pool_id=pool_id, proposal_id=proposal_id
    )
    return await proposal_now(session, caller, pool_id, proposal)
