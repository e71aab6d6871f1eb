"""HTTP routes of the funding service: each sub-package's router."""

from fastapi import APIRouter

from services.funding.finance.routes import router as finance_router
from services.funding.grants.routes import router as grants_router
from services.funding.imports.routes import router as imports_router
from services.funding.opendata.routes import router as opendata_router
from services.funding.pools.routes import router as pools_router
from services.funding.requests.routes import router as requests_router
from services.funding.runs.routes import router as runs_router

router = APIRouter()
router.include_router(grants_router)
router.include_router(opendata_router)
router.include_router(pools_router)
router.include_router(imports_router)
router.include_router(finance_router)
router.include_router(runs_router)
router.include_router(requests_router)
