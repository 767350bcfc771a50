"""Simulated chargers against a minimal central system made with the ocpp library.

Real websockets on 127.0.0.1; the central system here is the test's own (thin @on
handlers that record what arrives), not the product's server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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

from app.domain.charging import ChargerIdentity
from app.domain.site import ChargerConfig, OcppVersion
from app.domain.site_io import site_from_dict
from app.sim.charger import SimCharger, SimFleet
from app.sim.connector import Timing

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
    server = Csms(interval=1)
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
    assert not csms.of("StartTransaction")  # transactions are off by default
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


async def test_v16_transactions_refused_by_server_only_warn(csms: Csms, caplog) -> None:
    """This issue's server answers StartTransaction with a CALLERROR: the sim carries on."""
    sim = _charger(OcppVersion.V16, csms.url, timing=NO_FAULTS, speed=FAST, seed=3,
                   transactions=True)
    await _running(sim)
    await until(lambda: _is_subsequence(
        ["Charging", "Finishing", "Available"],
        [p["status"] for p in csms.of("StatusNotification") if p["connector_id"] == 1]))
    refused = [r for r in caplog.records
               if r.name == "app.sim.charger" and "StartTransaction refused" in r.getMessage()]
    assert refused and all(r.levelno == logging.WARNING for r in refused)
    await sim.stop()


async def test_v16_transactions_with_a_server_that_has_them() -> None:
    server = Csms(interval=30, with_transactions=True)
    await server.start()
    try:
        sim = _charger(OcppVersion.V16, server.url, timing=NO_FAULTS, speed=FAST, seed=3,
                       transactions=True)
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
