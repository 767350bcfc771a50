"""GateService with fakes: the real decision rules, a fake access service, store, barriers."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import (
    DEFAULT_GROUPS,
    AccessData,
    Account,
    Credential,
    CredentialKind,
    Permit,
)
from app.domain.access_rules import (
    AccessIndex,
    AccessPolicy,
    AccessStatus,
    AntiPassback,
    VisitorPolicy,
    decide_gate,
)
from app.domain.events import (
    CardPresented,
    GatePromptChanged,
    ParkingSessionChanged,
    PlateRead,
)
from app.domain.site import Barrier, Lane, LaneDirection, Site, Zone
from app.services.bus import EventBus
from app.services.gate import (
    AUDIT_APB_RESET,
    AUDIT_PROMPT_DENIED,
    LOW_CONFIDENCE,
    GateService,
    ParkingSession,
)
from app.services.lanes import MANUAL_RAISE, LaneService
from tests.helpers.fakes import FakeClock

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

SITE = Site(
    name="Test",
    zones=(Zone("P1", "Level 1", capacity=3),),
    barriers=(Barrier("BAR-IN", "Entry barrier"), Barrier("BAR-OUT", "Exit barrier")),
    lanes=(Lane("IN", "Entry A", "P1", LaneDirection.ENTRY, "CAM-IN", "BAR-IN"),
           Lane("OUT", "Exit A", "P1", LaneDirection.EXIT, "CAM-OUT", "BAR-OUT"),
           Lane("FREE", "Free exit", "P1", LaneDirection.EXIT, "CAM-FREE")),
)

ANNA, BOB, FLEET = 1, 2, 3
DATA = AccessData(
    groups=DEFAULT_GROUPS,
    accounts=(Account(ANNA, "Anna (resident)", group_id="resident"),
              Account(BOB, "Bob (visitor)", group_id="visitor"),
              Account(FLEET, "Fleet", group_id="fleet")),
    credentials=(Credential(1, ANNA, CredentialKind.PLATE, "GX512K"),
                 Credential(2, ANNA, CredentialKind.RFID, "04A1B2C3"),
                 Credential(3, BOB, CredentialKind.PLATE, "HT007B"),
                 Credential(4, ANNA, CredentialKind.PLATE, "ZZ999Z"),
                 Credential(5, ANNA, CredentialKind.PLATE, "NN111N")),
    permits=(Permit(1, ANNA, T0 - timedelta(days=30)),),
)


class FakeAccess:
    """AccessService's gate surface on the real domain rules."""

    def __init__(self, clock, policy: AccessPolicy | None = None) -> None:
        self.clock = clock
        self.policy = policy or AccessPolicy()
        self.index = AccessIndex(DATA)
        self.decisions: list[tuple] = []
        self.error: Exception | None = None

    def decide_gate(self, kind, value, facts, *, lane_id):
        if self.error is not None:
            raise self.error
        decision = decide_gate(self.index, self.policy, kind, value, facts, now=self.clock())
        self.decisions.append((lane_id, value, facts, decision))
        return decision

    def max_stay_min(self, account_id):
        account = self.index.accounts.get(account_id) if account_id is not None else None
        group = self.index.group_of(account) if account else self.index.groups["visitor"]
        return group.max_stay_min

    def statuses(self) -> list[str]:
        return [d.status.value for *_, d in self.decisions]


class FakeStore:
    def __init__(self, journal: list) -> None:
        self.journal = journal
        self.rows: dict[int, ParkingSession] = {}
        self.closed: list[tuple] = []
        self.open_rows: list[ParkingSession] = []
        self.fail = False
        self.delay = 0.0

    async def insert(self, session: ParkingSession) -> int:
        self.journal.append(("insert", session.value))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise OSError("disk full")
        new_id = len(self.rows) + 1
        self.rows[new_id] = replace(session, stored=None)
        return new_id

    def close(self, session: ParkingSession) -> None:
        if self.fail:
            raise OSError("disk full")
        self.closed.append((session.id, session.exit_lane, session.closed_by))

    async def load_open(self) -> list[ParkingSession]:
        if self.fail:
            raise OSError("database is locked")
        return list(self.open_rows)


class FakeBarrier:
    def __init__(self, journal: list, barrier_id: str) -> None:
        self.journal = journal
        self.id = barrier_id
        self.state = "closed"
        self.detail = ""
        self.reasons: list[str] = []
        self.error: Exception | None = None
        self.fault = ""
        self.hang = False

    async def open(self, reason: str) -> None:
        self.journal.append(("pulse", self.id))
        self.reasons.append(reason)
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        if self.fault:
            self.state, self.detail = "fault", self.fault
            return
        self.state = "opening"


class AuditList(list):
    def __call__(self, actor, action, target, details) -> None:
        self.append((actor, action, target, details))


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def journal():
    return []


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def events(bus):
    seen: list = []
    bus.subscribe(seen.append, ParkingSessionChanged)
    bus.subscribe(seen.append, GatePromptChanged)
    return seen


@pytest.fixture
def access(clock):
    return FakeAccess(clock)


@pytest.fixture
def store(journal):
    return FakeStore(journal)


@pytest.fixture
def barriers(journal):
    return {b: FakeBarrier(journal, b) for b in ("BAR-IN", "BAR-OUT")}


@pytest.fixture
def audit():
    return AuditList()


@pytest.fixture
async def gate(access, store, barriers, bus, clock, audit):
    lanes = LaneService(SITE, barriers, audit, clock)
    service = GateService(SITE, access, store, barriers, lanes, bus, clock, audit)
    await service.start()
    yield service
    await service.stop()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def read(bus, clock, plate: str, camera: str = "CAM-IN", confidence: float = 0.95) -> None:
    bus.publish(PlateRead(at=clock(), camera_id=camera, plate=plate, confidence=confidence))


def card(bus, clock, uid: str, lane: str) -> None:
    bus.publish(CardPresented(at=clock(), lane_id=lane, uid=uid))


def changes(events) -> list[tuple]:
    return [(e.opened, e.value, e.occupancy) for e in events
            if isinstance(e, ParkingSessionChanged)]


def warnings(caplog, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.levelno == logging.WARNING and getattr(r, "event", "") == event]


# ---- entry and exit ---------------------------------------------------------------------

async def test_an_accepted_plate_pulses_first_then_opens_a_session(gate, bus, clock, access,
                                                                   barriers, journal, events):
    read(bus, clock, "gx-512-k")
    await settle()
    assert access.statuses() == ["Accepted"]
    assert barriers["BAR-IN"].reasons == ["GX512K: permit holder"]
    assert journal[:2] == [("pulse", "BAR-IN"), ("insert", "GX512K")]
    [session] = gate.open_sessions()
    assert (session.id, session.kind, session.value, session.plate, session.account_id,
            session.credential_id, session.entry_lane, session.visitor) == (
        1, "plate", "GX512K", "GX512K", ANNA, 1, "IN", False)
    assert changes(events) == [(True, "GX512K", 1)]
    assert gate.occupancy("P1") == (1, 3)


async def test_facts_from_the_lane_and_the_sessions(gate, bus, clock, access):
    read(bus, clock, "GX512K")
    clock.advance(60)
    read(bus, clock, "ZZ-999-Z")  # Anna's second car
    await settle()
    _, _, facts, decision = access.decisions[-1]
    assert (facts.entry, facts.zone_id, facts.inside, facts.account_inside,
            facts.zone_full) == (True, "P1", False, 1, False)
    assert decision.allowed
    clock.advance(60)
    read(bus, clock, "NN111N")  # a third: residents may have two inside
    await settle()
    assert access.decisions[-1][3].status is AccessStatus.VEHICLE_LIMIT
    assert access.decisions[-1][2].account_inside == 2


async def test_in_by_plate_out_by_the_accounts_card(gate, bus, clock, barriers, store, events):
    read(bus, clock, "GX512K")
    await settle()
    clock.advance(3600)
    card(bus, clock, "04:a1:b2:c3", "OUT")
    await settle()
    assert barriers["BAR-OUT"].reasons == ["04A1B2C3: exit"]
    assert gate.open_sessions() == ()
    assert store.closed == [(1, "OUT", "exit")]
    assert changes(events) == [(True, "GX512K", 1), (False, "GX512K", 0)]


async def test_a_card_entry_is_found_by_credential_in_the_other_byte_order(gate, bus, clock,
                                                                           access):
    card(bus, clock, "04A1B2C3", "IN")
    await settle()
    [session] = gate.open_sessions()
    assert (session.kind, session.value, session.credential_id) == ("rfid", "04A1B2C3", 2)
    clock.advance(60)
    card(bus, clock, "C3B2A104", "IN")  # same card, reversed: already inside
    await settle()
    assert access.decisions[-1][3].status is AccessStatus.ANTI_PASSBACK


async def test_bay_camera_reads_are_not_the_gates(gate, bus, clock, access):
    read(bus, clock, "GX512K", camera="CAM-BAY-A")
    await settle()
    assert access.decisions == []


async def test_unknown_visitor_in_and_out_ticketless(gate, bus, clock, access, store):
    read(bus, clock, "AB-12-CD")
    await settle()
    [session] = gate.open_sessions()
    assert session.visitor and session.account_id is None
    clock.advance(30 * 60)
    read(bus, clock, "AB12CD", camera="CAM-OUT")
    await settle()
    assert access.statuses() == ["Accepted", "Accepted"]
    assert store.closed == [(1, "OUT", "exit")]


async def test_free_flow_lane_closes_without_a_barrier(gate, bus, clock, store, barriers):
    read(bus, clock, "GX512K")
    await settle()
    read(bus, clock, "GX512K", camera="CAM-FREE")
    await settle()
    assert store.closed == [(1, "FREE", "exit")]
    assert barriers["BAR-OUT"].reasons == []


# ---- anti-passback, full, max stay --------------------------------------------------------

async def test_hard_anti_passback_then_the_attendant_resets_it(gate, bus, clock, access, audit,
                                                               barriers, store):
    read(bus, clock, "GX512K")
    await settle()
    clock.advance(600)  # past the passage window
    read(bus, clock, "GX512K")
    await settle()
    assert access.statuses() == ["Accepted", "AntiPassback"]
    assert len(barriers["BAR-IN"].reasons) == 1
    with pytest.raises(ValueError):
        gate.reset_anti_passback("GX512K", "anna.attendant", " ")
    assert gate.reset_anti_passback("gx 512 k", "anna.attendant", "left via the fire exit") == 1
    assert store.closed == [(1, "", "apb_reset")]
    assert [a[:3] for a in audit] == [("anna.attendant", AUDIT_APB_RESET, "gx 512 k")]
    assert audit[0][3]["sessions"][0]["id"] == 1
    read(bus, clock, "GX512K")  # the car still at the lane is read again at once
    await settle()
    assert access.statuses()[-1] == "Accepted"
    assert len(gate.open_sessions()) == 1


async def test_reset_by_credential_finds_a_card_session(gate, bus, clock, access):
    card(bus, clock, "04A1B2C3", "IN")
    await settle()
    cred = access.index.find_token("04A1B2C3")
    assert gate.reset_anti_passback(cred, "att", "card forgotten at home") == 1
    assert gate.reset_anti_passback("nobody", "att", "typo") == 0


async def test_soft_anti_passback_replaces_the_stale_session(gate, bus, clock, access, store):
    access.policy = AccessPolicy(anti_passback=AntiPassback.SOFT)
    read(bus, clock, "GX512K")
    await settle()
    clock.advance(600)
    read(bus, clock, "GX512K")
    await settle()
    assert access.statuses() == ["Accepted", "Accepted"]
    assert access.decisions[-1][3].violation == "anti-passback: already inside"
    assert [s.id for s in gate.open_sessions()] == [2]
    assert store.closed == [(1, "", "reentry")]
    assert gate.occupancy("P1") == (1, 3)
    clock.advance(600)
    read(bus, clock, "HT007B", camera="CAM-OUT")  # out without entry: soft, allowed
    await settle()
    assert access.decisions[-1][3].violation == "anti-passback: no entry recorded"


async def test_a_full_zone_refuses_visitors_not_permit_holders(gate, bus, clock, access):
    for plate in ("AA11AA", "BB22BB", "DD33DD"):
        read(bus, clock, plate)
        clock.advance(10)
    await settle()
    assert gate.occupancy("P1") == (3, 3) and gate.lane_full("IN")
    read(bus, clock, "FF44FF")
    read(bus, clock, "HT007B")  # Bob: a visitor account
    read(bus, clock, "GX512K")  # Anna has a permit
    await settle()
    assert access.statuses()[3:] == ["Full", "Full", "Accepted"]
    assert gate.occupancy("P1") == (4, 3)


async def test_an_exit_past_the_max_stay_is_recorded(gate, bus, clock, store, events, caplog):
    read(bus, clock, "HT007B")  # visitor group: 240 min
    await settle()
    clock.advance((240 + 59.5) * 60)
    read(bus, clock, "HT007B", camera="CAM-OUT")
    await settle()
    assert store.closed == [(1, "OUT", "overstay")]
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "parking_overstay"]
    assert record.overstay_min == 60
    closed = [e for e in events if isinstance(e, ParkingSessionChanged) and not e.opened]
    assert len(closed) == 1


# ---- repeats and unsure reads ----------------------------------------------------------

async def test_repeated_reads_of_a_standing_car_are_one_decision(gate, bus, clock, access):
    for _ in range(4):
        read(bus, clock, "GX512K")
        clock.advance(1.5)
    card(bus, clock, "04A1B2C3", "IN")  # the driver also shows the card: same passage
    await settle()
    assert access.statuses() == ["Accepted"]
    clock.advance(30)
    read(bus, clock, "GX512K", camera="CAM-OUT")  # another lane: decided
    await settle()
    assert access.statuses() == ["Accepted", "Accepted"]


async def test_a_refused_car_is_decided_again_after_the_repeat_window(gate, bus, clock,
                                                                      access):
    read(bus, clock, "QQ000Q", camera="CAM-OUT")  # unknown, no entry: ask attendant
    clock.advance(2)
    read(bus, clock, "QQ000Q", camera="CAM-OUT")
    clock.advance(5)
    read(bus, clock, "QQ000Q", camera="CAM-OUT")
    await settle()
    assert access.statuses() == ["AskAttendant", "AskAttendant"]


async def test_an_unsure_read_asks_the_attendant_who_corrects_the_plate(
        gate, bus, clock, access, audit, barriers, events):
    read(bus, clock, "GX5I2K", confidence=0.41)
    await settle()
    assert access.decisions == []  # not decided on a guess
    prompt = gate.pending("IN")
    assert (prompt.status, prompt.value, prompt.confidence) == (LOW_CONFIDENCE, "GX5I2K",
                                                                0.41)
    shown = [e for e in events if isinstance(e, GatePromptChanged)]
    assert [(e.lane_id, e.pending, e.status) for e in shown] == [("IN", True, LOW_CONFIDENCE)]
    message = await gate.allow_pending("IN", "anna.attendant", "checked on camera",
                                       value="GX-512-K")
    assert "raised" in message
    assert [a[1] for a in audit] == [MANUAL_RAISE]
    assert "attendant allowed GX-512-K" in audit[0][3]["reason"]
    assert barriers["BAR-IN"].reasons == [audit[0][3]["reason"]]
    [session] = gate.open_sessions()
    assert (session.value, session.account_id, session.visitor) == ("GX512K", ANNA, False)
    assert gate.pending("IN") is None
    prompts = [(e.pending, e.outcome) for e in events if isinstance(e, GatePromptChanged)]
    assert prompts == [(True, ""), (False, "allowed")]


async def test_attendant_policy_prompt_denied_is_audited(gate, bus, clock, access, audit,
                                                         barriers, events):
    access.policy = AccessPolicy(visitor_policy=VisitorPolicy.ATTENDANT)
    read(bus, clock, "KL-345-M")
    await settle()
    assert access.statuses() == ["AskAttendant"]
    assert gate.pending("IN").reason == "unknown plate: attendant decides"
    with pytest.raises(ValueError):
        gate.deny_pending("IN", "att", "")
    assert gate.deny_pending("IN", "att", "no booking") is True
    assert gate.deny_pending("IN", "att", "no booking") is False
    assert [(a[1], a[2], a[3]["value"]) for a in audit] == [
        (AUDIT_PROMPT_DENIED, "IN", "KL-345-M")]
    assert barriers["BAR-IN"].reasons == []
    assert gate.open_sessions() == ()
    prompts = [(e.pending, e.outcome) for e in events if isinstance(e, GatePromptChanged)]
    assert prompts == [(True, ""), (False, "denied")]


async def test_an_exit_without_entry_allowed_by_the_attendant(gate, bus, clock, access, audit):
    read(bus, clock, "QQ000Q", camera="CAM-OUT")
    await settle()
    assert gate.pending("OUT").status == "AskAttendant"
    await gate.allow_pending("OUT", "att", "paid at the desk")
    assert gate.pending("OUT") is None
    assert [a[1] for a in audit] == [MANUAL_RAISE]


async def test_an_accepted_read_clears_the_lanes_prompt(gate, bus, clock, events):
    read(bus, clock, "GX5I2K", confidence=0.3)
    read(bus, clock, "GX512K", confidence=0.9)
    await settle()
    assert gate.pending("IN") is None
    prompts = [(e.pending, e.outcome) for e in events if isinstance(e, GatePromptChanged)]
    assert prompts == [(True, ""), (False, "decided")]


async def test_a_failed_raise_keeps_the_prompt(gate, bus, clock, barriers, caplog):
    read(bus, clock, "GX5I2K", confidence=0.3)
    barriers["BAR-IN"].fault = "no open limit"
    message = await gate.allow_pending("IN", "att", "checked")
    assert "did not open" in message
    assert gate.pending("IN") is not None
    assert gate.open_sessions() == ()


# ---- restart, failures, stop --------------------------------------------------------------

async def test_a_restart_keeps_who_is_inside(access, store, barriers, bus, clock, audit):
    store.open_rows = [ParkingSession(7, "plate", "GX512K", "P1", "IN", T0 - timedelta(hours=2),
                                      plate="GX512K", account_id=ANNA, credential_id=1)]
    gate = GateService(SITE, access, store, barriers, None, bus, clock, audit)
    await gate.start()
    try:
        assert gate.occupancy("P1") == (1, 3)
        read(bus, clock, "GX512K")
        await settle()
        assert access.statuses() == ["AntiPassback"]
        card(bus, clock, "04A1B2C3", "OUT")
        await settle()
        assert store.closed == [(7, "OUT", "exit")]
    finally:
        await gate.stop()


async def test_failures_are_warnings_never_errors(access, store, barriers, bus, clock, audit,
                                                  caplog):
    store.fail = True
    gate = GateService(SITE, access, store, barriers, None, bus, clock, audit)
    await gate.start()  # load fails: starts empty
    try:
        assert warnings(caplog, "parking_load_failed")
        barriers["BAR-IN"].error = ConnectionResetError("relay module gone")
        read(bus, clock, "GX512K")
        await settle()
        assert warnings(caplog, "gate_barrier_failed")
        assert warnings(caplog, "parking_db_failed")
        assert gate.occupancy("P1") == (1, 3)  # the decision stands in memory
        card(bus, clock, "04A1B2C3", "OUT")
        await settle()
        assert gate.occupancy("P1") == (0, 3)
        barriers["BAR-OUT"].fault = "cannot connect"
        clock.advance(60)
        read(bus, clock, "HT007B")
        await settle()
        read(bus, clock, "HT007B", camera="CAM-OUT")
        await settle()
        assert len(warnings(caplog, "gate_barrier_failed")) == 3  # one per car held up
        access.error = RuntimeError("index being rebuilt")
        read(bus, clock, "ZZ999Z")
        await settle()
        assert warnings(caplog, "gate_read_failed")
    finally:
        await gate.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_missing_driver_is_a_warning(access, store, bus, clock, audit, caplog):
    gate = GateService(SITE, access, store, {}, None, bus, clock, audit)
    await gate.start()
    try:
        read(bus, clock, "GX512K")
        await settle()
        assert warnings(caplog, "gate_barrier_missing")
    finally:
        await gate.stop()


async def test_an_exit_while_the_entry_is_still_being_stored(gate, bus, clock, store):
    store.delay = 0.05
    read(bus, clock, "GX512K")
    await settle()
    card(bus, clock, "04A1B2C3", "OUT")
    await settle()
    assert store.closed == []  # waits for the id
    await asyncio.sleep(0.1)
    assert store.closed == [(1, "OUT", "exit")]


async def test_stop_cancels_pulses_and_unsubscribes(access, store, barriers, bus, clock,
                                                    audit):
    barriers["BAR-IN"].hang = True
    gate = GateService(SITE, access, store, barriers, None, bus, clock, audit)
    await gate.start()
    read(bus, clock, "GX512K")
    await settle()
    await gate.stop()
    assert all(t.done() for t in gate._tasks) and not gate._tasks
    read(bus, clock, "ZZ999Z")
    await settle()
    assert len(access.decisions) == 1


async def test_card_at_unknown_lane(gate, bus, clock, caplog):
    card(bus, clock, "04A1B2C3", "NOPE")
    assert warnings(caplog, "gate_unknown_lane")
    with pytest.raises(KeyError):
        gate.lane_full("NOPE")


async def test_an_unsure_read_then_a_sure_one_of_the_same_plate(gate, bus, clock, access):
    read(bus, clock, "GX512K", confidence=0.5)
    clock.advance(0.5)
    read(bus, clock, "GX512K", confidence=0.55)  # no second prompt
    clock.advance(0.5)
    read(bus, clock, "GX512K", confidence=0.9)
    await settle()
    assert access.statuses() == ["Accepted"]
    assert gate.pending("IN") is None
    clock.advance(3)
    read(bus, clock, "GX512K", confidence=0.4)  # driving off: no prompt after the passage
    assert gate.pending("IN") is None


async def test_a_read_published_off_the_loop_thread_is_handed_to_the_loop(gate, bus, clock,
                                                                          access, barriers):
    threads = []
    decide = access.decide_gate

    def on_which_thread(*args, **kwargs):
        threads.append(threading.get_ident())
        return decide(*args, **kwargs)

    access.decide_gate = on_which_thread
    await asyncio.to_thread(read, bus, clock, "GX512K")
    await settle()
    assert threads == [threading.get_ident()]
    assert access.statuses() == ["Accepted"]
    assert barriers["BAR-IN"].reasons == ["GX512K: permit holder"]


async def test_stop_lets_session_writes_finish(access, store, barriers, bus, clock, audit,
                                               events):
    store.delay = 0.05
    gate = GateService(SITE, access, store, barriers, None, bus, clock, audit)
    await gate.start()
    read(bus, clock, "GX512K")
    await gate.stop()
    assert [s.id for s in gate.open_sessions()] == [1]
    assert changes(events) == [(True, "GX512K", 1)]


async def test_a_permit_holder_refused_at_the_exit_gets_the_attendant(gate, bus, clock,
                                                                     access, barriers):
    """Hard anti-passback refuses an exit with no entry on record (an entry misread): the
    car cannot turn back, so the lane asks the attendant instead of leaving it stuck."""
    read(bus, clock, "GX512K", camera="CAM-OUT")
    await settle()
    assert access.statuses() == ["AntiPassback"]
    prompt = gate.pending("OUT")
    assert prompt is not None and prompt.status == "AntiPassback"
    assert "no entry recorded" in prompt.reason
    assert not barriers["BAR-OUT"].reasons  # nothing opened by itself


async def test_a_read_waits_for_the_vehicle_on_the_loop(gate, bus, clock, access, barriers):
    """A lane with a loop: a plate read with nobody on the loop opens nothing until the
    car arrives on it; a held read that waited too long is dropped."""
    from app.domain.events import VehiclePresenceChanged

    barriers["BAR-IN"].vehicle_present = False
    read(bus, clock, "GX512K")
    await settle()
    assert access.statuses() == [] and not barriers["BAR-IN"].reasons
    assert gate.vehicle_present("IN") is False
    barriers["BAR-IN"].vehicle_present = True
    bus.publish(VehiclePresenceChanged(at=clock(), barrier_id="BAR-IN", present=True))
    await settle()
    assert access.statuses() == ["Accepted"] and len(barriers["BAR-IN"].reasons) == 1

    barriers["BAR-IN"].vehicle_present = False
    clock.advance(600)
    read(bus, clock, "ZZ999Z")
    await settle()
    clock.advance(11)  # longer than a read is held
    bus.publish(VehiclePresenceChanged(at=clock(), barrier_id="BAR-IN", present=True))
    await settle()
    assert access.statuses() == ["Accepted"]


async def test_an_unpaid_bill_keeps_the_exit_closed_until_the_attendant_lets_it_go(
        gate, bus, clock, access, barriers, audit):
    owed = {"reason": "unpaid bill: 8.25 EUR due"}
    gate.exit_check = lambda session_id: owed["reason"]
    read(bus, clock, "GX512K")  # in
    await settle()
    clock.advance(3600)
    read(bus, clock, "GX512K", camera="CAM-OUT")
    await settle()
    assert not barriers["BAR-OUT"].reasons  # held: nothing opened
    prompt = gate.pending("OUT")
    assert prompt.status == "Unpaid" and "8.25 EUR" in prompt.reason
    assert len(gate.open_sessions()) == 1
    await gate.allow_pending("OUT", "att", "pays by invoice")  # the override, audited
    assert gate.open_sessions() == () and [a[1] for a in audit] == [MANUAL_RAISE]
    # Paid: the next car's exit opens by itself.
    owed["reason"] = None
    clock.advance(600)
    read(bus, clock, "HT007B")
    await settle()
    clock.advance(600)
    read(bus, clock, "HT007B", camera="CAM-OUT")
    await settle()
    assert gate.pending("OUT") is None and gate.open_sessions() == ()


async def test_paid_at_the_booth_the_waiting_car_goes_through(gate, bus, clock, barriers):
    owed = {"reason": "unpaid bill: 4.50 EUR due"}
    gate.exit_check = lambda session_id: owed["reason"]
    read(bus, clock, "GX512K")
    await settle()
    clock.advance(3600)
    read(bus, clock, "GX512K", camera="CAM-OUT")
    await settle()
    assert gate.pending("OUT").status == "Unpaid"
    assert gate.retry_pending("OUT").allowed is True  # still owed: it stays held...
    assert gate.pending("OUT") is not None and not barriers["BAR-OUT"].reasons
    owed["reason"] = None  # ...paid at the booth
    assert gate.retry_pending("OUT").allowed
    await settle()
    assert gate.pending("OUT") is None and len(barriers["BAR-OUT"].reasons) == 1
    assert gate.open_sessions() == ()
