"""Settings of the partners service (env prefix ``TRELLIS_PARTNERS_``)."""

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

CONSOLE_CLIENT_ID = "trellis-console"


class OidcClient(BaseModel):
    """A client of the embedded OpenID Connect provider.

    A client without a secret is public (a browser or mobile app): it must use
    PKCE, as every client must. One with a secret authenticates at the token
    endpoint with HTTP Basic or the form body.
    """

    client_id: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = []
    client_secret: str | None = None
    name: str | None = None


class ExternalIdp(BaseModel):
    """An external OpenID Connect provider whose id_tokens Trellis exchanges for its own tokens."""

    issuer: str
    jwks_uri: str
    audience: str


def _global(name: str) -> AliasChoices:
    return AliasChoices(name, name.removeprefix("TRELLIS_").lower())


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_PARTNERS_",
        extra="ignore",
        populate_by_name=True,
        # An empty variable is unset (compose names every setting), JSON lists included.
        env_ignore_empty=True,
    )

    service_name: str = "partners"
    client_token_ttl: int = 3600
    #: Bank details: id -> Fernet key (JSON) and the id new details are encrypted with. Empty:
    #: the service keeps its own key file in the data directory.
    bank_keys: dict[str, str] = {}
    bank_key_id: str | None = None
    #: How long a new or changed bank account is held before a funder's finance person may
    #: confirm it and pay to it.
    bank_change_hold_hours: float = 72.0
    token_failure_limits: str = "10/minute;30/hour"
    """Failed attempts at ``/oauth/token`` per client id: the first slows (429), the last locks."""
    token_failure_limits_per_source: str = "30/minute;300/hour"
    """Failed attempts at ``/oauth/token`` per source address, the same way."""
    signin_failure_limits: str = "5/minute;20/hour"
    """Failed sign-ins per account (email) on the sign-in page: 429, then a lock."""
    signin_failure_limits_per_source: str = "30/minute;300/hour"
    """Failed sign-ins per source address, the same way."""

    # People and the embedded OpenID Connect provider.
    access_token_ttl: int = 300
    """Seconds a person's access token lives: short, refresh tokens renew it."""
    id_token_ttl: int = 300
    session_ttl: int = 14 * 24 * 3600
    """Seconds a sign-in (its refresh-token family) lasts before the person signs in again."""
    authorization_code_ttl: int = 120
    invitation_ttl: int = 7 * 24 * 3600
    password_reset_ttl: int = 3600
    console_redirect_uris: list[str] | None = None
    """Where the console may receive codes (default: ``<public URL>/console/callback`` and
    Vite's dev server)."""
    console_post_logout_redirect_uris: list[str] | None = None
    oidc_clients: list[OidcClient] = []
    """More OIDC clients, as a JSON list of {client_id, redirect_uris, ...}."""
    external_idps: list[ExternalIdp] = []
    """External OIDC providers whose id_tokens are exchanged (RFC 8693) for Trellis tokens."""

    public_url: str | None = Field(None, validation_alias=_global("TRELLIS_PUBLIC_URL"))
    """The base URL people reach Trellis at, for links in emails (default: the issuer)."""
    smtp_url: str | None = Field(None, validation_alias=_global("TRELLIS_SMTP_URL"))
    mail_from: str = Field(
        "Trellis <trellis@localhost>", validation_alias=_global("TRELLIS_MAIL_FROM")
    )

    # Webhooks to funders' and partners' own systems.
    webhooks_allow_private_addresses: bool = False
    """Allow webhook endpoints on loopback, private, link-local and other non-global
    addresses, and plain ``http://`` (development and tests only: it opens SSRF)."""
    webhooks_timeout: float = 10.0
    """Seconds a webhook endpoint has to answer one delivery."""
    webhooks_max_attempts: int = 12
    """Tries of one delivery before it is given up as failed (backoff doubles, capped)."""
    webhooks_max_backoff: float = 3600.0
    """Longest wait, in seconds, between two tries of one delivery."""
    webhooks_disable_after: int = 20
    """Failed tries in a row, across deliveries, after which an endpoint is disabled."""
    webhooks_secret_overlap: int = 24 * 3600
    """Seconds the previous secret stays valid after a rotation (both sign meanwhile)."""
    webhooks_poll_interval: float = 1.0
    webhooks_autostart: bool = True

    # Email notifications (services/partners/notifications).
    notifications_digest_hour: int = Field(8, ge=0, le=23)
    """The hour (UTC) each day's digest is sent at, to people who chose ``daily``."""
    notifications_reply_within_days: int = Field(14, ge=1, le=366)
    """Days after which staff are reminded of an update without a reply, where their funder
    publishes no commitment measured by days to first reply with its ``promised_days``."""
    notifications_round_closing_days: int = Field(3, ge=0, le=60)
    """Days before a feedback round closes that invited partners' people are reminded."""
    notifications_poll_interval: float = 5.0
    notifications_scan_interval: float = 300.0
    """Seconds between looks for reminders that fell due."""
    notifications_max_attempts: int = 8
    """Tries of one email before it is given up (backoff doubles from 30 s, capped at 1 h)."""
    notifications_autostart: bool = True

    @property
    def base_url(self) -> str:
        return (self.public_url or self.auth_issuer).rstrip("/")

    @property
    def mail_dir(self) -> Path:
        """Where mail is written as ``.eml`` files when no SMTP server is configured."""
        return self.data_dir / "mail"

    def clients(self) -> dict[str, OidcClient]:
        """Every registered OIDC client by id: the console, then those configured."""
        console = OidcClient(
            client_id=CONSOLE_CLIENT_ID,
            name="Trellis console",
            redirect_uris=self.console_redirect_uris
            or [f"{self.base_url}/console/callback", "http://localhost:5173/callback"],
            post_logout_redirect_uris=self.console_post_logout_redirect_uris
            or [f"{self.base_url}/console/", "http://localhost:5173/"],
        )
        return {console.client_id: console, **{c.client_id: c for c in self.oidc_clients}}
