"""A boom barrier behind a Modbus TCP relay I/O module, modelled on a real pymodbus server
on 127.0.0.1: what the Modbus barrier tests, the gate flow tests and the gate benchmark
drive. Addresses are the ADAM-6050/6060 preset's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

UNIT = 1
COIL, OPEN_DI, CLOSED_DI = 16, 0, 1  # the ADAM-6050/6060 preset's addresses
FC_COILS, FC_DISCRETE = 1, 2
FC_WRITE_COIL, FC_WRITE_COILS = 5, 15


async def start_server(port: int = 0) -> ModbusTcpServer:
    """A Modbus TCP server on a loopback port (`server.port`; 0: a free one). Distinct
    blocks: coils 0..31, discrete inputs 0..15; any other address is illegal. Stop:
    `await srv.shutdown()`."""
    device = SimDevice(id=UNIT, simdata=(
        [SimData(0, count=32, values=False, datatype=DataType.BITS)],
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
        [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
    ))
    srv = ModbusTcpServer(device, address=("127.0.0.1", port))
    await srv.serve_forever(background=True)
    srv.port = srv.transport.sockets[0].getsockname()[1]
    return srv


def on_coil_write(server: ModbusTcpServer, callback: Callable[[int, bool, float], None]) -> None:
    """Call `callback(address, value, time.perf_counter())` for every coil a client writes,
    in the server's datastore, as the request arrives (the benchmark's timestamp)."""
    context = server.context
    original = context.async_setValues

    async def set_values(device_id, func_code, address, values):
        if func_code in (FC_WRITE_COIL, FC_WRITE_COILS):
            stamp = time.perf_counter()
            for offset, value in enumerate(values):
                callback(address + offset, bool(value), stamp)
        return await original(device_id, func_code, address, values)

    context.async_setValues = set_values


class BoomModel:
    """The barrier controller wired to the I/O module: a coil pulse opens the boom, the
    open limit input comes on after `open_s`, and after `hold_s` the boom closes by itself
    (open limit off, closed limit on after `close_s`). `retrigger`: a pulse during a cycle
    runs another cycle after it (a controller that reopens for the next car) rather than
    being ignored."""

    def __init__(self, server: ModbusTcpServer, *, open_s=0.2, hold_s=0.3, close_s=0.15,
                 retrigger: bool = False):
        self.server, self.open_s, self.hold_s, self.close_s = server, open_s, hold_s, close_s
        self.retrigger = retrigger
        self._again = False
        self.limit_switch = True  # False: the open limit switch is broken / not wired
        self.coil_history: list[bool] = []
        self.cycles = 0  # boom openings
        self._task: asyncio.Task | None = None

    async def coil(self) -> bool:
        return bool((await self.server.async_getValues(UNIT, FC_COILS, COIL, 1))[0])

    async def is_open(self) -> bool:
        return bool((await self.server.async_getValues(UNIT, FC_DISCRETE, OPEN_DI, 1))[0])

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
            if on and not was_on:
                if cycle is None or cycle.done():
                    cycle = asyncio.create_task(self._cycle())
                elif self.retrigger:
                    self._again = True
            was_on = on
            await asyncio.sleep(0.005)

    async def _cycle(self) -> None:
        while True:
            self._again = False
            await asyncio.sleep(self.open_s)
            if not self.limit_switch:
                return
            self.cycles += 1
            await self._set_di(CLOSED_DI, False)
            await self._set_di(OPEN_DI, True)
            await asyncio.sleep(self.hold_s)
            await self._set_di(OPEN_DI, False)
            await asyncio.sleep(self.close_s)
            await self._set_di(CLOSED_DI, True)
            if not self._again:
                return

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
