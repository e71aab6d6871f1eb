"""Settings of the partners service (env prefix ``TRELLIS_PARTNERS_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_PARTNERS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "partners"
    client_token_ttl: int = 3600
    token_failure_limits: str = "10/minute;30/hour"
    """Failed attempts at ``/oauth/token`` per client id: the first slows (429), the last locks."""
    token_failure_limits_per_source: str = "30/minute;300/hour"
    """Failed attempts at ``/oauth/token`` per source address, the same way."""
