"""Simulated chargers: OCPP-J clients over real websockets, with cars at their connectors.

The cars (app.sim.connector) live on whether or not the link is up; the link side boots,
resends every connector's status on each new connection, heartbeats, and sends what
the cars did through one ordered outbox. Transaction messages wait in the outbox while
the link is down, as OCPP asks of real chargers. SimFleet runs one per site charger.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.domain.charging import ChargerIdentity
from app.domain.site import ChargerConfig, OcppVersion, Site
from app.sim.connector import Happening, SimConnector, State, Timing
from app.sim.identities import identity_for
from app.sim.ocpp16 import ChargePoint16, Messages16
from app.sim.ocpp201 import ChargePoint201, Messages201
from app.sim.protocol import Messages, Outgoing
from app.sim.vehicles import Vehicle

log = logging.getLogger(__name__)

# Errors that mean "the link is gone or never came up": reconnect, do not crash.
_LINK_ERRORS = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake)
_OUTBOX_LIMIT = 1000
_DEFAULT_HEARTBEAT_S = 300

VehicleCallback = Callable[[str, int, Vehicle | None], None]


class SimCharger:
    def __init__(
        self,
        config: ChargerConfig,
        url: str,
        *,
        identity: ChargerIdentity,
        speed: float = 1.0,
        rng: random.Random | None = None,
        password: str | None = None,
        transactions: bool = False,
        timing: Timing | None = None,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        response_timeout_s: float = 30.0,
        on_vehicle: VehicleCallback | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.config = config
        self.id = config.id
        self.url = f"{url.rstrip('/')}/{config.id}"
        self.identity = identity
        self.speed = speed
        self.on_vehicle = on_vehicle
        self._rng = rng or random.Random()
        self._password = password
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._response_timeout = response_timeout_s
        self._messages: Messages = (
            Messages16(transactions=transactions)
            if config.ocpp_version is OcppVersion.V16 else Messages201()
        )
        # Each connector draws from its own generator: with a seed, every bay's story
        # replays the same however the tasks interleave.
        self.connectors = {
            n: SimConnector(n, config.max_power_w, random.Random(self._rng.getrandbits(64)),
                            speed, self._on_happening, timing)
            for n in range(1, config.connectors + 1)
        }
        # Observable state (tests, demo panels). `booted` is set while an accepted
        # registration holds on the current connection.
        self.booted = asyncio.Event()
        self.boot_status: str | None = None
        self.heartbeat_interval_s: int | None = None
        self.connections = 0
        self.boots = 0
        self.heartbeats = 0
        self._online = False
        self._outbox: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._reset = asyncio.Event()
        self._boot_reason = "PowerUp"
        self._task: asyncio.Task | None = None

    # -- observable state ---------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self._online

    def connector_status(self, connector_id: int) -> str:
        """The physical state, in 1.6 status words (also for 2.0.1 chargers)."""
        return str(self.connectors[connector_id].state)

    def energy_wh(self, connector_id: int) -> float:
        return self.connectors[connector_id].meter_wh

    def power_w(self, connector_id: int) -> float:
        return self.connectors[connector_id].power_w

    def vehicle(self, connector_id: int) -> Vehicle | None:
        return self.connectors[connector_id].vehicle

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled (or stop()): cars, and the link with its reconnects."""
        if self._task is not None:
            raise RuntimeError(f"sim charger {self.id} is already running")
        self._task = asyncio.current_task()
        cars = [asyncio.create_task(c.run(), name=f"sim-{self.id}-{c.id}")
                for c in self.connectors.values()]
        for task in cars:
            task.add_done_callback(_report_crash)
        try:
            await self._link_forever()
        finally:
            for task in cars:
                task.cancel()
            await asyncio.gather(*cars, return_exceptions=True)
            self._went_offline()
            self._task = None

    async def stop(self) -> None:
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            return
        task.cancel()
        await asyncio.wait({task})

    async def _link_forever(self) -> None:
        delay, ever_up, complained = self._reconnect[0], False, False
        while True:
            try:
                ws = await self._connect()
                self.connections += 1
                delay, complained, ever_up = self._reconnect[0], False, True
                log.info("sim charger %s connected to %s", self.id, self.url)
                try:
                    await self._session(ws)
                finally:
                    # Code 1000 also on stop(); `async with` would say 1011 on a cancel.
                    await ws.close()
            except _LINK_ERRORS as exc:
                was_online = self._online
                self._went_offline()
                # Say it once per outage (Home Assistant style), then stay quiet.
                if was_online:
                    log.warning("sim charger %s lost its link (%s); reconnecting", self.id,
                                _why(exc))
                elif not complained:
                    log.log(logging.WARNING if ever_up else logging.INFO,
                            "sim charger %s cannot reach %s (%s); retrying", self.id,
                            self.url, _why(exc))
                else:
                    log.debug("sim charger %s: still no link (%s)", self.id, _why(exc))
                complained = True
                await asyncio.sleep(delay * self._rng.uniform(0.8, 1.2))
                delay = min(delay * 2, self._reconnect[1])
            else:
                # The session ended by itself: the central system asked for a Reset.
                self._went_offline()
                self._boot_reason = "RemoteReset"
                log.info("sim charger %s rebooting", self.id)
                await asyncio.sleep(self._rng.uniform(20, 40) / self.speed)

    async def _connect(self) -> ClientConnection:
        return await connect(
            self.url,
            subprotocols=[self._messages.subprotocol],  # type: ignore[list-item]
            additional_headers=self._auth_header(),
            user_agent_header=f"{self.identity.vendor} {self.identity.model}"
                              f"/{self.identity.firmware}",
            open_timeout=10,
            close_timeout=2,
        )

    def _auth_header(self) -> dict[str, str] | None:
        # OCPP security profile 1: HTTP Basic with the charger id as user name.
        if self._password is None:
            return None
        token = base64.b64encode(f"{self.id}:{self._password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    # -- one connection -----------------------------------------------------------------

    async def _session(self, ws: ClientConnection) -> None:
        cls = ChargePoint16 if isinstance(self._messages, Messages16) else ChargePoint201
        cp = cls(self.id, ws, self, self._response_timeout)
        await _first(cp.start(), self._talk(cp))

    async def _talk(self, cp: Any) -> None:
        await self._boot(cp)
        self._online = True
        # The central system learns the present first, then what waited in the outbox.
        self._outbox.extendleft(reversed(self._messages.resync(self.connectors.values())))
        self._wake.set()
        self._reset.clear()
        await _first(self._heartbeats(cp), self._sender(cp), self._reset.wait())

    async def _boot(self, cp: Any) -> None:
        while True:
            try:
                result = await _call(cp, self._messages.boot(self.identity, self._boot_reason))
            except OCPPError as exc:
                log.warning("sim charger %s: BootNotification refused: %s", self.id, exc)
                await asyncio.sleep(self._reconnect[1])
                continue
            self.boot_status, interval = str(result.status), int(result.interval)
            if self.boot_status == "Accepted":
                self.heartbeat_interval_s = interval if interval > 0 else _DEFAULT_HEARTBEAT_S
                self.boots += 1
                self._boot_reason = "Unknown"  # later boots are reconnects, not power-ups
                self.booted.set()
                log.info("sim charger %s booted (heartbeat %ss)", self.id, interval)
                return
            # Pending/Rejected: the interval says when to try again (OCPP 1.6 4.2).
            retry = interval if interval > 0 else self._reconnect[1]
            log.info("sim charger %s: boot %s, retrying in %ss", self.id, self.boot_status, retry)
            await asyncio.sleep(retry)

    async def _heartbeats(self, cp: Any) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval_s or _DEFAULT_HEARTBEAT_S)
            try:
                await _call(cp, self._messages.heartbeat())
                self.heartbeats += 1
            except OCPPError as exc:
                log.warning("sim charger %s: Heartbeat refused: %s", self.id, exc)

    async def _sender(self, cp: Any) -> None:
        while True:
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._outbox.popleft()
            payload = item.payload()
            if payload is None:
                continue
            try:
                result = await _call(cp, payload)
            except OCPPError as exc:
                # A CALLERROR is the central system's answer: note it and go on.
                log.warning("sim charger %s: %s refused: %s", self.id,
                            type(payload).__name__, exc)
                continue
            except BaseException:
                if item.must_deliver:  # link lost mid-call: send it again on the next link
                    self._outbox.appendleft(item)
                raise
            if item.on_result is not None:
                item.on_result(result)

    def _went_offline(self) -> None:
        self._online = False
        self.booted.clear()
        # Statuses are resent on the next connection; keep only what must be delivered.
        kept = [m for m in self._outbox if m.must_deliver]
        self._outbox.clear()
        self._outbox.extend(kept)

    # -- what the cars do ---------------------------------------------------------------

    def _on_happening(self, conn: SimConnector, what: Happening) -> None:
        self._enqueue(self._messages.on_happening(conn, what, self._online))
        if what in (Happening.PLUGGED, Happening.AVAILABLE) and self.on_vehicle is not None:
            try:
                self.on_vehicle(self.id, conn.id, conn.vehicle)
            except Exception:
                log.exception("sim charger %s: vehicle callback failed", self.id)

    def _enqueue(self, items: list[Outgoing]) -> None:
        for item in items:
            if not (self._online or item.must_deliver):
                continue
            if len(self._outbox) >= _OUTBOX_LIMIT:
                # Like a real charger's full memory: the oldest message is lost.
                self._outbox.popleft()
                log.warning("sim charger %s: outbox full, oldest message dropped", self.id)
            self._outbox.append(item)
        self._wake.set()

    # -- ChargerHooks: central-system CALLs ---------------------------------------------

    def trigger(self, what: str, connector_id: int | None) -> bool:
        if what == "Heartbeat":
            self._enqueue([Outgoing(self._messages.heartbeat)])
        elif what == "BootNotification":
            self._enqueue([Outgoing(lambda: self._messages.boot(self.identity, "Triggered"))])
        elif what == "StatusNotification":
            conn = self.connectors.get(connector_id or 0)
            self._enqueue([self._messages.status(conn)] if conn else
                          self._messages.resync(self.connectors.values()))
        else:
            return False
        return True

    def reset_allowed(self) -> bool:
        # Busy chargers refuse, rather than cut a driver's session.
        return all(c.state is State.AVAILABLE for c in self.connectors.values())

    def request_reset(self) -> None:
        self._reset.set()


class SimFleet:
    """One SimCharger per site charger, each running as its own task."""

    def __init__(
        self,
        site: Site,
        url: str,
        speed: float = 1.0,
        seed: int | None = None,
        *,
        transactions: bool = False,
        passwords: dict[str, str] | None = None,
        timing: Timing | None = None,
        on_vehicle: VehicleCallback | None = None,
        **charger_options: float,
    ) -> None:
        rng = random.Random(seed)
        self.url = url
        self.chargers: dict[str, SimCharger] = {}
        for cfg in site.chargers:
            # One generator per charger: a seed gives every charger the same story each run.
            own = random.Random(rng.getrandbits(64))
            self.chargers[cfg.id] = SimCharger(
                cfg, url, identity=identity_for(cfg, own), speed=speed, rng=own,
                password=(passwords or {}).get(cfg.id), transactions=transactions,
                timing=timing, on_vehicle=on_vehicle, **charger_options,
            )
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(c.run(), name=f"sim-charger-{c.id}")
                       for c in self.chargers.values()]
        for task in self._tasks:
            task.add_done_callback(_report_crash)
        log.info("simulated fleet of %d chargers started against %s", len(self._tasks),
                 self.url)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _report_crash(task: asyncio.Task) -> None:
    # Sim tasks only end by cancellation; anything else is a bug worth seeing at once.
    if not task.cancelled() and task.exception() is not None:
        log.error("%s crashed", task.get_name(), exc_info=task.exception())


async def _call(cp: Any, payload: Any) -> Any:
    result = await cp.call(payload, suppress=False)
    # The library waits with asyncio.wait_for, which on Python 3.11 drops a cancel that
    # lands together with the response; honour it here or stop() would hang.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


async def _first(*coros: Coroutine[Any, Any, Any]) -> None:
    """Run until the first coroutine ends; cancel and await the rest; re-raise its error."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
