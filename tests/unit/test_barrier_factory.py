"""Building barrier drivers from site settings, and the I/O module presets."""

from __future__ import annotations

import pytest

from app.adapters.io.factory import make_barrier
from app.adapters.io.isapi_barrier import HikvisionBarrier
from app.adapters.io.modbus_barrier import ModbusBarrier
from app.adapters.io.presets import PRESETS, preset
from app.adapters.io.vapix_barrier import AxisBarrier
from app.domain.site import Barrier


def build(driver: str, **settings):
    return make_barrier(Barrier("b1", "Gate", driver, settings), lambda _e: None)


def test_presets_address_channel_zero():
    assert preset("ADAM-6050") == {"coil": 16, "open_input": 0, "closed_input": 1,
                                   "inputs": "coils"}
    assert preset("adam-6060")["coil"] == 16
    assert preset("ioLogik E1214") == PRESETS["moxa-e1214"]
    assert PRESETS["moxa-e1214"]["coil"] == 0
    assert PRESETS["moxa-e1214"]["inputs"] == "discrete"
    with pytest.raises(ValueError, match="unknown Modbus I/O preset"):
        preset("plc-9000")


def test_modbus_from_a_preset_with_an_override():
    barrier = build("modbus", host="127.0.0.5", preset="moxa-e1214", coil=3, closed_input=-1)
    assert isinstance(barrier, ModbusBarrier)
    assert (barrier.host, barrier.port, barrier.unit) == ("127.0.0.5", 502, 1)
    assert (barrier.coil, barrier.open_input, barrier.closed_input) == (3, 0, None)
    assert barrier.inputs == "discrete"
    assert barrier.state == "closed"


def test_modbus_needs_addresses_and_every_driver_a_host():
    with pytest.raises(ValueError, match="preset or coil"):
        build("modbus", host="127.0.0.5")
    with pytest.raises(ValueError, match="needs a host"):
        build("isapi")


def test_http_drivers():
    isapi = build("isapi", host="127.0.0.7", username="admin", password="x", channel=2)
    assert isinstance(isapi, HikvisionBarrier)
    assert isapi.url == "http://127.0.0.7:80/ISAPI/Parking/channels/2/barrierGate"
    axis = build("vapix", host="127.0.0.8", port=8080, io_port=2, pulse_ms=250)
    assert isinstance(axis, AxisBarrier)
    assert axis.action == "2:/250\\"
    assert axis.base_url == "http://127.0.0.8:8080"


def test_bootstrap_builds_real_drivers_and_skips_bad_settings(caplog):
    from types import SimpleNamespace

    from app.bootstrap import _add_barrier_drivers
    from app.domain.site import Site

    site = Site(name="t", barriers=(
        Barrier("g1", "Entry", "modbus", {"host": "127.0.0.5", "preset": "adam-6060"}),
        Barrier("g2", "Exit", "isapi", {"host": "127.0.0.7"}),
        Barrier("g3", "Staff", "vapix", {}),  # no host: left out with a warning
        Barrier("g4", "Sim", "sim"),
    ))
    core = SimpleNamespace(barriers={}, bus=SimpleNamespace(publish=lambda _e: None))
    _add_barrier_drivers(core, site)
    assert {k: type(v) for k, v in core.barriers.items()} == {
        "g1": ModbusBarrier, "g2": HikvisionBarrier}
    assert any("barrier g3 not driven" in r.getMessage() for r in caplog.records)
