"""Binding over loopback OCPP with a real core (demo site, SQLite file): bay camera reads +
StatusNotification / StartTransaction -> bindings and the attendant's queue in the
database; rebind moves the parking session; ICE-ing; the simulated site's bay cameras."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from app.adapters.db import tables as t
from app.adapters.db.audit_repo import load_audit
from app.domain.binding import BayLocator
from app.domain.events import (
    BayOccupancyChanged,
    BindingChanged,
    BindingIssueChanged,
    PlateRead,
)
from app.domain.timeutil import utc_now
from app.services.binding import AUDIT_REBIND
from tests.helpers.raw_client import RawCharger
from tests.helpers.waiting import wait_for

ANNA_CARD, FLEET_CARD = "04A1B2C3D4E580", "04DEADBEEF0180"  # demo accounts
FRAME = (1280, 720)
# CAM-BAY-A covers EV-01..EV-04 (CP-01/1, CP-01/2, CP-02/1, CP-02/2) left to right.
SLOT = {1: (100, 520, 120, 26), 2: (420, 520, 120, 26)}
WAIT = 10.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rows(settings, table, *where) -> list:
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(table).where(*where).order_by(table.c.id)).all()
    finally:
        engine.dispose()


@pytest.fixture
async def binding(core):
    """The core's BindingService with a short window, grace and tick (a test of seconds)."""
    wired = core.binding
    wired.window_s, wired.ice_grace_s, wired.tick_s = 120.0, 600.0, 0.05
    await asyncio.sleep(1.1)  # its ticker picks up the short tick
    return wired


@pytest.fixture
def seen(core) -> list:
    events: list = []
    core.bus.subscribe(events.append, BindingChanged)
    core.bus.subscribe(events.append, BindingIssueChanged)
    return events


@pytest.fixture
async def cp(url):
    charger = await RawCharger.open(url, "CP-01")
    reply = await charger.call("BootNotification", {"chargePointVendor": "ABB",
                                                    "chargePointModel": "Terra AC"})
    assert reply[2]["status"] == "Accepted"
    yield charger
    await charger.close()


def bay_read(core, plate: str, connector: int, *, at: datetime | None = None,
             confidence: float = 0.93) -> None:
    core.bus.publish(PlateRead(at=at or utc_now(), camera_id="CAM-BAY-A", plate=plate,
                               confidence=confidence, source="test", box=SLOT[connector],
                               frame_size=FRAME))


async def status(cp: RawCharger, connector: int, value: str) -> None:
    reply = await cp.call("StatusNotification", {"connectorId": connector, "status": value,
                                                 "errorCode": "NoError"})
    assert reply[0] == 3, reply


async def start(cp: RawCharger, connector: int, tag: str) -> int:
    reply = await cp.call("StartTransaction", {"connectorId": connector, "idTag": tag,
                                               "meterStart": 1000, "timestamp": iso(utc_now())})
    assert reply[0] == 3, reply
    return reply[2]["transactionId"]


async def stop(cp: RawCharger, tx_id: int) -> None:
    reply = await cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 9000,
                                              "timestamp": iso(utc_now()), "reason": "Local"})
    assert reply[0] == 3, reply


async def enter(core, plate: str) -> int:
    """The car drives in at the entry lane: its parking session id."""
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=plate,
                               confidence=0.95, source="test"))
    await wait_for(lambda: (s := core.gate.session_of(plate)) is not None and s.id > 0, WAIT)
    return core.gate.session_of(plate).id


async def test_clean_bay_read_then_session_binds_and_unbinds(core, settings, binding, cp,
                                                             seen) -> None:
    session_id = await enter(core, "GX-512-K")
    bay_read(core, "GX-512-K", 1, at=utc_now() - timedelta(seconds=12))
    await status(cp, 1, "Preparing")
    await wait_for(lambda: binding.active_binding("CP-01", 1) is not None, WAIT)
    tx_id = await start(cp, 1, ANNA_CARD)
    await wait_for(lambda: (b := binding.binding_for_tx(tx_id)) is not None and b.id > 0, WAIT)
    b = binding.binding_for_tx(tx_id)
    assert (b.plate, b.bay_id, b.method, b.parking_session_id) == (
        "GX512K", "EV-01", "bay_anpr", session_id)
    await wait_for(lambda: [r.transaction_id for r in rows(settings, t.bindings)] == [tx_id],
                   WAIT)
    [row] = rows(settings, t.bindings)
    assert (row.plate, row.method, row.charger_id, row.connector_id, row.ended_at) == (
        "GX512K", "bay_anpr", "CP-01", 1, None)
    await stop(cp, tx_id)
    await wait_for(lambda: rows(settings, t.bindings)[0].ended_by == "session_end", WAIT)
    assert binding.active_binding("CP-01", 1) is None
    changes = [(e.transaction_id, e.active) for e in seen if isinstance(e, BindingChanged)]
    # Made at plug-in, given the session, ended (each event says the binding as it is now:
    # a write still under way when the session starts shows it already).
    assert changes[-2:] == [(tx_id, True), (tx_id, False)] and len(changes) == 3
    assert binding.open_issues() == []


async def test_a_stay_that_opens_after_the_bay_binding_gets_the_charging(core, settings,
                                                                        binding, cp) -> None:
    # The car is bound at the bay before its entry is recorded (a slow lane, an entry the
    # attendant lets through later): the binding joins the stay when it opens.
    bay_read(core, "GX-512-K", 1)
    await status(cp, 1, "Preparing")
    tx_id = await start(cp, 1, ANNA_CARD)
    await wait_for(lambda: (b := binding.binding_for_tx(tx_id)) is not None and b.id > 0, WAIT)
    assert binding.binding_for_tx(tx_id).parking_session_id is None
    session_id = await enter(core, "GX-512-K")
    await wait_for(lambda: binding.binding_for_tx(tx_id).parking_session_id == session_id,
                   WAIT)
    await wait_for(lambda: [r.parking_session_id for r in rows(settings, t.bindings)]
                   == [session_id], WAIT)
    await stop(cp, tx_id)  # 8 kWh
    await wait_for(lambda: (r := core.billing.known_bill(session_id)) is not None
                   and any(ln.component == "energy" for ln in r.bill.lines), WAIT)


async def test_two_plates_at_the_bay_are_a_conflict(core, settings, binding, cp,
                                                    seen) -> None:
    bay_read(core, "GX-512-K", 2, at=utc_now() - timedelta(seconds=20))
    bay_read(core, "KL-093-T", 2, at=utc_now() - timedelta(seconds=5), confidence=0.88)
    tx_id = await start(cp, 2, ANNA_CARD)
    await wait_for(lambda: rows(settings, t.binding_issues), WAIT)
    [row] = rows(settings, t.binding_issues)
    assert (row.kind, row.bay_id, row.charger_id, row.connector_id, row.transaction_id) == (
        "conflict", "EV-02", "CP-01", 2, tx_id)
    assert set(row.plates) == {"GX512K", "KL093T"} and row.resolved_at is None
    assert binding.active_binding("CP-01", 2) is None
    await wait_for(lambda: any(isinstance(e, BindingIssueChanged) for e in seen), WAIT)
    [event] = [e for e in seen if isinstance(e, BindingIssueChanged)]
    assert (event.kind, event.bay_id, event.open, event.issue_id) == (
        "conflict", "EV-02", True, row.id)
    # The attendant binds the session: the issue is resolved.
    b = await binding.bind("attendant", tx_id, "KL093T", "camera image checked")
    assert (b.method, b.transaction_id) == ("attendant", tx_id)
    await wait_for(lambda: rows(settings, t.binding_issues)[0].resolved_at is not None, WAIT)


async def test_a_late_plate_binds_within_the_window(core, settings, binding, cp) -> None:
    tx_id = await start(cp, 1, ANNA_CARD)
    await asyncio.sleep(0.2)
    assert binding.binding_for_tx(tx_id) is None  # nothing read yet: waiting
    started = core.transactions.get(tx_id).started_at
    bay_read(core, "GX-512-K", 1, at=started + timedelta(seconds=30))
    await wait_for(lambda: binding.binding_for_tx(tx_id) is not None, WAIT)
    b = binding.binding_for_tx(tx_id)
    assert (b.plate, b.method) == ("GX512K", "bay_anpr")
    assert b.confidence == pytest.approx(0.93 * (1 - 0.5 * 30 / 120), abs=0.01)


async def test_no_plate_falls_back_to_the_card_or_asks(core, settings, binding, cp) -> None:
    binding.window_s = 0.3
    anna_tx = await start(cp, 1, ANNA_CARD)  # one plate: the card's
    fleet_tx = await start(cp, 2, FLEET_CARD)  # Harbour Logistics: two plates, none inside
    await wait_for(lambda: binding.binding_for_tx(anna_tx) is not None, WAIT)
    b = binding.binding_for_tx(anna_tx)
    assert (b.plate, b.method, b.confidence) == ("GX512K", "credential", 0.5)
    await wait_for(lambda: [i.transaction_id for i in binding.open_issues()] == [fleet_tx],
                   WAIT)
    [issue] = binding.open_issues()
    assert (issue.kind, issue.bay_id, set(issue.plates)) == ("no_plate", "EV-02",
                                                            {"V384BG", "V385BG"})
    await wait_for(lambda: [r.kind for r in rows(settings, t.binding_issues)] == ["no_plate"],
                   WAIT)


async def test_rebind_moves_the_binding_to_the_right_parking_session(core, settings, binding,
                                                                     cp) -> None:
    anna_session = await enter(core, "GX-512-K")
    bram_session = await enter(core, "KL-093-T")
    bay_read(core, "GX-512-K", 1)
    tx_id = await start(cp, 1, ANNA_CARD)
    await wait_for(lambda: (b := binding.binding_for_tx(tx_id)) is not None and b.id > 0, WAIT)
    old = binding.binding_for_tx(tx_id)
    assert old.parking_session_id == anna_session
    new = await binding.rebind("attendant.bob", old.id, "KL-093-T", "Bram's car is in EV 01")
    assert (new.plate, new.method, new.parking_session_id) == ("KL093T", "attendant",
                                                                bram_session)
    assert binding.binding_for_tx(tx_id) is new

    def written() -> bool:
        got = {r.id: r for r in rows(settings, t.bindings)}
        return (got.get(old.id) is not None and got[old.id].ended_by == "rebind"
                and new.id in got)

    await wait_for(written, WAIT)
    got = {r.id: r for r in rows(settings, t.bindings)}
    assert (got[new.id].plate, got[new.id].parking_session_id, got[new.id].transaction_id,
            got[new.id].actor) == ("KL093T", bram_session, tx_id, "attendant.bob")

    def audited() -> list:
        engine = create_engine(settings.resolved_db_url)
        try:
            with engine.connect() as conn:
                return load_audit(conn, action_prefix="binding_")
        finally:
            engine.dispose()

    await wait_for(lambda: audited(), WAIT)
    [entry] = audited()
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "attendant.bob", AUDIT_REBIND, f"binding:{old.id}")
    assert entry["details"]["parking_session_id"] == bram_session
    assert entry["details"]["old_parking_session_id"] == anna_session


async def test_ice_occupied_without_a_session_then_cleared(core, settings, binding, cp,
                                                           seen) -> None:
    binding.ice_grace_s = 0.3
    core.bus.publish(BayOccupancyChanged(at=utc_now(), bay_id="EV-02", occupied=True,
                                         plate="HT-007-B", camera_id="CAM-BAY-A"))
    await wait_for(lambda: [i.kind for i in binding.open_issues()] == ["ice"], WAIT)
    await wait_for(lambda: [e.kind for e in seen if isinstance(e, BindingIssueChanged)
                            and e.open] == ["ice"], WAIT)
    [row] = rows(settings, t.binding_issues)
    assert (row.kind, row.bay_id, row.plates) == ("ice", "EV-02", ["HT007B"])
    await start(cp, 2, ANNA_CARD)  # a session starts: cleared
    await wait_for(lambda: rows(settings, t.binding_issues)[0].resolved_by == "system", WAIT)
    assert binding.open_issues() == []


async def test_the_simulated_bay_cameras_bind_the_simulated_cars(core, binding) -> None:
    """SimSite on the core's OCPP port: its bay cameras report occupancy and plates (boxes
    in the right slot), and the plugged cars get bay_anpr bindings with their sessions."""
    from app.sim.site import SimSite
    from tests.integration.test_sim_charger import NO_FAULTS

    events: list = []
    core.bus.subscribe(events.append, BayOccupancyChanged)
    core.bus.subscribe(events.append, PlateRead)
    core.bus.subscribe(events.append, BindingChanged)
    sim = SimSite(core.site, f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp", core.bus.publish,
                  speed=600.0, seed=5, timing=NO_FAULTS, fps=2, camera_size=(640, 360),
                  traffic=False)
    await sim.start()
    try:
        await wait_for(lambda: any(isinstance(e, BindingChanged) and e.method == "bay_anpr"
                                   and e.transaction_id is not None for e in events), 30.0)
    finally:
        await sim.stop()
    locator = BayLocator(core.site)
    reads = [e for e in events if isinstance(e, PlateRead)]
    assert reads and all(e.source == "sim" and e.frame_size == (640, 360) for e in reads)
    # Every read's box falls in the bay where that car is plugged in.
    parked = {(b.charger_id, b.connector_id): b for b in core.site.bays}
    for read in reads:
        bay = locator.locate(read.camera_id, read.box, read.frame_size)
        assert bay is not None and bay.camera_id == read.camera_id
        assert (bay.charger_id, bay.connector_id) in parked
    assert any(isinstance(e, BayOccupancyChanged) and e.occupied for e in events)
    bound = next(e for e in events if isinstance(e, BindingChanged) and e.method == "bay_anpr"
                 and e.transaction_id is not None)
    tx = core.transactions.get(bound.transaction_id)
    assert (tx.charger_id, tx.connector_id) == (bound.charger_id, bound.connector_id)
    assert datetime.now(UTC) - tx.started_at < timedelta(minutes=5)
