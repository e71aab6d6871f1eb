"""Schemathesis over the merged OpenAPI, second shard of operations (see ``fuzzing``).

A module of its own so that a second test worker runs it beside the first shard.
"""

from typing import Any

import httpx

from tests.security.fuzzing import SHARDS, fuzz_shard
from tests.support import Stack


async def test_no_input_answers_a_server_error_or_an_undocumented_status(
    stack: Stack, gateway: httpx.AsyncClient, merged_document: dict[str, Any]
) -> None:
    assert SHARDS == 2, "a module per shard: add one for each shard"
    await fuzz_shard(stack, gateway, merged_document, 1)
