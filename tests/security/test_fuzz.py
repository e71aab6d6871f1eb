"""Schemathesis over the merged OpenAPI, first shard of operations (see ``fuzzing``).

Also checks that the ids the fuzzing puts into paths open real records.
"""

from typing import Any

import httpx

from tests.security.fuzzing import fuzz_shard, world
from tests.support import Stack


async def test_no_input_answers_a_server_error_or_an_undocumented_status(
    stack: Stack, gateway: httpx.AsyncClient, merged_document: dict[str, Any]
) -> None:
    await fuzz_shard(stack, gateway, merged_document, 0)


async def test_the_ids_put_into_paths_are_of_real_records(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    """Half the fuzz cases use these ids: they must open real records, or the run would
    only ever see 404s."""
    identities, ids = await world(stack, gateway)
    staff = identities["funder_staff"]
    for url in (
        f"/api/v1/grants/{ids['grant_id']}",
        f"/api/v1/instalments/{ids['instalment_id']}",
        f"/api/v1/payments/{ids['payment_id']}",
    ):
        assert (await stack.funding.get(url, headers=staff)).status_code == 200, url
    assert (await stack.feedback.get(f"/api/v1/rounds/{ids['round_id']}", headers=staff)).is_success
    response = await stack.partners.get(f"/api/v1/partners/{ids['partner_id']}", headers=staff)
    assert response.status_code == 200
    response = await stack.feedback.get(f"/api/v1/public/feedback/{ids['funder_slug']}/commitments")
    assert response.status_code == 200
    for url in (
        f"/api/v1/exports/takeout/{ids['takeout_id']}",
        f"/api/v1/partners/{ids['partner_id']}/overview",
    ):
        assert (await gateway.get(url, headers=staff)).status_code == 200, url
