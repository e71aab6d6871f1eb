"""The rules of open data: a funder's choice to publish, and the streaming 360Giving export.

The export reads a funder's awarded grants in award order by keyset batches
(each batch its own short read), asks the partners service for the batch's
recipients in one call per chunk of ids, and yields bytes as it goes: memory
stays flat however many grants there are.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, Literal, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Caller
from services.common.concurrency import check_if_match
from services.common.db import Database
from services.common.errors import NotFound
from services.common.http import ServiceClient
from services.funding.opendata import giving360, repository
from services.funding.opendata.models import FunderSetting
from services.funding.opendata.schemas import FunderSettingsUpdate

ExportFormat = Literal["json", "csv"]
BATCH_SIZE = 2000
IDS_PER_LOOKUP = 100
CACHE_LIMIT = 5000


async def get_settings(*, session: AsyncSession, caller: Caller) -> FunderSetting:
    """Your funder's settings (not published until you choose to)."""
    assert caller.staff_funder_id is not None
    settings = await repository.get_settings(session, caller.staff_funder_id)
    return settings or FunderSetting(
        funder_id=caller.staff_funder_id, funder_slug=None, publish_360giving=False, version=0
    )


async def update_settings(
    *,
    session: AsyncSession,
    caller: Caller,
    partners: ServiceClient,
    data: FunderSettingsUpdate,
    if_match: str | None,
) -> FunderSetting:
    """Choose whether your grants are published; the public URL uses your funder's slug."""
    assert caller.staff_funder_id is not None
    funder = await partners.get_json(f"/internal/funders/{caller.staff_funder_id}")
    if funder is None:
        raise NotFound("Your funder is not known to the partners service.")
    settings = await repository.get_settings(session, caller.staff_funder_id, for_update=True)
    if settings is None:
        settings = FunderSetting(
            funder_id=caller.staff_funder_id, publish_360giving=False, version=1
        )
        check_if_match(if_match, SimpleNamespace(version=0))
        session.add(settings)
    else:
        check_if_match(if_match, settings)
    settings.funder_slug = funder["slug"]
    settings.publish_360giving = data.publish_360giving
    await session.flush()
    audit.record(
        session,
        caller=caller,
        action="update",
        entity_type="funder_settings",
        entity_id=caller.staff_funder_id,
        changes={"publish_360giving": data.publish_360giving},
    )
    return settings


async def published_funder(*, session: AsyncSession, slug: str) -> uuid.UUID:
    """The funder publishing its grants under ``slug``; 404 if it does not publish."""
    settings = await repository.get_settings_by_slug(session, slug)
    if settings is None or not settings.publish_360giving:
        raise NotFound(f"There is no funder publishing its grants as '{slug}'.")
    return settings.funder_id


class Batch(NamedTuple):
    """A batch of ``repository.ExportRow``s with what its pooled grants need: their funding
    organisations (grant id -> (funder id, share)s) and pools' names."""

    rows: list[Any]
    funders: dict[str, list[tuple[str, int | None]]]
    pools: dict[str, str]


class Export:
    """One 360Giving export of one funder's awarded grants, streamed in batches."""

    def __init__(
        self,
        *,
        db: Database,
        partners: ServiceClient,
        funder_id: uuid.UUID,
        fmt: ExportFormat,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.db = db
        self.partners = partners
        self.funder_id = funder_id
        self.fmt = fmt
        self.batch_size = batch_size
        # Rows are ``repository.ExportRow``s, all text: ids are keyed by their text here.
        self._funders: dict[str, dict[str, str]] = {}
        self._recipients: dict[str, dict[str, Any] | None] = {}
        self._prefix = ""
        self._first = Batch([], {}, {})
        self._batch_pools: dict[str, str] = {}
        self._grant_funders: dict[str, list[tuple[str, int | None]]] = {}
        self._pools: dict[str, str] = {}
        self._funding_orgs = 1
        self._pooled = True
        self._own: list[dict[str, str]] = []
        self._recipient_orgs: dict[tuple[str, str], tuple[Any, dict[str, str]]] = {}
        self._shapes = giving360.Shapes(CACHE_LIMIT)
        # The funder's own grants name it, and each partner, the same way every time:
        # serialised once (JSON) or neutralised once (CSV cells).
        self._own_shaped: Any = None
        self._recipients_shaped: dict[str, Any] = {}

    async def open(self) -> AsyncIterator[bytes]:
        """Check what can fail before the first byte (503, 404), then return the stream."""
        funder = await self._funder(str(self.funder_id))
        self._prefix = funder["prefix"]
        async with self.db.sessionmaker() as session:
            shape = await repository.pooled_shape(session, self.funder_id)
        # No pooled grant names this funder: every grant is its own, funded by it alone.
        self._pooled = shape > 0
        self._funding_orgs = max(1, shape)
        self._own = [{"id": funder["id"], "name": funder["name"]}]
        self._own_shaped = (
            giving360.funder_cells(self._own) if self.fmt == "csv" else giving360.encoded(self._own)
        )
        self._first = await self._read(None)
        if not self._first.rows and self.fmt == "json":
            raise NotFound(
                "There are no awarded grants to publish yet: a 360Giving package holds at least one."
            )
        return self._stream()

    async def _funder(self, funder_id: str) -> dict[str, str]:
        if funder_id not in self._funders:
            funder = await self.partners.get_json(f"/internal/funders/{funder_id}")
            if funder is None:
                raise NotFound("There is no funder with this id.")
            self._funders[funder_id] = {
                **giving360.funder_org(funder),
                "prefix": funder["prefix_360giving"],
            }
        return self._funders[funder_id]

    async def _read(self, after: tuple[str, str] | None) -> Batch:
        """The next batch: its rows and, for its pooled grants, their funding organisations
        and pools' names (carried with the batch: the next one is read while it renders)."""
        rows = await repository.export_rows(
            self.db,
            funder_id=self.funder_id,
            after=after,
            limit=self.batch_size,
            pooled=self._pooled,
        )
        # Only a pooled grant has funding organisations beyond its own funder.
        pooled = [uuid.UUID(r.id) for r in rows if r.pool_id]
        if not pooled:
            return Batch(rows, {}, {})
        async with self.db.sessionmaker() as session:
            found = await repository.funders_of_grants(session, pooled)
            pool_ids = {r.pool_id for r in rows if r.pool_id}
            missing = pool_ids - set(self._pools)
            if len(self._pools) > CACHE_LIMIT:
                self._pools.clear()
            if missing:
                names = await repository.pool_names(session, sorted(map(uuid.UUID, missing)))
                self._pools.update({str(pool_id): name for pool_id, name in names.items()})
        funders = {
            str(grant_id): [(str(f), share) for f, share in grant_funders]
            for grant_id, grant_funders in found.items()
        }
        pools = {p: self._pools[p] for p in pool_ids if p in self._pools}
        return Batch(rows, funders, pools)

    async def _enrich(self, batch: Batch) -> None:
        """Look up the batch's partners (and funders) the export does not know yet; then it
        is the batch being rendered (``_render`` reads its funders and pools)."""
        rows = batch.rows
        self._grant_funders, self._batch_pools = batch.funders, batch.pools
        if len(self._recipients) > CACHE_LIMIT:
            self._recipients.clear()
            self._recipient_orgs.clear()
            self._recipients_shaped.clear()
        missing = sorted({r.partner_id for r in rows} - set(self._recipients))
        for start in range(0, len(missing), IDS_PER_LOOKUP):
            chunk = missing[start : start + IDS_PER_LOOKUP]
            found = await self.partners.get_json(
                f"/internal/funders/{self.funder_id}/partners",
                params={"ids": chunk},
            )
            by_id = {str(uuid.UUID(p["id"])): p for p in found or []}
            for partner_id in chunk:
                self._recipients[partner_id] = by_id.get(partner_id)
                self._recipients_shaped.pop(partner_id, None)
        # A pooled grant's partner may be in relationship with another member, not this funder.
        unknown: dict[str, set[str]] = {}
        me = str(self.funder_id)
        for row in rows:
            if row.pool_id and self._recipients.get(row.partner_id) is None:
                for funder_id, _ in self._grant_funders.get(row.id, []):
                    if funder_id != me:
                        unknown.setdefault(funder_id, set()).add(row.partner_id)
        for funder_id, partner_ids in sorted(unknown.items()):
            wanted = sorted(p for p in partner_ids if self._recipients.get(p) is None)
            for start in range(0, len(wanted), IDS_PER_LOOKUP):
                found = await self.partners.get_json(
                    f"/internal/funders/{funder_id}/partners",
                    params={"ids": wanted[start : start + IDS_PER_LOOKUP]},
                )
                for partner in found or []:
                    partner_id = str(uuid.UUID(partner["id"]))
                    self._recipients[partner_id] = partner
                    self._recipients_shaped.pop(partner_id, None)
        for funders in self._grant_funders.values():
            for funder_id, _ in funders:
                await self._funder(funder_id)

    def _parts(self, row: Any) -> dict[str, Any]:
        """The recipient, funding organisations and, for a pooled grant, the pool as grant
        programme and this funder's share."""
        prefix = self._funders[row.funder_id]["prefix"] if row.funder_id in self._funders else ""
        partner = self._recipients.get(row.partner_id)
        known = self._recipient_orgs.get((row.partner_id, prefix))
        # Built once per partner, again only if a later lookup found what it lacked.
        if known is not None and known[0] is partner:
            recipient = known[1]
        else:
            recipient = giving360.recipient_org(
                partner, partner_id=row.partner_id, prefix=prefix or self._prefix
            )
            self._recipient_orgs[(row.partner_id, prefix)] = (partner, recipient)
        if not row.pool_id and row.id not in self._grant_funders:
            return {"recipient": recipient, "funders": self._own}
        me = str(self.funder_id)
        shares = self._grant_funders.get(row.id) or [(me, None)]
        funders = [
            {"id": self._funders[f]["id"], "name": self._funders[f]["name"]} for f, _ in shares
        ]
        parts: dict[str, Any] = {"recipient": recipient, "funders": funders}
        if row.pool_id:
            parts["programme"] = {
                "code": row.pool_id,
                "title": self._batch_pools.get(row.pool_id, "Pooled fund"),
            }
            parts["share"] = next((s for f, s in shares if f == me), None)
        return parts

    def _shaped_recipient(self, row: Any) -> Any:
        """The recipient of one of the funder's own grants, shaped for the format, once per
        partner (again after a lookup finds it: ``_enrich`` forgets it then)."""
        shaped = self._recipients_shaped.get(row.partner_id)
        if shaped is None:
            recipient = self._parts(row)["recipient"]
            shaped = self._recipients_shaped[row.partner_id] = (
                giving360.recipient_cells(recipient)
                if self.fmt == "csv"
                else giving360.encoded([recipient])
            )
        return shaped

    def _render(self, rows: list[Any], *, first: bool) -> bytes:
        # A grant of the funder's own, not pooled, names this funder alone and its partner
        # as recipient, both shaped once; only pooled grants are shaped part by part.
        shapes, own, pooled = self._shapes, self._own_shaped, self._grant_funders
        recipient = self._shaped_recipient
        if self.fmt == "csv":
            orgs = self._funding_orgs
            if orgs == 1 and not pooled and not any(r.pool_id for r in rows):
                # Every grant the funder's own, under a header of one funding organisation.
                cells, shaped = giving360.csv_cells, self._recipients_shaped
                return giving360.csv_lines(
                    [cells(r, shaped.get(r.partner_id) or recipient(r), own, shapes) for r in rows]
                )
            lines = [
                giving360.csv_row(r, funding_orgs=orgs, shapes=shapes, **self._parts(r))
                if r.pool_id or r.id in pooled
                else giving360.csv_row(
                    r, recipient=recipient(r), funders=own, funding_orgs=orgs, shapes=shapes
                )
                for r in rows
            ]
            return giving360.csv_lines(lines)
        item = shapes.item
        shaped = self._recipients_shaped
        items = [
            giving360.grant_item(r, shapes=shapes, **self._parts(r))
            if r.pool_id or r.id in pooled
            else item(r, shaped.get(r.partner_id) or recipient(r), own)
            for r in rows
        ]
        return giving360.json_chunk(items, first=first)

    async def _stream(self) -> AsyncIterator[bytes]:
        yield (
            giving360.PACKAGE_START
            if self.fmt == "json"
            else giving360.csv_header(self._funding_orgs)
        )
        batch, first = self._first, True
        self._first = Batch([], {}, {})
        while batch.rows:
            await self._enrich(batch)
            rows, following = batch.rows, None
            if len(rows) == self.batch_size:
                # The next batch is read while this one is rendered and sent: its statement
                # is on its way (sleep(0) lets the task send it) before rendering begins.
                last = rows[-1]
                following = asyncio.create_task(self._read((last.list_date, last.id)))
                await asyncio.sleep(0)
            try:
                chunk = self._render(rows, first=first)
                first = False
                yield chunk
                batch = await following if following else Batch([], {}, {})
            finally:
                if following and not following.done():
                    following.cancel()
        if self.fmt == "json":
            yield giving360.PACKAGE_END
