"""A boom barrier behind a Modbus TCP relay I/O module (ADAM-6050/6060, ioLogik E1214...).

Open is a pulse: the relay coil goes on for `pulse_ms` and is always switched off again
(in a `finally`, shielded), so a crash or a cancel never leaves the gate held open. The
barrier controller closes the boom by itself. The open / closed limit switches are polled
to follow the boom: opening -> open -> closing -> closed. No open limit within
`open_timeout_s` of a pulse, a connection failure or a Modbus exception response makes the
state "fault" with a `detail`; nothing raises to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from app.adapters.io.base import FAULT, BarrierDriver, Clock, utc_now
from app.adapters.io.presets import preset as find_preset
from app.domain.events import VehiclePresenceChanged
from app.domain.site import Barrier

log = logging.getLogger(__name__)

# pymodbus logs every unanswered request at ERROR, once per poll while a module is away;
# the driver says it once, on the transition to fault (and once on recovery).
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

# pymodbus 3.10 renamed `slave=` to `device_id=`; take whichever the installed one has.
_UNIT_KW = ("device_id" if "device_id" in inspect.signature(
    AsyncModbusTcpClient.write_coil).parameters else "slave")

_EXCEPTIONS = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "device failure", 5: "acknowledge", 6: "device busy",
    10: "gateway path unavailable", 11: "gateway target failed to respond",
}

_IO_ERRORS = (ModbusException, OSError, TimeoutError)


def describe_error(response: Any) -> str:
    code = getattr(response, "exception_code", None)
    if code is None:
        return f"error response {response}"
    return f"Modbus exception {code} ({_EXCEPTIONS.get(code, 'unknown')})"


class ModbusBarrier(BarrierDriver):
    def __init__(
        self,
        barrier: Barrier,
        publish: Callable[[Any], None],
        clock: Clock = utc_now,
        *,
        host: str,
        port: int = 502,
        unit: int = 1,
        preset: str | None = None,
        coil: int | None = None,
        open_input: int | None = None,
        closed_input: int | None = None,
        inputs: str | None = None,
        pulse_ms: int = 500,
        open_timeout_s: float = 10.0,
        close_timeout_s: float | None = None,
        poll_s: float = 0.2,
        request_timeout_s: float = 1.0,
        presence_input: int | None = None,
    ) -> None:
        super().__init__(barrier, publish, clock)
        base: dict[str, Any] = dict(find_preset(preset)) if preset else {}
        coil = coil if coil is not None else base.get("coil")
        open_input = open_input if open_input is not None else base.get("open_input")
        if coil is None or open_input is None:
            raise ValueError(f"barrier {barrier.id}: Modbus needs a preset or coil and "
                             "open_input addresses")
        self.host, self.port, self.unit = host, int(port), int(unit)
        self.coil, self.open_input = int(coil), int(open_input)
        closed = closed_input if closed_input is not None else base.get("closed_input")
        self.closed_input = int(closed) if closed is not None and int(closed) >= 0 else None
        self.inputs = inputs or base.get("inputs", "discrete")
        if self.inputs not in ("discrete", "coils"):
            raise ValueError(f"barrier {barrier.id}: inputs must be 'discrete' or 'coils'")
        self.pulse_s = pulse_ms / 1000
        self.open_timeout_s = float(open_timeout_s)
        self.close_timeout_s = float(close_timeout_s if close_timeout_s is not None
                                     else open_timeout_s)
        self.poll_s = float(poll_s)
        self.request_timeout_s = float(request_timeout_s)
        # The lane's vehicle loop detector, wired to an input of the same module.
        self.presence_input = (int(presence_input) if presence_input is not None
                               and int(presence_input) >= 0 else None)
        self._present: bool | None = None
        self._presence: asyncio.Task | None = None
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._follower: asyncio.Task | None = None
        self._open_deadline: float | None = None
        self._close_deadline = 0.0
        self._tasks: set[asyncio.Task] = set()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} unit {self.unit}"

    async def open(self, reason: str) -> None:
        """Pulse the coil; returns once it is released. The boom is followed in the background."""
        self.pulses += 1
        log.info("barrier %s: open pulse (%s) while %s", self.id, reason, self._state)
        async with self._lock:
            if not await self._pulse():
                return
        self._open_deadline = asyncio.get_running_loop().time() + self.open_timeout_s
        if self._state != "open":
            self._set("opening")
        if self._follower is None or self._follower.done():
            self._follower = self._spawn(self._follow(), f"barrier-{self.id}-follow")

    # -- the vehicle loop (optional) ------------------------------------------------------

    @property
    def vehicle_present(self) -> bool | None:
        """Is a vehicle on the lane's loop? None: no loop input, or not read yet."""
        return self._present

    def start(self) -> None:
        """Follow the loop input, when there is one (polled every `poll_s`)."""
        if self.presence_input is not None and self._presence is None:
            self._presence = self._spawn(self._watch_presence(), f"barrier-{self.id}-loop")

    async def _watch_presence(self) -> None:
        assert self.presence_input is not None
        while True:
            present = await self._read_input(self.presence_input)
            if present is not None and self._state == FAULT and (
                    self._follower is None or self._follower.done()):
                limits = await self._read_limits()  # the module answers again: recovered
                if limits is not None:
                    self._set("open" if limits[0] else "closed")
            if present is not None and present != self._present:
                self._present = present
                self._publish(VehiclePresenceChanged(at=self._clock(), barrier_id=self.id,
                                                     present=present))
            await asyncio.sleep(self.poll_s if present is not None else max(self.poll_s, 1.0))

    async def stop(self) -> None:
        """Stop following the boom, let any coil release finish, and disconnect."""
        if self._presence is not None:
            self._presence.cancel()
            self._presence = None
        if self._follower is not None:
            self._follower.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._follower = None
        self._drop()

    # -- the pulse -------------------------------------------------------------------------

    async def _pulse(self) -> bool:
        if await self._connect() is None:
            return False
        pressed = False
        try:
            pressed = await self._write_coil(True)
            if pressed:
                await asyncio.sleep(self.pulse_s)
        finally:
            # Shielded: a second cancel cannot stop the release; it completes on its own.
            release = self._spawn(self._write_coil(False), f"barrier-{self.id}-release")
            released = await asyncio.shield(release)
        return pressed and released

    async def _write_coil(self, on: bool) -> bool:
        client = await self._connect()
        if client is None:
            return False
        what = f"writing coil {self.coil} {'on' if on else 'off'} at {self.where}"
        try:
            response = await client.write_coil(self.coil, on, **{_UNIT_KW: self.unit})
        except _IO_ERRORS as exc:
            self._drop()
            self._fault(f"{what}: {exc or type(exc).__name__}")
            return False
        if response.isError():
            self._fault(f"{what}: {describe_error(response)}")
            return False
        return True

    # -- following the boom ----------------------------------------------------------------

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            limits = await self._read_limits()
            if limits is None:
                return
            is_open, is_closed = limits
            now = loop.time()
            if is_open:
                self._open_deadline = None
                self._set("open")
            elif self._open_deadline is not None:  # a pulse waits for the open limit
                if now >= self._open_deadline:
                    self._open_deadline = None
                    self._fault(f"no open limit (input {self.open_input}) within "
                                f"{self.open_timeout_s:g} s of the pulse at {self.where}")
                    return
            elif self._state == "open":
                if self.closed_input is None:
                    self._set("closed")
                    return
                self._set("closing")
                self._close_deadline = now + self.close_timeout_s
            elif self._state == "closing":
                if is_closed:
                    self._set("closed")
                    return
                if now >= self._close_deadline:
                    self._fault(f"no closed limit (input {self.closed_input}) within "
                                f"{self.close_timeout_s:g} s at {self.where}")
                    return
            else:
                return
            await asyncio.sleep(self.poll_s)

    async def _read_limits(self) -> tuple[bool, bool] | None:
        is_open = await self._read_input(self.open_input)
        if is_open is None:
            return None
        if self.closed_input is None:
            return is_open, not is_open
        is_closed = await self._read_input(self.closed_input)
        return None if is_closed is None else (is_open, is_closed)

    async def _read_input(self, address: int) -> bool | None:
        client = await self._connect()
        if client is None:
            return None
        read = client.read_discrete_inputs if self.inputs == "discrete" else client.read_coils
        what = f"reading {self.inputs} input {address} at {self.where}"
        try:
            response = await read(address, count=1, **{_UNIT_KW: self.unit})
        except _IO_ERRORS as exc:
            self._drop()
            self._fault(f"{what}: {exc or type(exc).__name__}")
            return None
        if response.isError():
            self._fault(f"{what}: {describe_error(response)}")
            return None
        return bool(response.bits[0])

    # -- connection ------------------------------------------------------------------------

    async def _connect(self) -> AsyncModbusTcpClient | None:
        if self._client is None:
            # reconnect_delay=0: no background reconnect loop; the next operation reconnects.
            self._client = AsyncModbusTcpClient(
                self.host, port=self.port, timeout=self.request_timeout_s, retries=0,
                reconnect_delay=0)
        if self._client.connected:
            return self._client
        try:
            ok = await self._client.connect()
        except _IO_ERRORS as exc:
            ok, why = False, str(exc)
        else:
            why = "connection refused or timed out"
        if not ok:
            self._drop()
            self._fault(f"cannot connect to {self.where}: {why}")
            return None
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


__all__ = ["FAULT", "ModbusBarrier", "describe_error"]
