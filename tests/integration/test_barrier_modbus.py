"""ModbusBarrier against a real pymodbus TCP server on 127.0.0.1 modelling a boom barrier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from app.adapters.io.modbus_barrier import ModbusBarrier
from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier
from tests.helpers.waiting import wait_for

UNIT = 1
COIL, OPEN_DI, CLOSED_DI = 16, 0, 1  # the ADAM-6050/6060 preset's addresses
FC_COILS, FC_DISCRETE = 1, 2


class BoomModel:
    """The barrier controller wired to the I/O module: a coil pulse opens the boom, the
    open limit input comes on after `open_s`, and after `hold_s` the boom closes by itself
    (open limit off, closed limit on after `close_s`)."""

    def __init__(self, server: ModbusTcpServer, *, open_s=0.2, hold_s=0.3, close_s=0.15):
        self.server, self.open_s, self.hold_s, self.close_s = server, open_s, hold_s, close_s
        self.limit_switch = True  # False: the open limit switch is broken / not wired
        self.coil_history: list[bool] = []
        self._task: asyncio.Task | None = None

    async def coil(self) -> bool:
        return bool((await self.server.async_getValues(UNIT, FC_COILS, COIL, 1))[0])

    async def _set_di(self, address: int, value: bool) -> None:
        # ADAM-6000 modules show their DI in the 0X table too (function 01, the preset's).
        await self.server.async_setValues(UNIT, FC_DISCRETE, address, [value])
        await self.server.async_setValues(UNIT, FC_COILS, address, [value])

    async def run(self) -> None:
        await self._set_di(CLOSED_DI, True)
        was_on = False
        cycle: asyncio.Task | None = None
        while True:
            on = await self.coil()
            if on != was_on:
                self.coil_history.append(on)
            if on and not was_on and (cycle is None or cycle.done()):
                cycle = asyncio.create_task(self._cycle())
            was_on = on
            await asyncio.sleep(0.005)

    async def _cycle(self) -> None:
        await asyncio.sleep(self.open_s)
        if not self.limit_switch:
            return
        await self._set_di(CLOSED_DI, False)
        await self._set_di(OPEN_DI, True)
        await asyncio.sleep(self.hold_s)
        await self._set_di(OPEN_DI, False)
        await asyncio.sleep(self.close_s)
        await self._set_di(CLOSED_DI, True)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@pytest.fixture
async def server():
    # Distinct blocks: coils 0..31, discrete inputs 0..15; any other address is illegal.
    device = SimDevice(id=UNIT, simdata=(
        [SimData(0, count=32, values=False, datatype=DataType.BITS)],
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
        [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
    ))
    srv = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await srv.serve_forever(background=True)
    srv.port = srv.transport.sockets[0].getsockname()[1]
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
