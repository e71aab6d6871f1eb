"""HTTP routes of the feedback service: every domain's router, in one list."""

from fastapi import APIRouter

from services.feedback.actions.routes import router as actions
from services.feedback.ballots.routes import router as ballots
from services.feedback.commitments.routes import router as commitments
from services.feedback.measures.routes import router as measures
from services.feedback.responses.routes import router as responses
from services.feedback.results.routes import router as results
from services.feedback.rounds.routes import router as rounds
from services.feedback.scorecard.routes import router as scorecard
from services.feedback.threads.routes import router as threads

router = APIRouter()
for sub in (
    commitments,
    rounds,
    ballots,
    responses,
    results,
    actions,
    measures,
    threads,
    scorecard,
):
    router.include_router(sub)
