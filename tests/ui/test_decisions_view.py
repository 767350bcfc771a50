"""The live decisions log and the Access/Decisions tabs of the main window, on a real core
(build_core, real SQLite file) on a qasync loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.bootstrap import build_core
from app.domain.access import Account, CredentialKind
from app.domain.access_rules import GateFacts
from app.domain.events import AccessDecided
from tests.helpers.approval import supervisor
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.models.access import DecisionRow, DecisionTableModel, result_colors
from ui.models.common import format_local
from ui.views.decisions_view import DecisionsView
from ui.views.main_window import MainWindow

C = DecisionTableModel


def test_decisions_arrive_live_newest_on_top_coloured_and_filtered(qapp, tmp_path):
    async def scenario():
        core = await build_core(loopback_settings(tmp_path))
        await core.start()
        bridge = CoreBridge(core)
        view = DecisionsView(core, bridge)
        view.resize(900, 500)
        try:
            access = core.access
            account_id = await access.save_account("t", Account(0, "Lia Log",
                                                                 group_id="staff"))
            await access.add_credential("t", account_id, CredentialKind.PLATE, "LG-100-X")
            await access.add_credential("t", account_id, CredentialKind.RFID, "04CAFE01")
            await access.add_block("t", CredentialKind.PLATE, "BL-666-K", "Repeat offender")
            entry = next(lane for lane in core.site.lanes if lane.id == "LANE-IN")
            zone = core.site.zones[0].id
            access.decide_gate(CredentialKind.PLATE, "LG100X",
                               GateFacts(entry=True, zone_id=zone), lane_id=entry.id)
            access.decide_gate(CredentialKind.PLATE, "BL666K",
                               GateFacts(entry=True, zone_id=zone), lane_id=entry.id)
            charger = core.site.chargers[0].id
            access.decide_charger("04CAFE01", charger_id=charger, connector_id=2)
            await wait_for(lambda: view.model.rowCount() == 3)
            rows = view.rows()
            # newest on top: the charger, then the blocked plate, then the accepted one
            assert rows[0][C.COL_PLACE] == f"{charger} / 2"
            assert rows[0][C.COL_CRED] == "04CAFE01"
            assert rows[0][C.COL_ACCOUNT] == "Lia Log"
            assert rows[0][C.COL_RESULT] == "Accepted"
            assert rows[1][C.COL_PLACE] == entry.name
            assert rows[1][C.COL_RESULT] == "Blocked"
            assert "Repeat offender" in rows[1][C.COL_REASON]
            assert rows[2][C.COL_CRED] == "LG100X"
            assert rows[2][C.COL_ACCOUNT] == "Lia Log"
            # coloured by result
            m = view.model
            green, red = result_colors("Accepted")[0], result_colors("Blocked")[0]
            assert m.index(0, 0).data(8).color() == green  # BackgroundRole
            assert m.index(1, 3).data(8).color() == red
            assert green != red and green != QColor("#ffffff")
            # the local time of the decision
            assert rows[0][C.COL_TIME] == format_local(m.row(0).at)
            # the whole decision under the table for the selected row
            view.table.selectRow(1)
            assert "Repeat offender" in view.detail_label.text()

            view.refused_check.setChecked(True)
            assert [r[C.COL_RESULT] for r in view.rows()] == ["Blocked"]
            view.refused_check.setChecked(False)
            view.filter_edit.setText("lg100")
            assert [r[C.COL_CRED] for r in view.rows()] == ["LG100X"]
            view.filter_edit.clear()

            view.pause_check.setChecked(True)
            access.decide_gate(CredentialKind.PLATE, "QQ111Q",
                               GateFacts(entry=True, zone_id=zone), lane_id=entry.id)
            assert view.model.rowCount() == 3
            assert "1 waiting" in view.count_label.text()
            view.pause_check.setChecked(False)
            assert view.rows()[0][C.COL_CRED] == "QQ111Q"
        finally:
            bridge.close()
            await core.stop()
            view.close()
            shiboken6.delete(view)

    run_on_qasync(qapp, scenario())


def _row(n: int) -> DecisionRow:
    return DecisionRow(at=datetime(2026, 1, 1, 12, 0, n % 60, tzinfo=UTC), point="gate",
                       place="LANE-IN", kind="plate", value=f"P{n}", status="Accepted",
                       reason="permit holder", account="")


def test_the_log_is_capped_the_oldest_fall_off(qapp):
    model = DecisionTableModel({"LANE-IN": "Entry A"}, cap=5)
    for n in range(12):
        model.add(_row(n))
    assert model.rowCount() == 5
    assert [model.index(r, C.COL_CRED).data() for r in range(5)] == [
        "P11", "P10", "P9", "P8", "P7"]
    assert model.index(0, C.COL_PLACE).data() == "Entry A"


def test_an_event_with_violation_shows_it_with_the_reason(qapp):
    model = DecisionTableModel()
    ev = AccessDecided(at=datetime(2026, 1, 1, tzinfo=UTC), point="gate", place="L",
                       kind="plate", value="AB12CD", status="Accepted", reason="exit",
                       account_name="X", violation="anti-passback: no entry recorded")
    model.add(DecisionRow.from_event(ev))
    assert model.index(0, C.COL_REASON).data() == "exit · anti-passback: no entry recorded"


def test_main_window_has_access_and_decisions_tabs(qapp, tmp_path):
    async def scenario():
        core = await build_core(loopback_settings(tmp_path))
        await core.start()
        bridge = CoreBridge(core)
        window = MainWindow(core, bridge)
        window.show()
        try:
            assert window.access_dock is not None and window.decisions_dock is not None
            window.show_access("accounts")
            page = window.access_view.accounts
            await wait_for(lambda: page.model.rowCount() == len(core.access.data.accounts))
            if page.model.rowCount():
                page.table.selectRow(0)
                assert page.detail.title_label.isVisibleTo(page.detail)
            for name in ("groups", "blocklist", "settings", "accounts"):
                window.show_access(name)
                assert window.access_view.currentWidget() is getattr(window.access_view,
                                                                     name)
            window.show_access("decisions")
            core.access.decide_charger("nobody", charger_id=core.site.chargers[0].id)
            await wait_for(lambda: window.decisions_view.model.rowCount() == 1)
        finally:
            bridge.close()
            await core.stop()
            window.close()
            window.deleteLater()

    run_on_qasync(qapp, scenario())


def test_a_view_opened_later_shows_the_decisions_made_before(qapp, tmp_path):
    """Decisions are in the database: a console (or a view) opened afterwards lists them
    under the live ones, with the account's name, and none twice."""
    async def scenario():
        core = await build_core(loopback_settings(tmp_path))
        await core.start()
        bridge = CoreBridge(core)
        try:
            access = core.access
            account_id = await access.save_account("t", Account(0, "Ole Older",
                                                                 group_id="staff"))
            await access.add_credential("t", account_id, CredentialKind.RFID, "04OLD001")
            charger = core.site.chargers[0].id
            access.decide_charger("04OLD001", charger_id=charger, connector_id=1)
            access.decide_charger("FFFF0000", charger_id=charger, connector_id=2)
            # The decision rows are queued to the writer thread: wait until they are in.
            for _ in range(100):
                if len(await access.recent_decisions()) >= 2:
                    break
                await asyncio.sleep(0.05)
            view = DecisionsView(core, bridge)
            await wait_for(lambda: view.model.rowCount() == 2)
            rows = view.rows()
            assert [r[C.COL_CRED] for r in rows] == ["FFFF0000", "04OLD001"]
            assert rows[1][C.COL_ACCOUNT] == "Ole Older"
            view.close()
            view.deleteLater()
        finally:
            bridge.close()
            await core.stop()

    run_on_qasync(qapp, scenario())


def test_a_repeat_offenders_plate_decision_carries_the_badge(qapp, tmp_path):
    async def scenario():
        core = await build_core(loopback_settings(tmp_path))
        await core.start()
        bridge = CoreBridge(core)
        view = DecisionsView(core, bridge)
        view.resize(900, 500)
        try:
            enf = core.enforcement
            first = await enf.issue_fee("attendant", kind="idle", plate="RP-200-X",
                                        reason="idle at EV-03", amount=500)
            second = await enf.issue_fee("attendant", kind="overstay", plate="RP-200-X",
                                         reason="over 4 h", amount=2500)
            access = core.access
            entry = next(lane for lane in core.site.lanes if lane.id == "LANE-IN")
            zone = core.site.zones[0].id
            access.decide_gate(CredentialKind.PLATE, "RP-200-X",
                               GateFacts(entry=True, zone_id=zone), lane_id=entry.id)
            access.decide_charger("RP-200-X", charger_id=core.site.chargers[0].id,
                                  connector_id=1)  # a card UID, not a plate: no badge
            access.decide_gate(CredentialKind.PLATE, "QQ111Q",
                               GateFacts(entry=True, zone_id=zone), lane_id=entry.id)
            await wait_for(lambda: view.model.rowCount() == 3)
            rows = view.rows()
            assert rows[2][C.COL_CRED] == "RP-200-X  ⚠ 2"
            assert rows[1][C.COL_CRED] == "RP-200-X"
            assert rows[0][C.COL_CRED] == "QQ111Q"
            tip = view.proxy.index(2, C.COL_TIME).data(Qt.ItemDataRole.ToolTipRole)
            assert tip.endswith(
                "\n\nRepeat offender: 2nd in 90 days\n"
                f"{format_local(second.at)} · Overstay · fee €25.00 · issued\n"
                f"{format_local(first.at)} · Idle after charging · "
                f"{first.step.value} €5.00 · issued")
            assert "Repeat offender" not in view.proxy.index(0, 0).data(
                Qt.ItemDataRole.ToolTipRole)
            view.filter_edit.setText("rp-200")  # the filter matches the plain value
            assert len(view.rows()) == 2
            view.filter_edit.clear()
            view.table.selectRow(2)
            assert "Repeat offender: 2nd in 90 days" in view.detail_label.text()

            # A supervisor waives one: the badge goes, in the row and under the table.
            await enf.waive("supervisor", first.id, "Charger fault", approval=supervisor())
            await wait_for(lambda: "⚠" not in view.rows()[2][C.COL_CRED])
            assert view.rows()[2][C.COL_CRED] == "RP-200-X"
            assert "Repeat offender" not in view.detail_label.text()
        finally:
            bridge.close()
            await core.stop()
            view.close()
            shiboken6.delete(view)

    run_on_qasync(qapp, scenario())
