"""A person's sign-out reaches every service within the revocation bound.

Sign-out ends the sign-in (its refresh tokens) and revokes its ``sid``: the
short-lived access tokens already handed out stop working too, everywhere.
"""

from tests.partners.helpers import pair
from tests.partners.people_helpers import bearer, browser, staff_person
from tests.partners.test_revocation import BOUND, refused_everywhere_within
from tests.support import Stack


async def test_signing_out_refuses_the_access_token_at_every_service(stack: Stack) -> None:
    p = await pair(stack)
    _, tokens = await staff_person(stack, p.funder_id)
    headers = bearer(tokens)
    calls = [
        (stack.partners, f"/api/v1/funders/{p.funder_id}"),
        (stack.funding, "/api/v1/grants"),
        (stack.feedback, "/api/v1/threads"),
    ]
    for http, path in calls:
        response = await http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    # A colleague's sign-in is not touched by this one's sign-out.
    _, colleague = await staff_person(stack, p.funder_id)

    async with browser(stack) as client:
        out = await client.get("/oauth/logout", params={"id_token_hint": tokens["id_token"]})
        assert out.status_code == 200
    await refused_everywhere_within(calls, headers, BOUND)
    for http, path in calls:
        assert (await http.get(path, headers=bearer(colleague))).status_code == 200
