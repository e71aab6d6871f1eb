"""Interactive docs work offline, and ``/`` says where everything is.

The docs are loaded with every connection beyond loopback refused (the gateway and
the services run in this process, so the guard covers them too): the pages, every
asset they name and the OpenAPI document they read must all come from Trellis.
"""

import re
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.cli import CONSOLE_BUNDLE
from services.gateway.app import create_app
from tests.gateway.conftest import Keys, Services, gateway_settings

CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com", "cdnjs.cloudflare.com")


class _Refs(HTMLParser):
    """Every URL a page makes the browser load: src/href attributes and inline script URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "spec-url"} and value:
                self.urls.append(value)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""(?:url|spec-url)\s*:\s*['"]([^'"]+)['"]""", data)
            self.urls += re.findall(r"""https?://[^\s'"]+""", data)


def _page_urls(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse every connection that is not to loopback, and record the attempts."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def _loopback(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return isinstance(host, str) and (
            host.startswith("127.") or host in {"::1", "localhost"} or host.startswith("/")
        )

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            attempts.append(address)
            raise ConnectionRefusedError(f"no network beyond loopback in this test: {address}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            attempts.append(address)
            return 111
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts


async def _check_docs_page(base: str, path: str) -> set[str]:
    """Load a docs page and everything it names; answer the asset paths it loaded."""
    loaded = set()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        page = await client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        urls = _page_urls(page.text)
        assert urls, page.text
        for url in urls:
            assert not any(host in url for host in CDN_HOSTS), url
            absolute = urljoin(f"{base}{path}", url)
            assert urlsplit(absolute).netloc == urlsplit(base).netloc, f"{url} is not Trellis's"
            answer = await client.get(absolute)
            assert answer.status_code == 200, url
            assert answer.content, url
            loaded.add(urlsplit(absolute).path)
    return loaded


async def test_swagger_ui_and_redoc_work_offline(
    gateway: str, services: Services, loopback_only: list[Any]
) -> None:
    swagger = await _check_docs_page(gateway, "/docs")
    assert {
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/openapi.json",
    } <= swagger
    redoc = await _check_docs_page(gateway, "/redoc")
    assert {"/docs/assets/redoc.standalone.js", "/openapi.json"} <= redoc
    # each service serves its own docs the same way
    for url in services.urls.values():
        assert "/docs/assets/swagger-ui-bundle.js" in await _check_docs_page(url, "/docs")
    assert loopback_only == []


async def test_swagger_ui_asks_nothing_of_the_internet(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        page = (await client.get("/docs")).text
        script = (await client.get("/docs/assets/swagger-ui-bundle.js")).headers
    assert '"validatorUrl": null' in page  # no validator badge image from swagger.io
    assert script["content-type"].startswith(("application/javascript", "text/javascript"))


async def test_front_page_says_where_things_are(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        as_json = await client.get("/", headers={"Accept": "application/json"})
        as_html = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        default = await client.get("/")
        links = as_json.json()["links"]
        for url in (links["docs"], links["openapi"], links["sign_in"]):
            assert (await client.get(url)).status_code == 200, url
    assert as_json.headers["content-type"] == "application/json"
    assert default.headers["content-type"] == "application/json"
    assert links["docs"] == "/docs" and links["openapi"] == "/openapi.json"
    assert links["sign_in"] == "/.well-known/openid-configuration"
    assert as_html.headers["content-type"].startswith("text/html")
    for url in ("/docs", "/redoc", "/openapi.json", "/.well-known/openid-configuration"):
        assert f'href="{url}"' in as_html.text
    assert "Accept" in as_json.headers["vary"]


async def test_a_console_bundle_takes_the_front_page(
    keys: Keys, services: Services, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>Trellis console</title>")
    (tmp_path / "app.js").write_text("console.log('hi')")
    app = create_app(gateway_settings(keys, services.urls, console_dir=tmp_path))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        front = await client.get("/", headers={"Accept": "text/html"})
        script = await client.get("/app.js")
        docs = await client.get("/docs")
        health = await client.get("/healthz")
    assert "Trellis console" in front.text
    assert script.status_code == 200
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert health.json() == {"status": "ok"}


async def test_the_console_draws_its_own_pages_but_a_missing_file_is_a_404(
    keys: Keys, services: Services, tmp_path: Path
) -> None:
    """Where sign-in returns (``/console/callback``) is a page of the app, not a file."""
    (tmp_path / "index.html").write_text("<!doctype html><title>Trellis console</title>")
    app = create_app(gateway_settings(keys, services.urls, console_dir=tmp_path))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        html = {"Accept": "text/html,application/xhtml+xml"}
        callback = await client.get("/console/callback?code=abc&state=x", headers=html)
        page = await client.get("/partners/123", headers=html)
        script = await client.get("/assets/missing.js", headers={"Accept": "*/*"})
        api = await client.get("/api/v1/nothing-here", headers=html)
    assert callback.status_code == 200 and "Trellis console" in callback.text
    assert page.status_code == 200 and "Trellis console" in page.text
    assert script.status_code == 404
    assert api.status_code == 404 and "Trellis console" not in api.text


def test_trellis_up_serves_the_committed_console() -> None:
    """`trellis up` points the gateway at the bundle built from console/ and committed."""
    index = (CONSOLE_BUNDLE / "index.html").read_text()
    assert '<div id="root">' in index
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
    assert assets and all((CONSOLE_BUNDLE / a.lstrip("/")).is_file() for a in assets)
    assert not any(host in index for host in CDN_HOSTS)
