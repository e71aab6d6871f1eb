"""A revoked client's token is refused everywhere within the bound, on several replicas.

Two replicas of each service (real uvicorn servers sharing each service's
database) and two gateways, each in front of one set of replicas. The client is
revoked through one gateway; its token, already in every verifier's cache, must
then be refused at every replica of every service and through both gateways
within one poll interval (2 s by default) plus the answer.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.migrate import upgrade
from services.common.settings import SERVICES
from services.gateway.app import create_app
from tests.gateway.conftest import Keys, Served, free_socket, gateway_settings
from tests.support import (
    BACKENDS,
    app_factory,
    create_database,
    drop_database,
    service_settings,
)

POLL_INTERVAL = 2.0
BOUND = POLL_INTERVAL + 1.5


@dataclass
class Replicas:
    services: list[dict[str, str]]  # per replica: service name -> URL
    gateways: list[str]


@pytest.fixture(params=BACKENDS)
def replicas(request: pytest.FixtureRequest, keys: Keys, tmp_path: Path) -> Iterator[Replicas]:
    databases = {name: create_database(request.param, name, tmp_path) for name in SERVICES}
    for name, url in databases.items():
        upgrade(name, url)
    sockets = [{name: free_socket() for name in SERVICES} for _ in range(2)]
    urls = [
        {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in socks.items()}
        for socks in sockets
    ]
    servers: list[Served] = []
    try:
        for replica in range(2):
            for name in SERVICES:
                settings = service_settings(
                    name,
                    data_dir=keys.data_dir,
                    database_url=databases[name],
                    partners_url=urls[replica]["partners"],
                    funding_url=urls[replica]["funding"],
                    feedback_url=urls[replica]["feedback"],
                )
                app = app_factory(name)(settings)
                servers.append(Served(app, sockets[replica][name]).start())
        gateways = []
        for replica in range(2):
            settings = gateway_settings(
                keys, urls[replica], database_url=create_database("sqlite", "gateway", tmp_path)
            )
            gateways.append(Served(create_app(settings)).start())
            servers.append(gateways[-1])
        yield Replicas(urls, [g.url for g in gateways])
    finally:
        for server in servers:
            server.stop()
        for url in databases.values():
            drop_database(url)


async def test_a_revoked_client_is_refused_by_every_replica_and_gateway(
    keys: Keys, replicas: Replicas
) -> None:
    one, two = replicas.gateways
    async with httpx.AsyncClient(timeout=10) as http:
        funder = await http.post(
            f"{one}/api/v1/funders",
            headers=keys.tokens.admin(),
            json={
                "name": "The Replica Trust",
                "slug": f"replica-{uuid.uuid4().hex[:6]}",
                "prefix_360giving": "360G-replica",
                "org_id": "GB-CHC-1000001",
            },
        )
        assert funder.status_code == 201, funder.text
        partner = await http.post(
            f"{two}/api/v1/partners",
            headers=keys.tokens.staff(funder.json()["id"]),
            json={"name": "Hillside Youth Project"},
        )
        partner_id = partner.json()["id"]
        owner = keys.tokens.partner(partner_id)
        client = (
            await http.post(
                f"{one}/api/v1/partners/{partner_id}/clients",
                headers=owner,
                json={"name": "Hillside CRM"},
            )
        ).json()
        issued = await http.post(
            f"{two}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert issued.status_code == 200, issued.text
        token = {"Authorization": f"Bearer {issued.json()['access_token']}"}

        paths = {
            "partners": f"/api/v1/partners/{partner_id}",
            "funding": "/api/v1/grants",
            "feedback": "/api/v1/threads",
        }
        targets = [base + path for base in replicas.gateways for path in paths.values()]
        targets += [urls[name] + path for urls in replicas.services for name, path in paths.items()]
        assert len(targets) == 12
        first = await asyncio.gather(*(http.get(t, headers=token) for t in targets))
        assert [r.status_code for r in first] == [200] * 12, [r.text for r in first]

        revoked = await http.delete(
            f"{one}/api/v1/partners/{partner_id}/clients/{client['id']}", headers=owner
        )
        assert revoked.status_code == 200
        start = time.monotonic()
        pending = targets
        while pending:
            answers = await asyncio.gather(*(http.get(t, headers=token) for t in pending))
            pending = [t for t, r in zip(pending, answers, strict=True) if r.status_code != 401]
            elapsed = time.monotonic() - start
            assert elapsed <= BOUND, f"still accepted after {elapsed:.1f}s at {pending}"
            if pending:
                await asyncio.sleep(0.1)
        again = await http.post(
            f"{one}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert again.status_code == 401
