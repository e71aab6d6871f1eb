"""Settings of the funding service (env prefix ``TRELLIS_FUNDING_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_FUNDING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "funding"
    #: Seconds between overdue checks (each emits ``instalment.overdue`` once per instalment).
    overdue_check_interval: float = 3600.0
    overdue_check_autostart: bool = True
    #: Days before its due date that an instalment is announced as ``instalment.due_soon``
    #: (once per due date, by the same periodic check): staff are reminded by email.
    due_soon_days: int = 7
