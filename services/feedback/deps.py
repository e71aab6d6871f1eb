"""Dependencies of the feedback service's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.http import ServiceClient


def _partners(request: Request) -> ServiceClient:
    return request.app.state.services["partners"]


PartnersDep = Annotated[ServiceClient, Depends(_partners)]


def _funding(request: Request) -> ServiceClient:
    return request.app.state.services["funding"]


FundingDep = Annotated[ServiceClient, Depends(_funding)]
