"""Simulated chargers: OCPP-J clients over real websockets, with cars at their connectors.

The cars (app.sim.connector) live on whether or not the link is up; the link side boots,
resends every connector's status on each new connection, heartbeats, and sends what
the cars did through one ordered outbox. Transaction messages wait in the outbox while
the link is down, as OCPP asks of real chargers. SimFleet runs one per site charger.

The central system's commands (ocpp16 / ocpp201 handlers) land on the SimCharger's
protocol-neutral methods below: each decides the answer at once and returns what to do
once the answer is out. Follow-ups that take time (an upload, a firmware update, a
scheduled reset) run as the charger's own jobs; their waits are site time, divided by
`speed` like the cars'.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.domain.charging import ChargerIdentity
from app.domain.site import ChargerConfig, OcppVersion, Site
from app.sim.config import Setting, SettingStore, settings_16, settings_201
from app.sim.connector import Happening, RemoteStart, SimConnector, State, Timing
from app.sim.identities import identity_for
from app.sim.local_list import LocalList
from app.sim.ocpp16 import ChargePoint16, Messages16
from app.sim.ocpp201 import ChargePoint201, Messages201, connector_status
from app.sim.profiles import TX, ChargingProfiles, Profile
from app.sim.protocol import Answer, Messages, Outgoing, now_iso
from app.sim.vehicles import Vehicle

log = logging.getLogger(__name__)

# Errors that mean "the link is gone or never came up": reconnect, do not crash.
_LINK_ERRORS = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake)
_OUTBOX_LIMIT = 1000
_DEFAULT_HEARTBEAT_S = 300
_DEFAULT_PING_S = 20  # the websockets client's own default
# Where a charger can upload a log or fetch firmware from.
_SCHEMES = {"ftp", "ftps", "sftp", "http", "https"}
# Site seconds: (collect the logs, upload them) and (download, install) firmware.
_COLLECT_S, _UPLOAD_S = (2, 6), (10, 40)
_DOWNLOAD_S, _INSTALL_S = (20, 90), (30, 90)
_REBOOT_S = (20, 40)

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
        transactions: bool = True,
        timing: Timing | None = None,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        response_timeout_s: float = 30.0,
        on_vehicle: VehicleCallback | None = None,
        vehicles: Callable[[random.Random], Vehicle] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.config = config
        self.id = config.id
        self.version = config.ocpp_version
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
        # Its own copy: MeterValueSampleInterval changes this charger only.
        self._timing = replace(timing) if timing is not None else Timing()
        self.profiles = ChargingProfiles()
        self.local_list = LocalList()
        # Each connector draws from its own generator: with a seed, every bay's story
        # replays the same however the tasks interleave.
        self.connectors = {
            n: SimConnector(n, config.max_power_w, random.Random(self._rng.getrandbits(64)),
                            speed, self._on_happening, self._timing, limit=self._limit_w,
                            **({"vehicles": vehicles} if vehicles is not None else {}))
            for n in range(1, config.connectors + 1)
        }
        self.settings = SettingStore(self._settings(), on_change=self._setting_changed)
        # Observable state (tests, demo panels). `booted` is set while an accepted
        # registration holds on the current connection.
        self.booted = asyncio.Event()
        self.boot_status: str | None = None
        self.heartbeat_interval_s: int | None = None
        self.connections = 0
        self.boots = 0
        self.heartbeats = 0
        self.operative = True  # ChangeAvailability of the whole charger (1.6 connector 0)
        self.firmware_status = "Idle"
        self.log_status = "Idle"  # diagnostics upload
        self._online = False
        self._outbox: deque[Outgoing] = deque()
        self._in_flight = False
        self._wake = asyncio.Event()
        self._reset = asyncio.Event()
        self._beat = asyncio.Event()  # the heartbeat interval changed
        self._changed = asyncio.Event()  # something happened at a connector
        self._next_boot = asyncio.Event()  # set (and replaced) at every accepted boot
        self._boot_reason = "PowerUp"
        self._reboot_reason = "RemoteReset"
        self._on_reboot: list[Callable[[], None]] = []
        self._ping_s: float | None = _DEFAULT_PING_S
        self._task: asyncio.Task | None = None
        self._jobs: set[asyncio.Task] = set()
        self._firmware_job: asyncio.Task | None = None
        self._firmware_request: int | None = None
        self._log_job: asyncio.Task | None = None
        self._log_request: int | None = None
        self._reset_job: asyncio.Task | None = None

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
            tasks = cars + list(self._jobs)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
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
                # The session ended by itself: a reset (or a firmware install) reboots it.
                self._went_offline()
                log.info("sim charger %s rebooting (%s)", self.id, self._reboot_reason)
                await asyncio.sleep(self._rng.uniform(*_REBOOT_S) / self.speed)
                self._rebooted()

    def _rebooted(self) -> None:
        self._reset.clear()
        self._boot_reason, self._reboot_reason = self._reboot_reason, "RemoteReset"
        self.settings.reboot()  # RebootRequired changes take effect
        hooks, self._on_reboot = self._on_reboot, []
        for hook in hooks:
            hook()

    async def _connect(self) -> ClientConnection:
        return await connect(
            self.url,
            subprotocols=[self._messages.subprotocol],  # type: ignore[list-item]
            additional_headers=self._auth_header(),
            user_agent_header=f"{self.identity.vendor} {self.identity.model}"
                              f"/{self.identity.firmware}",
            open_timeout=10,
            close_timeout=2,
            ping_interval=self._ping_s,
        )

    def _auth_header(self) -> dict[str, str] | None:
        # OCPP security profile 1: HTTP Basic with the charger id as user name.
        if not self._password:
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
        self._outbox.extendleft(reversed(
            self._messages.resync(self.connectors.values(), self.operative)))
        self._wake.set()
        # A reset asked for while the link was down reboots the charger now.
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
                # The central system's interval becomes HeartbeatInterval (OCPP 1.6 4.2).
                self.heartbeat_interval_s = interval if interval > 0 else _DEFAULT_HEARTBEAT_S
                self.settings.put("HeartbeatInterval", str(self.heartbeat_interval_s))
                self.boots += 1
                self._boot_reason = "Unknown"  # later boots are reconnects, not power-ups
                self.booted.set()
                booted, self._next_boot = self._next_boot, asyncio.Event()
                booted.set()
                log.info("sim charger %s booted (heartbeat %ss, firmware %s)", self.id,
                         interval, self.identity.firmware)
                return
            # Pending/Rejected: the interval says when to try again (OCPP 1.6 4.2).
            retry = interval if interval > 0 else self._reconnect[1]
            log.info("sim charger %s: boot %s, retrying in %ss", self.id, self.boot_status, retry)
            await asyncio.sleep(retry)

    async def _heartbeats(self, cp: Any) -> None:
        while True:
            self._beat.clear()
            try:
                async with asyncio.timeout(self.heartbeat_interval_s or _DEFAULT_HEARTBEAT_S):
                    await self._beat.wait()
                continue  # HeartbeatInterval changed: a new period starts now
            except TimeoutError:
                pass
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
            self._in_flight = True
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
            finally:
                self._in_flight = False
            if item.on_result is not None:
                item.on_result(result)

    async def _drain(self, within_s: float = 10.0) -> None:
        """Until what is queued has been sent (a reboot would drop statuses)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while self._online and (self._outbox or self._in_flight):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)

    def _went_offline(self) -> None:
        self._online = False
        self.booted.clear()
        # Statuses are resent on the next connection; keep only what must be delivered.
        kept = [m for m in self._outbox if m.must_deliver]
        self._outbox.clear()
        self._outbox.extend(kept)

    # -- what the cars do ---------------------------------------------------------------

    def _on_happening(self, conn: SimConnector, what: Happening) -> None:
        self._changed.set()
        if what in (Happening.UNPLUGGED, Happening.FAULTED):
            self.profiles.transaction_ended(conn.id)  # a TxProfile ends with its session
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

    def _idle(self) -> bool:
        """No car's session is on (a reset or a firmware install would cut it)."""
        return not any(c.busy for c in self.connectors.values())

    async def _until_idle(self) -> None:
        while not self._idle():
            self._changed.clear()
            await self._changed.wait()

    def _limit_w(self, conn: SimConnector) -> float | None:
        charging = sum(1 for c in self.connectors.values()
                       if c.state in (State.CHARGING, State.SUSPENDED_EVSE))
        return self.profiles.limit_w(conn.id, conn.tx.elapsed_s if conn.tx else 0.0, charging)

    # -- configuration ------------------------------------------------------------------

    def _settings(self) -> list[Setting]:
        common: dict[str, Any] = {
            "heartbeat_s": _DEFAULT_HEARTBEAT_S,
            "meter_interval_s": int(self._timing.meter_interval_s),
            "connectors": self.config.connectors, "password": self._password,
            "list_max": self.local_list.max_length,
            "list_per_message": self.local_list.max_per_message,
            "max_stack_level": self.profiles.max_stack_level,
            "max_periods": self.profiles.max_periods,
            "max_profiles": self.profiles.max_installed, "ping_s": _DEFAULT_PING_S,
        }
        if self.version is OcppVersion.V16:
            return settings_16(**common)

        def station() -> str:
            states = [connector_status(c) for c in self.connectors.values()]
            if not self.operative:
                return "Unavailable"
            for word in ("Faulted", "Occupied", "Unavailable"):
                if states and all(s == word for s in states):
                    return word
            return "Available"

        return settings_201(
            charger_id=self.id, vendor=self.identity.vendor, model=self.identity.model,
            evses=self.config.connectors, max_power_w=self.config.max_power_w,
            station_state=station,
            evse_state=lambda n: connector_status(self.connectors[n]),
            evse_power=lambda n: f"{self.connectors[n].power_w:.1f}",
            entries=lambda: str(len(self.local_list.entries)), now=now_iso, **common)

    def _setting_changed(self, setting: Setting) -> None:
        name, value = setting.name, setting.value
        if name == "HeartbeatInterval":
            self.heartbeat_interval_s = int(value)
            self._beat.set()
        elif name == "MeterValueSampleInterval":
            self._timing.meter_interval_s = float(value)
        elif name == "MeterValuesSampledData":
            self._messages.measurands = [m for m in value.split(",") if m]
        elif name == "StopTxnSampledData":
            self._messages.ended_measurands = [m for m in value.split(",") if m]
        elif name in ("AuthorizationKey", "SecurityCtrlr.BasicAuthPassword"):
            self._password = value  # used from the next connection on
        elif name == "WebSocketPingInterval":
            self._ping_s = float(value) or None  # 0: no pings

    # -- ChargerHooks: central-system CALLs ---------------------------------------------

    def trigger(self, what: str, connector_id: int | None) -> Answer:
        if connector_id and connector_id not in self.connectors:
            return Answer("Rejected", reason="UnknownEVSE")
        m = self._messages
        conns = ([self.connectors[connector_id]] if connector_id
                 else list(self.connectors.values()))

        def log_status() -> list[Outgoing]:
            return m.log_status(self.log_status, self._log_request)

        builders: dict[str, Callable[[], list[Outgoing]]] = {
            "Heartbeat": lambda: [Outgoing(m.heartbeat)],
            "BootNotification": lambda: [Outgoing(lambda: m.boot(self.identity, "Triggered"))],
            "StatusNotification": lambda: ([m.status(c) for c in conns] if connector_id
                                           else m.resync(conns, self.operative)),
            "MeterValues": lambda: [o for c in conns for o in m.meter_now(c)],
            "FirmwareStatusNotification": lambda: m.firmware_status(self.firmware_status,
                                                                    self._firmware_request),
            "DiagnosticsStatusNotification": log_status,  # 1.6
            "LogStatusNotification": log_status,  # 2.0.1
        }
        if self.version is OcppVersion.V201:
            if what == "TransactionEvent" and all(c.tx is None for c in conns):
                return Answer("Rejected", reason="NoTransaction")
            builders["TransactionEvent"] = lambda: [
                o for c in conns for o in m.transaction_now(c, self._online)]
        build = builders.get(what)
        if build is None:
            return Answer("NotImplemented")
        return Answer("Accepted", then=lambda: self._enqueue(build()))

    def reset(self, kind: str) -> Answer:
        """1.6 Soft/Hard, 2.0.1 Immediate/OnIdle. A busy charger refuses rather than cut a
        driver's session, except that OnIdle waits for the sessions to end (Scheduled)."""
        if self._idle():
            return Answer("Accepted", then=self.request_reset)
        if kind != "OnIdle":
            return Answer("Rejected", reason="TxInProgress")

        def schedule() -> None:
            if self._reset_job is None or self._reset_job.done():
                self._reset_job = self._spawn(self._reset_when_idle(), "reset")

        return Answer("Scheduled", then=schedule)

    def request_reset(self, reason: str = "RemoteReset",
                      on_reboot: Callable[[], None] | None = None) -> None:
        """Close the link and reboot; `on_reboot` runs while it is down."""
        self._reboot_reason = reason
        if on_reboot is not None:
            self._on_reboot.append(on_reboot)
        self._reset.set()

    async def _reset_when_idle(self) -> None:
        await self._until_idle()
        await self._drain()
        self.request_reset()

    def remote_start(self, connector_id: int | None, id_tag: str, *, token_type: str,
                     remote_start_id: int | None, profile: Profile | None) -> Answer:
        if not id_tag.strip():
            return Answer("Rejected", reason="InvalidIdToken")
        if connector_id and connector_id not in self.connectors:
            return Answer("Rejected", reason="UnknownEVSE")
        conn = self._remote_start_target(connector_id)
        if conn is None:
            return Answer("Rejected", reason="Occupied")
        request = RemoteStart(id_tag, token_type, remote_start_id,
                              authorize_first=self.settings.flag("AuthorizeRemoteTxRequests"))
        # 2.0.1: a plugged-in car's transaction started already; the answer names it.
        already = (conn.tx.id if conn.tx is not None and self.version is OcppVersion.V201
                   else None)

        def start() -> None:
            if profile is not None:
                self.profiles.install(replace(profile, connector_id=conn.id))
            if not conn.remote_start(request):
                log.info("sim charger %s: connector %s was taken before the remote start",
                         self.id, conn.id)

        return Answer("Accepted", then=start, transaction_id=already)

    def _remote_start_target(self, connector_id: int | None) -> SimConnector | None:
        if connector_id:
            conn = self.connectors[connector_id]
            return conn if conn.can_remote_start() else None
        free = [c for c in self.connectors.values() if c.can_remote_start()]
        # The charger decides: the car waiting for a card first, else a free bay.
        waiting = [c for c in free if c.waiting_car()]
        return (waiting or free or [None])[0]

    def remote_stop(self, transaction_id: str) -> Answer:
        wanted = transaction_id.strip()
        for conn in self.connectors.values():
            tx = conn.tx
            if tx is None or not conn.can_stop():
                continue
            own = (tx.id if self.version is OcppVersion.V201
                   else None if tx.remote_id is None else str(tx.remote_id))
            if own == wanted:
                return Answer("Accepted", then=lambda c=conn: c.stop("Remote"))
        return Answer("Rejected", reason="UnknownTransaction")

    def unlock(self, connector_id: int) -> Answer:
        conn = self.connectors.get(connector_id)
        if conn is None:
            return Answer("UnknownConnector" if self.version is OcppVersion.V201
                          else "NotSupported")
        if conn.state is State.FAULTED and conn.error_code == "ConnectorLockFailure":
            return Answer("UnlockFailed")
        if (self.version is OcppVersion.V201 and conn.tx is not None and conn.tx.authorized
                and conn.can_stop()):
            return Answer("OngoingAuthorizedTransaction")

        def unlock() -> None:
            # 1.6: a session on the connector ends first (reason UnlockCommand).
            conn.stop("UnlockCommand")
            conn.release()

        return Answer("Unlocked", then=unlock)

    def change_availability(self, connector_id: int | None, operative: bool) -> Answer:
        if connector_id and connector_id not in self.connectors:
            return Answer("Rejected", reason="UnknownEVSE")
        whole = not connector_id
        targets = (list(self.connectors.values()) if whole
                   else [self.connectors[connector_id or 0]])
        scheduled = not operative and any(c.busy for c in targets)

        def apply() -> None:
            if whole and self.operative != operative:
                self.operative = operative
                self._enqueue(self._messages.station_status(operative))
            for conn in targets:
                conn.set_operative(operative)

        return Answer("Scheduled" if scheduled else "Accepted", then=apply)

    def clear_cache(self) -> Answer:
        enabled = self.settings.flag("AuthorizationCacheEnabled")
        return Answer("Accepted") if enabled else Answer("Rejected", reason="CacheDisabled")

    def set_profile(self, profile: Profile) -> Answer:
        conn = self.connectors.get(profile.connector_id)
        tx = conn.tx if conn is not None else None
        tx_id = None
        if tx is not None and tx.authorized:
            tx_id = (tx.id if self.version is OcppVersion.V201
                     else None if tx.remote_id is None else str(tx.remote_id))
        why = self.profiles.problem(profile, connectors=len(self.connectors), tx_id=tx_id)
        if profile.purpose == "ChargingStationExternalConstraints":
            why = "ExternalConstraints"  # set by an energy manager, not by the CSMS
        elif (self.version is OcppVersion.V201 and profile.purpose == TX
              and profile.transaction_id is None):
            why = "TxIdMissing"
        if why is not None:
            return Answer("Rejected", reason=why)

        def install() -> None:
            self.profiles.install(profile)
            self._power_changed()

        return Answer("Accepted", then=install)

    def clear_profiles(self, *, profile_id: int | None, connector_id: int | None,
                       purpose: str | None, stack_level: int | None) -> Answer:
        ids = self.profiles.matching(profile_id=profile_id, connector_id=connector_id,
                                     purpose=purpose, stack_level=stack_level)
        if not ids:
            return Answer("Unknown")

        def clear() -> None:
            self.profiles.remove(ids)
            self._power_changed()

        return Answer("Accepted", then=clear)

    def _power_changed(self) -> None:
        for conn in self.connectors.values():
            conn.refresh()  # the new cap applies now, not at the next integration step

    def data_transfer(self, vendor_id: str, message_id: str | None,
                      data: str | None) -> Answer:
        """Only this charger's vendor (as "ABB" or "com.abb...") speaks its language."""
        vendor = self.identity.vendor.casefold()
        given = vendor_id.strip().casefold()
        if given != vendor and vendor not in given.split("."):
            return Answer("UnknownVendorId")
        return Answer("Accepted")

    def get_log(self, location: str, request_id: int | None) -> Answer:
        """GetDiagnostics (1.6) / GetLog (2.0.1): names the file, then uploads it."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        file_name = f"{self.identity.vendor}_{self.id}_{stamp}.log.zip"
        running = self._log_job is not None and not self._log_job.done()
        old = self._log_job

        def upload() -> None:
            if old is not None:
                old.cancel()
            self._log_request = request_id
            self._log_job = self._spawn(self._upload(location, request_id), "upload")

        return Answer("AcceptedCanceled" if running and self.version is OcppVersion.V201
                      else "Accepted", then=upload, file_name=file_name)

    async def _upload(self, location: str, request_id: int | None) -> None:
        reachable = urlsplit(location).scheme.lower() in _SCHEMES
        try:
            await self._wait(self._rng.uniform(*_COLLECT_S))
            self._log_word("Uploading", request_id)
            await self._wait(self._rng.uniform(*_UPLOAD_S))
            self._log_word("Uploaded" if reachable else "UploadFailed", request_id)
        finally:
            self.log_status = "Idle"

    def _log_word(self, word: str, request_id: int | None) -> None:
        self.log_status = word
        self._enqueue(self._messages.log_status(word, request_id))

    def update_firmware(self, location: str, retrieve_at: datetime | None,
                        request_id: int | None) -> Answer:
        old = self._firmware_job
        running = old is not None and not old.done()
        if running and self.firmware_status in ("Installing", "InstallRebooting"):
            return Answer("Rejected", reason="InstallInProgress")

        def update() -> None:
            if old is not None:
                old.cancel()
            self._firmware_request = request_id
            self._firmware_job = self._spawn(
                self._update_firmware(location, retrieve_at, request_id), "firmware")

        return Answer("AcceptedCanceled" if running else "Accepted", then=update)

    async def _update_firmware(self, location: str, retrieve_at: datetime | None,
                               request_id: int | None) -> None:
        rebooting = False
        try:
            later = (retrieve_at - datetime.now(UTC)).total_seconds() if retrieve_at else 0.0
            if later > 1:
                self._firmware_word("DownloadScheduled", request_id)
                await asyncio.sleep(later)  # a time on the clock, not a duration: not scaled
            self._firmware_word("Downloading", request_id)
            await self._wait(self._rng.uniform(*_DOWNLOAD_S))
            if urlsplit(location).scheme.lower() not in _SCHEMES:
                self._firmware_word("DownloadFailed", request_id)
                return
            self._firmware_word("Downloaded", request_id)
            # Installing reboots the charger: no new sessions, and wait for the running
            # ones to end (2.0.1 L01.FR.07: the free EVSEs go Unavailable meanwhile).
            self._maintenance(True)
            await self._until_idle()
            self._firmware_word("Installing", request_id)
            await self._wait(self._rng.uniform(*_INSTALL_S))
            self._firmware_word("InstallRebooting", request_id)
            version = next_firmware(self.identity.firmware, location)
            booted = self._next_boot
            await self._drain()
            rebooting = True

            def new_firmware() -> None:
                self.identity = replace(self.identity, firmware=version)
                self._maintenance(False)

            self.request_reset("FirmwareUpdate", on_reboot=new_firmware)
            await booted.wait()
            self._firmware_word("Installed", request_id)
        finally:
            if not rebooting:
                self._maintenance(False)
            self.firmware_status = "Idle"

    def _firmware_word(self, word: str, request_id: int | None) -> None:
        self.firmware_status = word
        self._enqueue(self._messages.firmware_status(word, request_id))

    def _maintenance(self, on: bool) -> None:
        for conn in self.connectors.values():
            if conn.maintenance != on:
                conn.maintenance = on
                conn.refresh()

    def base_report(self, request_id: int, base: str) -> Answer:
        if not self.settings.report(base):
            return Answer("EmptyResultSet")

        def send() -> None:
            items = self.settings.report(base)
            self._enqueue(self._messages.notify_report(request_id, items))

        return Answer("Accepted", then=send)

    # -- jobs ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=f"sim-{self.id}-{what}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        task.add_done_callback(_report_crash)
        return task

    async def _wait(self, site_s: float) -> None:
        await asyncio.sleep(site_s / self.speed)


def next_firmware(current: str, location: str) -> str:
    """The version the firmware file names ("...terra-1.9.0.bin"), else the next build."""
    name = urlsplit(location).path.rsplit("/", 1)[-1]
    found = re.search(r"\d+(?:\.\d+)+(?:-\d+)?", name)
    if found and found.group(0) != current:
        return found.group(0)
    numbers = list(re.finditer(r"\d+", current))
    if not numbers:
        return f"{current}.1" if current else "1.0.1"
    last = numbers[-1]
    return f"{current[:last.start()]}{int(last.group(0)) + 1}{current[last.end():]}"


class SimFleet:
    """One SimCharger per site charger, each running as its own task."""

    def __init__(
        self,
        site: Site,
        url: str,
        speed: float = 1.0,
        seed: int | None = None,
        *,
        transactions: bool = True,
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
