from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.common.kit_app import kit_app


@pytest.fixture
async def kit(backend: str, tmp_path: Any) -> AsyncIterator[Any]:
    async with kit_app(backend, tmp_path) as running:
        yield running
