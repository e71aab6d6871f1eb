"""Settings of the partners service (env prefix ``TRELLIS_PARTNERS_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_PARTNERS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "partners"
    client_token_ttl: int = 3600
