"""The Bills tab on a real core (demo site with its seeded tariff, SQLite file, qasync):
a car enters (backdated 3 hours), its stay lists with an itemized bill; a waiver (audited)
and a payment recompute it through BillChanged; the receipt saves as a PDF; the car leaves
and the paid stay stays listed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.adapters.db import tables as t
from app.bootstrap import build_core
from app.domain.events import PlateRead
from app.domain.timeutil import utc_now
from tests.helpers.approval import approve_in_dialog, supervisor
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.models.common import format_local
from ui.receipt import money, receipt_html
from ui.views.bills_view import BillsView

PLATE = "HN-447-D"  # a demo driver who pays for parking


def test_money_formats_minor_units():
    assert money(0) == "€0.00"
    assert money(1234) == "€12.34"
    assert money(-5, "EUR") == "-€0.05"
    assert money(123456789, "SEK") == "SEK 1,234,567.89"


def test_bill_payment_waiver_and_receipt(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = BillsView(core, bridge, actor="supervisor")
        view.resize(560, 700)
        core.gate.dedup_s = core.gate.passed_s = 0
        try:
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=PLATE,
                                       confidence=0.95, source="test"))
            await wait_for(lambda: (s := core.gate.session_of(PLATE)) is not None
                           and s.id > 0, 10)
            sid = core.gate.session_of(PLATE).id

            def backdate(conn) -> None:
                conn.execute(update(t.parking_sessions)
                             .where(t.parking_sessions.c.id == sid)
                             .values(entry_at=utc_now() - timedelta(hours=3)))

            await core.writer.run(backdate)
            await wait_for(lambda: sid in view.stay_ids(), 10)

            view.select_stay(sid)
            await wait_for(lambda: view.record is not None and view.record.total > 0
                           and not view.in_flight(), 10)
            record = view.record
            assert view.line_table.rowCount() == len(record.bill.lines) >= 1
            assert money(record.total, record.currency) in view.totals_label.text()
            assert PLATE.replace("-", "") in view.header_label.text()  # as stored
            assert view.pay_button.isEnabled()

            # A 50 % waiver of parking: the reason is required.
            waiver = view.ask_waiver()
            assert waiver.components() == ["parking"] and not waiver.ok_button.isEnabled()
            waiver.percent_radio.setChecked(True)
            waiver.percent_spin.setValue(50)
            waiver.reason_edit.setText("Barrier fault at entry")
            assert waiver.ok_button.isEnabled()
            waiver.accept()
            # A supervisor approves at the booth; a wrong password keeps the dialog open.
            approval = view.dialog
            approval.user_edit.setText("supervisor")
            approval.password_edit.setText("not the password")
            approval.approve_button.click()
            await wait_for(lambda: "wrong user name" in approval.error_label.text(), 10)
            assert approval.isVisible() and view.record.total == record.total
            await approve_in_dialog(view)
            await wait_for(lambda: view.record.total < record.total
                           and not view.in_flight(), 10)
            waived = view.record
            assert "Waiver applied" in view.result_label.text()

            # The payment dialog is prefilled with what is owed; zero is refused.
            pay = view.ask_payment()
            assert pay.amount() == waived.outstanding
            pay.amount_spin.setValue(0)
            assert not pay.ok_button.isEnabled()
            pay.amount_spin.setValue(waived.outstanding / 100)
            pay.set_method("card")
            pay.reference_edit.setText("TRM-0042")
            pay.accept()
            await wait_for(lambda: view.record.paid == waived.outstanding
                           and not view.in_flight(), 10)
            assert view.record.outstanding == 0
            assert not view.pay_button.isEnabled()
            assert "card" in view.record.payment_methods

            # The receipt as PDF.
            pdf = view.save_pdf_to(tmp_path / "receipt.pdf")
            data = pdf.read_bytes()
            assert data.startswith(b"%PDF") and len(data) > 1024
            html = receipt_html(view.record)
            if hasattr(view.record, "payments"):  # the payment rows, with references
                assert "TRM-0042" in html and "Terminal ref." in html
            else:  # BillRecord without its payments: the methods only
                assert "Paid (Card)" in html
            assert "Outstanding" in html

            # The car leaves: the stay is still listed, with its final status.
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate=PLATE,
                                       confidence=0.95, source="test"))
            await wait_for(lambda: core.gate.session_of(PLATE) is None, 10)
            await core.billing.settle_pending()
            await wait_for(lambda: not view.in_flight(), 10)
            assert sid in view.stay_ids()
            row = view.stay_ids().index(sid)
            assert view.stay_table.item(row, 2).text() in ("paid", "due")
            # A console opened later (or after a restart) lists the closed stay's bill.
            later = BillsView(core, bridge, actor="supervisor")
            try:
                await wait_for(lambda: sid in later.stay_ids(), 10)
                row = later.stay_ids().index(sid)
                assert later.stay_table.item(row, 2).text() in ("paid", "due")
            finally:
                later.close()
                later.deleteLater()
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
    assert "bill_payment" in actions and "bill_adjust" in actions


def test_a_repeat_offender_carries_the_badge_in_the_list_and_the_bill(qapp, themed,
                                                                       tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = BillsView(core, bridge, actor="supervisor")
        view.resize(560, 700)
        core.gate.dedup_s = core.gate.passed_s = 0
        try:
            first = await core.enforcement.issue_fee("attendant", kind="idle", plate=PLATE,
                                                     reason="idle at EV-03", amount=500)
            second = await core.enforcement.issue_fee("attendant", kind="overstay",
                                                      plate=PLATE, reason="over 4 h",
                                                      amount=2500)
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=PLATE,
                                       confidence=0.95, source="test"))
            await wait_for(lambda: (s := core.gate.session_of(PLATE)) is not None
                           and s.id > 0, 10)
            sid = core.gate.session_of(PLATE).id
            await wait_for(lambda: sid in view.stay_ids(), 10)

            # The list: "⚠ 2" by the plate, the offences (newest first) in the tooltip.
            badge, tip = view.offender_badge_text(sid)
            assert badge == "⚠ 2"
            row = view.stay_ids().index(sid)
            assert view.stay_table.item(row, 0).text().endswith("  ⚠ 2")
            lines = tip.splitlines()
            assert lines[0] == "Repeat offender: 2nd in 90 days"
            assert lines[1] == f"{format_local(second.at)} · Overstay · fee €25.00 · issued"
            assert lines[2].startswith(f"{format_local(first.at)} · Idle after charging · ")
            assert lines[2].endswith(" €5.00 · issued")

            # The bill: the same signal in its header, the offences in its tooltip.
            view.select_stay(sid)
            await wait_for(lambda: view.record is not None and not view.in_flight(), 10)
            assert "⚠ repeat offender (2)" in view.header_label.text()
            assert view.header_label.toolTip() == tip

            # A supervisor waives one: it no longer counts, the badges go.
            await core.enforcement.waive("supervisor", first.id, "Charger fault",
                                          approval=supervisor())
            await wait_for(lambda: view.offender_badge_text(sid)[0] == "", 10)
            assert "repeat offender" not in view.header_label.text()
            assert view.header_label.toolTip() == ""
        finally:
            bridge.close()
            await core.stop()
            view.close()
            view.deleteLater()

    run_on_qasync(qapp, scenario())


class _NoBills:
    """Just enough of a BillingService for the window to build its Bills tab."""

    def known_bill(self, parking_session_id):
        return None


@pytest.fixture
def billing_core(core):
    core.billing = _NoBills()
    return core


def test_the_window_has_a_bills_tab_and_still_fits_1024(qtbot, billing_core, window):
    assert window.bills_dock is not None and window.bills_view is not None
    assert not window.bills_view.pay_button.isEnabled()  # nothing picked yet
    assert window.minimumWidth() <= 1024
    assert window.minimumSizeHint().width() <= 1024
    window.resize(1024, 600)
    window.bills_dock.raise_()
    qtbot.wait(50)
    assert window.width() == 1024


def test_no_billing_service_no_tab(window):
    assert window.bills_view is None and window.bills_dock is None


@pytest.mark.qt_log_ignore("propagateSizeHints")  # Qt's own print dialog, on offscreen
def test_print_opens_a_print_dialog_without_exec(qtbot, billing_core, bridge):
    from ui import receipt

    if not receipt.HAS_PRINT:
        pytest.skip("no QtPrintSupport in this PySide6")
    view = BillsView(billing_core, bridge, actor="attendant")
    qtbot.addWidget(view)
    assert view.print_bill() is None  # nothing picked
    view.record = _record()
    dialog = view.print_bill()
    assert isinstance(dialog, receipt.QPrintDialog) and dialog.isVisible()
    dialog.reject()


def _record():
    from datetime import UTC, datetime
    from types import SimpleNamespace as NS

    line = NS(component="parking", description="Parking", quantity="3", unit="h",
              unit_price=250, amount=750)
    bill = NS(lines=(line,), subtotal=620, vat=130, total=750, currency="EUR",
              prices_include_vat=True)
    return NS(id=1, parking_session_id=1, bill=bill, paid=0, status="open",
              opened_at=datetime(2026, 3, 1, 9, tzinfo=UTC), closed_at=None, plate="HN447D",
              payment_methods=(), total=750, currency="EUR", outstanding=750)
