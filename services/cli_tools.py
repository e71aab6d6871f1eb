"""What the ``trellis`` command does with the databases beyond serving them: tokens,
invitations, events, keys and the demo (``services/cli.py`` parses the command line and
loads this module only when one of these commands runs).

Blocking code: call it outside an event loop.
"""

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services import demo
from services.cli import CliError, _settings
from services.cli_serve import ensure_keys
from services.common import outbox
from services.common.auth import KeyStore, TokenIssuer
from services.common.db import sync_url, utcnow
from services.common.settings import CommonSettings, ServiceSettings
from services.partners.bank import keys as bank_key_rotation
from services.partners.config import Settings as PartnersSettings
from services.partners.people import operator


def rotate_keys() -> str:
    """Put a new signing key first; its key id."""
    return KeyStore(CommonSettings().signing_keys_file).rotate()


def seed_demo(gateway: str) -> str:
    """Fill the demo funder through the gateway; what was made, in a line or two."""
    return demo.seed(gateway=gateway, settings=CommonSettings())


def _partners_row(sql: str, params: dict[str, Any]) -> Any:
    """One row of the partners service's database (a token names only what exists there)."""
    settings: ServiceSettings = _settings("partners")
    engine = create_engine(sync_url(settings.effective_database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).first()
    except SQLAlchemyError as exc:
        raise CliError(
            "the partners database cannot be read (run `trellis migrate` or `trellis up` first)"
        ) from exc
    finally:
        engine.dispose()


def _engine(name: str) -> Any:
    settings: ServiceSettings = _settings(name)
    return create_engine(sync_url(settings.effective_database_url))


def events_list(names: Sequence[str], state: outbox.State, limit: int) -> list[str]:
    """One line per undelivered event delivery of each service, oldest first."""
    lines = []
    for name in names:
        engine = _engine(name)
        try:
            with Session(engine) as session:
                rows = session.scalars(outbox.deliveries_query(state, limit=limit)).all()
        finally:
            engine.dispose()
        for row in rows:
            item = outbox.describe(row)
            when = item["dead_at"] and f"dead since {item['dead_at']}"
            when = when or f"next try {item['next_attempt_at']}"
            lines.append(
                f"{name}\t{item['event_id']}\t{item['event_type']}\t{item['state']}\t"
                f"{item['destination']}\tattempts {item['attempts']}\t{when}\t"
                f"{(item['last_error'] or '').splitlines()[0][:120] if item['last_error'] else ''}"
            )
    return lines


def events_redeliver(name: str, event_ids: Sequence[str], all_dead: bool) -> int:
    """Make deliveries due now (dead ones revived); the running service sends them."""
    try:
        ids = [uuid.UUID(value) for value in event_ids]
    except ValueError as exc:
        raise CliError("event ids are UUIDs, as `trellis events list` shows them") from exc
    if bool(ids) == all_dead:
        raise CliError("give event ids, or --all-dead")
    engine = _engine(name)
    try:
        with Session(engine) as session, session.begin():
            result = session.execute(
                outbox.redeliver_statement(utcnow(), event_ids=ids, all_dead=all_dead)
            )
            return int(result.rowcount)
    finally:
        engine.dispose()


#: Roles held on top of funder_staff (services/common/auth.py): a token for one carries both.
STAFF_EXTRA_ROLES = ("finance", "trustee")


def _funder_id(slug: str) -> str:
    row = _partners_row("SELECT id FROM funders WHERE slug = :slug", {"slug": slug})
    if row is None:
        raise CliError(
            f"there is no funder with the slug '{slug}' (create it first, or run `trellis up --demo`)"
        )
    return str(uuid.UUID(str(row[0])))


def _partner_id(wanted: uuid.UUID) -> str:
    # Ids are stored as 32 hex digits on SQLite and as uuid on PostgreSQL.
    settings: ServiceSettings = _settings("partners")
    on_sqlite = sync_url(settings.effective_database_url).startswith("sqlite")
    row = _partners_row(
        "SELECT id FROM partners WHERE id = :id",
        {"id": wanted.hex if on_sqlite else str(wanted)},
    )
    if row is None:
        raise CliError(
            f"there is no partner organisation with the id {wanted} "
            "(add it first as a funder's staff, or run `trellis up --demo`)"
        )
    return str(wanted)


def mint(args: argparse.Namespace) -> str:
    settings = CommonSettings()
    keys = ensure_keys(settings)
    issuer = TokenIssuer(keys, issuer=settings.auth_issuer, audience=settings.auth_audience)
    funder_id = partner_id = None
    # finance and trustee are held on top of funder_staff: their tokens carry both roles.
    roles = [args.role] if args.role not in STAFF_EXTRA_ROLES else ["funder_staff", args.role]
    if "funder_staff" in roles:
        if not args.funder:
            raise CliError(f"a {args.role} token needs --funder <slug>")
        funder_id = _funder_id(args.funder)
    if args.role == "partner":
        if not args.partner:
            raise CliError("a partner token needs --partner <partner id>")
        try:
            wanted = uuid.UUID(args.partner)
        except ValueError as exc:
            raise CliError("--partner takes the partner's id (a UUID)") from exc
        partner_id = _partner_id(wanted)
    sub = (
        args.sub
        or {
            "platform_admin": "admin@localhost",
            "funder_staff": f"staff@{args.funder}",
            "finance": f"finance@{args.funder}",
            "trustee": f"trustee@{args.funder}",
            "partner": f"partner:{partner_id}",
            "service": "service:cli",
        }[args.role]
    )
    return issuer.mint(
        sub=sub,
        roles=roles,
        client_id="trellis-cli",
        funder_id=funder_id,
        partner_id=partner_id,
        name=args.name,
        ttl=args.ttl,
    )


def invite(args: argparse.Namespace) -> str:
    """An invitation made by the operator; its one-time link (the mail goes out too)."""
    try:
        return asyncio.run(
            operator.invite(
                PartnersSettings(),
                email=args.email,
                funder_slug=args.funder,
                partner_id=args.partner,
                admin=args.admin,
            )
        )
    except operator.OperatorError as exc:
        raise CliError(str(exc)) from exc


def bank_keys(action: str, *, new_key: bool) -> str:
    """Rotate the key bank details are encrypted with, or retire the keys no row uses."""
    settings = PartnersSettings()
    try:
        if action == "rotate-bank":
            done = asyncio.run(bank_key_rotation.rotate(settings, new_key=new_key))
            return (
                f"trellis: bank details are encrypted with key {done.current} now "
                f"({done.moved} re-encrypted); keys kept, so everything stays readable: "
                f"{', '.join(done.kept)}. Once every partners replica has restarted, run "
                "`trellis keys rotate-bank --no-new-key` then `trellis keys retire-bank`."
            )
        removed, used = asyncio.run(bank_key_rotation.retire(settings))
    except bank_key_rotation.KeyRotationError as exc:
        raise CliError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CliError(
            f"the partners database could not be read ({exc.__class__.__name__})"
        ) from exc
    if settings.bank_keys:
        return (
            f"trellis: keys still in use: {', '.join(used) or 'none'}; any other key may leave "
            "TRELLIS_PARTNERS_BANK_KEYS"
        )
    return (
        f"trellis: removed bank keys {', '.join(removed) or '(none)'}; still in use: "
        f"{', '.join(used) or 'none'}"
    )
