"""The money rules of a pool: every movement is an append-only ledger entry.

The pool's *available* balance is what members have contributed (received) less
what the pool has committed to grants; its *cash* is what was received less what
was paid out. Every function that commits or pays money first takes a row lock
on the pool (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers),
then reads the balance from the ledger and writes its entries in the same
transaction, so concurrent approvals, payments and reversals can never overdraw
it. Nothing here updates or deletes an entry.

Grants use these too (a pooled grant's payments, withdrawal and variations move
the pool's money), so this module imports nothing from ``grants.service``.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Conflict, NotFound
from services.funding.grants.models import Grant, GrantFundingOrganisation
from services.funding.grants.schedule import describe
from services.funding.pools import repository
from services.funding.pools.models import Pool, PoolLedgerEntry
from services.funding.pools.shares import largest_remainder


@dataclass(frozen=True, slots=True)
class Balance:
    """A pool's net totals, from its ledger."""

    pledged: int
    received: int
    committed: int
    paid: int

    @property
    def available(self) -> int:
        """Received but not yet committed: what new grants can use."""
        return self.received - self.committed

    @property
    def cash(self) -> int:
        """Received and not yet paid out."""
        return self.received - self.paid


async def lock(session: AsyncSession, pool_id: uuid.UUID) -> Pool:
    """Take the pool's row lock for the rest of the transaction (money is about to move)."""
    pool = await repository.get_pool(session, pool_id, for_update=True)
    if pool is None:
        raise NotFound("There is no pool with this id.")
    return pool


async def balance(session: AsyncSession, pool_id: uuid.UUID) -> Balance:
    t = await repository.totals(session, pool_id)
    return Balance(t["pledge"], t["contribution"], t["commitment"], t["payment"])


async def post(
    session: AsyncSession,
    *,
    pool: Pool,
    kind: str,
    funder_id: uuid.UUID,
    amount: int,
    posted_on: date,
    recorded_by: str,
    **links: object,
) -> PoolLedgerEntry:
    """Append one entry (the pool must be locked: entry numbers are 1, 2, 3... per pool)."""
    entry = PoolLedgerEntry(
        pool_id=pool.id,
        sequence=await repository.next_sequence(session, pool.id),
        kind=kind,
        funder_id=funder_id,
        amount=amount,
        currency=pool.currency,
        posted_on=posted_on,
        recorded_by=recorded_by,
        **links,
    )
    session.add(entry)
    await session.flush()
    return entry


def _short(pool: Pool, bal: Balance, amount: int, doing: str) -> Conflict:
    c = pool.currency
    return Conflict(
        f"The pool's available balance is {describe(bal.available, c)} (received "
        f"{describe(bal.received, c)}, committed {describe(bal.committed, c)}); it does not "
        f"cover {describe(amount, c)} for {doing}. A pool is never overcommitted: record more "
        "contributions first.",
        slug="pool-balance-insufficient",
        extra={"available": bal.available, "needed": amount, "currency": c},
    )


async def contribution_weights(
    session: AsyncSession, pool: Pool, members: list[uuid.UUID]
) -> list[tuple[uuid.UUID, int]]:
    """Each member's net contributions so far (members without any weigh nothing)."""
    contributed = await repository.contributions_by_member(session, pool.id)
    funders = list(dict.fromkeys([*members, *sorted(contributed, key=str)]))
    return [(f, max(contributed.get(f, 0), 0)) for f in funders]


async def split_commitment(
    session: AsyncSession, *, pool: Pool, amount: int, members: list[uuid.UUID], doing: str
) -> list[tuple[uuid.UUID, int]]:
    """The shares of a new commitment of ``amount`` from the (locked) pool: in proportion to
    each member's contributions now, largest remainder. 409 if the available balance does
    not cover it."""
    bal = await balance(session, pool.id)
    if bal.available < amount:
        raise _short(pool, bal, amount, doing)
    return largest_remainder(amount, await contribution_weights(session, pool, members))


async def post_commitments(
    session: AsyncSession,
    *,
    pool: Pool,
    shares: list[tuple[uuid.UUID, int]],
    on: date,
    recorded_by: str,
    grant_id: uuid.UUID,
    proposal_id: uuid.UUID | None = None,
    memo: str | None = None,
) -> None:
    """One commitment entry per member with a share."""
    for funder_id, share in shares:
        if share:
            await post(
                session,
                pool=pool,
                kind="commitment",
                funder_id=funder_id,
                amount=share,
                posted_on=on,
                recorded_by=recorded_by,
                grant_id=grant_id,
                proposal_id=proposal_id,
                memo=memo,
            )


async def _split_outstanding(
    session: AsyncSession, grant: Grant, amount: int
) -> list[tuple[uuid.UUID, int]]:
    outstanding = await repository.grant_outstanding(session, grant.id)
    weights = sorted(((f, max(a, 0)) for f, a in outstanding.items()), key=lambda w: str(w[0]))
    if amount > sum(w for _, w in weights):
        raise Conflict(
            "This pooled grant has less committed and unpaid in the pool's ledger than "
            f"{describe(amount, grant.currency)}.",
            slug="pool-ledger-mismatch",
        )
    return largest_remainder(amount, weights) if weights else []


async def pay(
    session: AsyncSession,
    *,
    grant: Grant,
    amount: int,
    paid_on: date,
    payment_id: uuid.UUID,
    recorded_by: str,
) -> None:
    """A pooled grant's instalment is paid out of the pool: payment entries per member, in
    proportion to what each still has committed to the grant (exact to the penny)."""
    assert grant.pool_id is not None
    pool = await lock(session, grant.pool_id)
    bal = await balance(session, pool.id)
    if bal.cash < amount:
        raise Conflict(
            f"The pool holds {describe(bal.cash, pool.currency)}; it cannot pay "
            f"{describe(amount, pool.currency)}.",
            slug="pool-balance-insufficient",
        )
    for funder_id, part in await _split_outstanding(session, grant, amount):
        if part:
            await post(
                session,
                pool=pool,
                kind="payment",
                funder_id=funder_id,
                amount=part,
                posted_on=paid_on,
                recorded_by=recorded_by,
                grant_id=grant.id,
                payment_id=payment_id,
            )


async def release(
    session: AsyncSession,
    *,
    grant: Grant,
    amount: int | None,
    on: date,
    recorded_by: str,
    memo: str,
) -> list[tuple[uuid.UUID, int]]:
    """Give back to the pool's available balance money committed to a grant and not paid
    (``None``: all of it, as on withdrawal). Reversing commitment entries, per member."""
    assert grant.pool_id is not None
    pool = await lock(session, grant.pool_id)
    if amount is None:
        outstanding = await repository.grant_outstanding(session, grant.id)
        parts = sorted(((f, a) for f, a in outstanding.items() if a > 0), key=lambda p: str(p[0]))
    else:
        parts = await _split_outstanding(session, grant, amount)
    for funder_id, part in parts:
        if part:
            await post(
                session,
                pool=pool,
                kind="commitment",
                funder_id=funder_id,
                amount=-part,
                posted_on=on,
                recorded_by=recorded_by,
                grant_id=grant.id,
                memo=memo,
            )
    return parts


async def commit_more(
    session: AsyncSession, *, grant: Grant, amount: int, on: date, recorded_by: str, memo: str
) -> list[tuple[uuid.UUID, int]]:
    """An uplift of a pooled grant is a new commitment of the pool (409 if not covered)."""
    assert grant.pool_id is not None
    pool = await lock(session, grant.pool_id)
    members = [o.funder_id for o in grant.funding_organisations]
    shares = await split_commitment(
        session, pool=pool, amount=amount, members=members, doing="this uplift"
    )
    await post_commitments(
        session,
        pool=pool,
        shares=shares,
        on=on,
        recorded_by=recorded_by,
        grant_id=grant.id,
        memo=memo,
    )
    return shares


def change_shares(grant: Grant, deltas: list[tuple[uuid.UUID, int]], *, sign: int) -> None:
    """Apply a variation's per-member amounts to the grant's recorded shares."""
    orgs = {o.funder_id: o for o in grant.funding_organisations}
    position = len(orgs)
    for funder_id, delta in deltas:
        if not delta:
            continue
        org = orgs.get(funder_id)
        if org is None:
            org = GrantFundingOrganisation(
                grant_id=grant.id, funder_id=funder_id, position=position, share_amount=0
            )
            position += 1
            grant.funding_organisations.append(org)
            orgs[funder_id] = org
        org.share_amount = (org.share_amount or 0) + sign * delta
