"""Enforcement on a real core (demo site, SQLite file): ICE issues climb the ladder
(warning -> fee -> ban) and the banned plate is refused at the entry lane; an attendant's
fee carries the bay's evidence (snapshots, the connector's status timeline) and the
parking session; a supervisor waives it; all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert, select

from app.adapters.db import tables as t
from app.domain.access import CredentialKind
from app.domain.events import AccessDecided, BindingIssueChanged, PlateRead, ViolationChanged
from app.domain.timeutil import utc_now
from app.services.enforcement import (
    AUDIT_ISSUE,
    AUDIT_WAIVE,
    SYSTEM_ACTOR,
)
from tests.helpers.approval import supervisor
from tests.helpers.waiting import wait_for

WAIT = 10.0


def rows(settings, table, *where) -> list:
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(table).where(*where).order_by(table.c.id)).all()
    finally:
        engine.dispose()


def seed(settings, table, *values: dict) -> None:
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), list(values))
    finally:
        engine.dispose()


@pytest.fixture
def enforcement(core):
    return core.enforcement


@pytest.fixture
def seen(core) -> list:
    events: list = []
    core.bus.subscribe(events.append, ViolationChanged)
    core.bus.subscribe(events.append, AccessDecided)
    return events


def bay_evidence(settings, plate: str) -> None:
    """A bay camera read with its snapshot and the connector's statuses (EV-02 is
    CP-01/2 under CAM-BAY-A)."""
    now = utc_now()
    seed(settings, t.plate_reads,
         {"at": now - timedelta(minutes=16), "camera_id": "CAM-BAY-A", "plate": plate,
          "raw": plate, "confidence": 0.9, "source": "test",
          "snapshot": "evidence/cam-bay-a/1.jpg", "merged": 1})
    seed(settings, t.status_changes,
         {"charger_id": "CP-01", "connector_id": 2, "status": "Available",
          "error_code": "NoError", "at": now - timedelta(hours=3)},
         {"charger_id": "CP-01", "connector_id": 2, "status": "Preparing",
          "error_code": "NoError", "at": now - timedelta(minutes=15)})


def ice(core, issue_id: int, plate: str) -> None:
    core.bus.publish(BindingIssueChanged(at=utc_now(), issue_id=issue_id, kind="ice",
                                         bay_id="EV-02", detail="occupied, no session",
                                         open=True, plates=(plate,), charger_id="CP-01"))


async def test_ice_ladder_warning_fee_ban_then_refused_at_the_gate(
        core, settings, enforcement, seen) -> None:
    bay_evidence(settings, "KL093T")
    for issue_id, count in ((9001, 1), (9002, 2), (9003, 3)):
        ice(core, issue_id, "KL-093-T")
        await wait_for(lambda n=count: len(rows(settings, t.violations)) == n, WAIT)
        await enforcement.idle()
    first, second, third = rows(settings, t.violations)
    assert [(r.kind, r.step, r.amount, r.status) for r in (first, second, third)] == [
        ("ice", "warning", 0, "issued"), ("ice", "fee", 2500, "issued"),
        ("ice", "ban", 5000, "issued")]
    assert first.plate == "KL093T" and first.account_id is not None
    assert first.bay_id == "EV-02" and first.actor == SYSTEM_ACTOR
    assert [r["snapshot"] for r in first.evidence["reads"]] == ["evidence/cam-bay-a/1.jpg"]
    assert [s["status"] for s in first.evidence["timeline"]] == ["Available", "Preparing"]
    assert third.evidence["ban"]["days"] == 30
    [block] = rows(settings, t.blocklist)
    assert (block.kind, block.value) == ("plate", "KL093T")
    assert block.id == third.evidence["ban"]["block_id"]
    audit = rows(settings, t.audit_log, t.audit_log.c.action == "access_blocklisted")
    assert [(a.actor, a.target) for a in audit] == [(SYSTEM_ACTOR, "plate:KL093T")]
    level = enforcement.offender_level("KL-093-T")
    assert (level.count, level.last_step.value) == (3, "ban")
    assert [e.step for e in seen if isinstance(e, ViolationChanged)] == ["warning", "fee",
                                                                          "ban"]
    # The banned car comes to the entry lane: refused.
    assert core.access.index.block_entry(CredentialKind.PLATE, "KL093T", utc_now())
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate="KL-093-T",
                               confidence=0.95, source="test"))
    await wait_for(lambda: any(isinstance(e, AccessDecided) and e.point == "gate"
                               for e in seen), WAIT)
    [decision] = [e for e in seen if isinstance(e, AccessDecided)]
    assert decision.status == "Blocked" and "repeat offender" in decision.reason
    assert core.gate.session_of("KL093T") is None


async def test_attendant_fee_with_evidence_then_waived(core, settings, enforcement,
                                                       seen) -> None:
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate="GX-512-K",
                               confidence=0.95, source="test"))
    await wait_for(lambda: (s := core.gate.session_of("GX512K")) is not None and s.id > 0,
                   WAIT)
    session_id = core.gate.session_of("GX512K").id
    bay_evidence(settings, "GX512K")
    enforcement.propose_fee_hook = lambda ctx: 750  # the tariff's idle fee (billing)
    assert enforcement.propose_fee("idle", plate="GX512K", bay_id="EV-02") == 750
    fee = await enforcement.issue_fee("attendant.bob", kind="idle", bay_id="EV-02",
                                      plate="GX-512-K", reason="idle 40 min", minutes=40)
    [row] = rows(settings, t.violations)
    assert (row.id, row.kind, row.amount, row.status, row.parking_session_id) == (
        fee.id, "idle", 750, "issued", session_id)
    assert row.evidence["reads"][0]["snapshot"] == "evidence/cam-bay-a/1.jpg"
    assert row.evidence["timeline"][-1]["status"] == "Preparing"
    # What billing reads: the stay's issued fees.
    billable = [v.id for v in await enforcement._store.of_session(session_id) if v.billable]
    assert billable == [fee.id]
    waived = await enforcement.waive("supervisor.sue", fee.id, "first idle, courtesy",
                                    approval=supervisor("supervisor.sue"))
    assert waived.status.value == "waived"
    await wait_for(lambda: rows(settings, t.violations)[0].status == "waived", WAIT)
    row = rows(settings, t.violations)[0]
    assert row.resolved_by == "supervisor.sue" and row.resolved_at is not None
    assert row.evidence["changes"][0]["reason"] == "first idle, courtesy"
    await wait_for(lambda: len(rows(settings, t.audit_log, t.audit_log.c.target
                                    == f"violation:{fee.id}")) == 2, WAIT)
    audit = rows(settings, t.audit_log, t.audit_log.c.target == f"violation:{fee.id}")
    assert [(a.actor, a.action) for a in audit] == [("attendant.bob", AUDIT_ISSUE),
                                                    ("supervisor.sue", AUDIT_WAIVE)]
    assert audit[0].details["amount"] == 750
    assert [(e.status, e.amount) for e in seen if isinstance(e, ViolationChanged)] == [
        ("issued", 750), ("waived", 750)]


async def test_a_car_still_inside_past_its_maximum_stay_is_an_overstay_once(
        core, settings, enforcement, seen) -> None:
    # A visitor (maximum stay 4 h) came in 4 h 10 min ago and is still inside.
    core.gate.dedup_s = core.gate.passed_s = 0
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate="ZZ-901-K",
                               confidence=0.95, source="test"))
    await wait_for(lambda: (s := core.gate.session_of("ZZ901K")) is not None and s.id > 0,
                   WAIT)
    session = core.gate.session_of("ZZ901K")
    assert await enforcement.check_overstays() == []  # 0 min in: nothing
    session.entry_at = utc_now() - timedelta(minutes=250)
    [found] = await enforcement.check_overstays()
    assert (found.kind.value, found.plate, found.parking_session_id) == (
        "overstay", "ZZ901K", session.id)
    assert found.evidence["inside"] is True and found.evidence["max_stay_min"] == 240
    assert 9 <= found.evidence["overstay_min"] <= 10
    assert "still inside" in found.reason
    assert await enforcement.check_overstays() == []  # once per stay

    # It leaves: the exit's overstay is the same offence, not a second violation.
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate="ZZ-901-K",
                               confidence=0.95, source="test"))
    await wait_for(lambda: core.gate.session_of("ZZ901K") is None
                   or core.gate.pending("LANE-OUT") is not None, WAIT)
    assert core.gate.session_of("ZZ901K") is None, core.gate.pending("LANE-OUT")
    await enforcement.idle()
    overstays = [r for r in rows(settings, t.violations) if r.kind == "overstay"]
    assert [r.parking_session_id for r in overstays] == [session.id]
    assert [e.kind for e in seen if isinstance(e, ViolationChanged)] == ["overstay"]
