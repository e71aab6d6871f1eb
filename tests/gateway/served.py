"""The stack's real apps served on loopback in the test's own event loop, gateways in front
of them, and a funder and partner with a little of everything between them: for the tests of
the gateway's own endpoints (composite views, takeout)."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager

from services.gateway.app import create_app
from services.gateway.config import Settings
from tests.feedback.support import Funder as FeedbackFunder
from tests.funding.helpers import Funder, new_funder
from tests.partners.people_helpers import claim
from tests.support import AUDIENCE, ISSUER, Stack


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class Views:
    """Two gateways in front of the stack: one whole, one whose funding service is gone."""

    gateway: httpx.AsyncClient
    without_funding: httpx.AsyncClient


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


async def _serve(app: Any, exits: AsyncExitStack) -> str:
    """Serve an app whose lifespan already runs, in this event loop; its URL."""
    sock = _listening_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.should_exit = True
        await task
        sock.close()

    exits.push_async_callback(stop)
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _gateway(stack: Stack, urls: dict[str, str], exits: AsyncExitStack) -> httpx.AsyncClient:
    settings = Settings(
        data_dir=stack.apps["partners"].state.settings.data_dir,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        partners_url=urls["partners"],
        funding_url=urls["funding"],
        feedback_url=urls["feedback"],
        log_level="WARNING",
    )
    app = create_app(settings)
    await exits.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=60))
    return await exits.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
    )


async def served_views(stack: Stack) -> AsyncIterator[Views]:
    """Serve the stack's apps and put two gateways in front (see ``Views``)."""
    async with AsyncExitStack() as exits:
        urls = {name: await _serve(app, exits) for name, app in stack.apps.items()}
        whole = await _gateway(stack, urls, exits)
        broken = await _gateway(stack, {**urls, "funding": closed_port_url()}, exits)
        yield Views(whole, broken)


async def served_gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Serve the stack's apps and put one real gateway in front; a client of the gateway
    (over ASGI, so an error inside it is raised in the test rather than hidden)."""
    async with AsyncExitStack() as exits:
        urls = {name: await _serve(app, exits) for name, app in stack.apps.items()}
        yield await _gateway(stack, urls, exits)


@dataclass
class Story:
    """A funder and a partner with a little of everything between them."""

    funder: Funder
    grant: dict[str, Any]
    update_waiting: dict[str, Any]
    round_: dict[str, Any]


async def new_story(stack: Stack) -> Story:
    funder = await new_funder(stack, status="exploring")
    partners, staff = stack.partners, funder.staff
    rel = funder.partner["relationship"]["id"]
    response = await partners.put(
        f"/api/v1/relationships/{rel}", headers=staff, json={"status": "active"}
    )
    assert response.status_code == 200, response.text
    grant = await funder.awarded(
        amount_awarded=9000001, planned_start_date=date.today().isoformat()
    )
    first = (await funder.schedule(grant))["instalments"][0]
    assert (await funder.pay(first["id"])).status_code == 201
    await funder.awarded(amount_awarded=500, currency="EUR", reference="EUR-1")
    await funder.propose(amount_awarded=777, reference="PROPOSED-1")  # not awarded: not counted

    as_partner = funder.partner_headers
    replied = await partners.post(
        "/api/v1/updates", headers=as_partner, json={"what_changed": "A new youth worker."}
    )
    assert replied.status_code == 201, replied.text
    response = await partners.post(
        f"/api/v1/updates/{replied.json()['id']}/replies",
        headers=staff,
        json={"body": "Thank you: we would love to meet her."},
    )
    assert response.status_code == 201, response.text
    waiting = await partners.post(
        "/api/v1/updates", headers=as_partner, json={"what_was_hard": "The energy bills."}
    )
    assert waiting.status_code == 201, waiting.text
    response = await partners.post(
        "/api/v1/interactions",
        headers=staff,
        json={
            "partner_id": funder.partner["id"],
            "kind": "visit",
            "occurred_at": "2025-03-04T10:30:00Z",
            "summary": "Visited the youth club.",
        },
    )
    assert response.status_code == 201, response.text
    response = await stack.feedback.post(
        "/api/v1/threads",
        headers=as_partner,
        json={"funder_id": funder.id, "subject": "Payment dates", "body": "Could we move them?"},
    )
    assert response.status_code == 201, response.text
    feedback = FeedbackFunder(stack, funder.funder, [funder.partner])
    await feedback.commitment(
        "We reply to every update within ten days", measure="days_to_first_reply", promised_days=10
    )
    await claim(stack, funder.partner["id"])  # only claimed organisations are invited
    round_ = await feedback.round()
    return Story(funder, grant, waiting.json(), round_)


async def list_all(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[Any]:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    response = await client.get(
        f"/api/v1/{path}", headers=headers, params={"range": "[0,99]", **query}
    )
    assert response.status_code == 200, response.text
    return response.json()
