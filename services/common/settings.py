"""Settings shared by every service, read from ``TRELLIS_*`` environment variables."""

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"gateway": 8000, "partners": 8001, "funding": 8002, "feedback": 8003}
SERVICES = ("partners", "funding", "feedback")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.removeprefix("TRELLIS_").lower())


class CommonSettings(BaseSettings):
    """What every service and the gateway share.

    Each service subclasses this with ``env_prefix = "TRELLIS_<SERVICE>_"`` for its
    own fields (database URL, port); the shared fields below keep their global
    ``TRELLIS_`` names.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = Field("trellis", exclude=True)
    data_dir: Path = Field(Path(".trellis"), validation_alias=_env("TRELLIS_DATA_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("TRELLIS_LOG_LEVEL"))

    auth_issuer: str = Field("http://127.0.0.1:8000", validation_alias=_env("TRELLIS_AUTH_ISSUER"))
    auth_audience: str = Field("trellis", validation_alias=_env("TRELLIS_AUTH_AUDIENCE"))
    auth_jwks_url: str | None = Field(None, validation_alias=_env("TRELLIS_AUTH_JWKS_URL"))
    auth_signing_keys_file: Path | None = Field(
        None, validation_alias=_env("TRELLIS_AUTH_SIGNING_KEYS_FILE")
    )
    auth_token_url: str | None = Field(None, validation_alias=_env("TRELLIS_AUTH_TOKEN_URL"))
    service_client_id: str | None = Field(None, validation_alias=_env("TRELLIS_SERVICE_CLIENT_ID"))
    service_client_secret: str | None = Field(
        None, validation_alias=_env("TRELLIS_SERVICE_CLIENT_SECRET")
    )

    partners_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=_env("TRELLIS_PARTNERS_URL")
    )
    funding_url: str = Field("http://127.0.0.1:8002", validation_alias=_env("TRELLIS_FUNDING_URL"))
    feedback_url: str = Field(
        "http://127.0.0.1:8003", validation_alias=_env("TRELLIS_FEEDBACK_URL")
    )
    upstream_timeout: float = Field(5.0, validation_alias=_env("TRELLIS_UPSTREAM_TIMEOUT"))
    otlp_endpoint: str | None = Field(None, validation_alias=_env("TRELLIS_OTLP_ENDPOINT"))
    """OTLP/HTTP collector for traces (e.g. ``http://otel-collector:4318``); unset: no tracing."""
    redis_url: str | None = Field(None, validation_alias=_env("TRELLIS_REDIS_URL"))
    migrate_on_start: bool = Field(False, validation_alias=_env("TRELLIS_MIGRATE_ON_START"))
    """``trellis serve`` brings its database up to date before serving (``trellis up`` sets
    it, so the databases are migrated at once, each by its own process)."""
    """Redis for rate-limit counters shared by replicas; unset: the database keeps them."""
    revocation_poll_interval: float = Field(
        2.0, validation_alias=_env("TRELLIS_REVOCATION_POLL_INTERVAL")
    )
    """Seconds between refreshes of the revoked-token list (the bound on revocation)."""
    revocation_retention: float = Field(
        86400.0, validation_alias=_env("TRELLIS_REVOCATION_RETENTION")
    )
    """Seconds a revocation is kept in memory: at least the longest access-token lifetime."""
    revocation_max_staleness: float = Field(
        0.0, validation_alias=_env("TRELLIS_REVOCATION_MAX_STALENESS")
    )
    """If set, tokens are refused (503) when the list is older than this; 0: keep the last."""
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("TRELLIS_MAX_BODY_BYTES")
    )
    """Largest request body taken, in bytes (1 MiB); a larger one is answered 413."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, values: Any) -> Any:
        """An empty variable (``TRELLIS_X=``) means unset: the default applies.

        Compose files and ConfigMaps can then name every setting without
        choosing a value for it.
        """
        if isinstance(values, dict):
            return {key: value for key, value in values.items() if value != ""}
        return values

    @property
    def signing_keys_file(self) -> Path:
        """Where the embedded token issuer keeps its private keys."""
        return self.auth_signing_keys_file or self.data_dir / "keys" / "signing-keys.json"

    def service_url(self, name: str) -> str:
        return getattr(self, f"{name}_url").rstrip("/")


class ServiceSettings(CommonSettings):
    """Settings of one of the three data services (partners, funding, feedback)."""

    host: str = "127.0.0.1"
    port: int = 0
    database_url: str | None = None
    event_subscribers: list[str] | None = None
    outbox_poll_interval: float = 1.0
    outbox_autostart: bool = True
    outbox_max_backoff: float = 300.0
    """Longest wait between two tries of one delivery (seconds); tries never stop."""
    outbox_probe_interval: float = 5.0
    """How often a subscriber with held deliveries has its ``/readyz`` asked (seconds)."""
    outbox_backlog_alert_after: float = 600.0
    """Age of the oldest waiting delivery (seconds) past which ``/readyz`` says degraded."""
    max_page_size: int = 100
    list_exact_count_limit: int = Field(default=5_000, ge=0)
    """Lists count their total exactly up to this many rows; beyond it the
    ``Content-Range`` total may be an estimate (``X-Total-Count-Estimated: true``)."""
    list_anchor_every: int = Field(default=500, ge=1)
    """Deep ``range`` pages of versioned lists seek from the sort key of every this many rows."""

    def model_post_init(self, __context: object) -> None:
        if not self.port:
            self.port = DEFAULT_PORTS[self.service_name]

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"

    @property
    def subscribers(self) -> list[str]:
        """Base URLs that receive this service's events at ``/internal/events``."""
        if self.event_subscribers is not None:
            return [url.rstrip("/") for url in self.event_subscribers]
        return [self.service_url(name) for name in SERVICES if name != self.service_name]
