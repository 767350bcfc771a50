"""ModbusBarrier against a real pymodbus TCP server on 127.0.0.1 modelling a boom barrier."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from app.adapters.io.modbus_barrier import ModbusBarrier
from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier
from tests.helpers.modbus_boom import UNIT, BoomModel, start_server
from tests.helpers.waiting import wait_for


@pytest.fixture
async def server():
    srv = await start_server()
    try:
        yield srv
    finally:
        await srv.shutdown()


@pytest.fixture
async def boom(server):
    model = BoomModel(server)
    model.start()
    try:
        yield model
    finally:
        await model.stop()


@pytest.fixture
def events():
    return []


@pytest.fixture
async def make(events):
    made: list[ModbusBarrier] = []

    def make(port: int, **overrides) -> ModbusBarrier:
        options = {"unit": UNIT, "preset": "adam-6050", "pulse_ms": 50,
                   "open_timeout_s": 2.0, "poll_s": 0.02, "request_timeout_s": 1.0}
        options.update(overrides)
        barrier = ModbusBarrier(Barrier("b1", "Entry barrier", "modbus"), events.append,
                                host="127.0.0.1", port=port, **options)
        made.append(barrier)
        return barrier

    yield make
    for barrier in made:
        await barrier.stop()


def states(events) -> list[str]:
    return [e.state for e in events if isinstance(e, BarrierStateChanged)]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith("app.adapters.io")]


async def test_open_pulse_opens_then_the_boom_closes_by_itself(server, boom, make, events):
    barrier = make(server.port)
    await barrier.open("plate AB123CD permitted")
    assert await boom.coil() is False  # open() returns with the coil released
    await wait_for(lambda: boom.coil_history == [True, False])
    assert barrier.state in ("opening", "open")
    await wait_for(lambda: barrier.state == "closed", within=5)
    assert states(events) == ["opening", "open", "closing", "closed"]
    assert barrier.detail == ""


async def test_a_pulse_while_open_keeps_it_open(server, boom, make, events):
    barrier = make(server.port)
    await barrier.open("first car")
    await wait_for(lambda: barrier.state == "open")
    await barrier.open("second car")
    await wait_for(lambda: barrier.state == "closed", within=5)
    assert "fault" not in states(events)
    assert barrier.pulses == 2


async def test_server_down_is_a_fault_not_an_exception(make, events, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    barrier = make(port)
    await barrier.open("first try")
    await barrier.open("second try")
    assert barrier.state == "fault"
    assert f"cannot connect to 127.0.0.1:{port}" in barrier.detail
    assert states(events) == ["fault"]
    # Home Assistant style: one warning on the transition, not one per failed attempt.
    assert len([w for w in warnings(caplog) if "fault" in w]) == 1


async def test_illegal_address_is_a_fault_with_the_modbus_exception(server, boom, make):
    barrier = make(server.port, coil=100)  # the datastore has coils 0..31 only
    await barrier.open("test")
    assert barrier.state == "fault"
    assert "Modbus exception 2 (illegal data address)" in barrier.detail
    assert "coil 100" in barrier.detail


async def test_no_limit_switch_faults_after_the_timeout(server, boom, make, events, caplog):
    boom.limit_switch = False
    barrier = make(server.port, open_timeout_s=0.5)
    await barrier.open("test")
    assert barrier.state == "opening"
    await wait_for(lambda: barrier.state == "fault", within=3)
    assert "no open limit (input 0) within 0.5 s" in barrier.detail
    assert await boom.coil() is False
    assert states(events) == ["opening", "fault"]
    # Repaired: the next pulse recovers, logged once at INFO.
    boom.limit_switch = True
    await barrier.open("after repair")
    await wait_for(lambda: barrier.state == "closed", within=5)
    assert states(events)[2:] == ["opening", "open", "closing", "closed"]
    assert barrier.detail == ""
    assert len([r for r in caplog.records if "recovered" in r.getMessage()]) == 1


async def test_the_coil_is_released_when_the_pulse_is_cancelled(server, boom, make):
    barrier = make(server.port, pulse_ms=5000)
    task = asyncio.create_task(barrier.open("test"))
    await wait_for(lambda: boom.coil_history == [True], within=3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: boom.coil_history == [True, False], within=3)
    assert await boom.coil() is False


async def test_the_release_survives_a_second_cancel(server, boom, make):
    barrier = make(server.port, pulse_ms=5000)
    task = asyncio.create_task(barrier.open("test"))
    await wait_for(lambda: boom.coil_history == [True], within=3)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()  # while the release is being written
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: boom.coil_history == [True, False], within=3)
