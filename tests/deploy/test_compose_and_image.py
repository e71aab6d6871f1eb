"""deploy/compose.yaml, deploy/.env.example, the Dockerfile and the scripts the image carries."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from services.cli import ALL
from services.common import migrate
from services.common.migrate import upgrade
from tests.deploy.settings_env import PROCESSES, all_env_names, env_names, settings_class
from tests.support import POSTGRES_URL, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("partners", "funding", "feedback")
PORTS = {"gateway": 8000, "partners": 8001, "funding": 8002, "feedback": 8003}
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name, "")
        if op in (":?", "?") and not current:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not current:
            return arg
        return current

    return INTERPOLATION.sub(replace, value)


def test_compose_runs_postgres_migrations_the_services_and_the_gateway(compose) -> None:
    services = compose["services"]
    assert {"postgres", "migrate", *PROCESSES} <= set(services)
    postgres = services["postgres"]
    mounts = " ".join(postgres["volumes"])
    assert "init-databases.sh:/docker-entrypoint-initdb.d/" in mounts
    assert (DEPLOY / "postgres" / "init-databases.sh").stat().st_mode & 0o111
    assert "healthcheck" in postgres
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in SERVICES:
        assert services["gateway"]["depends_on"][name]["condition"] == "service_healthy"
    assert services["gateway"]["ports"] == ["${TRELLIS_HTTP_PORT:-8000}:8000"]
    assert not any("ports" in services[name] for name in (*SERVICES, "postgres", "migrate"))


def test_compose_names_every_setting_of_every_process(compose) -> None:
    """Derived from the Settings classes: a new setting must be named in compose.yaml."""
    services = compose["services"]
    for name in PROCESSES:
        named = set(services[name]["environment"])
        missing = set(env_names(name)) - named
        assert not missing, (
            f"deploy/compose.yaml's {name} service does not name {sorted(missing)}; add them "
            "(as ${VAR:-} when the default is fine) and to deploy/.env.example"
        )
    known = all_env_names()
    for name in ("migrate", *PROCESSES):
        unknown = {v for v in services[name]["environment"] if v.startswith("TRELLIS_")} - known
        assert not unknown, f"{name} names variables no Settings class reads: {unknown}"


def test_compose_bakes_in_no_secret_and_env_example_lists_every_input(compose) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert INTERPOLATION.fullmatch(str(value)), f"{key} must come from deploy/.env"
            if key.endswith("DATABASE_URL"):
                assert "${" in str(value), f"{key} must take its password from deploy/.env"
    example = env_example()
    used = {match.group(1) for match in INTERPOLATION.finditer(text)}
    assert used <= set(example), f"not in deploy/.env.example: {sorted(used - set(example))}"
    for key in ("POSTGRES_PASSWORD", *(f"TRELLIS_{s.upper()}_DB_PASSWORD" for s in SERVICES)):
        assert example[key] == "", f"{key} must be empty in the example"
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert "deploy/.env" in ignored and "deploy/secrets" in ignored


def test_compose_environment_makes_valid_settings(compose, monkeypatch) -> None:
    """With the example .env and passwords filled in, each process reads sensible settings."""
    env = {**env_example(), "POSTGRES_PASSWORD": "pg-secret"}
    for name in SERVICES:
        env[f"TRELLIS_{name.upper()}_DB_PASSWORD"] = f"{name}-secret"
    for name in PROCESSES:
        for key in [k for k in os.environ if k.startswith("TRELLIS_")]:
            monkeypatch.delenv(key)
        environment = compose["services"][name]["environment"]
        for key, value in environment.items():
            monkeypatch.setenv(key, interpolate(str(value), env))
        settings = settings_class(name)()
        assert settings.host == "0.0.0.0"
        assert settings.port == PORTS[name]
        assert str(settings.signing_keys_file) == "/run/trellis/keys/signing-keys.json"
        assert settings.auth_jwks_url is None and settings.auth_token_url is None
        assert settings.otlp_endpoint is None
        for upstream in SERVICES:
            assert settings.service_url(upstream) == f"http://{upstream}:{PORTS[upstream]}"
        if name in SERVICES:
            url = make_url(settings.effective_database_url)
            assert (url.get_backend_name(), url.username, url.password, url.host, url.database) == (
                "postgresql",
                name,
                f"{name}-secret",
                "postgres",
                name,
            )
            assert settings.outbox_autostart is True
            assert set(settings.subscribers) == {
                f"http://{s}:{PORTS[s]}" for s in SERVICES if s != name
            }
            migrate_env = compose["services"]["migrate"]["environment"]
            key = f"TRELLIS_{name.upper()}_DATABASE_URL"
            assert interpolate(migrate_env[key], env) == interpolate(environment[key], env)
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"], {})


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), grouped by stage."""
    lines = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    stages: list[list[str]] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_builds_from_the_lock_and_runs_unprivileged_with_a_health_check() -> None:
    stages = dockerfile_stages()
    build, runtime = stages[-2], stages[-1]
    syncs = [line for line in build if "uv sync" in line]
    assert syncs and all("--locked" in line and "--no-dev" in line for line in syncs)
    copies = " ".join(line for line in build if line.startswith("COPY"))
    for path in ("pyproject.toml", "uv.lock", "services", "migrations", "deploy/healthcheck.py"):
        assert path in copies
        assert (ROOT / path).exists()
    # Migrations are found next to the services package: both are copied into /app.
    assert Path(migrate.__file__).resolve().parents[2] / "migrations" == migrate.MIGRATIONS_DIR
    assert "COPY services ./services" in build and "COPY migrations ./migrations" in build
    assert any(line.startswith("WORKDIR /app") for line in build)
    user = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert any(line.startswith("HEALTHCHECK ") and "healthcheck.py" in line for line in runtime)
    assert not any("uv " in line for line in runtime if line.startswith("RUN"))
    entrypoint = next(line for line in runtime if line.startswith("ENTRYPOINT"))
    cmd = next(line for line in runtime if line.startswith("CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert yaml.safe_load(entrypoint.split(None, 1)[1]) == ["trellis"] and "trellis" in scripts
    assert yaml.safe_load(cmd.split(None, 1)[1]) == ["serve", "gateway"]
    assert not re.search(r"(PASSWORD|SECRET)\s*=", " ".join(runtime))


def test_the_cli_accepts_the_commands_compose_and_kubernetes_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ALL:
        assert name in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "service" in result.stdout


def test_healthcheck_finds_the_served_service_and_its_port(monkeypatch) -> None:
    healthcheck = load_module(DEPLOY / "healthcheck.py")
    monkeypatch.delenv("TRELLIS_PARTNERS_PORT", raising=False)
    assert healthcheck.served(["/app/.venv/bin/python", "/app/.venv/bin/trellis", "serve", "partners"]) == ("partners", 8001)  # fmt: skip
    assert healthcheck.served(["/sbin/docker-init", "--", "trellis", "serve", "gateway", "--port", "9000"]) == ("gateway", 9000)  # fmt: skip
    monkeypatch.setenv("TRELLIS_FUNDING_PORT", "9100")
    assert healthcheck.served(["trellis", "serve", "funding"]) == ("funding", 9100)
    assert healthcheck.served(["trellis", "migrate"]) is None
    assert healthcheck.DEFAULT_PORTS == PORTS


def test_wait_for_migrations_passes_only_at_head(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'partners.db'}"
    monkeypatch.setenv("TRELLIS_PARTNERS_DATABASE_URL", url)
    script = [sys.executable, str(DEPLOY / "wait_for_migrations.py"), "partners"]
    waiting = subprocess.run(
        [*script, "--timeout", "0", "--interval", "0"], capture_output=True, text=True, check=False
    )
    assert waiting.returncode == 1
    assert "gave up waiting for migrations" in waiting.stderr
    upgrade("partners", url)
    ready = subprocess.run(script, capture_output=True, text=True, check=False)
    assert ready.returncode == 0, ready.stderr
    assert "schema at" in ready.stdout


def admin_conninfo() -> str:
    assert POSTGRES_URL
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.skipif(not POSTGRES_URL, reason="TRELLIS_TEST_POSTGRES_URL is not set")
def test_init_script_makes_one_database_and_role_per_service() -> None:
    """The compose init script, run against a real PostgreSQL, then migrations as each role."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    admin = make_url(POSTGRES_URL)
    env = {
        **os.environ,
        "POSTGRES_USER": admin.username or "postgres",
        "POSTGRES_DB": admin.database or "postgres",
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "TRELLIS_DB_NAME_PREFIX": prefix,
    }
    if admin.password:
        env["PGPASSWORD"] = admin.password
    for name in SERVICES:
        env[f"TRELLIS_{name.upper()}_DB_PASSWORD"] = f"pw-{name}-{uuid.uuid4().hex[:6]}"
    try:
        result = subprocess.run(
            ["sh", str(DEPLOY / "postgres" / "init-databases.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        for name in SERVICES:
            url = admin.set(
                drivername="postgresql+asyncpg",
                username=f"{prefix}{name}",
                password=env[f"TRELLIS_{name.upper()}_DB_PASSWORD"],
                database=f"{prefix}{name}",
            ).render_as_string(hide_password=False)
            upgrade(name, url)  # the service's own role owns and migrates its database
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            owners = dict(
                conn.execute(
                    "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE %s",
                    (f"{prefix}%",),
                ).fetchall()
            )
        assert owners == {f"{prefix}{n}": f"{prefix}{n}" for n in SERVICES}
        missing = subprocess.run(
            ["sh", str(DEPLOY / "postgres" / "init-databases.sh")],
            env={k: v for k, v in env.items() if k != "TRELLIS_FUNDING_DB_PASSWORD"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert missing.returncode != 0
    finally:
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            for name in SERVICES:
                conn.execute(f'DROP DATABASE IF EXISTS "{prefix}{name}" WITH (FORCE)')
                conn.execute(f'DROP ROLE IF EXISTS "{prefix}{name}"')


def readme_commands(marker: str) -> list[str]:
    """Shell lines of the README block that follows ``<!-- marker -->``."""
    text = (DEPLOY / "README.md").read_text()
    block = text.split(f"<!-- {marker} -->", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip() and not line.startswith("#")]


@pytest.mark.skipif(not POSTGRES_URL, reason="TRELLIS_TEST_POSTGRES_URL is not set")
def test_backup_and_restore_as_the_readme_says(tmp_path: Path) -> None:
    """pg_dump -Fc then pg_restore into an empty database keeps every row."""
    source = create_database("postgres", "backup_src", tmp_path)
    target = create_database("postgres", "backup_dst", tmp_path)
    try:
        upgrade("partners", source)
        with psycopg.connect(make_url(source).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True) as conn:  # fmt: skip
            conn.execute(
                "INSERT INTO funders (id, name, slug, prefix_360giving, org_id, created_at, updated_at, version) "
                "VALUES (gen_random_uuid(), 'Backup Trust', 'backup', '360G-backup', 'GB-CHC-1000001', now(), now(), 1)"
            )
        conninfo = {
            name: make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            for name, url in (("SOURCE", source), ("TARGET", target))
        }
        dump = tmp_path / "partners.dump"
        for line in readme_commands("backup-restore-test"):
            command = (
                line.replace("$PARTNERS_URL", shlex.quote(conninfo["SOURCE"]))
                .replace("$RESTORE_URL", shlex.quote(conninfo["TARGET"]))
                .replace("partners.dump", str(dump))
            )
            result = subprocess.run(
                command, shell=True, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, f"{command}\n{result.stderr}"
        with psycopg.connect(conninfo["TARGET"]) as conn:
            assert conn.execute("SELECT name FROM funders").fetchall() == [("Backup Trust",)]
            version = conn.execute("SELECT version_num FROM alembic_version_partners").fetchall()
        assert len(version) == 1
    finally:
        drop_database(source)
        drop_database(target)
