"""The in-memory revocation list: its cursor, its overlap, retention and staleness."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import ServiceUnavailable, Unauthorized
from services.common.revocation import OVERLAP, RevocationList, token_keys


class Source:
    def __init__(self) -> None:
        self.rows: list[tuple[str, datetime]] = []
        self.asked: list[datetime] = []
        self.fail = False

    async def __call__(self, since: datetime) -> tuple[list[tuple[str, datetime]], datetime]:
        self.asked.append(since)
        if self.fail:
            raise ConnectionError("partners is down")
        return [row for row in self.rows if row[1] > since], datetime.now(UTC)


def claims(sub: str = "s", iat: float | None = None, **more: str) -> dict:
    return {"sub": sub, "iat": int(iat if iat is not None else time.time()), **more}


def test_a_tokens_keys() -> None:
    assert token_keys({"sub": "a", "sid": "client:1", "mid": "m"}) == [
        "sub:a",
        "client:1",
        "mid:m",
    ]
    assert token_keys({"sub": "a", "sid": "family-9"}) == ["sub:a", "sid:family-9"]


async def test_refuses_tokens_issued_up_to_the_revocation_not_after() -> None:
    source = Source()
    revocations = RevocationList(source, retention=3600)
    now = datetime.now(UTC)
    source.rows.append(("sub:s", now))
    await revocations.refresh()
    with pytest.raises(Unauthorized):
        revocations.check(claims(iat=now.timestamp() - 60))
    with pytest.raises(Unauthorized):  # the same second: refused (iat has whole seconds)
        revocations.check(claims(iat=now.timestamp()))
    revocations.check(claims(iat=now.timestamp() + 1))
    revocations.check(claims(sub="someone-else", iat=now.timestamp() - 60))


async def test_each_poll_looks_back_past_its_cursor_for_late_commits() -> None:
    source = Source()
    revocations = RevocationList(source, retention=3600)
    await revocations.refresh()
    first_as_of = datetime.now(UTC)
    # A revocation stamped before the first answer but committed after it.
    late = first_as_of - timedelta(seconds=5)
    source.rows.append(("client:c", late))
    await revocations.refresh()
    assert source.asked[1] <= first_as_of - OVERLAP + timedelta(seconds=1)
    with pytest.raises(Unauthorized):
        revocations.check(claims(iat=late.timestamp() - 10, sid="client:c"))


async def test_old_revocations_are_forgotten_after_the_retention() -> None:
    source = Source()
    revocations = RevocationList(source, retention=60)
    source.rows.append(("sub:s", datetime.now(UTC) - timedelta(seconds=30)))
    await revocations.refresh()
    assert revocations._revoked
    revocations.add([("sub:old", datetime.now(UTC) - timedelta(seconds=120))])
    await revocations.refresh()
    assert "sub:old" not in revocations._revoked and "sub:s" in revocations._revoked


async def test_an_old_list_refuses_tokens_only_when_told_to() -> None:
    source = Source()
    lenient = RevocationList(source, max_staleness=0)
    strict = RevocationList(source, max_staleness=0.05)
    source.fail = True
    await asyncio.sleep(0.06)
    lenient.check(claims())
    with pytest.raises(ServiceUnavailable):
        strict.check(claims())
    source.fail = False
    await strict.refresh()
    strict.check(claims())
