"""Alembic environment of the partners service."""

from alembic import context

from services.common.migrate import run_env
from services.common.models import KIT_METADATA
from services.partners.models import Base

run_env(context, "partners", [Base.metadata, KIT_METADATA])
