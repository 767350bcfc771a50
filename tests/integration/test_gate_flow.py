"""The gate end to end: a plate read or card at a lane -> AccessService (real SQLite) ->
ModbusBarrier against a pymodbus boom on 127.0.0.1 -> parking session in the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.adapters.db import tables as t
from app.adapters.db.access_store import SqlAccessStore
from app.adapters.db.audit_repo import SqlAuditLog, load_audit
from app.adapters.db.database import close_database, open_database
from app.adapters.db.parking_repo import SqlParkingStore
from app.adapters.io.modbus_barrier import ModbusBarrier
from app.domain.access import Account, CredentialKind, Permit
from app.domain.events import (
    AccessDecided,
    CardPresented,
    GatePromptChanged,
    ParkingSessionChanged,
    PlateRead,
)
from app.domain.site import Barrier, Lane, LaneDirection, Site, Zone
from app.domain.timeutil import utc_now
from app.services.access import AccessService
from app.services.bus import EventBus
from app.services.gate import AUDIT_APB_RESET, GateService
from app.services.lanes import MANUAL_RAISE, LaneService
from tests.helpers.modbus_boom import COIL, UNIT, BoomModel, on_coil_write, start_server
from tests.helpers.waiting import wait_for

SITE = Site(
    name="Gate test",
    zones=(Zone("P1", "Level 1", capacity=2),),
    barriers=(Barrier("BAR-IN", "Entry barrier", "modbus"),
              Barrier("BAR-OUT", "Exit barrier", "modbus")),
    lanes=(Lane("IN", "Entry A", "P1", LaneDirection.ENTRY, "CAM-IN", "BAR-IN"),
           Lane("OUT", "Exit A", "P1", LaneDirection.EXIT, "CAM-OUT", "BAR-OUT")),
)


@pytest.fixture
async def booms():
    made = {}
    for barrier_id in ("BAR-IN", "BAR-OUT"):
        server = await start_server()
        model = BoomModel(server)
        model.start()
        made[barrier_id] = model
    yield made
    for model in made.values():
        await model.stop()
        await model.server.shutdown()


@pytest.fixture
async def db(tmp_path):
    engine, writer = await open_database(f"sqlite:///{(tmp_path / 'gate.db').as_posix()}")
    yield writer
    close_database(engine, writer)


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def seen(bus):
    events: list = []
    for kind in (AccessDecided, ParkingSessionChanged, GatePromptChanged):
        bus.subscribe(events.append, kind)
    return events


@pytest.fixture
async def access(db, bus):
    service = AccessService(SITE, SqlAccessStore(db), bus, utc_now, SqlAuditLog(db).audit)
    await service.start(poll_s=60)
    anna = await service.save_account("admin", Account(0, "Anna", group_id="resident"))
    await service.add_credential("admin", anna, CredentialKind.PLATE, "GX-512-K")
    await service.add_credential("admin", anna, CredentialKind.RFID, "04:A1:B2:C3")
    await service.save_permit("admin", Permit(0, anna, utc_now() - timedelta(days=1)))
    yield service
    await service.stop()


@pytest.fixture
async def barriers(booms, bus):
    drivers = {
        barrier.id: ModbusBarrier(barrier, bus.publish, host="127.0.0.1",
                                  port=booms[barrier.id].server.port, unit=UNIT,
                                  preset="adam-6050", pulse_ms=50, open_timeout_s=2.0,
                                  poll_s=0.02)
        for barrier in SITE.barriers}
    yield drivers
    for driver in drivers.values():
        await driver.stop()


@pytest.fixture
def audit(db):
    return SqlAuditLog(db)


def make_gate(db, access, barriers, bus, audit) -> GateService:
    lanes = LaneService(SITE, barriers, audit, utc_now)
    # No repeat windows: these tests present the same car again on purpose.
    return GateService(SITE, access, SqlParkingStore(db), barriers, lanes, bus, utc_now, audit,
                       dedup_s=0, passed_s=0)


@pytest.fixture
async def gate(db, access, barriers, bus, audit):
    service = make_gate(db, access, barriers, bus, audit)
    await service.start()
    yield service
    await service.stop()


def read(bus, plate: str, camera: str = "CAM-IN", confidence: float = 0.93) -> None:
    bus.publish(PlateRead(at=utc_now(), camera_id=camera, plate=plate, confidence=confidence))


def decisions(seen) -> list[tuple[str, str, str]]:
    return [(e.place, e.value, e.status) for e in seen if isinstance(e, AccessDecided)]


async def rows(db, table) -> list:
    db.flush()
    return await db.run(lambda conn: [r._asdict() for r in conn.execute(
        select(table).order_by(table.c.id))])


async def test_plate_in_opens_the_boom_and_a_session_card_out_closes_it(
        gate, db, bus, booms, barriers, seen):
    read(bus, "gx 512 k")
    await wait_for(lambda: booms["BAR-IN"].coil_history == [True, False], within=3)
    await wait_for(lambda: barriers["BAR-IN"].state == "open", within=3)
    [session] = gate.open_sessions()
    await wait_for(lambda: session.id > 0)
    [row] = await rows(db, t.parking_sessions)
    assert (row["kind"], row["value"], row["plate"], row["entry_lane"], row["exit_at"]) == (
        "plate", "GX512K", "GX512K", "IN", None)
    assert row["account_id"] == session.account_id and row["visitor"] == 0

    bus.publish(CardPresented(at=utc_now(), lane_id="OUT", uid="04a1b2c3"))
    await wait_for(lambda: booms["BAR-OUT"].coil_history == [True, False], within=3)
    assert gate.open_sessions() == ()
    [row] = await rows(db, t.parking_sessions)
    assert (row["exit_lane"], row["closed_by"]) == ("OUT", "exit")
    assert row["exit_at"] is not None
    assert decisions(seen) == [("IN", "gx 512 k", "Accepted"), ("OUT", "04a1b2c3", "Accepted")]
    changes = [(e.opened, e.occupancy) for e in seen if isinstance(e, ParkingSessionChanged)]
    assert changes == [(True, 1), (False, 0)]
    recorded = await rows(db, t.access_decisions)
    assert [(r["place"], r["status"]) for r in recorded] == [("IN", "Accepted"),
                                                             ("OUT", "Accepted")]
    await wait_for(lambda: barriers["BAR-IN"].state == "closed", within=5)


async def test_hard_anti_passback_refuses_a_second_entry_until_reset(gate, db, bus, booms,
                                                                     audit, seen):
    read(bus, "GX512K")
    await wait_for(lambda: booms["BAR-IN"].coil_history == [True, False], within=3)
    read(bus, "GX512K")
    assert decisions(seen)[-1] == ("IN", "GX512K", "AntiPassback")
    assert gate.reset_anti_passback("GX512K", "anna.attendant", "car towed out") == 1
    read(bus, "GX512K")
    assert decisions(seen)[-1] == ("IN", "GX512K", "Accepted")
    await wait_for(lambda: booms["BAR-IN"].coil_history == [True, False] * 2, within=3)
    sessions = await rows(db, t.parking_sessions)
    assert [(r["closed_by"], r["exit_at"] is None) for r in sessions] == [
        ("apb_reset", False), ("", True)]
    [entry] = await db.run(lambda conn: load_audit(conn, action_prefix=AUDIT_APB_RESET))
    assert (entry["actor"], entry["target"], entry["details"]["reason"]) == (
        "anna.attendant", "GX512K", "car towed out")


async def test_a_full_zone_refuses_visitors(gate, bus, booms, seen):
    writes: list[bool] = []
    on_coil_write(booms["BAR-IN"].server,
                  lambda address, value, _at: writes.append(value) if address == COIL else None)
    read(bus, "AB-12-CD")
    read(bus, "BB-22-DD")
    read(bus, "FF-44-GG")
    read(bus, "GX-512-K")  # a permit holder has a space
    assert [d[2] for d in decisions(seen)] == ["Accepted", "Accepted", "Full", "Accepted"]
    assert gate.occupancy("P1") == (3, 2) and gate.lane_full("IN")
    # Three pulses back to back (the driver serializes them), each released.
    await wait_for(lambda: writes == [True, False] * 3, within=5)


async def test_an_unknown_plate_under_attendant_policy_waits_for_the_attendant(
        gate, db, access, bus, booms, seen):
    await access.save_policy("admin", visitor_policy="attendant")
    read(bus, "KL-345-M")
    assert decisions(seen)[-1] == ("IN", "KL-345-M", "AskAttendant")
    prompt = gate.pending("IN")
    assert prompt.reason == "unknown plate: attendant decides"
    assert [e.pending for e in seen if isinstance(e, GatePromptChanged)] == [True]
    assert booms["BAR-IN"].coil_history == []
    message = await gate.allow_pending("IN", "anna.attendant", "delivery, expected")
    assert "raised" in message
    await wait_for(lambda: booms["BAR-IN"].coil_history == [True, False], within=3)
    [session] = gate.open_sessions()
    assert session.visitor and session.value == "KL345M"
    [entry] = await db.run(lambda conn: load_audit(conn, action_prefix=MANUAL_RAISE))
    assert entry["actor"] == "anna.attendant" and entry["target"] == "IN"
    assert "delivery, expected (attendant allowed KL-345-M" in entry["details"]["reason"]
    await wait_for(lambda: session.id > 0)
    [row] = await rows(db, t.parking_sessions)
    assert row["visitor"] == 1


async def test_a_restart_keeps_who_is_inside(db, access, barriers, bus, audit, booms, seen):
    first = make_gate(db, access, barriers, bus, audit)
    await first.start()
    read(bus, "GX512K")
    await wait_for(lambda: bool(first.open_sessions()) and first.open_sessions()[0].id > 0)
    await first.stop()
    second = make_gate(db, access, barriers, bus, audit)
    await second.start()
    try:
        assert second.occupancy("P1") == (1, 2)
        read(bus, "GX512K")
        assert decisions(seen)[-1] == ("IN", "GX512K", "AntiPassback")
    finally:
        await second.stop()


# ---- demo traffic through the gate ------------------------------------------------------

class LaneCamera:
    """SimCamera's control surface, without the capture thread."""

    def __init__(self) -> None:
        self.shown: list[str | None] = []

    def set_vehicle(self, plate: str | None, slot: int = 0) -> None:
        self.shown.append(plate)


SIM_SITE = Site(
    name="Traffic test",
    zones=(Zone("P1", "Level 1", capacity=0),),
    barriers=(Barrier("BAR-IN", "Entry barrier"), Barrier("BAR-OUT", "Exit barrier")),
    lanes=SITE.lanes,
)

FAST_TRAFFIC = {"speed": 3000, "arrivals_per_min": 240, "first_arrival_s": (0.0, 0.05),
                "read_gap_s": (0.01, 0.03), "pass_s": (0.01, 0.02), "entry_wait_s": 0.5,
                "exit_wait_s": 0.5}


@pytest.fixture
async def sim_lanes(bus):
    from app.sim.barrier import SimBarrier

    cameras = {"CAM-IN": LaneCamera(), "CAM-OUT": LaneCamera()}
    barriers = {b.id: SimBarrier(b, bus.publish, open_s=0.02, hold_s=0.05, close_s=0.02)
                for b in SIM_SITE.barriers}
    yield cameras, barriers
    for barrier in barriers.values():
        await barrier.stop()


async def test_demo_traffic_drives_through_the_gate(db, access, bus, audit, seen, sim_lanes):
    from app.sim.traffic import DEMO_PLATES, SimTraffic

    cameras, barriers = sim_lanes
    gate = GateService(SIM_SITE, access, SqlParkingStore(db), barriers, None, bus, utc_now,
                       audit)
    traffic = SimTraffic(SIM_SITE, cameras, barriers, bus.publish, seed=7, low_share=0,
                         misread_share=0, **FAST_TRAFFIC)
    await gate.start()
    await traffic.start()
    try:
        await wait_for(lambda: traffic.left >= 6, within=20)
    finally:
        await traffic.stop()
        await gate.stop()
    assert traffic.turned_away == 0
    assert {s for *_, s in decisions(seen)} == {"Accepted"}
    plates = [p for p in cameras["CAM-IN"].shown if p]
    assert any(p in DEMO_PLATES for p in plates) and any(p not in DEMO_PLATES for p in plates)
    assert cameras["CAM-IN"].shown[-1] is None  # the lane is clear after stop
    closed = [r for r in await rows(db, t.parking_sessions) if r["exit_at"] is not None]
    assert len(closed) >= 6
    assert {r["closed_by"] for r in closed} == {"exit"}


async def test_dirty_plates_wait_for_the_attendant_then_turn_away(db, access, bus, audit,
                                                                   seen, sim_lanes):
    from app.sim.traffic import SimTraffic

    cameras, barriers = sim_lanes
    gate = GateService(SIM_SITE, access, SqlParkingStore(db), barriers, None, bus, utc_now,
                       audit)
    traffic = SimTraffic(SIM_SITE, cameras, barriers, bus.publish, seed=7, low_share=1.0,
                         **FAST_TRAFFIC)
    await gate.start()
    await traffic.start()
    try:
        await wait_for(lambda: traffic.turned_away >= 2, within=10)
    finally:
        await traffic.stop()
        await gate.stop()
    prompts = [e for e in seen if isinstance(e, GatePromptChanged) and e.pending]
    assert prompts and {p.status for p in prompts} == {"LowConfidence"}
    assert decisions(seen) == [] and gate.open_sessions() == ()


async def test_a_driver_who_went_to_charge_leaves_after_the_car_left_the_bay(
        db, access, bus, audit, seen, sim_lanes):
    from app.sim.traffic import SimTraffic

    cameras, barriers = sim_lanes
    gate = GateService(SIM_SITE, access, SqlParkingStore(db), barriers, None, bus, utc_now,
                       audit)
    traffic = SimTraffic(SIM_SITE, cameras, barriers, bus.publish, seed=7, low_share=0,
                         misread_share=0, **{**FAST_TRAFFIC, "arrivals_per_min": 1e-3})
    charging = [True]
    traffic.at_bay = lambda plate: charging[0]  # the car went to a charger
    traffic.bay_poll_s = 0.02
    await gate.start()
    await traffic.start()
    try:
        await wait_for(lambda: traffic.entered == 1, within=10)
        [plate] = traffic.inside
        await asyncio.sleep(0.5)  # its stay (~40 ms at this speed) is long over
        assert traffic.inside == {plate} and traffic.left == 0
        charging[0] = False  # the car left the bay: the driver heads for the exit
        await wait_for(lambda: traffic.left == 1, within=10)
    finally:
        await traffic.stop()
        await gate.stop()
    assert gate.open_sessions() == ()
