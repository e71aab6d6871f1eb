"""Existing data migrates to ownership (partners 0003 and 0004), on SQLite and PostgreSQL."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.db import create_engine
from services.common.migrate import upgrade
from tests.support import BACKENDS, create_database, drop_database


def _id(value: uuid.UUID, sqlite: bool) -> str:
    return value.hex if sqlite else str(value)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_organisations_become_unclaimed_and_old_clients_wait_for_their_organisation(
    backend: str, tmp_path: Path
) -> None:
    url = create_database(backend, "partners_migrations", tmp_path)
    try:
        upgrade("partners", url, "0002")
        sqlite = backend == "sqlite"
        x, y, partner, client = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        now = datetime(2025, 1, 1, tzinfo=UTC)
        engine = create_engine(url)
        async with engine.begin() as conn:
            for funder, slug in ((x, "x"), (y, "y")):
                await conn.execute(
                    text(
                        "INSERT INTO funders (id, name, slug, prefix_360giving, created_at, "
                        "updated_at, version) VALUES (:id, :name, :slug, '360G-x', :t, :t, 1)"
                    ),
                    {"id": _id(funder, sqlite), "name": slug, "slug": slug, "t": now},
                )
            await conn.execute(
                text(
                    "INSERT INTO partners (id, name, created_at, updated_at, version) "
                    "VALUES (:id, 'Hillside', :t, :t, 1)"
                ),
                {"id": _id(partner, sqlite), "t": now},
            )
            for n, funder in enumerate((x, y)):
                await conn.execute(
                    text(
                        "INSERT INTO relationships (id, funder_id, partner_id, status, since, "
                        "created_at, updated_at, version) VALUES "
                        "(:id, :f, :p, 'active', '2025-01-01', :t, :t, 1)"
                    ),
                    {
                        "id": _id(uuid.uuid4(), sqlite),
                        "f": _id(funder, sqlite),
                        "p": _id(partner, sqlite),
                        "t": now.replace(day=1 + n),
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO api_clients (id, client_id, secret_hash, partner_id, name, "
                    "created_by, created_at) VALUES (:id, 'tpc_old', 'x', :p, 'CRM', "
                    "'staff@x', :t)"
                ),
                {"id": _id(client, sqlite), "p": _id(partner, sqlite), "t": now},
            )
        await engine.dispose()

        upgrade("partners", url)

        engine = create_engine(url)
        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT claimed_at, added_by_funder_id FROM partners"))
            ).one()
            assert row.claimed_at is None
            assert str(row.added_by_funder_id).replace("-", "") == x.hex
            sharing = dict(
                (await conn.execute(text("SELECT funder_id, sharing FROM relationships"))).all()
            )
            assert {str(k).replace("-", ""): v for k, v in sharing.items()} == {
                x.hex: "accepted",
                y.hex: "pending",
            }
            kept = (await conn.execute(text("SELECT confirmed_at FROM api_clients"))).one()
            assert kept.confirmed_at is None
        await engine.dispose()
    finally:
        drop_database(url)
