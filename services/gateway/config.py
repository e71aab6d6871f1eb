"""Settings of the gateway (env prefix ``TRELLIS_GATEWAY_``)."""

import json
from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.common.settings import CommonSettings


class Settings(CommonSettings):
    """Where the gateway listens, whom it lets in from browsers, and how long it waits.

    The upstream base URLs (``TRELLIS_PARTNERS_URL`` ...) and the total time an
    upstream has to start answering (``TRELLIS_UPSTREAM_TIMEOUT``) are shared with
    the services; the rest is the gateway's own.
    """

    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_GATEWAY_", extra="ignore", populate_by_name=True
    )

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: Annotated[list[str], NoDecode] = []
    """Front-end origins allowed to call the API from a browser (comma-separated or JSON list)."""
    connect_timeout: float = 2.0
    """Seconds to open a connection to an upstream before answering 503."""
    max_connections: int = 256
    """Open connections kept at most to each upstream (idle ones are reused)."""
    openapi_cache_seconds: float = 60.0
    """How long the merged OpenAPI document is kept once every upstream answered."""
    readiness_timeout: float = 2.0
    """Seconds each upstream's ``/readyz`` has to answer during the gateway's ``/readyz``."""
    takeout_keep_hours: float = 24.0
    """How long a finished takeout's zip is kept in the data directory."""
    reply_within_days: int = 14
    """The reply time the funder's home page holds updates to when the funder has published
    no commitment measured by days to first reply with its own ``promised_days``."""
    console_dir: Path | None = None
    """The console's built bundle; served at ``/`` when it holds an ``index.html``."""
    request_deadline: float = 30.0
    """Seconds a proxied request has end to end, the whole response body included.

    The service is given ``min(request_deadline, upstream_timeout)`` less a margin to
    decide (``X-Request-Timeout-Ms``); past it, it keeps nothing."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    """An internal port serving ``/metrics`` to Prometheus (unset: no such port)."""
    metrics_token: str | None = None
    """A bearer token that opens ``/metrics`` on the public port (unset: it answers 404)."""

    database_url: str | None = None
    """Where rate-limit counters live when ``TRELLIS_REDIS_URL`` is not set: SQLite or
    PostgreSQL shared by the gateway's replicas (default: ``gateway.db`` in the data dir)."""
    rate_limits_enabled: bool = True
    """Rate limits per client and per source address at the door (429 with Retry-After)."""
    rate_limits: Annotated[dict[str, str], NoDecode] = {
        "reads": "1200/minute",
        "writes": "300/minute",
        "auth": "60/minute",
        "public": "600/minute",
    }
    """Per client (the token's ``sub``), by route class; JSON, e.g. ``{"writes": "100/minute"}``."""
    source_rate_limits: Annotated[dict[str, str], NoDecode] = {
        "reads": "6000/minute",
        "writes": "1200/minute",
        "auth": "120/minute",
        "public": "1200/minute",
    }
    """Per source address, by route class (an office behind one address shares these)."""
    rate_limit_batch: float = 0.05
    """Largest share of a limit a replica takes from the shared store per round trip (its
    local tokens; each share is sized to the caller's use up to this); 0 asks the store on
    every request. Never lets more through than the limit."""
    rate_limit_store_timeout: float = 1.0
    """Seconds a request waits for another replica's write to a SQLite store at most; past
    it (or if the store fails) requests are let through unchecked for a second, counted in
    ``trellis_rate_limit_unchecked_requests_total``."""

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @field_validator("rate_limits", "source_rate_limits", mode="before")
    @classmethod
    def _parse_limits(cls, value: object) -> object:
        """A JSON object of route class to ``limits`` notation, e.g. ``{"writes": "100/minute"}``."""
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept ``https://a.example,https://b.example`` as well as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]
        return value
