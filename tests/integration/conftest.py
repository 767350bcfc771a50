import asyncio

import pytest

from app.bootstrap import build_core
from app.config import Settings


async def wait_for(predicate, within=5.0, interval=0.02):
    """Poll until predicate() is truthy; fail with a clear message otherwise."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s: {predicate}")
        await asyncio.sleep(interval)


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
