"""The answers of the composite views, as the OpenAPI document describes them.

Records inside a section are the services' own (a grant as ``GET /grants`` answers
it, an update as ``GET /updates`` does), so they are described by reference in
words rather than copied here.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Record = dict[str, Any]


class Section(BaseModel):
    """One part of a view. When ``status`` is not ``ok``, ``service`` and ``detail`` say why
    and the part's own fields are absent."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "unavailable", "not_permitted"] = Field(
        description="ok; unavailable (its service is down or slow); not_permitted (its "
        "service does not show it to you)"
    )
    service: str | None = Field(None, description="The service that could not answer")
    service_status: int | None = Field(None, description="What that service answered")
    detail: str | None = Field(None, description="Why the section is empty, in words")


class OrganisationSection(Section):
    partner: Record | None = Field(None, description="As GET /partners/{id} answers it")


class RelationshipSection(Section):
    relationship: Record | None = Field(None, description="Your funder's relationship (staff)")
    history: list[Record] = Field(
        default_factory=list, description="As GET /relationships/{id}/history answers it"
    )


class GrantsSection(Section):
    grants: list[Record] = Field(default_factory=list, description="As GET /grants answers them")
    awarded: dict[str, int] = Field(
        default_factory=dict,
        description="Total awarded (approved, active, completed) per currency, in minor units",
    )
    paid: dict[str, int] = Field(
        default_factory=dict, description="Total paid per currency, in minor units"
    )
    next_instalment: Record | None = Field(None, description="The next scheduled instalment")
    complete: bool = Field(True, description="False if there were more rows than a view reads")


class UpdatesSection(Section):
    latest: list[Record] = Field(default_factory=list)
    awaiting_reply: list[Record] = Field(default_factory=list)
    awaiting_reply_count: int = 0


class ThreadsSection(Section):
    threads: list[Record] = Field(default_factory=list, description="Most recent first")
    count: int = 0


class InteractionSection(Section):
    interaction: Record | None = Field(None, description="The most recent interaction")


class RoundsSection(Section):
    rounds: list[Record] = Field(
        default_factory=list, description="Rounds the partner was invited to, newest first"
    )


class PartnerOverview(BaseModel):
    """One partner, whole: every section read with your own token."""

    partner_id: str
    organisation: OrganisationSection
    relationship: RelationshipSection
    grants: GrantsSection
    updates: UpdatesSection
    threads: ThreadsSection
    last_interaction: InteractionSection
    rounds: RoundsSection


class FunderUpdatesSection(Section):
    reply_within_days: int | None = Field(None, description="The reply time the funder promised")
    reply_within_days_from: Literal["commitment", "setting"] | None = Field(
        None, description="Whether it comes from a published commitment or the setting"
    )
    awaiting_reply: list[Record] = Field(default_factory=list, description="Oldest first")
    awaiting_reply_count: int = 0
    past_promised_time: list[Record] = Field(default_factory=list)
    past_promised_time_count: int = 0


class InstalmentsSection(Section):
    due_this_month: list[Record] = Field(default_factory=list)
    due_this_month_count: int = 0
    overdue: list[Record] = Field(default_factory=list)
    overdue_count: int = 0
    complete: bool = True


class OpenRoundsSection(Section):
    open: list[Record] = Field(default_factory=list, description="Closing soonest first")
    open_count: int = 0


class ProposalsSection(Section):
    awaiting_your_vote: list[Record] = Field(
        default_factory=list, description="Open pool proposals your funder has not voted on"
    )
    awaiting_your_vote_count: int = 0


class FunderOverview(BaseModel):
    """What needs your funder's attention: every section read with your own token."""

    funder_id: str
    updates: FunderUpdatesSection
    instalments: InstalmentsSection
    rounds: OpenRoundsSection
    proposals: ProposalsSection
