"""Tables of the funding service: every sub-package's models, on one metadata.

Alembic's ``env.py`` imports ``Base`` from here, so importing this module
registers all funding tables.
"""

from services.funding.db import Base
from services.funding.finance.models import Budget, FinanceSetting, PlannedInstalment
from services.funding.grants.models import (
    Grant,
    GrantFundingOrganisation,
    Instalment,
    ListVersion,
    Payment,
    Variation,
)
from services.funding.opendata.models import FunderSetting
from services.funding.pools.models import (
    Pool,
    PoolLedgerEntry,
    PoolMember,
    PoolProposal,
    PoolVote,
)
from services.funding.requests.models import GrantRequest
from services.funding.runs.models import PaymentRun, PaymentRunClaim, PaymentRunItem

__all__ = [
    "Base",
    "Budget",
    "FinanceSetting",
    "FunderSetting",
    "Grant",
    "GrantFundingOrganisation",
    "GrantRequest",
    "Instalment",
    "ListVersion",
    "Payment",
    "PaymentRun",
    "PaymentRunClaim",
    "PaymentRunItem",
    "PlannedInstalment",
    "Pool",
    "PoolLedgerEntry",
    "PoolMember",
    "PoolProposal",
    "PoolVote",
    "Variation",
]
