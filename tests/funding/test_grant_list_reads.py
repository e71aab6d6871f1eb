"""Grant list pages as the cheap path reads them: compiled once per shape and read on the
driver, their totals kept per table version. Each page must be what the grants' own
reads say, in the caller's scope only, and follow every change."""

import uuid
from typing import Any

from sqlalchemy import delete, update

from services.funding.grants.models import Grant, GrantFundingOrganisation
from tests.funding.helpers import Funder, new_funder
from tests.support import Stack


async def first_page(f: Funder, headers: dict[str, str] | None = None, **params: str) -> Any:
    response = await f.stack.funding.get(
        "/api/v1/grants", headers=headers or f.staff, params={"range": "[0,24]", **params}
    )
    assert response.status_code == 200, response.text
    return response


def total(response: Any) -> int:
    return int(response.headers["content-range"].rsplit("/", 1)[1])


async def test_a_page_row_is_the_grants_own_read(stack: Stack) -> None:
    f = await new_funder(stack)
    await f.propose(amount_awarded=12_345)
    await f.awarded(amount_awarded=67_890)
    for sort in ('["awarded_on","DESC"]', '["amount_awarded","ASC"]', '["id","ASC"]'):
        for _ in range(2):  # the second read: the compiled page
            listed = (await first_page(f, sort=sort)).json()
            assert len(listed) == 2
            for row in listed:
                read = await stack.funding.get(f"/api/v1/grants/{row['id']}", headers=f.staff)
                assert row == read.json()


async def test_pages_of_one_shape_show_each_caller_only_its_own(stack: Stack) -> None:
    first, second = await new_funder(stack), await new_funder(stack)
    mine = {first.id: [await first.awarded(title=f"Core {n}") for n in range(3)]}
    mine[second.id] = [await second.awarded(title="Core 9")]
    await second.propose(title="Core 8")  # not awarded: its partner does not see it
    for _ in range(2):
        for f, all_, awarded in ((first, 3, 3), (second, 2, 1), (first, 3, 3)):
            for params, size in (
                ({}, all_),
                ({"filter": '{"year":2030}'}, awarded),
                ({"filter": '{"q":"core"}'}, all_),
            ):
                page = await first_page(f, **params)
                assert total(page) == len(page.json()) == size
                assert {g["funder_id"] for g in page.json()} == {f.id}
            own = await first_page(f, f.partner_headers)
            assert {g["id"] for g in own.json()} == {g["id"] for g in mine[f.id]}
            assert total(own) == len(mine[f.id])


async def test_a_first_page_read_again_follows_every_change(stack: Stack) -> None:
    f = await new_funder(stack)
    grants = [await f.propose(title=f"Core {n}") for n in range(3)]
    for _ in range(2):  # read again: the total is the one kept at the table's version
        assert total(await first_page(f)) == 3
    added = await f.propose(title="Core 3")
    page = await first_page(f)
    assert total(page) == 4 and added["id"] in {g["id"] for g in page.json()}
    assert total(await first_page(f)) == 4
    db = stack.apps["funding"].state.db
    # Another writer, straight in the database: a grant deleted.
    async with db.sessionmaker() as session, session.begin():
        gone = uuid.UUID(grants[1]["id"])
        await session.execute(
            delete(GrantFundingOrganisation).where(GrantFundingOrganisation.grant_id == gone)
        )
        await session.execute(delete(Grant).where(Grant.id == gone))
    page = await first_page(f)
    assert total(page) == 3 and grants[1]["id"] not in {g["id"] for g in page.json()}
    # A change that moves no row in or out still shows on the page.
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Grant).where(Grant.id == uuid.UUID(grants[2]["id"])).values(title="Renamed")
        )
    page = await first_page(f)
    assert total(page) == 3
    assert {g["title"] for g in page.json() if g["id"] == grants[2]["id"]} == {"Renamed"}
