"""HTTP routes of the funding service: each sub-package's router, in one list.

The app includes each of them itself rather than one router that includes them all:
FastAPI matches a request against every route of each level of included routers, once
per level, so one level less is a cheaper match on every request.
"""

from services.funding.finance.routes import router as finance_router
from services.funding.grants.routes import router as grants_router
from services.funding.imports.routes import router as imports_router
from services.funding.opendata.routes import router as opendata_router
from services.funding.pools.proposal_routes import router as pool_proposals_router
from services.funding.pools.routes import router as pools_router
from services.funding.requests.routes import router as requests_router
from services.funding.runs.routes import router as runs_router

routers = [
    grants_router,
    opendata_router,
    pools_router,
    pool_proposals_router,
    imports_router,
    finance_router,
    runs_router,
    requests_router,
]
