"""Simulated chargers over real websockets on 127.0.0.1.

The first part runs them against the test's own minimal central system (thin @on handlers
of the ocpp library that record what arrives): the link, boots, reconnects, the cars.
The second part runs them against a real gatehouse core and drives them with the
console's own commands (core.gateway), as an attendant training on the demo would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import random
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as CS16
from ocpp.v16 import call_result
from ocpp.v201 import ChargePoint as CS201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.bootstrap import build_core
from app.domain.charging import ChargerIdentity
from app.domain.commands import CommandStatus
from app.domain.events import TransactionEnded
from app.domain.site import ChargerConfig, OcppVersion
from app.domain.site_io import site_from_dict
from app.sim.charger import SimCharger, SimFleet
from app.sim.connector import Timing
from tests.helpers.settings import loopback_settings

DEMO_SITE = Path(__file__).parents[2] / "resources" / "demo" / "site.json"
IDENTITY = ChargerIdentity(vendor="ABB", model="Terra AC W22", serial="TACW221234G5678",
                           firmware="1.8.33")
# No faults, so a seeded cycle always runs plug-in to unplug.
NO_FAULTS = Timing(fault_chance=0.0, idle_fault_chance=0.0)
# Nothing ever arrives: tests of the link alone.
NO_CARS = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9)
FAST = 36_000  # ten hours a second: a whole stay fits in about a second


class _DemotedLog(logging.LoggerAdapter):
    """The ocpp library logs a CALL it refuses at ERROR; here that is the point of a test."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(min(level, logging.WARNING), msg, *args, **kwargs)


_CSMS_LOG = _DemotedLog(logging.getLogger("test.csms"), {})


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Cs16(CS16):
    def __init__(self, cid: str, ws: Any, csms: Csms) -> None:
        super().__init__(cid, ws, logger=_CSMS_LOG)
        self.csms = csms

    @on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self.csms.record(self.id, "BootNotification", kw)
        return call_result.BootNotification(current_time=_now(), interval=self.csms.interval,
                                            status=self.csms.next_boot_status())

    @on("Heartbeat")
    def heartbeat(self, **kw: Any) -> Any:
        self.csms.record(self.id, "Heartbeat", kw)
        return call_result.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def status(self, **kw: Any) -> Any:
        self.csms.record(self.id, "StatusNotification", kw)
        return call_result.StatusNotification()


class _Cs16Tx(_Cs16):
    """With the 1.6 transaction messages (a later issue's server)."""

    @on("StartTransaction")
    def start_tx(self, **kw: Any) -> Any:
        self.csms.record(self.id, "StartTransaction", kw)
        return call_result.StartTransaction(transaction_id=4711,
                                            id_tag_info={"status": "Accepted"})

    @on("StopTransaction")
    def stop_tx(self, **kw: Any) -> Any:
        self.csms.record(self.id, "StopTransaction", kw)
        return call_result.StopTransaction()

    @on("MeterValues")
    def meter(self, **kw: Any) -> Any:
        self.csms.record(self.id, "MeterValues", kw)
        return call_result.MeterValues()


class _Cs201(CS201):
    def __init__(self, cid: str, ws: Any, csms: Csms) -> None:
        super().__init__(cid, ws, logger=_CSMS_LOG)
        self.csms = csms

    @on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self.csms.record(self.id, "BootNotification", kw)
        return result201.BootNotification(current_time=_now(), interval=self.csms.interval,
                                          status=self.csms.next_boot_status())

    @on("Heartbeat")
    def heartbeat(self, **kw: Any) -> Any:
        self.csms.record(self.id, "Heartbeat", kw)
        return result201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def status(self, **kw: Any) -> Any:
        self.csms.record(self.id, "StatusNotification", kw)
        return result201.StatusNotification()

    @on("TransactionEvent")
    def transaction_event(self, **kw: Any) -> Any:
        self.csms.record(self.id, "TransactionEvent", kw)
        return result201.TransactionEvent()


def _lenient(connection: ServerConnection, subprotocols: list[str]) -> str | None:
    wanted = {"ocpp1.6", "ocpp2.0.1"}
    return next((s for s in subprotocols if s.lower() in wanted), None)


class Csms:
    def __init__(self, *, interval: int = 30, boot_statuses: tuple[str, ...] = (),
                 with_transactions: bool = False) -> None:
        self.interval = interval
        self._boot_statuses = list(boot_statuses)
        self._cs16 = _Cs16Tx if with_transactions else _Cs16
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self.headers: dict[str, str] = {}
        self.live: dict[str, Any] = {}
        self.close_codes: dict[str, int | None] = {}
        self.port = 0
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def next_boot_status(self) -> str:
        return self._boot_statuses.pop(0) if self._boot_statuses else "Accepted"

    def record(self, cid: str, action: str, payload: dict[str, Any]) -> None:
        self.messages.append((cid, action, payload))

    def of(self, action: str, cid: str | None = None) -> list[dict[str, Any]]:
        return [p for c, a, p in self.messages if a == action and cid in (None, c)]

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._handle, "127.0.0.1", port, select_subprotocol=_lenient)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        cid = ws.request.path.strip("/")
        self.headers[cid] = ws.request.headers.get("Authorization", "")
        cp = (self._cs16 if ws.subprotocol == "ocpp1.6" else _Cs201)(cid, ws, self)
        self.live[cid] = cp
        with contextlib.suppress(ConnectionClosed):
            await cp.start()
        self.close_codes[cid] = ws.close_code


async def until(predicate: Any, within: float = 4.0) -> None:
    # Polling: the states observed here (server records, sim counters) have no event.
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def csms():
    server = Csms(interval=1, with_transactions=True)
    await server.start()
    yield server
    await server.stop()


def _charger(version: OcppVersion, url: str, *, timing: Timing = NO_CARS, speed: float = 1.0,
             seed: int = 1, **kw: Any) -> SimCharger:
    cfg = ChargerConfig(id="CP-T" if version is OcppVersion.V16 else "CP-U",
                        ocpp_version=version, connectors=2, label="ABB Terra AC W22")
    return SimCharger(cfg, url, identity=IDENTITY, speed=speed, rng=random.Random(seed),
                      timing=timing, reconnect_min_s=0.05, reconnect_max_s=0.2, **kw)


async def _running(sim: SimCharger) -> asyncio.Task:
    task = asyncio.create_task(sim.run())
    await asyncio.wait_for(sim.booted.wait(), 3)
    return task


def _others() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def _nothing_left_but(before: set[asyncio.Task]) -> None:
    """No task of the sim survives stop(); the server's handlers need a moment to wind up."""
    await until(lambda: _others() <= before, within=1.0)


def _is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


async def test_v16_boots_reports_every_connector_and_heartbeats(csms: Csms) -> None:
    before = _others()
    sim = _charger(OcppVersion.V16, csms.url, password="s3cret")
    await _running(sim)
    boot = csms.of("BootNotification", "CP-T")[0]
    assert (boot["charge_point_vendor"], boot["charge_point_model"]) == ("ABB", "Terra AC W22")
    assert boot["firmware_version"] == "1.8.33"
    expected = "Basic " + base64.b64encode(b"CP-T:s3cret").decode()
    assert csms.headers["CP-T"] == expected
    await until(lambda: {p["connector_id"] for p in csms.of("StatusNotification")} == {0, 1, 2})
    assert all(p["status"] == "Available" and p["error_code"] == "NoError"
               for p in csms.of("StatusNotification"))
    await until(lambda: sim.heartbeats >= 1, within=2.5)
    assert csms.of("Heartbeat", "CP-T")
    assert sim.boot_status == "Accepted" and sim.heartbeat_interval_s == 1
    await sim.stop()
    await _nothing_left_but(before)
    await until(lambda: "CP-T" in csms.close_codes)
    assert csms.close_codes["CP-T"] == 1000  # a clean goodbye, not 1011


async def test_v201_boots_reports_every_evse_and_heartbeats(csms: Csms) -> None:
    sim = _charger(OcppVersion.V201, csms.url)
    await _running(sim)
    station = csms.of("BootNotification", "CP-U")[0]["charging_station"]
    assert station["vendor_name"] == "ABB" and station["serial_number"] == "TACW221234G5678"
    assert csms.of("BootNotification")[0]["reason"] == "PowerUp"
    await until(lambda: len(csms.of("StatusNotification")) == 2)
    assert {(p["evse_id"], p["connector_id"], p["connector_status"])
            for p in csms.of("StatusNotification")} == {(1, 1, "Available"), (2, 1, "Available")}
    await until(lambda: len(csms.of("Heartbeat")) >= 1, within=2.5)
    await sim.stop()


async def test_pending_boot_is_retried_after_the_interval() -> None:
    server = Csms(interval=1, boot_statuses=("Pending",))
    await server.start()
    try:
        sim = _charger(OcppVersion.V16, server.url)
        task = asyncio.create_task(sim.run())
        await until(lambda: sim.boot_status == "Pending")
        assert not sim.booted.is_set() and not server.of("StatusNotification")
        await asyncio.wait_for(sim.booted.wait(), 3)
        assert len(server.of("BootNotification")) == 2
        await sim.stop()
        assert task.cancelled()
    finally:
        await server.stop()


async def test_v16_vehicle_cycle(csms: Csms) -> None:
    sim = _charger(OcppVersion.V16, csms.url, timing=NO_FAULTS, speed=FAST, seed=3)
    await _running(sim)

    def seen() -> list[str]:
        return [p["status"] for p in csms.of("StatusNotification") if p["connector_id"] == 1]

    # The first car may plug in before the boot: then the first report is not Available.
    cycle = ["Preparing", "Charging", "Finishing", "Available", "Preparing"]
    await until(lambda: _is_subsequence(cycle, seen()))
    assert seen()[0] in ("Available", "Preparing", "Charging")
    # Transactions are on by default: every session is a StartTransaction ... StopTransaction.
    await until(lambda: any(p["transaction_id"] == 4711 for p in csms.of("StopTransaction")))
    assert csms.of("StartTransaction")[0]["connector_id"] in (1, 2)
    await sim.stop()


async def test_v16_transactions_can_be_switched_off(csms: Csms) -> None:
    """For a central system without them (transactions=False)."""
    sim = _charger(OcppVersion.V16, csms.url, timing=NO_FAULTS, speed=FAST, seed=3,
                   transactions=False)
    await _running(sim)
    await until(lambda: _is_subsequence(
        ["Charging", "Finishing", "Available"],
        [p["status"] for p in csms.of("StatusNotification") if p["connector_id"] == 1]))
    assert not csms.of("StartTransaction") and not csms.of("MeterValues")
    await sim.stop()


async def test_v201_vehicle_cycle_with_transaction_events(csms: Csms) -> None:
    sim = _charger(OcppVersion.V201, csms.url, timing=NO_FAULTS, speed=FAST, seed=5)
    await _running(sim)

    def events() -> list[dict[str, Any]]:
        return [p for p in csms.of("TransactionEvent") if p["evse"]["id"] == 1]

    await until(lambda: any(p["event_type"] == "Ended" for p in events()))
    tx = [p for p in events() if p["transaction_info"]["transaction_id"]
          == events()[0]["transaction_info"]["transaction_id"]]
    assert [p["seq_no"] for p in tx] == list(range(len(tx)))
    assert tx[0]["event_type"] == "Started" and tx[0]["trigger_reason"] == "CablePluggedIn"
    assert tx[-1]["event_type"] == "Ended"
    assert tx[-1]["transaction_info"]["charging_state"] == "Idle"
    states = [p["transaction_info"]["charging_state"] for p in tx]
    assert _is_subsequence(["EVConnected", "Charging", "Idle"], states)
    assert any(p.get("id_token", {}).get("type") == "ISO14443" for p in tx)

    def energy(p: dict[str, Any]) -> float:
        sample = p["meter_value"][0]["sampled_value"][0]
        assert sample["measurand"] == "Energy.Active.Import.Register"
        assert sample["unit_of_measure"]["unit"] == "Wh"
        return sample["value"]

    assert energy(tx[-1]) > energy(tx[0])
    await until(lambda: [p["connector_status"] for p in csms.of("StatusNotification")
                         if p["evse_id"] == 1][-1] == "Available")
    statuses = [p["connector_status"] for p in csms.of("StatusNotification") if p["evse_id"] == 1]
    assert _is_subsequence(["Occupied", "Available"], statuses)
    await sim.stop()


async def test_v201_events_from_while_offline_arrive_in_order_marked_offline() -> None:
    port = _free_port()
    sim = _charger(OcppVersion.V201, f"ws://127.0.0.1:{port}", timing=NO_FAULTS, speed=FAST,
                   seed=8)
    task = asyncio.create_task(sim.run())
    await asyncio.sleep(0.6)  # cars come and go while the central system is down
    server = Csms(interval=30)
    await server.start(port)
    try:
        await asyncio.wait_for(sim.booted.wait(), 3)
        await until(lambda: any(p.get("offline") for p in server.of("TransactionEvent")))
        await sim.stop()
        assert task.done()
        by_tx: dict[str, list[dict[str, Any]]] = {}
        for p in server.of("TransactionEvent"):
            by_tx.setdefault(p["transaction_info"]["transaction_id"], []).append(p)
        offline = [evs for evs in by_tx.values() if evs[0].get("offline")]
        assert offline
        for evs in offline:
            assert evs[0]["event_type"] == "Started"
            assert [p["seq_no"] for p in evs] == list(range(len(evs)))
        # Statuses are not queued: the boot's resync told the present instead.
        assert len(server.of("StatusNotification")) >= 2
    finally:
        await server.stop()


async def test_v16_transactions_refused_by_server_only_warn(caplog) -> None:
    """A server without transactions answers StartTransaction with a CALLERROR: the sim
    carries on."""
    server = Csms(interval=30)
    await server.start()
    try:
        sim = _charger(OcppVersion.V16, server.url, timing=NO_FAULTS, speed=FAST, seed=3)
        await _running(sim)
        await until(lambda: _is_subsequence(
            ["Charging", "Finishing", "Available"],
            [p["status"] for p in server.of("StatusNotification") if p["connector_id"] == 1]))
        refused = [r for r in caplog.records if r.name == "app.sim.charger"
                   and "StartTransaction refused" in r.getMessage()]
        assert refused and all(r.levelno == logging.WARNING for r in refused)
        await sim.stop()
    finally:
        await server.stop()


async def test_v16_transactions_with_a_server_that_has_them() -> None:
    server = Csms(interval=30, with_transactions=True)
    await server.start()
    try:
        sim = _charger(OcppVersion.V16, server.url, timing=NO_FAULTS, speed=FAST, seed=3)
        await _running(sim)
        await until(lambda: any(p["transaction_id"] == 4711
                                for p in server.of("StopTransaction")))
        start, stop = server.of("StartTransaction")[0], server.of("StopTransaction")[0]
        assert stop["meter_stop"] >= start["meter_start"]
        assert stop["reason"] == "EVDisconnected"
        await sim.stop()
    finally:
        await server.stop()


async def test_reconnects_when_the_server_restarts(caplog) -> None:
    server = Csms(interval=30)
    await server.start()
    port = server.port
    sim = _charger(OcppVersion.V16, server.url)
    await _running(sim)
    await server.stop()
    await until(lambda: not sim.online)
    assert any("lost its link" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    restarted = Csms(interval=30)
    await restarted.start(port)
    try:
        await asyncio.wait_for(sim.booted.wait(), 3)
        assert sim.connections == 2 and sim.boots == 2
        await until(lambda: len(restarted.of("StatusNotification")) == 3)
        await sim.stop()
    finally:
        await restarted.stop()


async def test_waits_for_a_server_that_is_not_up_yet() -> None:
    port = _free_port()
    sim = _charger(OcppVersion.V201, f"ws://127.0.0.1:{port}")
    task = asyncio.create_task(sim.run())
    await asyncio.sleep(0.3)
    assert not sim.booted.is_set() and not task.done()
    server = Csms(interval=30)
    await server.start(port)
    try:
        await asyncio.wait_for(sim.booted.wait(), 3)
        await sim.stop()
    finally:
        await server.stop()


async def test_trigger_message_and_reset(csms: Csms) -> None:
    sim = _charger(OcppVersion.V201, csms.url, speed=FAST)
    await _running(sim)
    await until(lambda: len(csms.of("StatusNotification")) == 2)
    cs = csms.live["CP-U"]
    answer = await cs.call(call201.TriggerMessage(requested_message="StatusNotification",
                                                  evse={"id": 2}), suppress=False)
    assert answer.status == "Accepted"
    await until(lambda: len(csms.of("StatusNotification")) == 3)
    assert csms.of("StatusNotification")[-1]["evse_id"] == 2
    answer = await cs.call(call201.Reset(type="Immediate"), suppress=False)
    assert answer.status == "Accepted"
    await until(lambda: len(csms.of("BootNotification")) == 2)
    assert csms.of("BootNotification")[-1]["reason"] == "RemoteReset"
    await sim.stop()


async def test_fleet_boots_the_demo_site_and_stops_without_leftovers(csms: Csms) -> None:
    site = site_from_dict(json.loads(DEMO_SITE.read_text()))
    before = _others()
    fleet = SimFleet(site, csms.url, speed=60, seed=42, reconnect_min_s=0.05)
    await fleet.start()
    await until(lambda: all(c.booted.is_set() for c in fleet.chargers.values()))
    vendors = {c.id: c.identity.vendor for c in fleet.chargers.values()}
    assert vendors == {"CP-01": "ABB", "CP-02": "Alfen", "CP-03": "Wallbox",
                       "CP-04": "Kempower", "CP-05": "Zaptec", "CP-06": "Etrel"}
    assert len({c.identity.serial for c in fleet.chargers.values()}) == 6
    async with asyncio.timeout(3):  # a cancel swallowed by the ocpp library once hung here
        await fleet.stop()
    await _nothing_left_but(before)


# -- the console's commands, answered by the simulators -------------------------------------
#
# A real gatehouse core (tests/integration/conftest.py: the demo site on a real SQLite
# file, OCPP on a free loopback port) drives one simulated charger through
# core.gateway; the oracle is what the attendant would see: the command's result, the
# sessions in core.transactions, the connector states in core.charging, the raw frames.

V16, V201 = "CP-01", "CP-04"  # demo-site chargers (1.6 and 2.0.1), two connectors each
BOTH = pytest.mark.parametrize("cid", [V16, V201])
TOKEN = "04A1B2C3D4"
# A car plugs in at once on each connector and waits for a card that never comes.
WAITING_CARS = Timing(idle_mean_s=1e9, first_arrival_max_s=1.0, authorize_s=(1e7, 1e7),
                      fault_chance=0.0, idle_fault_chance=0.0)
# Sixty times real time: a session lasts 20 s or more (time to drive it), a car leaves
# within 1.5 s after its session ends, meter values come every second.
SESSION_SPEED = 60.0
# No car comes by itself; a meter sample every 15 s of site time (four a second).
ON_CALL = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9, meter_interval_s=15,
                 min_wall_meter_s=0.25)
WAIT = 15.0  # generous: a loaded 2-core CI machine


@pytest.fixture
def no_worries(caplog: Any):
    """Afterwards: nothing either side sent was refused or worried about (no WARNING
    from the app's loggers)."""
    yield
    worries = [f"{r.name}: {r.getMessage()}" for r in caplog.get_records("call")
               if r.levelno >= logging.WARNING and r.name.startswith(("app.", "gatehouse."))]
    assert not worries, "\n".join(worries)


@pytest.fixture
def sim_on(core: Any, url: str, no_worries: None):
    """Runs a simulated demo-site charger against the core: `async with sim_on(id)`."""
    return functools.partial(_sim_on, core, url)


@contextlib.asynccontextmanager
async def _sim_on(core: Any, url: str, cid: str, *, speed: float = SESSION_SPEED,
                  timing: Timing = ON_CALL, **kw: Any):
    """One simulated demo-site charger, booted at the core and ready for commands."""
    sim = SimCharger(core.site.charger(cid), url, identity=IDENTITY, speed=speed,
                     rng=random.Random(7), timing=timing, reconnect_min_s=0.05,
                     reconnect_max_s=0.2, **kw)
    task = asyncio.create_task(sim.run())
    try:
        await asyncio.wait_for(sim.booted.wait(), WAIT)
        await until(lambda: core.ocpp_server.session(cid) is not None, WAIT)
        yield sim
    finally:
        await sim.stop()
        assert task.done()


def _calls(core: Any, cid: str, action: str) -> list[dict[str, Any]]:
    """The payloads of the CALLs the console received from the charger (raw frames)."""
    out = []
    for frame in core.frames.recent(cid, 200):
        message = json.loads(frame.text)
        if frame.direction == "in" and message[0] == 2 and message[2] == action:
            out.append(message[3])
    return out


def _status(core: Any, cid: str, connector_id: int) -> str:
    return str(core.charging.charger(cid).connector(connector_id).status)


def _tx_key(cid: str, tx: Any) -> str:
    """What the console passes to remote_stop: its own id (1.6), the charger's (2.0.1)."""
    return str(tx.id) if cid == V16 else tx.charger_tx_id


async def _charging(core: Any, sim: SimCharger, cid: str, connector_id: int = 1) -> Any:
    result = await core.gateway.remote_start(cid, connector_id, TOKEN)
    assert result.ok, result.describe()
    await until(lambda: core.transactions.active_on(cid, connector_id) is not None, WAIT)
    await until(lambda: sim.connector_status(connector_id) == "Charging", WAIT)
    return core.transactions.active_on(cid, connector_id)


@BOTH
async def test_remote_start_and_stop_run_a_real_session(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        started = await core.gateway.remote_start(cid, 1, TOKEN)
        assert started.ok and started.charger_status == "Accepted"
        await until(lambda: core.transactions.active_on(cid, 1) is not None, WAIT)
        tx = core.transactions.active_on(cid, 1)
        assert tx.id_token == TOKEN
        if cid == V16:
            assert _calls(core, cid, "StartTransaction")[-1]["idTag"] == TOKEN
        else:
            begin = _calls(core, cid, "TransactionEvent")[0]
            assert (begin["eventType"], begin["triggerReason"]) == ("Started", "RemoteStart")
            assert begin["transactionInfo"]["remoteStartId"] == started.payload["remote_start_id"]
            assert begin["idToken"] == {"idToken": TOKEN, "type": "Central"}
        await until(lambda: _status(core, cid, 1) == "Charging", WAIT)

        def metered() -> float:
            live = core.transactions.live(cid, 1)
            return 0.0 if live is None else live.energy_wh or 0.0

        await until(lambda: metered() > 0, WAIT)  # periodic meter values reach the console
        busy = await core.gateway.remote_start(cid, 1, TOKEN)
        assert busy.status is CommandStatus.REJECTED
        wrong = await core.gateway.remote_stop(cid, "999999" if cid == V16 else "no-such-tx")
        assert wrong.status is CommandStatus.REJECTED

        stopped = await core.gateway.remote_stop(cid, _tx_key(cid, tx))
        assert stopped.ok, stopped.describe()
        await until(lambda: core.transactions.active_on(cid, 1) is None, WAIT)
        ended = core.transactions.get(tx.id)
        assert ended.stop_reason == "Remote" and ended.energy_wh > 0
        if cid == V16:
            stop = _calls(core, cid, "StopTransaction")[-1]
            contexts = [v["context"] for m in stop["transactionData"] for v in m["sampledValue"]]
            assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
        else:
            end = _calls(core, cid, "TransactionEvent")[-1]
            assert (end["eventType"], end["triggerReason"]) == ("Ended", "RemoteStop")
        # The driver comes back and drives off: the bay is free again.
        await until(lambda: _status(core, cid, 1) == "Available", WAIT)
        assert sim.vehicle(1) is None


@BOTH
async def test_remote_start_authorises_the_car_waiting_at_the_bay(core, sim_on, cid) -> None:
    async with sim_on(cid, timing=WAITING_CARS) as sim:
        await until(lambda: sim.connector_status(2) == "Preparing", WAIT)
        waiting = sim.connectors[2].tx
        # No connector given: the charger picks the car that waits for its card.
        result = await core.gateway.remote_start(cid, None, TOKEN)
        assert result.ok, result.describe()
        if cid == V201:  # its transaction started at plug-in: the answer names it
            # (connector 1's car may not have come yet: it has no transaction then)
            plugged = {c.tx.id for c in sim.connectors.values() if c.tx is not None}
            assert result.payload["transaction_id"] in plugged | {waiting.id}
        await until(lambda: sim.connector_status(1) == "Charging"
                    or sim.connector_status(2) == "Charging", WAIT)
        charging = 1 if sim.connector_status(1) == "Charging" else 2
        await until(lambda: core.transactions.active_on(cid, charging) is not None
                    and core.transactions.active_on(cid, charging).id_token == TOKEN, WAIT)


def _authorize_calls(core: Any, cid: str) -> list[str]:
    return [p["idTag"] if cid == V16 else p["idToken"]["idToken"]
            for p in _calls(core, cid, "Authorize")]


@BOTH
async def test_authorize_remote_tx_requests_asks_the_console_first(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        on = await core.gateway.change_configuration(cid, "AuthorizeRemoteTxRequests", "true")
        assert on.status is CommandStatus.ACCEPTED, on.describe()
        await _charging(core, sim, cid, 1)
        # 2.0.1: the token comes with the RemoteStart event after the Authorize.
        await until(lambda: core.transactions.active_on(cid, 1).id_token == TOKEN, WAIT)
        assert _authorize_calls(core, cid) == [TOKEN]


@BOTH
async def test_authorize_remote_tx_requests_a_refused_token_never_charges(
        tmp_path, no_worries, cid) -> None:
    settings = loopback_settings(tmp_path, auth_mode="known_tags")  # TOKEN is nobody's
    core = await build_core(settings)
    await core.start()
    try:
        url = f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
        async with _sim_on(core, url, cid) as sim:
            assert (await core.gateway.change_configuration(
                cid, "AuthorizeRemoteTxRequests", "true")).ok
            result = await core.gateway.remote_start(cid, 1, TOKEN)
            assert result.ok  # the charger took the request; the token fails after
            await until(lambda: _authorize_calls(core, cid) == [TOKEN], WAIT)
            await until(lambda: sim.connector_status(1) == "Available", WAIT)
            assert "Charging" not in [p.get("status") for p in
                                      _calls(core, cid, "StatusNotification")]
            if cid == V16:
                assert not _calls(core, cid, "StartTransaction")
            else:  # its transaction began at plug-in, and ends for want of authorisation
                end = _calls(core, cid, "TransactionEvent")[-1]
                assert end["transactionInfo"]["stoppedReason"] == "DeAuthorized"
                assert "Charging" not in [p["transactionInfo"]["chargingState"]
                                          for p in _calls(core, cid, "TransactionEvent")]
            assert core.transactions.active_on(cid, 1) is None
    finally:
        await core.stop()


@BOTH
async def test_change_availability_now_or_when_the_session_ends(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        out = await core.gateway.change_availability(cid, 2, available=False)
        assert out.status is CommandStatus.ACCEPTED, out.describe()
        await until(lambda: _status(core, cid, 2) == "Unavailable", WAIT)
        refused = await core.gateway.remote_start(cid, 2, TOKEN)
        assert refused.status is CommandStatus.REJECTED
        back = await core.gateway.change_availability(cid, 2, available=True)
        assert back.status is CommandStatus.ACCEPTED
        await until(lambda: _status(core, cid, 2) == "Available", WAIT)

        tx = await _charging(core, sim, cid, 1)
        later = await core.gateway.change_availability(cid, 1, available=False)
        assert later.status is CommandStatus.PENDING and later.charger_status == "Scheduled"
        assert sim.connector_status(1) == "Charging"  # the session goes on
        assert (await core.gateway.remote_stop(cid, _tx_key(cid, tx))).ok
        await until(lambda: _status(core, cid, 1) == "Unavailable", WAIT)
        assert sim.vehicle(1) is None

        unknown = await core.gateway.change_availability(cid, 7, available=False)
        assert unknown.status is CommandStatus.REJECTED


async def test_v16_whole_charger_goes_unavailable(core, sim_on) -> None:
    async with sim_on(V16):
        out = await core.gateway.change_availability(V16, 0, available=False)
        assert out.status is CommandStatus.ACCEPTED
        await until(lambda: [_status(core, V16, n) for n in (0, 1, 2)] == ["Unavailable"] * 3,
                    WAIT)
        assert (await core.gateway.change_availability(V16, 0, available=True)).ok
        await until(lambda: [_status(core, V16, n) for n in (0, 1, 2)] == ["Available"] * 3,
                    WAIT)


@BOTH
async def test_unlock_connector(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        free = await core.gateway.unlock_connector(cid, 2)
        assert free.status is CommandStatus.ACCEPTED and free.charger_status == "Unlocked"
        unknown = await core.gateway.unlock_connector(cid, 9)
        assert unknown.charger_status == ("NotSupported" if cid == V16 else "UnknownConnector")
        tx = await _charging(core, sim, cid, 1)
        during = await core.gateway.unlock_connector(cid, 1)
        if cid == V201:  # 2.0.1 protects an authorised session
            assert during.charger_status == "OngoingAuthorizedTransaction"
            assert not during.ok and sim.connector_status(1) == "Charging"
        else:  # 1.6 ends the session first, then releases the cable
            assert during.charger_status == "Unlocked"
            await until(lambda: core.transactions.active_on(cid, 1) is None, WAIT)
            assert core.transactions.get(tx.id).stop_reason == "UnlockCommand"
            await until(lambda: _status(core, cid, 1) == "Available", WAIT)


async def test_v16_configuration_keys(core, sim_on) -> None:
    async with sim_on(V16) as sim:
        every = await core.gateway.get_configuration(V16)
        assert every.ok
        config = every.payload["configuration"]
        assert config["HeartbeatInterval"] == "30"  # what the console's boot answer said
        assert config["NumberOfConnectors"] == "2"
        assert "SmartCharging" in config["SupportedFeatureProfiles"]
        assert config["AuthorizationKey"] is None  # write-only: never shown
        assert {"NumberOfConnectors", "SupportedFeatureProfiles"} <= set(
            every.payload["readonly"])
        some = await core.gateway.get_configuration(V16, ["heartbeatinterval", "NoSuchKey"])
        assert some.payload["unknown"] == ["NoSuchKey"]

        beats = sim.heartbeats
        changed = await core.gateway.change_configuration(V16, "HeartbeatInterval", "1")
        assert changed.status is CommandStatus.ACCEPTED, changed.describe()
        assert changed.payload["read_back"] == {"HeartbeatInterval": "1"}
        assert sim.heartbeat_interval_s == 1
        await until(lambda: sim.heartbeats > beats, WAIT)  # a beat a second now

        results = {key: (await core.gateway.change_configuration(V16, key, value)).status
                   for key, value in [("NumberOfConnectors", "4"), ("NoSuchKey", "1"),
                                      ("MeterValueSampleInterval", "soon"),
                                      ("WebSocketPingInterval", "50"),
                                      ("LocalAuthorizeOffline", "False"),
                                      ("AuthorizationKey", "0123456789abcdef0123")]}
        assert results == {
            "NumberOfConnectors": CommandStatus.REJECTED,  # read-only
            "NoSuchKey": CommandStatus.NOT_SUPPORTED,
            "MeterValueSampleInterval": CommandStatus.REJECTED,  # not a number
            "WebSocketPingInterval": CommandStatus.PENDING,  # RebootRequired
            "LocalAuthorizeOffline": CommandStatus.ACCEPTED,
            "AuthorizationKey": CommandStatus.ACCEPTED,
        }
        again = await core.gateway.get_configuration(V16, ["WebSocketPingInterval"])
        assert again.payload["configuration"] == {"WebSocketPingInterval": "20"}  # not yet


async def test_v201_device_model(core, sim_on) -> None:
    async with sim_on(V201) as sim:
        got = await core.gateway.get_variables(V201, [
            ("OCPPCommCtrlr", "HeartbeatInterval"), ("ChargingStation", "VendorName"),
            ("NoSuchCtrlr", "X"), ("OCPPCommCtrlr", "NoSuchVariable"),
            ("SecurityCtrlr", "BasicAuthPassword")])
        assert got.ok
        assert got.payload["values"]["OCPPCommCtrlr.HeartbeatInterval"] == "30"
        assert got.payload["values"]["ChargingStation.VendorName"] == "ABB"
        assert got.payload["statuses"] == {
            "OCPPCommCtrlr.HeartbeatInterval": "Accepted",
            "ChargingStation.VendorName": "Accepted", "NoSuchCtrlr.X": "UnknownComponent",
            "OCPPCommCtrlr.NoSuchVariable": "UnknownVariable",
            "SecurityCtrlr.BasicAuthPassword": "Rejected"}  # write-only

        keys = await core.gateway.get_configuration(V201)  # 1.6 names over GetVariables
        assert keys.ok and not keys.payload["unknown"]
        assert keys.payload["configuration"]["MeterValueSampleInterval"] == "15"

        changed = await core.gateway.set_variables(V201, [
            ("OCPPCommCtrlr", "HeartbeatInterval", "2"),
            ("SampledDataCtrlr", "TxUpdatedMeasurands",
             "Energy.Active.Import.Register,Power.Active.Import,Current.Import")])
        assert changed.status is CommandStatus.ACCEPTED, changed.describe()
        assert sim.heartbeat_interval_s == 2
        refused = await core.gateway.set_variables(V201, [("ChargingStation", "Model", "X")])
        assert refused.status is CommandStatus.REJECTED
        reboot = await core.gateway.change_configuration(V201, "WebSocketPingInterval", "40")
        assert reboot.status is CommandStatus.PENDING and reboot.charger_status == "RebootRequired"
        bad = await core.gateway.change_configuration(V201, "ConnectionTimeOut", "-5")
        assert bad.status is CommandStatus.REJECTED

        report = await core.gateway.get_base_report(V201)
        assert report.ok
        request_id = report.payload["request_id"]
        await until(lambda: any(not p.get("tbc") for p in _calls(core, V201, "NotifyReport")),
                    WAIT)
        parts = _calls(core, V201, "NotifyReport")
        assert {p["requestId"] for p in parts} == {request_id}
        assert [p["seqNo"] for p in parts] == list(range(len(parts))) and len(parts) > 1
        data = [d for p in parts for d in p["reportData"]]
        names = {(d["component"]["name"], d["variable"]["name"]): d for d in data}
        heartbeat = names[("OCPPCommCtrlr", "HeartbeatInterval")]["variableAttribute"][0]
        assert (heartbeat["value"], heartbeat["mutability"]) == ("2", "ReadWrite")
        assert "value" not in names[("SecurityCtrlr", "BasicAuthPassword")]["variableAttribute"][0]
        evses = {d["component"]["evse"]["id"] for d in data if d["component"]["name"] == "EVSE"}
        assert evses == {1, 2}


@BOTH
async def test_local_list_versions(core, sim_on, cid) -> None:
    async with sim_on(cid):
        gw = core.gateway
        assert (await gw.get_local_list_version(cid)).payload["list_version"] == 0
        full = await gw.send_local_list(cid, 4, [("AA11", "Accepted"), ("BB22", "Blocked")],
                                        full=True)
        assert full.ok, full.describe()
        assert (await gw.get_local_list_version(cid)).payload["list_version"] == 4
        gap = await gw.send_local_list(cid, 6, [("CC33", "Accepted")], full=False)
        assert gap.status is CommandStatus.REJECTED and gap.charger_status == "VersionMismatch"
        step = await gw.send_local_list(cid, 5, [("CC33", "Accepted"), ("AA11", "")],
                                        full=False)
        assert step.ok
        replay = await gw.send_local_list(cid, 5, [("DD44", "Accepted")], full=False)
        assert replay.charger_status == "VersionMismatch"
        assert (await gw.get_local_list_version(cid)).payload["list_version"] == 5
        # A full list replaces it all, whatever the version was.
        assert (await gw.send_local_list(cid, 1, [("EE55", "Accepted")], full=True)).ok
        assert (await gw.get_local_list_version(cid)).payload["list_version"] == 1


@BOTH
async def test_clear_cache_and_data_transfer(core, sim_on, cid) -> None:
    async with sim_on(cid):
        assert (await core.gateway.clear_cache(cid)).status is CommandStatus.ACCEPTED
        ours = await core.gateway.data_transfer(cid, "ABB", "GetLogLevel", "")
        assert ours.status is CommandStatus.ACCEPTED
        foreign = await core.gateway.data_transfer(cid, "com.alfen", "x", "y")
        assert foreign.status is CommandStatus.NOT_SUPPORTED
        assert foreign.charger_status == "UnknownVendorId"


@BOTH
async def test_charging_profile_caps_the_power_in_the_meter_values(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        await _charging(core, sim, cid, 1)

        def power() -> float:
            live = core.transactions.live(cid, 1)
            return -1.0 if live is None or live.power_w is None else live.power_w

        await until(lambda: power() > 3000, WAIT)  # every car draws 3.6 kW or more
        capped = await core.gateway.set_charging_profile(cid, 1, 2000)
        assert capped.ok, capped.describe()
        await until(lambda: 1900 <= power() <= 2000, WAIT)
        assert sim.power_w(1) <= 2000
        # Below 6 A the car cannot charge: the charger suspends it.
        assert (await core.gateway.set_charging_profile(cid, 0, 1000, profile_id=2)).ok
        assert (await core.gateway.clear_charging_profile(cid, 1)).ok  # the 2 kW one
        await until(lambda: _status(core, cid, 1) == "SuspendedEVSE", WAIT)
        cleared = await core.gateway.clear_charging_profile(cid)  # every TxDefaultProfile
        assert cleared.ok
        await until(lambda: power() > 2100 and _status(core, cid, 1) == "Charging", WAIT)
        nothing = await core.gateway.clear_charging_profile(cid)
        assert nothing.charger_status == "Unknown"


@BOTH
async def test_diagnostics_are_uploaded(core, sim_on, cid) -> None:
    notification = "DiagnosticsStatusNotification" if cid == V16 else "LogStatusNotification"
    async with sim_on(cid, speed=3600):
        result = await core.gateway.get_diagnostics(cid, "ftp://logs.example.com/incoming/")
        assert result.ok, result.describe()
        assert result.payload["file_name"].endswith(".zip")
        await until(lambda: [p["status"] for p in _calls(core, cid, notification)]
                    == ["Uploading", "Uploaded"], WAIT)
        if cid == V201:
            assert {p["requestId"] for p in _calls(core, cid, notification)} == {
                result.payload["request_id"]}
        failed = await core.gateway.get_diagnostics(cid, "mailto:someone@example.com")
        assert failed.ok  # the charger only finds out when it tries
        word = "UploadFailed" if cid == V16 else "UploadFailure"
        await until(lambda: _calls(core, cid, notification)[-1]["status"] == word, WAIT)


@BOTH
async def test_firmware_update_reboots_into_the_new_version(core, sim_on, cid) -> None:
    async with sim_on(cid, speed=3600) as sim:
        boots = sim.boots
        result = await core.gateway.update_firmware(cid, "https://fw.example.com/terra-1.9.0.bin")
        assert result.ok, result.describe()
        await until(lambda: _calls(core, cid, "FirmwareStatusNotification")
                    and _calls(core, cid, "FirmwareStatusNotification")[-1]["status"]
                    == "Installed", WAIT)
        assert sim.boots == boots + 1
        assert core.charging.charger(cid).identity.firmware == "1.9.0"
        steps = [p["status"] for p in _calls(core, cid, "FirmwareStatusNotification")]
        if cid == V16:
            assert steps == ["Downloading", "Downloaded", "Installing", "Installed"]
            assert _calls(core, cid, "BootNotification")[-1]["firmwareVersion"] == "1.9.0"
        else:
            assert steps == ["Downloading", "Downloaded", "Installing", "InstallRebooting",
                             "Installed"]
            boot = _calls(core, cid, "BootNotification")[-1]
            assert boot["reason"] == "FirmwareUpdate"
            assert boot["chargingStation"]["firmwareVersion"] == "1.9.0"
        await until(lambda: [_status(core, cid, n) for n in (1, 2)] == ["Available"] * 2, WAIT)


async def test_v201_reset_on_idle_waits_for_the_session(core, sim_on) -> None:
    async with sim_on(V201) as sim:
        tx = await _charging(core, sim, V201, 1)
        boots = sim.boots
        result = await core.gateway.reset(V201, hard=False)  # OnIdle
        assert result.status is CommandStatus.PENDING and result.charger_status == "Scheduled"
        hard = await core.gateway.reset(V201, hard=True)  # Immediate: not while charging
        assert hard.status is CommandStatus.REJECTED
        assert sim.boots == boots
        assert (await core.gateway.remote_stop(V201, tx.charger_tx_id)).ok
        await until(lambda: sim.boots == boots + 1, WAIT)
        assert _calls(core, V201, "BootNotification")[-1]["reason"] == "RemoteReset"


@BOTH
async def test_trigger_message_for_meter_values_and_statuses(core, sim_on, cid) -> None:
    async with sim_on(cid) as sim:
        firmware = await core.gateway.trigger_message(cid, "FirmwareStatusNotification")
        assert firmware.ok
        await until(lambda: [p["status"] for p in
                             _calls(core, cid, "FirmwareStatusNotification")] == ["Idle"], WAIT)
        if cid == V201:
            none = await core.gateway.trigger_message(cid, "TransactionEvent", 1)
            assert none.status is CommandStatus.REJECTED  # no session to tell about
        await _charging(core, sim, cid, 1)
        meter = await core.gateway.trigger_message(cid, "MeterValues", 1)
        assert meter.ok
        await until(lambda: any(
            v["context"] == "Trigger"
            for p in _calls(core, cid, "MeterValues") for m in p["meterValue"]
            for v in m["sampledValue"]), WAIT)


async def test_v16_meter_values_follow_the_sample_interval(core, sim_on) -> None:
    async with sim_on(V16) as sim:
        changed = await core.gateway.change_configuration(V16, "MeterValuesSampledData",
                                                          "Energy.Active.Import.Register,"
                                                          "Power.Active.Import,Voltage")
        assert changed.ok, changed.describe()
        tx = await _charging(core, sim, V16, 1)
        await until(lambda: len(_calls(core, V16, "MeterValues")) >= 2, WAIT)
        sample = _calls(core, V16, "MeterValues")[-1]
        assert sample["transactionId"] == tx.id
        assert [v["measurand"] for v in sample["meterValue"][0]["sampledValue"]] == [
            "Energy.Active.Import.Register", "Power.Active.Import", "Voltage"]
        # 0: no periodic samples any more (read back by the gateway).
        off = await core.gateway.change_configuration(V16, "MeterValueSampleInterval", "0")
        assert off.status is CommandStatus.ACCEPTED
        assert off.payload["read_back"] == {"MeterValueSampleInterval": "0"}


async def test_demo_fleet_runs_16_transactions_by_default(core, url, no_worries) -> None:
    ended: list[TransactionEnded] = []
    core.bus.subscribe(ended.append, TransactionEnded)
    fleet = SimFleet(core.site, url, speed=FAST, seed=11, timing=NO_FAULTS,
                     reconnect_min_s=0.05)
    await fleet.start()
    try:
        def ended_16() -> list[TransactionEnded]:
            return [e for e in ended if e.charger_id in ("CP-01", "CP-02", "CP-03")]

        await until(lambda: len(ended_16()) >= 2, WAIT * 2)
        assert all(e.reason == "EVDisconnected" and e.energy_wh > 0 and not e.orphan
                   for e in ended_16())
    finally:
        async with asyncio.timeout(5):
            await fleet.stop()
