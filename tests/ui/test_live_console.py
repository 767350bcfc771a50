"""The real console: real core on a qasync loop, simulated chargers over loopback OCPP,
a real SQLite file, the real main window (offscreen)."""

from __future__ import annotations

from app.bootstrap import build_core
from app.config import Settings
from tests.helpers.ocpp_clients import charge_point
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.views.main_window import MainWindow


def test_demo_console_shows_every_charger_online_and_a_foreign_one(qapp, tmp_path):
    settings = Settings(demo=True, data_dir=tmp_path, ocpp_port=0, log_dir=None,
                        sim_speed=600, sim_seed=7, camera_fps=2)

    async def scenario():
        core = await build_core(settings)
        await core.start()
        bridge = CoreBridge(core)
        window = MainWindow(core, bridge)
        window.show()
        try:
            await wait_for(lambda: window.online_label.text().endswith("6 / 6"), within=30)
            assert len(window.bay_map.bay_items()) == 12
            assert all(p.online for p in window.bay_map.pillars())
            # the cars of a fast demo reach Charging on the map
            await wait_for(lambda: any(i.status.value == "Charging"
                                     for i in window.bay_map.bay_items()), within=30)
            url = f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
            async with charge_point(url, "CP-X") as cp:
                assert (await cp.boot()).status == "Accepted"
                await wait_for(lambda: "CP-X" in window.bay_map.unassigned_ids(), within=30)
                assert window.online_label.text().endswith("7 / 7")
        finally:
            bridge.close()
            await core.stop()
            window.close()
            window.deleteLater()
        return window.online_label.text()

    run_on_qasync(qapp, scenario())
