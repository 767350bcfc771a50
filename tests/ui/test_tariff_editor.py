"""The supervisors' tariff editor on a real core (demo site with its seeded tariff, SQLite
file, qasync): the preview of each sample is compute_bill's bill of the edited document;
editing the parking block price moves the total; an invalid value names the field and
disables Save; Save stores a new version (audited) and shows it. Opened from the Bills
tab, non-modal."""

from __future__ import annotations

import sqlite3

from app.bootstrap import build_core
from app.domain.billing import compute_bill, timeline_from_dict
from app.domain.tariffs import tariff_from_dict
from tests.helpers.approval import approve_in_dialog
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.dialogs.tariff_editor import SAMPLES, TariffEditorDialog, parse_money
from ui.receipt import money
from ui.views.bills_view import BillsView


def test_parse_money_in_currency_units():
    assert parse_money("3.00", "p") == 300
    assert parse_money("0,75", "p") == 75
    assert parse_money(" ", "p") is None


def _expected_total(dialog: TariffEditorDialog) -> int:
    doc = dialog.document()
    tariff = tariff_from_dict({**doc, "version": 1})
    return compute_bill(timeline_from_dict(dialog.sample_document()), [tariff],
                        dialog.tz).total


def test_tariff_editor_preview_validate_save(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = BillsView(core, bridge, actor="supervisor")
        try:
            before = {(t.id, t.version) for t in core.billing.tariffs()}
            assert ("standard", 1) in before
            dialog = view.open_tariffs()
            assert dialog.isVisible() and not dialog.isModal()
            assert dialog.minimumSizeHint().width() <= 1024
            assert view.open_tariffs() is dialog  # one editor at a time
            assert "standard" in dialog.tariff_combo.currentText()
            assert dialog.fields["parking.block_price"].text() == "0.75"
            assert dialog.vat_edit.text() == "21"

            # Each sample's preview is the engine's bill of the edited document.
            assert dialog.sample_combo.count() == len(SAMPLES) >= 3
            for i in range(dialog.sample_combo.count()):
                dialog.sample_combo.setCurrentIndex(i)
                assert dialog.bill is not None and dialog.error is None
                assert dialog.bill.total == _expected_total(dialog)
                assert money(dialog.bill.total, "EUR") in dialog.total_label.text()
                assert dialog.line_table.rowCount() == len(dialog.bill.lines)
            dialog.sample_combo.setCurrentIndex(0)  # 2 h parking, no charging
            first = dialog.bill.total
            assert first > 0

            # A dearer parking block: the preview follows at once.
            dialog.fields["parking.block_price"].setText("1.50")
            assert dialog.document()["components"]["parking"]["block_price"] == 150
            assert '"block_price": 150' in dialog.json_edit.toPlainText()
            assert dialog.bill.total > first
            assert dialog.bill.total == _expected_total(dialog)
            assert dialog.save_button.isEnabled()

            # An invalid value names the field and disables Save.
            dialog.fields["parking.block_min"].setText("0")
            assert "tariff.components.parking.block_min" in dialog.error_label.text()
            assert not dialog.save_button.isEnabled()
            dialog.fields["parking.block_min"].setText("15")
            dialog.fields["energy.per_kwh"].setText("abc")
            assert "tariff.components.energy.per_kwh" in dialog.error_label.text()
            assert not dialog.save_button.isEnabled()
            dialog.fields["energy.per_kwh"].setText("0.40")
            assert dialog.error is None and dialog.save_button.isEnabled()

            # The JSON tab edits the same document (the rest of the fields).
            text = dialog.json_edit.toPlainText()
            dialog.json_edit.setPlainText(text.replace('"block_min": 15', '"block_min": 30'))
            assert dialog.fields["parking.block_min"].text() == "30"
            dialog.json_edit.setPlainText("{ not json")
            assert "Advanced (JSON)" in dialog.error_label.text()
            assert not dialog.save_button.isEnabled()
            dialog.json_edit.setPlainText(text)
            assert dialog.error is None and dialog.save_button.isEnabled()

            # Save: a new version of "standard", in force in the service, shown.
            dialog.save()
            await approve_in_dialog(dialog)
            await wait_for(lambda: dialog.saved_version is not None
                           and not dialog.in_flight(), 10)
            version = dialog.saved_version
            assert version == 2
            saved = {(t.id, t.version): t for t in core.billing.tariffs()}
            assert ("standard", 2) in saved
            assert saved[("standard", 2)].parking.block_price == 150
            assert saved[("standard", 2)].energy.per_kwh == 40
            assert "version 2" in dialog.result_label.text()
            assert "v2" in dialog.tariff_combo.currentText()
            dialog.close()
        finally:
            bridge.close()
            await core.stop()
            view.close()
            view.deleteLater()
        return core

    core = run_on_qasync(qapp, scenario())
    db = sqlite3.connect(core.settings.data_dir / "demo.db")
    rows = [r for r in db.execute("SELECT actor, action, target FROM audit_log ORDER BY id")]
    db.close()
    assert ("supervisor", "tariff_save", "tariff:standard") in rows


def test_preview_a_real_stay_as_if_the_edited_tariff_applied(qapp, themed, tmp_path):
    from datetime import timedelta

    from sqlalchemy import update

    from app.adapters.db import tables as t
    from app.domain.events import PlateRead
    from app.domain.timeutil import utc_now

    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        view = BillsView(core, bridge, actor="supervisor")
        core.gate.dedup_s = core.gate.passed_s = 0
        try:
            # A visitor stayed 2 h (less 30 s), paid 5.25 at the booth and left.
            now = utc_now()
            core.bus.publish(PlateRead(at=now, camera_id="CAM-ENTRY", plate="ZZ-901-K",
                                       confidence=0.95, source="test"))
            await wait_for(lambda: (s := core.gate.session_of("ZZ901K")) is not None
                           and s.id > 0, 10)
            sid = core.gate.session_of("ZZ901K").id
            await core.writer.run(lambda conn: conn.execute(
                update(t.parking_sessions).where(t.parking_sessions.c.id == sid)
                .values(entry_at=now - timedelta(minutes=119, seconds=30))))
            await core.billing.bill(sid)  # the backdated entry reaches the bill
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate="ZZ-901-K",
                                       confidence=0.95, source="test"))
            await wait_for(lambda: core.gate.pending("LANE-OUT") is not None, 10)
            record = await core.billing.settle(sid)
            assert record.total == 525  # 105 min after 15 free: 7 blocks of 0.75
            await core.billing.pay("att", record.id, "cash", "", record.total)
            core.gate.retry_pending("LANE-OUT")
            await wait_for(lambda: core.gate.session_of("ZZ901K") is None, 10)
            await core.billing.settle_pending()

            dialog = view.open_tariffs()
            await wait_for(dialog.stays_loaded, 10)
            index = dialog.sample_combo.findData(f"stay:{sid}")
            assert index == len(SAMPLES)  # after the built-in samples
            assert "ZZ901K" in dialog.sample_combo.itemText(index)
            dialog.sample_combo.setCurrentIndex(index)
            assert "billed €5.25" in dialog.sample_label.text()
            assert dialog.bill is not None and dialog.bill.total == 525
            dialog.fields["parking.block_price"].setText("1.00")  # the change proposed
            assert dialog.bill.total == 700
            assert money(700, "EUR") in dialog.total_label.text()
            dialog.close()
        finally:
            bridge.close()
            await core.stop()
            view.close()
            view.deleteLater()

    run_on_qasync(qapp, scenario())
