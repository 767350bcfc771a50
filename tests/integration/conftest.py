
import pytest

from app.bootstrap import build_core
from tests.helpers.settings import loopback_settings


@pytest.fixture
def settings(tmp_path):
    """The demo site on a real SQLite file, OCPP on a free loopback port, no simulators."""
    return loopback_settings(tmp_path)


@pytest.fixture
async def core(settings):
    core = await build_core(settings)
    await core.start()
    try:
        yield core
    finally:
        await core.stop()


@pytest.fixture
def url(core):
    return f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
