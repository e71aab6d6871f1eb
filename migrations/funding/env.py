"""Alembic environment of the funding service."""

from alembic import context

from services.common.migrate import run_env
from services.common.models import KIT_METADATA
from services.funding.models import Base

run_env(context, "funding", [Base.metadata, KIT_METADATA])
