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
