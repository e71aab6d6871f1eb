"""Alembic environment of the gateway: only its rate-limit counters."""

from alembic import context

from services.common.migrate import run_env
from services.common.ratelimit import RATE_LIMIT_METADATA

run_env(context, "gateway", [RATE_LIMIT_METADATA])
