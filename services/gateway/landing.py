"""What ``/`` at the gateway answers: the console when its bundle is there, else a signpost.

The console (the react-admin front end) is served from ``TRELLIS_GATEWAY_CONSOLE_DIR``
when that folder holds an ``index.html``. Without it, ``/`` answers a small page that
says where the docs, the OpenAPI document and the sign-in are: HTML for a browser,
JSON for an API client (by ``Accept``).
"""

import html
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

LINKS: dict[str, str] = {
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": "/openapi.json",
    "api": "/api/v1/",
    "sign_in": "/.well-known/openid-configuration",
    "token": "/oauth/token",
    "jwks": "/.well-known/jwks.json",
    "health": "/healthz",
    "ready": "/readyz",
}

_LABELS = {
    "docs": "Interactive API docs (Swagger UI)",
    "redoc": "API reference (ReDoc)",
    "openapi": "OpenAPI document (for client generators)",
    "api": "The API, under this prefix",
    "sign_in": "Sign-in: the OpenID Connect discovery document",
    "token": "Token endpoint (OAuth 2.0)",
    "jwks": "Public signing keys (JWKS)",
    "health": "Liveness",
    "ready": "Readiness of every service",
}


def _wants_html(request: Request) -> bool:
    """A browser (``Accept: text/html``) rather than an API client (JSON, ``*/*``)."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/xhtml+xml" in accept


def _page(links: dict[str, str]) -> str:
    items = "\n".join(
        f'      <li><a href="{html.escape(url)}">{html.escape(_LABELS[key])}</a>'
        f" <code>{html.escape(url)}</code></li>"
        for key, url in links.items()
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Trellis API</title>
    <style>
      body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
             padding: 0 1rem; color: #1d2a22; }}
      code {{ color: #4d5d53; font-size: 0.9em; }}
      li {{ margin: 0.3rem 0; }}
    </style>
  </head>
  <body>
    <h1>Trellis API</h1>
    <p>The back end of a trust-based funder: partners, core grants and feedback.
       Send an access token as <code>Authorization: Bearer &lt;token&gt;</code>;
       public endpoints need none.</p>
    <ul>
{items}
    </ul>
  </body>
</html>
"""


class ConsoleFiles(StaticFiles):
    """The console's files; a page path the bundle has no file for answers ``index.html``.

    The console is a single-page app: ``/console/callback`` (where sign-in returns) and
    the other paths a person may bookmark are drawn by the app, not files. Only a
    browser asking for a page (``Accept: text/html``) gets ``index.html``; a missing
    script or image stays a 404, and nothing under ``/api/`` reaches here.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
            if exc.status_code != 404 or "text/html" not in accept:
                raise
            return await super().get_response("index.html", scope)


def install_front_page(app: FastAPI, console_dir: Path | None) -> None:
    """Serve the console at ``/`` if its bundle is in ``console_dir``, else the signpost.

    Call it after every other route: the console is mounted at ``/`` and would
    otherwise shadow them.
    """
    if console_dir is not None and (console_dir / "index.html").is_file():
        app.mount("/", ConsoleFiles(directory=console_dir, html=True), name="console")
        return

    @app.get("/", include_in_schema=False)
    async def front_page(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        links = {key: root + url for key, url in LINKS.items()}
        if _wants_html(request):
            return HTMLResponse(_page(links), headers={"Vary": "Accept"})
        body: dict[str, Any] = {"name": "Trellis API", "links": links}
        return JSONResponse(body, headers={"Vary": "Accept"})
