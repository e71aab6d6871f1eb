import pytest

from tests.support import BACKENDS, Stack, drop_templates, running_stack


def pytest_sessionfinish(session: pytest.Session) -> None:
    # In each worker too: pytest-xdist's workers may end without running atexit handlers.
    drop_templates()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
async def stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """All services on ``backend``, shared by the session: tests make their own funders."""
    async with running_stack(backend, tmp_path_factory.mktemp(f"stack-{backend}")) as running:
        yield running
