"""Settings of the funding service (env prefix ``TRELLIS_FUNDING_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_FUNDING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "funding"
