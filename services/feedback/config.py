"""Settings of the feedback service (env prefix ``TRELLIS_FEEDBACK_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_FEEDBACK_", extra="ignore", populate_by_name=True
    )

    service_name: str = "feedback"
