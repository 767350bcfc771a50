"""The lanes panel on a real core (SQLite file, AccessService, GateService, simulated
barriers, qasync): plate reads show as decisions and occupancy on the lane's card; a car
refused at the exit waits at a prompt the attendant allows (audited); an anti-passback
refusal at the entry is reset from the card."""

from __future__ import annotations

from app.bootstrap import build_core
from app.domain.events import PlateRead
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.views.lane_panel import LanePanel

ANNA = "GX-512-K"  # a demo resident with a permit (app.sim.demo_drivers)


def test_reads_prompts_and_resets_on_the_lane_cards(qapp, themed, tmp_path):
    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        panel = LanePanel(core, bridge, actor="attendant")
        panel.resize(560, 700)
        entry, exit_ = panel.card("LANE-IN"), panel.card("LANE-OUT")
        # No repeat windows: a read minutes later is simulated by reading again at once.
        core.gate.passed_s = core.gate.dedup_s = 0
        try:
            assert "Level P1: <b>0</b> / 180" in entry.info_label.text()

            def read(camera: str, plate: str) -> None:
                core.bus.publish(PlateRead(at=core.gate._clock(), camera_id=camera,
                                           plate=plate, confidence=0.97))

            read("CAM-ENTRY", ANNA)
            await wait_for(lambda: ANNA in entry.decision_label.text())
            assert "Accepted: permit holder · Anna de Vries" in entry.decision_label.text()
            await wait_for(lambda: "<b>1</b> / 180" in entry.info_label.text())

            # A car nobody saw come in, at the exit: it waits for the attendant.
            read("CAM-EXIT", "ZZ-999-Z")
            await wait_for(lambda: exit_.prompt_text() != "")
            assert "no entry recorded" in exit_.prompt_text()
            dialog = panel.ask_allow("LANE-OUT")
            assert dialog.value() == "ZZ-999-Z" and not dialog.ok_button.isEnabled()
            dialog.choose("Paid at the desk")
            dialog.accept()
            await wait_for(lambda: exit_.prompt_text() == "" and not panel.in_flight(), 10)
            assert "✓" in exit_.result_text()

            # The same resident read again at the entry: anti-passback, reset from the card.
            read("CAM-ENTRY", ANNA)
            await wait_for(lambda: entry.last_status == "AntiPassback")
            assert entry.apb_button.isVisibleTo(entry)
            reset = panel.ask_apb_reset("LANE-IN")
            assert reset.value() == ANNA  # the plate as read, prefilled
            reset.choose("Left without an exit read")
            reset.accept()
            assert "1 session(s) closed" in entry.result_text()
            assert not entry.apb_button.isVisibleTo(entry)
            await wait_for(lambda: "<b>0</b> / 180" in entry.info_label.text())
        finally:
            bridge.close()
            await core.stop()
            panel.close()
            panel.deleteLater()
        return core

    core = run_on_qasync(qapp, scenario())
    import sqlite3

    db = sqlite3.connect(core.settings.data_dir / "demo.db")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    db.close()
    assert "barrier_manual_raise" in actions and "gate_apb_reset" in actions


def test_an_unpaid_exit_is_paid_at_the_booth_and_the_barrier_opens(qapp, themed, tmp_path):
    from datetime import timedelta

    from sqlalchemy import update

    from app.adapters.db import tables as t
    from app.domain.timeutil import utc_now

    settings = loopback_settings(tmp_path)

    async def scenario():
        core = await build_core(settings)  # demo: the default tariff is seeded
        await core.start()
        bridge = CoreBridge(core)
        panel = LanePanel(core, bridge, actor="booth")
        panel.resize(560, 700)
        core.gate.passed_s = core.gate.dedup_s = 0
        exit_ = panel.card("LANE-OUT")
        try:
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate="ZZ-123-Q",
                                       confidence=0.97))
            await wait_for(lambda: (s := core.gate.session_of("ZZ123Q")) is not None
                           and s.id > 0)
            sid = core.gate.session_of("ZZ123Q").id
            await core.writer.run(lambda conn: conn.execute(
                update(t.parking_sessions).where(t.parking_sessions.c.id == sid)
                .values(entry_at=utc_now() - timedelta(hours=2))))
            await core.billing.bill(sid)  # priced from the (backdated) entry
            pulses = core.barriers["BAR-EXIT"].pulses
            core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate="ZZ-123-Q",
                                       confidence=0.97))
            await wait_for(lambda: "unpaid bill" in exit_.prompt_text())
            assert exit_.pay_button.isVisibleTo(exit_)
            assert "Unpaid: held for payment" in exit_.decision_label.text()
            panel.take_payment("LANE-OUT")
            await wait_for(lambda: panel.dialog is not None
                           and panel.dialog.objectName() == "lanePaymentDialog")
            dialog = panel.dialog
            assert dialog.amount() > 0  # prefilled with what is owed
            dialog.accept()
            await wait_for(lambda: core.gate.session_of("ZZ123Q") is None
                           and not panel.in_flight(), 10)
            await wait_for(lambda: core.barriers["BAR-EXIT"].pulses == pulses + 1)
            assert "barrier opened" in exit_.result_text() and exit_.prompt_text() == ""
        finally:
            bridge.close()
            await core.stop()
            panel.close()
            panel.deleteLater()

    run_on_qasync(qapp, scenario())
