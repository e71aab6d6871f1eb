"""Alembic environment of the partners service."""

from alembic import context

from services.common.migrate import run_env
from services.common.models import KIT_METADATA
from services.common.ratelimit import RATE_LIMIT_METADATA
from services.partners.contacts import models as _contacts  # noqa: F401
from services.partners.documents import models as _documents  # noqa: F401
from services.partners.interactions import models as _interactions  # noqa: F401
from services.partners.models import Base
from services.partners.timeline import models as _timeline  # noqa: F401
from services.partners.updates import models as _updates  # noqa: F401

run_env(context, "partners", [Base.metadata, KIT_METADATA, RATE_LIMIT_METADATA])
