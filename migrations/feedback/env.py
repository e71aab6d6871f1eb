"""Alembic environment of the feedback service."""

from alembic import context

from services.common.migrate import run_env
from services.common.models import KIT_METADATA
from services.feedback.models import Base

run_env(context, "feedback", [Base.metadata, KIT_METADATA])
