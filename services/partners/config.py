"""Settings of the partners service (env prefix ``TRELLIS_PARTNERS_``)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRELLIS_PARTNERS_", extra="ignore", populate_by_name=True
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
