"""EnforcementService with fakes: the real ladder and bus, a fake store, access and gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import DEFAULT_GROUPS, AccessData, Account, Credential, CredentialKind
from app.domain.access_rules import AccessIndex
from app.domain.enforcement import (
    Ladder,
    StepKind,
    Violation,
    ViolationKind,
    ViolationStatus,
)
from app.domain.events import BindingIssueChanged, ParkingSessionChanged, ViolationChanged
from app.domain.site import Bay, Site
from app.services.bus import EventBus
from app.services.enforcement import (
    AUDIT_ADJUST,
    AUDIT_ISSUE,
    AUDIT_LADDER,
    AUDIT_WAIVE,
    SYSTEM_ACTOR,
    EnforcementService,
    FeeContext,
)
from app.services.staff import Approval, Role, SupervisorRequired
from tests.helpers.approval import supervisor
from tests.helpers.fakes import FakeClock

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SITE = Site(name="t", bays=(Bay("B1", "EV 1", "Z", "CP-1", 1, "CAM-ROW"),
                            Bay("B2", "EV 2", "Z", None, None, None)))
ANNA = 1
DATA = AccessData(groups=DEFAULT_GROUPS,
                  accounts=(Account(ANNA, "Anna", group_id="resident"),),
                  credentials=(Credential(1, ANNA, CredentialKind.PLATE, "GX512K"),
                               Credential(2, ANNA, CredentialKind.PLATE, "GX513K")))


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[int, Violation] = {}
        self.sessions: dict[int, dict] = {}
        self.reads: list[dict] = []
        self.timeline: list[dict] = []
        self.asked: list[tuple] = []

    @staticmethod
    def _copy(v: Violation) -> Violation:
        return Violation(**{k: getattr(v, k) for k in v.__slots__})

    async def insert(self, violation: Violation) -> int:
        new_id = len(self.rows) + 1
        self.rows[new_id] = self._copy(violation)
        self.rows[new_id].id = new_id
        return new_id

    async def update(self, violation: Violation) -> None:
        self.rows[violation.id] = self._copy(violation)

    async def get(self, violation_id: int) -> Violation | None:
        row = self.rows.get(violation_id)
        return self._copy(row) if row else None

    async def history(self, plate, account_id, *, limit=200):
        return [self._copy(v) for v in reversed(self.rows.values()) if v.of(plate, account_id)]

    async def since(self, at):
        return [self._copy(v) for v in self.rows.values() if v.at > at]

    async def camera_reads(self, camera_id, since, until, plates=(), limit=20):
        self.asked.append(("reads", camera_id, since, until, plates))
        return [r for r in self.reads if not plates or r["plate"] in plates]

    async def connector_timeline(self, charger_id, connector_id, since, until):
        self.asked.append(("timeline", charger_id, connector_id, since, until))
        return list(self.timeline)

    async def save_ladder(self, data):
        self.ladder = data

    async def parking_session(self, session_id):
        return self.sessions.get(session_id)


class FakeAccess:
    def __init__(self) -> None:
        self.index = AccessIndex(DATA)
        self.blocks: list[tuple] = []
        self.removed: list[tuple] = []

    async def add_block(self, actor, kind, value, reason, until=None) -> int:
        self.blocks.append((actor, kind, value, reason, until))
        return 40 + len(self.blocks)

    async def remove_block(self, actor, block_id) -> None:
        self.removed.append((actor, block_id))


@dataclass
class _Session:
    id: int


class FakeGate:
    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def session_of(self, value):
        return _Session(self.open[value]) if value in self.open else None


@pytest.fixture
def world():
    clock, bus, store, access, gate = FakeClock(T0), EventBus(), FakeStore(), FakeAccess(), \
        FakeGate()
    audited: list[tuple] = []
    events: list = []
    bus.subscribe(events.append, ViolationChanged)
    service = EnforcementService(SITE, store, bus, clock,
                                 lambda *a: audited.append(a), access=access, gate=gate)
    return service, clock, bus, store, access, gate, audited, events


def ice(issue_id: int, plates=("GX-512-K",), bay="B1", at=T0, open_=True):
    return BindingIssueChanged(at=at, issue_id=issue_id, kind="ice", bay_id=bay,
                               detail="occupied 15 min", open=open_, plates=plates)


async def test_ice_ladder_warning_fee_ban(world) -> None:
    service, clock, bus, store, access, gate, audited, events = world
    await service.start()
    gate.open["GX512K"] = 77
    store.reads = [{"read_id": 5, "at": T0, "plate": "GX512K", "snapshot": "ev/5.jpg"},
                   {"read_id": 6, "at": T0, "plate": "OTHER1", "snapshot": "ev/6.jpg"}]
    store.timeline = [{"at": T0 - timedelta(hours=2), "status": "Available"}]
    bus.publish(ice(1))
    await service.idle()
    [first] = store.rows.values()
    assert (first.kind, first.step, first.status, first.amount) == (
        ViolationKind.ICE, StepKind.WARNING, ViolationStatus.ISSUED, 0)
    assert (first.plate, first.account_id, first.parking_session_id) == ("GX512K", ANNA, 77)
    assert [r["snapshot"] for r in first.evidence["reads"]] == ["ev/5.jpg"]
    assert first.evidence["timeline"][0]["at"] == (T0 - timedelta(hours=2)).isoformat()
    assert first.evidence["issue_id"] == 1 and first.actor == SYSTEM_ACTOR
    bus.publish(ice(1))  # the same issue again: nothing new
    clock.advance(3600)
    bus.publish(ice(2, plates=("GX513K",)))  # another plate of Anna's account
    await service.idle()
    assert [(v.step, v.amount) for v in store.rows.values()] == [
        (StepKind.WARNING, 0), (StepKind.FEE, 2500)]
    clock.advance(3600)
    bus.publish(ice(3))
    await service.idle()
    third = store.rows[3]
    assert (third.step, third.amount) == (StepKind.BAN, 5000)
    [(actor, kind, value, _reason, until)] = access.blocks
    assert (actor, kind, value) == (SYSTEM_ACTOR, CredentialKind.PLATE, "GX512K")
    assert until == clock.now + timedelta(days=30)
    assert third.evidence["ban"]["block_id"] == 41
    assert [(e.violation_id, e.step, e.offences) for e in events] == [
        (1, "warning", 1), (2, "fee", 2), (3, "ban", 3)]
    level = service.offender_level("gx 512 k")
    assert (level.count, level.last_step) == (3, StepKind.BAN)
    assert service.offender_level("NOBODY1").clean
    assert audited == []  # automatic: the block is audited by the access service


async def test_ice_without_plate_is_the_bays_and_closed_issues_ignored(world) -> None:
    service, _clock, bus, store, _access, *_ = world
    await service.start()
    bus.publish(ice(9, plates=(), bay="B2"))
    bus.publish(ice(10, open_=False))
    bus.publish(BindingIssueChanged(at=T0, issue_id=11, kind="conflict", bay_id="B1",
                                    detail="", open=True))
    await service.idle()
    [v] = store.rows.values()
    assert (v.plate, v.bay_id, v.step, v.account_id) == ("", "B2", StepKind.WARNING, None)
    assert "reads" not in v.evidence  # no camera, no charger at B2


async def test_overstay_on_close(world) -> None:
    service, _clock, bus, store, *_ = world
    await service.start()
    store.sessions[5] = {"plate": "GX512K", "account_id": ANNA, "kind": "plate",
                         "entry_at": T0 - timedelta(hours=5), "exit_at": T0,
                         "entry_lane": "IN", "exit_lane": "OUT"}
    bus.publish(ParkingSessionChanged(at=T0, session_id=5, zone_id="Z", opened=False,
                                      value="GX512K", occupancy=0, capacity=10,
                                      overstay_min=0))
    bus.publish(ParkingSessionChanged(at=T0, session_id=5, zone_id="Z", opened=False,
                                      value="GX512K", occupancy=0, capacity=10,
                                      overstay_min=42))
    await service.idle()
    [v] = store.rows.values()
    assert (v.kind, v.plate, v.account_id, v.parking_session_id) == (
        ViolationKind.OVERSTAY, "GX512K", ANNA, 5)
    assert v.evidence["overstay_min"] == 42
    assert v.evidence["entry_at"] == (T0 - timedelta(hours=5)).isoformat()


async def test_attendant_fee_proposed_by_the_tariff_with_evidence(world) -> None:
    service, _clock, _bus, store, _access, gate, audited, _events = world
    asked: list[FeeContext] = []
    service.propose_fee_hook = lambda ctx: asked.append(ctx) or 1234
    await service.start()
    gate.open["GX512K"] = 77
    store.reads = [{"read_id": 5, "at": T0, "plate": "GX512K", "snapshot": "ev/5.jpg"}]
    assert service.propose_fee("idle", plate="GX512K", bay_id="B1", minutes=20) == 1234
    v = await service.issue_fee("attendant.bob", kind="idle", bay_id="B1", plate="GX512K",
                                reason="idle 40 min after charging", minutes=40)
    assert (v.amount, v.step, v.parking_session_id, v.actor) == (
        1234, StepKind.FEE, 77, "attendant.bob")
    assert asked[-1].minutes == 40 and asked[-1].account_id == ANNA
    assert v.evidence["reads"][0]["snapshot"] == "ev/5.jpg" and "timeline" in v.evidence
    [(actor, action, target, details)] = audited
    assert (actor, action, target) == ("attendant.bob", AUDIT_ISSUE, f"violation:{v.id}")
    assert details["amount"] == 1234
    # An explicit amount wins; without a hook the ladder's step proposes.
    service.propose_fee_hook = None
    assert service.propose_fee("overstay", plate="GX512K") == 2500  # 2nd: the fee step
    v2 = await service.issue_fee("attendant.bob", kind="overstay", parking_session_id=None,
                                 plate="ZZ999", amount=300, reason="r")
    assert (v2.amount, v2.plate, v2.parking_session_id) == (300, "ZZ999", None)
    with pytest.raises(ValueError):
        await service.issue_fee("attendant.bob", kind="idle", reason="r")
    with pytest.raises(ValueError):
        await service.issue_fee("attendant.bob", kind="idle", parking_session_id=999,
                                reason="r")


async def test_supervisor_waive_and_adjust(world) -> None:
    service, clock, bus, store, access, _gate, audited, events = world
    await service.start()
    for n in (1, 2, 3):
        bus.publish(ice(n))
        await service.idle()
        clock.advance(60)
    fee = await service.adjust("sup.sue", 2, 1000, "first time this year",
                               approval=supervisor("sup.sue"))
    assert (fee.status, fee.amount, fee.resolved_by) == (ViolationStatus.ADJUSTED, 1000,
                                                         "sup.sue")
    assert fee.evidence["changes"][0]["amount_before"] == 2500
    banned = await service.waive("sup.sue", 3, "camera misread", approval=supervisor("sup.sue"))
    assert (banned.status, store.rows[3].status) == (ViolationStatus.WAIVED,
                                                     ViolationStatus.WAIVED)
    assert access.removed == [("sup.sue", 41)]
    assert [a[1] for a in audited] == [AUDIT_ADJUST, AUDIT_WAIVE]
    assert audited[1][3]["reason"] == "camera misread"
    assert [e.status for e in events[-2:]] == ["adjusted", "waived"]
    assert service.offender_level("GX512K").count == 2  # the waived one no longer counts
    with pytest.raises(ValueError):
        await service.waive("sup.sue", 3, "again", approval=supervisor("sup.sue"))
    with pytest.raises(ValueError):
        await service.waive("sup.sue", 1, "  ", approval=supervisor("sup.sue"))
    with pytest.raises(ValueError):
        await service.adjust("sup.sue", 1, -1, "r", approval=supervisor("sup.sue"))
    with pytest.raises(SupervisorRequired):
        await service.waive("att.bob", 1, "no supervisor here")
    with pytest.raises(SupervisorRequired, match=r"att\.bob is attendant"):
        await service.adjust("att.bob", 1, 0, "an attendant's approval",
                             approval=Approval("att.bob", "", Role.ATTENDANT, clock()))
    history = await service.history("GX513K")  # Anna's other plate: the account's history
    assert [v.id for v in history] == [3, 2, 1]
    assert [v.id for v in await service.history(ANNA)] == [3, 2, 1]


async def test_start_loads_the_window_and_a_custom_ladder(world) -> None:
    service, clock, bus, store, access, _gate, _audited, _events = world
    old = Violation(id=0, kind=ViolationKind.ICE, at=T0 - timedelta(days=10),
                    step=StepKind.WARNING, status=ViolationStatus.ISSUED, plate="GX512K",
                    evidence={"issue_id": 1})
    await store.insert(old)
    service.ladder = Ladder.from_dict({"window_days": 5, "steps": [
        {"kind": "warning"}, {"kind": "ban", "ban_days": 2}]})
    await service.start()
    assert service.offender_level("GX512K").clean  # outside the 5-day window
    bus.publish(ice(2))
    await service.idle()
    assert store.rows[2].step is StepKind.WARNING
    bus.publish(ice(3))
    await service.idle()
    assert store.rows[3].step is StepKind.BAN and store.rows[3].amount == 0
    assert access.blocks[0][4] == clock.now + timedelta(days=2)
    await service.stop()
    bus.publish(ice(4))
    await service.idle()
    assert len(store.rows) == 3


async def test_a_supervisor_changes_the_ladder_stored_audited_and_applied_at_once(world):
    service, clock, bus, store, _access, _gate, audited, _events = world
    await service.start()
    for n in range(1, 3):
        bus.publish(ice(n))
        await service.idle()
        clock.advance(60)
    assert service.next_step("GX512K").kind is StepKind.BAN  # 2 in 90 days: the default
    new = {"window_days": 30, "steps": [{"kind": "warning"}, {"kind": "warning"},
                                        {"kind": "fee", "amount": 1000}]}
    with pytest.raises(SupervisorRequired):
        await service.set_ladder("att.bob", new)
    with pytest.raises(ValueError, match=r"ladder\.steps\[0\]\.amount"):
        await service.set_ladder("att.bob", {**new, "steps": [{"kind": "fee"}]},
                                 approval=supervisor("sup.sue"))
    ladder = await service.set_ladder("att.bob", new, approval=supervisor("sup.sue"))
    assert store.ladder == ladder.to_dict() == new
    assert service.ladder.window_days == 30
    step = service.next_step("GX512K")  # the third offence: a fee now, no ban
    assert (step.kind, step.amount) == (StepKind.FEE, 1000)
    actor, action, target, detail = audited[-1]
    assert (actor, action, target, detail["approved_by"]) == (
        "att.bob", AUDIT_LADDER, "enforcement:ladder", "sup.sue")
    assert detail["before"]["window_days"] == 90 and detail["after"] == new
    await service.stop()
