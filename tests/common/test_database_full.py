"""A database with no room for another connection (PostgreSQL's "too many clients") is a
503 that says to try again, never a 500: nothing was written, and a retry will do."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.common.kit_app import kit_app
from tests.support import _admin_conninfo


@pytest.fixture
def full_role(backend: str) -> Iterator[str]:
    """A PostgreSQL role allowed no connection at all: every connection it asks for is
    refused with SQLSTATE 53300, as when the server's connection slots are all taken."""
    if backend != "postgres":
        pytest.skip("connection limits are PostgreSQL's")
    role = f"trellis_full_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        yield role
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


async def test_no_room_for_a_connection_is_a_503_problem(full_role: str, tmp_path) -> None:
    async with kit_app("postgres", tmp_path, connect_as=full_role) as (_app, client, tokens):
        response = await client.get("/api/v1/notes", headers=tokens.admin())
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("database-busy")
