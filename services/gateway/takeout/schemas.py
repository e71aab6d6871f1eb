"""The takeout job as the API shows it."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Takeout(BaseModel):
    """A takeout: everything you could list through the API, as one zip."""

    id: str
    status: Literal["running", "done", "failed"] = Field(
        description="running; done (download it); failed (``error`` says why: start again)"
    )
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    size: int | None = Field(None, description="Bytes of the zip, once done")
    files: dict[str, int] = Field(
        default_factory=dict, description="Rows in each JSON Lines file (its CSV has the same)"
    )
    download_url: str | None = Field(None, description="Where to download the zip, once done")
