
import pytest

from app.bootstrap import build_core
from app.config import Settings


@pytest.fixture
def settings(tmp_path):
    """The demo site on a real SQLite file, OCPP on a free loopback port, no simulators."""
    return Settings(demo=True, data_dir=tmp_path, ocpp_host="127.0.0.1", ocpp_port=0,
                    log_dir=None, simulate_chargers=False, heartbeat_interval_s=30)


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
