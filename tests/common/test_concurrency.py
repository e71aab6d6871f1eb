"""ETag on reads, If-Match on writes: a stale write is a 412, never a lost update."""

from tests.support import Stack


async def test_stale_if_match_is_412_and_current_one_succeeds(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    partner = await stack.new_partner(funder["id"], name="Before")
    url = f"/api/v1/partners/{partner['id']}"
    read = await stack.partners.get(url, headers=staff)
    tag = read.headers["etag"]

    first = await stack.partners.put(
        url, headers={**staff, "If-Match": tag}, json={"name": "First"}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != tag

    second = await stack.partners.put(
        url, headers={**staff, "If-Match": tag}, json={"name": "Second"}
    )
    assert second.status_code == 412
    assert second.headers["content-type"] == "application/problem+json"
    assert "changed since you read it" in second.json()["message"]
    assert (await stack.partners.get(url, headers=staff)).json()["name"] == "First"


async def test_put_accepts_the_whole_record_back_as_react_admin_sends_it(stack: Stack) -> None:
    funder = await stack.new_funder()
    staff = stack.tokens.staff(funder["id"])
    partner = await stack.new_partner(funder["id"], name="Whole")
    record = (await stack.partners.get(f"/api/v1/partners/{partner['id']}", headers=staff)).json()
    record["description"] = "Edited in the admin"
    response = await stack.partners.put(
        f"/api/v1/partners/{partner['id']}", headers=staff, json=record
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] == "Edited in the admin"
    assert response.json()["version"] == record["version"] + 1
