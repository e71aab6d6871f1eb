"""Outgoing email: SMTP when ``TRELLIS_SMTP_URL`` is set, else ``.eml`` files on disk.

``smtp://user:password@host:587`` sends with STARTTLS when the server offers
it; ``smtps://...:465`` speaks TLS from the first byte. Without a URL (the
embedded default) each message is written to ``$TRELLIS_DATA_DIR/mail/`` as an
``.eml`` file that any mail program opens, and ``trellis up`` prints where.

Mail about a change is sent only once that change has committed:
``send_after_commit`` hands the message to the session's after-commit hooks,
so a rolled-back write never sends anything.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import after_commit

logger = logging.getLogger("trellis.mail")

RETRIES = 3
_POLICY = default.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send, parsed from ``TRELLIS_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                "TRELLIS_SMTP_URL must look like smtp://user:password@host:587 "
                "or smtps://user:password@host:465"
            )
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class Mailer:
    """Sends messages by SMTP or writes them as ``.eml`` files."""

    def __init__(self, *, smtp_url: str | None, mail_dir: Path, sender: str) -> None:
        self.smtp = SmtpServer.parse(smtp_url) if smtp_url else None
        self.mail_dir = mail_dir
        self.sender = sender
        self._pending: set[asyncio.Task[None]] = set()

    def message(self, *, to: str, subject: str, text: str) -> EmailMessage:
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="trellis")
        # Plain ASCII stays readable in the .eml file (links unbroken); anything else is
        # quoted-printable.
        msg.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
        return msg

    async def send(self, msg: EmailMessage) -> None:
        """Deliver one message now (SMTP) or write it to the mail directory."""
        if self.smtp is None:
            await asyncio.to_thread(self._write, msg)
            return
        await aiosmtplib.send(
            msg,
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.username,
            password=self.smtp.password,
            use_tls=self.smtp.implicit_tls,
            start_tls=None if not self.smtp.implicit_tls else False,
            timeout=30,
        )

    def _write(self, msg: EmailMessage) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")  # names sort in sending order
        path = self.mail_dir / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(msg))
        tmp.replace(path)

    async def _send_with_retries(self, msg: EmailMessage) -> None:
        for attempt in range(1, RETRIES + 1):
            try:
                await self.send(msg)
                return
            except (aiosmtplib.SMTPException, OSError) as exc:
                if attempt == RETRIES:
                    logger.error("could not send mail %r to %s: %r", msg["Subject"], msg["To"], exc)
                    return
                await asyncio.sleep(2.0**attempt)

    def send_after_commit(self, session: AsyncSession, msg: EmailMessage) -> None:
        """Send ``msg`` once the session's transaction has committed; never if it rolls back."""

        def start() -> None:
            task = asyncio.get_running_loop().create_task(self._send_with_retries(msg))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        after_commit(session, start)

    async def drain(self) -> None:
        """Wait for every message handed over so far (shutdown, and tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
