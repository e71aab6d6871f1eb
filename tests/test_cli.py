"""``trellis token``: a developer tool that names only funders and organisations that exist."""

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services import cli
from services.common.auth import ROLES, TokenVerifier
from services.common.db import sync_url, utcnow
from services.common.settings import CommonSettings, ServiceSettings
from services.partners.funders.models import Funder
from services.partners.organisations.models import Partner


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("TRELLIS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRELLIS_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["migrate", "partners"]) == 0
    return tmp_path / "data"


def _add(record: Partner | Funder) -> uuid.UUID:
    """Save a partners-service record straight to its database; answers its id."""
    settings: ServiceSettings = cli._settings("partners")
    engine = create_engine(sync_url(settings.effective_database_url))
    record.version = 1
    record.created_at = record.updated_at = utcnow()
    with Session(engine) as session:
        session.add(record)
        session.commit()
        record_id = record.id
    engine.dispose()
    return record_id


def _add_partner() -> uuid.UUID:
    return _add(Partner(name="Hillside Youth Project"))


def test_a_partner_token_names_an_organisation_that_exists(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--role", "partner", "--partner", str(uuid.uuid4())]) == 2
    err = capsys.readouterr().err
    assert "no partner organisation with the id" in err

    partner_id = _add_partner()
    assert cli.main(["token", "--role", "partner", "--partner", str(partner_id)]) == 0
    token = capsys.readouterr().out.strip()
    settings = CommonSettings()
    verifier = TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        keys_file=settings.signing_keys_file,
    )
    caller = asyncio.run(verifier.verify(token))
    assert caller.own_partner_id == partner_id and caller.staff_funder_id is None


def test_a_staff_token_names_a_funder_that_exists(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--role", "funder_staff", "--funder", "nope"]) == 2
    assert "no funder with the slug 'nope'" in capsys.readouterr().err


def test_a_token_before_any_database_says_what_to_do(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRELLIS_DATA_DIR", str(data_dir.parent / "empty"))
    assert cli.main(["token", "--role", "partner", "--partner", str(uuid.uuid4())]) == 2
    assert "trellis migrate" in capsys.readouterr().err


def test_keys_rotate_bank_adds_a_key_and_retire_bank_drops_the_unused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trellis keys rotate-bank`` makes a new current key and keeps the old one readable;
    ``retire-bank`` drops keys no stored account uses; keys from settings are the operator's."""
    assert cli.main(["keys", "rotate-bank"]) == 0
    keys = json.loads((data_dir / "keys" / "bank-keys.json").read_text())
    assert keys["current"] == "k2" and set(keys["keys"]) == {"k1", "k2"}
    assert "k2" in capsys.readouterr().out
    assert cli.main(["keys", "retire-bank"]) == 0
    keys = json.loads((data_dir / "keys" / "bank-keys.json").read_text())
    assert set(keys["keys"]) == {"k2"}
    monkeypatch.setenv(
        "TRELLIS_PARTNERS_BANK_KEYS", json.dumps({"k9": Fernet.generate_key().decode()})
    )
    assert cli.main(["keys", "rotate-bank"]) == 2
    assert "TRELLIS_PARTNERS_BANK_KEY_ID" in capsys.readouterr().err
    assert cli.main(["keys", "rotate-bank", "--no-new-key"]) == 0


def test_a_finance_token_carries_the_staff_role_of_a_funder(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--role", "finance"]) == 2
    assert "a finance token needs --funder" in capsys.readouterr().err

    funder_id = _add(
        Funder(name="Northern Lights", slug="northern-lights", prefix_360giving="360G-nl")
    )
    assert cli.main(["token", "--role", "finance", "--funder", "northern-lights"]) == 0
    token = capsys.readouterr().out.strip()
    common = CommonSettings()
    verifier = TokenVerifier(
        issuer=common.auth_issuer, audience=common.auth_audience, keys_file=common.signing_keys_file
    )
    caller = asyncio.run(verifier.verify(token))
    assert caller.staff_funder_id == funder_id
    assert {"funder_staff", "finance"} <= set(caller.roles)


def test_workers_are_for_the_gateway(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "funding", "--workers", "2"]) == 2
    assert "--workers is for the gateway" in capsys.readouterr().err


def test_workers_refuse_one_metrics_port_for_several_processes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRELLIS_GATEWAY_METRICS_PORT", "18499")
    assert cli.main(["serve", "gateway", "--workers", "2"]) == 2
    assert "TRELLIS_GATEWAY_METRICS_PORT" in capsys.readouterr().err


def test_token_roles_are_every_role_but_service() -> None:
    # services/cli.py keeps its own list so that `trellis up` need not import the auth module.
    assert cli.TOKEN_ROLES == tuple(role for role in ROLES if role != "service")
