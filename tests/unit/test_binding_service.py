"""BindingService with fakes: the real rules and bus, a fake store, transactions, gate."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import DEFAULT_GROUPS, AccessData, Account, Credential, CredentialKind
from app.domain.access_rules import AccessIndex
from app.domain.binding import Binding, BindingIssue
from app.domain.charging import ConnectorStatus
from app.domain.events import (
    BayOccupancyChanged,
    BindingChanged,
    BindingIssueChanged,
    ConnectorStatusChanged,
    PlateRead,
    TransactionEnded,
    TransactionStarted,
)
from app.domain.site import Bay, Camera, CameraRole, ChargerConfig, Lane, LaneDirection, Site
from app.domain.transactions import Transaction
from app.services.binding import (
    AUDIT_BIND,
    AUDIT_REBIND,
    AUDIT_RESOLVE,
    AUDIT_UNBIND,
    BindingService,
)
from app.services.bus import EventBus
from tests.helpers.fakes import FakeClock

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
FRAME = (1280, 720)
LEFT, RIGHT = (200, 500, 120, 26), (900, 500, 120, 26)  # plate boxes in CAM-ROW's two bays

SITE = Site(
    name="t",
    chargers=(ChargerConfig("CP-1", connectors=2), ChargerConfig("CP-2", connectors=1)),
    cameras=(Camera("CAM-ROW", "row", CameraRole.BAY), Camera("CAM-ONE", "one", CameraRole.BAY),
             Camera("CAM-IN", "entry", CameraRole.LANE)),
    bays=(Bay("B1", "EV 1", "Z", "CP-1", 1, "CAM-ROW"),
          Bay("B2", "EV 2", "Z", "CP-1", 2, "CAM-ROW"),
          Bay("B3", "EV 3", "Z", "CP-2", 1, "CAM-ONE")),
    lanes=(Lane("IN", "Entry", "Z", LaneDirection.ENTRY, "CAM-IN"),),
)

ANNA, FLEET = 1, 2
ANNA_CARD, FLEET_CARD, STRANGER_CARD = "04A1B2C3", "04DEAD01", "0BADCAFE"
DATA = AccessData(
    groups=DEFAULT_GROUPS,
    accounts=(Account(ANNA, "Anna", group_id="resident"),
              Account(FLEET, "Fleet", group_id="fleet")),
    credentials=(Credential(1, ANNA, CredentialKind.PLATE, "GX512K"),
                 Credential(2, ANNA, CredentialKind.RFID, ANNA_CARD),
                 Credential(3, FLEET, CredentialKind.PLATE, "V384BG"),
                 Credential(4, FLEET, CredentialKind.PLATE, "V385BG"),
                 Credential(5, FLEET, CredentialKind.RFID, FLEET_CARD)),
)


class FakeStore:
    def __init__(self) -> None:
        self.bindings: dict[int, dict] = {}
        self.issues: dict[int, dict] = {}
        self.open: tuple[list[Binding], list[BindingIssue]] = ([], [])
        self.fail = False

    @staticmethod
    def _row(record) -> dict:
        return {k: getattr(record, k) for k in record.__slots__ if k != "stored"}

    async def insert_binding(self, binding: Binding) -> int:
        if self.fail:
            raise OSError("disk full")
        new_id = len(self.bindings) + 1
        self.bindings[new_id] = {**self._row(binding), "id": new_id}
        return new_id

    def update_binding(self, binding: Binding) -> None:
        self.bindings[binding.id] = self._row(binding)

    async def insert_issue(self, issue: BindingIssue) -> int:
        new_id = len(self.issues) + 1
        self.issues[new_id] = {**self._row(issue), "id": new_id}
        return new_id

    def update_issue(self, issue: BindingIssue) -> None:
        self.issues[issue.id] = self._row(issue)

    async def load_open(self):
        return self.open


class FakeTransactions:
    def __init__(self) -> None:
        self.by_id: dict[int, Transaction] = {}

    def start(self, tx_id: int, charger: str, connector: int, token: str,
              at: datetime) -> Transaction:
        tx = Transaction(tx_id, charger, connector, str(tx_id), token, at)
        self.by_id[tx_id] = tx
        return tx

    def stop(self, tx_id: int, at: datetime) -> None:
        self.by_id[tx_id] = replace(self.by_id[tx_id], stopped_at=at)

    def get(self, tx_id):
        return self.by_id.get(tx_id)

    def active(self):
        return [t for t in self.by_id.values() if t.active]

    def active_on(self, charger, connector):
        return next((t for t in self.active()
                     if (t.charger_id, t.connector_id) == (charger, connector)), None)


class FakeAccess:
    def __init__(self) -> None:
        self.index = AccessIndex(DATA)


@dataclass
class Session:
    id: int
    stored: asyncio.Task | None = None


class FakeGate:
    def __init__(self) -> None:
        self.inside: dict[str, Session] = {}

    def session_of(self, plate: str):
        return self.inside.get(plate)


class World:
    def __init__(self, **options) -> None:
        self.clock = FakeClock(T0)
        self.bus = EventBus()
        self.store = FakeStore()
        self.tx = FakeTransactions()
        self.gate = FakeGate()
        self.audits: list[tuple] = []
        self.events: list = []
        self.bus.subscribe(self.events.append, BindingChanged)
        self.bus.subscribe(self.events.append, BindingIssueChanged)
        options = {"window_s": 120, "ice_grace_s": 600, "tick_s": 3600, **options}
        self.svc = BindingService(SITE, self.bus, self.clock, self.store, self.tx, FakeAccess(),
                                  self.gate, lambda *a: self.audits.append(a), **options)

    async def settle(self) -> None:
        for _ in range(20):
            tasks = list(self.svc._tasks.running)
            if not tasks:
                return
            await asyncio.gather(*tasks)

    def read(self, plate: str, camera: str = "CAM-ROW", box=LEFT, *, confidence: float = 0.9,
             after: float = 0.0, read_id: int | None = None) -> None:
        self.bus.publish(PlateRead(at=self.clock() + timedelta(seconds=after), camera_id=camera,
                                   plate=plate, confidence=confidence, source="test",
                                   read_id=read_id, box=box, frame_size=FRAME))

    def status(self, charger: str, connector: int, status: ConnectorStatus,
               previous: ConnectorStatus = ConnectorStatus.AVAILABLE) -> None:
        self.bus.publish(ConnectorStatusChanged(at=self.clock(), charger_id=charger,
                                                connector_id=connector, status=status,
                                                previous=previous))

    def start(self, tx_id: int, charger: str = "CP-1", connector: int = 1,
              token: str = ANNA_CARD) -> None:
        self.tx.start(tx_id, charger, connector, token, self.clock())
        self.bus.publish(TransactionStarted(at=self.clock(), charger_id=charger,
                                            connector_id=connector, transaction_id=tx_id,
                                            id_token=token))

    def end(self, tx_id: int) -> None:
        tx = self.tx.by_id[tx_id]
        self.tx.stop(tx_id, self.clock())
        self.bus.publish(TransactionEnded(at=self.clock(), charger_id=tx.charger_id,
                                          connector_id=tx.connector_id, transaction_id=tx_id,
                                          energy_wh=1000.0, reason="Local"))

    def occupancy(self, bay: str, occupied: bool, plate: str = "") -> None:
        self.bus.publish(BayOccupancyChanged(at=self.clock(), bay_id=bay, occupied=occupied,
                                             plate=plate))

    def binding_events(self) -> list[tuple]:
        return [(e.plate, e.bay_id, e.transaction_id, e.method, e.active) for e in self.events
                if isinstance(e, BindingChanged)]

    def issue_events(self) -> list[tuple]:
        return [(e.kind, e.bay_id, e.open) for e in self.events
                if isinstance(e, BindingIssueChanged)]


@pytest.fixture
async def world():
    w = World()
    await w.svc.start()
    yield w
    await w.svc.stop()


async def test_a_bay_read_then_plug_in_then_session_binds_and_the_end_unbinds(world) -> None:
    world.read("gx-512-k", read_id=41)
    world.clock.advance(15)
    world.status("CP-1", 1, ConnectorStatus.PREPARING)
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    assert (b.plate, b.bay_id, b.method, b.transaction_id, b.read_id) == (
        "GX512K", "B1", "bay_anpr", None, 41)
    assert 0.8 < b.confidence < 0.9
    world.clock.advance(20)
    world.start(7)
    await world.settle()
    assert world.svc.binding_for_tx(7) is b and b.transaction_id == 7
    assert world.store.bindings[b.id]["transaction_id"] == 7
    world.clock.advance(3600)
    world.end(7)
    await world.settle()
    assert world.svc.active_binding("CP-1", 1) is None
    assert world.svc.binding_for_tx(7) is b and b.ended_by == "session_end"
    assert world.store.bindings[b.id]["ended_by"] == "session_end"
    assert world.binding_events() == [("GX512K", "B1", None, "bay_anpr", True),
                                      ("GX512K", "B1", 7, "bay_anpr", True),
                                      ("GX512K", "B1", 7, "bay_anpr", False)]
    assert world.svc.bindings_of_plate("GX-512-K") == [b]
    assert world.svc.open_issues() == []


async def test_the_box_decides_the_bay_of_a_camera_that_covers_two(world) -> None:
    world.read("V384BG", box=RIGHT)
    world.read("GX512K", camera="CAM-ONE", box=None)  # one bay: no box needed
    world.start(1, "CP-1", 2, FLEET_CARD)
    world.start(2, "CP-2", 1)
    await world.settle()
    assert world.svc.active_binding("CP-1", 2).plate == "V384BG"
    assert world.svc.active_binding("CP-2", 1).plate == "GX512K"
    assert world.svc.active_binding("CP-1", 1) is None


async def test_reads_that_are_not_for_a_bay_are_left_alone(world, caplog) -> None:
    world.read("GX512K", camera="CAM-IN")  # a lane camera: the gate's
    world.read("GX512K", box=None)  # two bays, no box: a warning, once
    world.read("KL093T", box=None)
    world.read("LOWCONF", confidence=0.1)
    assert world.svc.bay_reads("B1") == [] and world.svc.bay_reads("B2") == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "CAM-ROW" in warnings[0].getMessage()


async def test_two_plates_at_the_bay_are_a_conflict_for_the_attendant(world) -> None:
    world.read("GX512K")
    world.read("KL093T")
    world.start(3)
    await world.settle()
    assert world.svc.active_binding("CP-1", 1) is None
    [issue] = world.svc.open_issues()
    assert (issue.kind, issue.bay_id, issue.transaction_id) == ("conflict", "B1", 3)
    assert set(issue.plates) == {"GX512K", "KL093T"}
    assert world.issue_events() == [("conflict", "B1", True)]
    assert world.store.issues[issue.id]["kind"] == "conflict"
    # The attendant decides: the binding is made, the issue resolved, both audited.
    b = await world.svc.bind("anna.attendant", 3, "KL-093-T", "checked the camera")
    await world.settle()
    assert (b.plate, b.method, b.transaction_id, b.confidence) == ("KL093T", "attendant", 3, 1.0)
    assert world.svc.open_issues() == [] and issue.resolved_by == "anna.attendant"
    assert world.issue_events()[-1] == ("conflict", "B1", False)
    assert [a[1] for a in world.audits] == [AUDIT_BIND]
    assert world.audits[0][3]["plate"] == "KL093T"


async def test_a_late_plate_binds_when_it_comes(world) -> None:
    world.start(4)
    await world.settle()
    assert world.svc.active_binding("CP-1", 1) is None
    world.clock.advance(30)
    world.read("GX512K")
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    assert (b.plate, b.method, b.transaction_id) == ("GX512K", "bay_anpr", 4)
    assert b.confidence == pytest.approx(0.9 * (1 - 0.5 * 30 / 120), abs=1e-3)


async def test_a_read_too_late_does_not_bind_the_card_does(world) -> None:
    world.start(5)
    world.clock.advance(121)
    world.svc.check()
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    assert (b.plate, b.method, b.confidence) == ("GX512K", "credential", 0.5)
    # The camera confirms the card's plate afterwards: still within the window of nothing,
    # so it changes nothing; a read of another plate then is no conflict either.
    world.clock.advance(200)
    world.read("KL093T")
    await world.settle()
    assert world.svc.open_issues() == []


async def test_a_read_confirming_the_credentials_plate_upgrades_the_binding() -> None:
    w = World()
    await w.svc.start()
    try:
        w.status("CP-1", 1, ConnectorStatus.PREPARING)
        w.clock.advance(100)
        w.start(6)  # the card, 100 s after the plug: the window reaches to 220 s
        w.clock.advance(121)
        w.svc.check()  # 221 s: nothing read, the card's plate
        await w.settle()
        assert w.svc.active_binding("CP-1", 1).method == "credential"
        w.read("GX512K", after=-10)  # a delayed read, stamped at 211 s: in the window
        await w.settle()
        b = w.svc.active_binding("CP-1", 1)
        assert (b.method, b.plate) == ("bay_anpr", "GX512K")
    finally:
        await w.svc.stop()


async def test_several_plates_fall_back_to_the_one_inside_or_ask(world) -> None:
    world.gate.inside["V385BG"] = Session(31)
    world.start(8, "CP-1", 1, FLEET_CARD)
    world.start(9, "CP-2", 1, STRANGER_CARD)
    world.clock.advance(121)
    world.svc.check()
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    assert (b.plate, b.method, b.confidence, b.parking_session_id) == (
        "V385BG", "credential", 0.4, 31)
    [issue] = world.svc.open_issues()
    assert (issue.kind, issue.bay_id, issue.transaction_id) == ("no_plate", "B3", 9)


async def test_the_cards_plate_read_at_another_bay_is_the_wrong_bay(world) -> None:
    # Anna's car stands in B1; her card starts the charger of B3.
    world.read("GX512K")
    world.start(10, "CP-2", 1)
    world.clock.advance(121)
    world.svc.check()
    await world.settle()
    assert world.svc.active_binding("CP-2", 1) is None
    [issue] = world.svc.open_issues()
    assert (issue.kind, issue.bay_id, issue.plates) == ("wrong_bay", "B3", ("GX512K",))


async def test_a_plate_read_at_a_bay_while_its_account_charges_elsewhere(world) -> None:
    world.start(11, "CP-2", 1)  # Anna's card at B3, nothing read there
    world.clock.advance(150)
    world.read("GX512K")  # ... her car is in B1
    await world.settle()
    [issue] = world.svc.open_issues()
    assert (issue.kind, issue.bay_id, issue.transaction_id) == ("wrong_bay", "B3", 11)
    assert "EV 1" in issue.detail
    world.svc.check()  # the window closed: the plug has its issue, no second one
    await world.settle()
    assert len(world.svc.open_issues()) == 1


async def test_rebind_moves_the_binding_and_its_parking_session(world) -> None:
    world.gate.inside.update({"GX512K": Session(21), "KL093T": Session(22)})
    world.read("GX512K")
    world.start(12)
    await world.settle()
    old = world.svc.active_binding("CP-1", 1)
    assert old.parking_session_id == 21
    new = await world.svc.rebind("bob", old.id, "KL-093-T", "neighbour's car was read")
    await world.settle()
    assert (old.ended_by, old.active) == ("rebind", False)
    assert (new.plate, new.method, new.transaction_id, new.parking_session_id, new.actor) == (
        "KL093T", "attendant", 12, 22, "bob")
    assert world.svc.active_binding("CP-1", 1) is new and world.svc.binding_for_tx(12) is new
    assert world.store.bindings[old.id]["ended_by"] == "rebind"
    assert world.store.bindings[new.id]["parking_session_id"] == 22
    [audit] = world.audits
    assert audit[:3] == ("bob", AUDIT_REBIND, f"binding:{old.id}")
    assert audit[3]["old_parking_session_id"] == 21 and audit[3]["parking_session_id"] == 22
    assert world.binding_events()[-2:] == [("GX512K", "B1", 12, "bay_anpr", False),
                                           ("KL093T", "B1", 12, "attendant", True)]
    with pytest.raises(ValueError):
        await world.svc.rebind("bob", old.id, "ZZ", "ended already")


async def test_a_parking_session_still_being_written_gives_its_id(world) -> None:
    session = Session(0)

    async def store_entry() -> None:
        await asyncio.sleep(0.01)
        session.id = 55

    session.stored = asyncio.create_task(store_entry())
    world.gate.inside["GX512K"] = session
    world.read("GX512K")
    world.start(13)
    await world.settle()
    assert world.svc.active_binding("CP-1", 1).parking_session_id == 55


async def test_unbind_stops_automatic_binding_of_that_plug(world) -> None:
    world.read("GX512K")
    world.start(14)
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    await world.svc.unbind("bob", b.id, "not this car")
    await world.settle()
    assert (b.ended_by, world.svc.active_binding("CP-1", 1)) == ("unbind", None)
    assert world.svc.binding_for_tx(14) is None
    world.read("GX512K")
    await world.settle()
    assert world.svc.active_binding("CP-1", 1) is None
    assert world.audits[-1][1] == AUDIT_UNBIND
    b2 = await world.svc.bind("bob", "B1", "KL093T", "attendant knows")
    assert b2.transaction_id == 14 and world.svc.binding_for_tx(14) is b2


async def test_bind_an_ended_session_for_its_bill(world) -> None:
    world.start(15, "CP-2", 1, STRANGER_CARD)
    world.clock.advance(121)
    world.svc.check()
    world.clock.advance(600)
    world.end(15)
    await world.settle()
    [issue] = world.svc.open_issues()
    assert issue.kind == "no_plate"
    b = await world.svc.bind("bob", 15, "HT007B", "visitor told us")
    await world.settle()
    assert (b.active, b.ended_by, world.svc.binding_for_tx(15)) == (False, "session_end", b)
    assert world.svc.open_issues() == []
    with pytest.raises(LookupError):
        await world.svc.bind("bob", 999, "HT007B", "no such session")
    with pytest.raises(LookupError):
        await world.svc.bind("bob", "NOPE", "HT007B", "no such bay")


async def test_ice_occupied_without_a_session_past_the_grace(world) -> None:
    world.occupancy("B2", True)
    world.clock.advance(60)
    world.read("HT-007-B", box=RIGHT)  # the plate of the car standing there
    world.clock.advance(539)
    world.svc.check()
    assert world.svc.open_issues() == []
    world.clock.advance(1)
    world.svc.check()
    world.svc.check()
    await world.settle()
    [issue] = world.svc.open_issues()
    assert (issue.kind, issue.bay_id, issue.plates) == ("ice", "B2", ("HT007B",))
    assert world.issue_events() == [("ice", "B2", True)]
    # A session starts: cleared.
    world.start(16, "CP-1", 2, STRANGER_CARD)
    await world.settle()
    assert world.svc.open_issues() == [] and issue.resolved_by == "system"
    assert world.issue_events()[-1] == ("ice", "B2", False)


async def test_ice_cleared_when_the_bay_is_free_and_its_reads_forgotten(world) -> None:
    world.read("HT007B", box=RIGHT)
    world.clock.advance(600)
    world.svc.check()
    await world.settle()
    assert [i.kind for i in world.svc.open_issues()] == ["ice"]
    world.occupancy("B2", False)
    await world.settle()
    assert world.svc.open_issues() == []
    assert world.svc.bay_reads("B2") == []
    # The next car plugs in: the old car's read does not bind it.
    world.clock.advance(5)
    world.start(17, "CP-1", 2, STRANGER_CARD)
    await world.settle()
    assert world.svc.active_binding("CP-1", 2) is None


async def test_a_car_staying_after_its_session_is_idling_not_ice(world) -> None:
    """Staying on after charging is idling (the bill's idle fee), not ICE-ing: no issue;
    a car that never charged is ICE, raised once per stay and resolved by the attendant."""
    world.occupancy("B1", True, "GX512K")
    world.start(18)
    world.clock.advance(3600)
    world.svc.check()
    assert world.svc.open_issues() == []
    world.end(18)
    world.clock.advance(3600)
    world.svc.check()
    assert world.svc.open_issues() == []
    world.occupancy("B1", False)
    world.occupancy("B1", True, "ZZ999Z")  # the next car never plugs in
    world.clock.advance(600)
    world.svc.check()
    await world.settle()
    assert [i.kind for i in world.svc.open_issues()] == ["ice"]
    [issue] = world.svc.open_issues()
    await world.svc.resolve_issue("bob", issue.id, "EV owner called")
    await world.settle()
    assert world.audits[-1][:3] == ("bob", AUDIT_RESOLVE, f"binding_issue:{issue.id}")
    world.clock.advance(3600)
    world.svc.check()  # once per stay
    assert world.svc.open_issues() == []


async def test_unplugged_without_a_session_ends_the_plug_in_binding(world) -> None:
    world.read("GX512K")
    world.status("CP-1", 1, ConnectorStatus.PREPARING)
    await world.settle()
    b = world.svc.active_binding("CP-1", 1)
    world.status("CP-1", 1, ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING)
    await world.settle()
    assert (b.active, b.ended_by) == (False, "session_end")


async def test_a_read_of_another_plate_after_binding_is_a_conflict(world) -> None:
    world.read("GX512K")
    world.start(19)
    world.clock.advance(10)
    world.read("KL093T")
    world.read("KL093T")
    await world.settle()
    assert world.svc.active_binding("CP-1", 1).plate == "GX512K"
    [issue] = world.svc.open_issues()
    assert issue.kind == "conflict" and issue.plates == ("GX512K", "KL093T")


async def test_a_read_from_a_camera_thread_is_handled_on_the_loop(world) -> None:
    thread = threading.Thread(target=world.read, args=("GX512K",))
    thread.start()
    thread.join()
    await asyncio.sleep(0.01)
    world.start(20)
    await world.settle()
    assert world.svc.active_binding("CP-1", 1).plate == "GX512K"


async def test_open_bindings_and_issues_survive_a_restart() -> None:
    w = World()
    w.tx.start(30, "CP-1", 1, ANNA_CARD, T0 - timedelta(hours=1))
    w.tx.start(31, "CP-1", 2, FLEET_CARD, T0 - timedelta(hours=2))
    w.tx.stop(31, T0 - timedelta(minutes=5))
    w.tx.start(32, "CP-2", 1, STRANGER_CARD, T0 - timedelta(minutes=30))
    live = Binding(1, "GX512K", "B1", "CP-1", 1, 30, "bay_anpr", 0.9, T0 - timedelta(hours=1))
    stale = Binding(2, "V384BG", "B2", "CP-1", 2, 31, "credential", 0.5,
                    T0 - timedelta(hours=2))
    issue = BindingIssue(1, "no_plate", "B3", T0 - timedelta(minutes=28), "CP-2", 1, 32)
    w.store.bindings = {1: {}, 2: {}}
    w.store.issues = {1: {}}
    w.store.open = ([live, stale], [issue])
    await w.svc.start()
    try:
        await w.settle()
        assert w.svc.active_binding("CP-1", 1) is live
        assert (stale.ended_by, w.svc.active_binding("CP-1", 2)) == ("session_end", None)
        assert w.svc.open_issues() == [issue]
        w.svc.check()  # tx 32 already has its issue: no second one
        await w.settle()
        assert w.svc.open_issues() == [issue]
        w.end(30)
        await w.settle()
        assert live.ended_by == "session_end"
    finally:
        await w.svc.stop()


async def test_a_failed_write_is_a_warning_and_nothing_is_published(world, caplog) -> None:
    world.store.fail = True
    world.read("GX512K")
    world.start(21)
    await world.settle()
    assert world.binding_events() == []
    assert any("not stored" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    world.end(21)
    await world.settle()
    assert world.binding_events() == []


async def test_the_tick_checks_by_itself() -> None:
    w = World(ice_grace_s=0.0, tick_s=0.01)
    await w.svc.start()
    try:
        w.occupancy("B3", True, "HT007B")
        await asyncio.sleep(0.1)
        await w.settle()
        assert [i.kind for i in w.svc.open_issues()] == ["ice"]
    finally:
        await w.svc.stop()


async def test_a_binding_from_an_unsure_read_asks_the_attendant_until_a_sure_read(world):
    """A car bound only on an unsure read (35-60 %) goes to the queue to be checked; a sure
    read of the same plate afterwards settles it by itself."""
    world.read("GX512K", confidence=0.45)
    world.status("CP-1", 1, ConnectorStatus.PREPARING)
    await world.settle()
    assert [b[0] for b in world.binding_events()] == ["GX512K"]
    [issue] = world.svc.open_issues()
    assert issue.kind == "unsure" and "45%" in issue.detail
    world.read("GX512K", confidence=0.9)
    await world.settle()
    assert world.svc.open_issues() == []
