"""Every ``UTCDateTime`` column is ``timestamp with time zone`` on PostgreSQL.

asyncpg reads such a column as an aware UTC datetime, so ``UTCDateTime`` reads it as it
is, with no processing per value (``services.common.db``): a column stored without its
time zone would come back naive, and answers would lose their "Z". This holds it for
every table a migration makes."""

import pytest
from sqlalchemy import MetaData, text

from services.common.db import UTCDateTime
from services.common.models import KIT_METADATA
from services.feedback.models import Base as FeedbackBase
from services.funding.models import Base as FundingBase
from services.partners.contacts import models as _contacts  # noqa: F401
from services.partners.documents import models as _documents  # noqa: F401
from services.partners.models import Base as PartnersBase
from tests.support import Stack

METADATA: dict[str, list[MetaData]] = {
    "funding": [FundingBase.metadata, KIT_METADATA],
    "partners": [PartnersBase.metadata, KIT_METADATA],
    "feedback": [FeedbackBase.metadata, KIT_METADATA],
}


@pytest.mark.parametrize("service", sorted(METADATA))
async def test_utc_columns_keep_their_time_zone_on_postgresql(
    stack: Stack, backend: str, service: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite keeps no time zone; UTCDateTime reads its text as UTC")
    wanted = {
        (table.name, column.name)
        for metadata in METADATA[service]
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, UTCDateTime)
    }
    assert len(wanted) >= 5
    async with stack.apps[service].state.db.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
        )
        stored = {(table, column): kind for table, column, kind in rows}
    assert {key: stored.get(key) for key in wanted} == dict.fromkeys(
        wanted, "timestamp with time zone"
    )
