"""Mail: sent by a real SMTP server (aiosmtpd) when configured, only after the write commits."""

import email
import socket
import uuid
from collections.abc import Iterator
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import func, select

from services.common.db import Database, SessionDep
from services.common.errors import Conflict, install_problem_handlers
from services.common.mail import Mailer, SmtpServer
from services.common.migrate import upgrade
from services.common.models import AuditEntry
from tests.partners.people_helpers import PASSWORD, hidden_fields, token_of
from tests.support import create_database, drop_database, running_stack


class Inbox:
    """An aiosmtpd handler that keeps what it receives, and who logged in."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ):
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == b"trellis" and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, f"smtp://trellis:s3cret@127.0.0.1:{port}"
    finally:
        controller.stop()


def test_smtp_urls_are_read_with_their_credentials() -> None:
    server = SmtpServer.parse("smtps://me%40x.org:p%40ss@mail.example.org")
    assert (server.host, server.port, server.implicit_tls) == ("mail.example.org", 465, True)
    assert (server.username, server.password) == ("me@x.org", "p@ss")
    assert SmtpServer.parse("smtp://relay:2525").port == 2525
    with pytest.raises(ValueError, match="smtp://"):
        SmtpServer.parse("http://mail.example.org")


async def test_mail_goes_only_after_the_write_commits(
    backend: str, tmp_path: Path, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    database_url = create_database(backend, f"mail{uuid.uuid4().hex[:6]}", tmp_path)
    upgrade("partners", database_url)
    mailer = Mailer(smtp_url=url, mail_dir=tmp_path / "mail", sender="Trellis <t@example.org>")
    router = APIRouter()

    @router.post("/things")
    async def make(request: Request, session: SessionDep, fail: bool = False) -> dict:
        session.add(AuditEntry(actor="t", action="create", entity_type="thing", entity_id="1"))
        await session.flush()
        subject = "rolled back" if fail else "committed"
        mailer.send_after_commit(
            session, mailer.message(to="a@example.org", subject=subject, text="x")
        )
        if fail:
            raise Conflict("This write is refused after the mail was handed over.")
        return {"ok": True}

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.db = Database(database_url)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t.test"
        ) as client:
            assert (await client.post("/things", params={"fail": True})).status_code == 409
            assert (await client.post("/things")).status_code == 200
        await mailer.drain()
        assert [m["Subject"] for m in inbox.messages] == ["committed"]
        assert inbox.logins == ["trellis"]
        async with app.state.db.sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(AuditEntry))
        assert count == 1
        assert not (tmp_path / "mail").exists()  # SMTP configured: no files
    finally:
        await app.state.db.dispose()
        drop_database(database_url)


async def test_an_invitation_travels_by_smtp_and_its_link_works(
    backend: str, tmp_path: Path, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    async with running_stack(backend, tmp_path, services=("partners",), smtp_url=url) as stack:
        funder = await stack.new_funder()
        response = await stack.partners.post(
            "/api/v1/invitations",
            headers=stack.tokens.admin(),
            json={
                "email": "new.staff@example.org",
                "role": "funder_staff",
                "funder_id": funder["id"],
            },
        )
        assert response.status_code == 201, response.text
        await stack.apps["partners"].state.mailer.drain()
        [msg] = inbox.messages
        assert msg["To"] == "new.staff@example.org"
        assert funder["name"] in msg["Subject"]
        link = next(w for w in msg.get_content().split() if w.startswith("http"))
        assert link.startswith("http://trellis.test/account/invitation?token=")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=stack.apps["partners"]),
            base_url="http://partners.test",
        ) as client:
            page = await client.get("/account/invitation", params={"token": token_of(link)})
            form = {
                **hidden_fields(page.text),
                "name": "New Staff",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            }
            accepted = await client.post("/account/invitation", data=form)
        assert accepted.status_code == 200, accepted.text
        assert not (stack.apps["partners"].state.settings.mail_dir).exists()
