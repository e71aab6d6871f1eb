"""Optimistic concurrency over HTTP: ``ETag`` on reads, ``If-Match`` on writes (412 when stale)."""

from typing import Annotated, Protocol

from fastapi import Depends, Header

from services.common.errors import PreconditionFailed


class Versioned(Protocol):
    version: int


def etag(record: Versioned) -> str:
    """The entity tag of a record's current version."""
    return f'"v{record.version}"'


def check_if_match(if_match: str | None, record: Versioned) -> None:
    """Refuse a write whose ``If-Match`` names a version that is no longer current."""
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in tags or etag(record) in tags:
        return
    raise PreconditionFailed(
        f"The record has changed since you read it (its ETag is now {etag(record)}). "
        "Read it again and re-apply your change.",
        headers={"ETag": etag(record)},
    )


async def _if_match(
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="The ETag of the version you read")
    ] = None,
) -> str | None:
    return if_match


IfMatchDep = Annotated[str | None, Depends(_if_match)]
