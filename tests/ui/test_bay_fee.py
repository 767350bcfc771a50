"""Issuing a fee from the bay (issue 7): the attendant opens a charger from the map, picks
the bay in the panel's "Issue fee…" menu, and the Violations tab's fee dialog opens for
that bay with the tariff's proposed amount; the fee carries the bay's OCPP timeline as
evidence and is audited. A real core (demo site, SQLite, qasync) behind a real window."""

from __future__ import annotations

import sqlite3

from app.bootstrap import build_core
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.dialogs.fee import FeeDialog
from ui.views.main_window import MainWindow


def test_issue_a_fee_from_the_bay(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        window = MainWindow(core, bridge)
        try:
            panel = window.open_charger_panel("CP-01")
            assert not panel.fee_button.isHidden()
            actions = panel.fee_button.menu().actions()
            assert [a.text() for a in actions] == ["Bay EV 01", "Bay EV 02"]
            actions[1].trigger()
            dialog = window.violations_view.dialog
            assert isinstance(dialog, FeeDialog) and dialog.isVisible()
            assert dialog.bay_id() == "EV-02"
            dialog.set_kind("idle")
            # The demo tariff proposes its idle penalty.
            assert dialog.amount() == dialog.proposed() == core.enforcement.propose_fee(
                "idle", bay_id="EV-02") == 1500
            dialog.plate_edit.setText("ZZ-901-K")
            dialog.reason_edit.setText("Fully charged, blocking the bay for an hour")
            dialog.accept()
            view = window.violations_view
            await wait_for(lambda: len(view.violation_ids()) == 1 and not view.in_flight(), 10)
            violation = view.violations[view.violation_ids()[0]]
            assert (violation.bay_id, violation.amount, violation.plate) == (
                "EV-02", 1500, "ZZ901K")
            assert violation.evidence["charger_id"] == "CP-01"
            assert violation.evidence["connector_id"] == 2
            assert "timeline" in violation.evidence
        finally:
            window.close()
            bridge.close()
            await core.stop()
        return core

    core = run_on_qasync(qapp, scenario())
    db = sqlite3.connect(core.settings.data_dir / "demo.db")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log")]
    db.close()
    assert "violation_issued" in actions
