"""The Violations tab on a real core (demo site, SQLite file, qasync): a car enters, the
attendant issues an overstay fee from the dialog (amount prefilled with the proposal,
reason required) -> it lists, is audited and is a fee line on the stay's bill; a waiver
(reason required) drops it from the bill. After a few violations the plate carries the
offender badge in the view and on the lane card's last decision."""

from __future__ import annotations

import sqlite3

from PySide6.QtGui import QImage

from app.bootstrap import build_core
from app.domain.events import PlateRead
from app.domain.timeutil import utc_now
from tests.helpers.approval import approve_in_dialog
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.dialogs.violation_edit import ViolationEditDialog
from ui.views.lane_panel import LanePanel
from ui.views.violations_view import ViolationsView, offender_text, ordinal

PLATE = "HN-447-D"  # a demo driver who pays for parking
OTHER = "ZZ-901-K"  # nobody's plate


def test_ordinal_and_badge_text():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 103)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd"]
    assert offender_text(3, 90) == "3rd in 90 days"
    assert offender_text(0, 90) == ""


def _fee_lines(record) -> list:
    return [ln for ln in record.bill.lines if ln.component == "fee" and ln.amount > 0]


def test_issue_fee_then_waive(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = ViolationsView(core, bridge, actor="supervisor")
        view.resize(560, 700)
        core.gate.dedup_s = core.gate.passed_s = 0
        try:
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=PLATE,
                                       confidence=0.95, source="test"))
            await wait_for(lambda: (s := core.gate.session_of(PLATE)) is not None
                           and s.id > 0, 10)
            sid = core.gate.session_of(PLATE).id
            await wait_for(lambda: not view.in_flight(), 10)
            assert view.violation_ids() == []

            fee = view.ask_fee(plate=PLATE)
            fee.set_kind("overstay")
            proposed = core.enforcement.propose_fee("overstay", plate=PLATE)
            assert fee.amount() == fee.proposed() == proposed
            assert f"stay {sid}" in fee.evidence_label.text()
            assert not fee.ok_button.isEnabled()  # the reason is required
            fee.amount_spin.setValue(25.0)
            fee.reason_edit.setText("Left the car past closing")
            assert fee.ok_button.isEnabled() and fee.amount() == 2500
            fee.accept()
            await wait_for(lambda: len(view.violation_ids()) == 1 and not view.in_flight(), 10)
            vid = view.violation_ids()[0]
            row = view.row_texts(vid)
            assert row[1] == "overstay" and PLATE.replace("-", "") in row[2]
            assert row[4] == "€25.00" and row[5] == "issued"
            assert row[6] == "1st in 90 days"
            assert "Fee issued" in view.result_label.text()
            violation = view.violations[vid]
            assert violation.parking_session_id == sid and violation.actor == "supervisor"

            record = await core.billing.bill(sid)
            assert [ln.amount for ln in _fee_lines(record)] == [2500]

            # Evidence shown for the selected one.
            view.select(vid)
            assert "Left the car past closing" in view.evidence_label.text()
            assert "Issued" in view.evidence_label.text()
            assert view.waive_button.isEnabled() and view.adjust_button.isEnabled()

            # Waive: the reason is required; the fee leaves the bill.
            waive = view.ask_edit("waive")
            assert isinstance(waive, ViolationEditDialog) and not waive.ok_button.isEnabled()
            waive.reason_edit.setText("Barrier was stuck")
            waive.accept()
            await approve_in_dialog(view)
            await wait_for(lambda: view.violations[vid].status == "waived"
                           and not view.in_flight(), 10)
            assert view.row_texts(vid)[5] == "waived"
            assert "Barrier was stuck" in view.evidence_label.text()
            assert not view.waive_button.isEnabled()
            record = await core.billing.bill(sid)
            assert _fee_lines(record) == []
        finally:
            bridge.close()
            await core.stop()
            view.close()
            view.deleteLater()
        return core

    core = run_on_qasync(qapp, scenario())
    db = sqlite3.connect(core.settings.data_dir / "demo.db")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    db.close()
    assert "violation_issued" in actions and "violation_waived" in actions
    assert "staff.approve" in actions  # the demo supervisor approved the waiver


def test_offender_badge_in_view_and_lane_card(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = ViolationsView(core, bridge, actor="attendant")
        panel = LanePanel(core, bridge, actor="attendant")
        core.gate.dedup_s = core.gate.passed_s = 0
        try:
            for i in range(3):
                await core.enforcement.issue_fee("attendant", kind="idle", plate=OTHER,
                                                 reason=f"idle {i}", amount=500)
            await wait_for(lambda: len(view.violation_ids()) == 3 and not view.in_flight(), 10)
            newest = view.violation_ids()[0]
            assert view.row_texts(newest)[6] == "3rd in 90 days"
            view.select(newest)
            assert "3rd in 90 days" in view.header_label.text()
            assert core.enforcement.offender_level(OTHER).count == 3

            # Snapshot thumbnails: loaded from data_dir when the file exists.
            snap = core.settings.data_dir / "snapshots" / "test.png"
            snap.parent.mkdir(parents=True, exist_ok=True)
            image = QImage(64, 48, QImage.Format.Format_RGB32)
            image.fill(0x336699)
            assert image.save(str(snap))
            view._set_thumbs(["snapshots/test.png", "snapshots/missing.png"])
            assert view.thumbnail_count() == 1

            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=OTHER,
                                       confidence=0.95, source="test"))
            entry = next(c for c in panel.cards.values()
                         if "entry" in c.lane_id.lower() or "in" in c.lane_id.lower())
            await wait_for(lambda: "repeat offender" in entry.decision_label.text(), 10)
            assert "⚠ repeat offender (3)" in entry.decision_label.text()
        finally:
            bridge.close()
            await core.stop()
            for w in (view, panel):
                w.close()
                w.deleteLater()

    run_on_qasync(qapp, scenario())


def test_a_supervisor_changes_the_ladder_and_it_stays_changed(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = ViolationsView(core, bridge, actor="attendant")
        try:
            dialog = view.ask_ladder()
            assert dialog.table.rowCount() == 3  # the default: warning, fee, ban
            assert "3rd and later: ban 30 days + €50.00" in dialog.summary_label.text()
            dialog.window_spin.setValue(30)
            dialog.set_step(1, "fee", 0.0)  # a fee of nothing is refused, by name
            assert "2nd offence, amount: a fee step needs an amount" in dialog.error_label.text()
            assert not dialog.ok_button.isEnabled()
            dialog.set_step(1, "fee", 10.0)
            dialog.remove_button.click()  # two steps: warning, then fees
            assert dialog.ok_button.isEnabled()
            assert dialog.summary_label.text() == (
                "1st: warning · 2nd and later: fee €10.00 (within 30 days)")
            dialog.accept()
            await approve_in_dialog(view)
            await wait_for(lambda: core.enforcement.ladder.window_days == 30
                           and not view.in_flight(), 10)
            assert core.enforcement.ladder.to_dict() == {
                "window_days": 30, "steps": [{"kind": "warning"},
                                             {"kind": "fee", "amount": 1000}]}
            assert "Ladder saved" in view.result_label.text()
        finally:
            bridge.close()
            await core.stop()
            view.close()
            view.deleteLater()
        again = await build_core(settings)  # the next start keeps it
        try:
            assert again.enforcement.ladder.window_days == 30
            assert len(again.enforcement.ladder.steps) == 2
        finally:
            await again.stop()
        return core

    core = run_on_qasync(qapp, scenario())
    db = sqlite3.connect(core.settings.data_dir / "demo.db")
    rows = db.execute("SELECT action, details FROM audit_log WHERE action = "
                      "'enforcement_ladder'").fetchall()
    db.close()
    assert len(rows) == 1 and '"approved_by": "supervisor"' in rows[0][1]
