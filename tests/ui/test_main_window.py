"""The main window: title, status bar, demo badge, table, About and Quit."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex

from app.config import Settings
from app.domain.charging import ConnectorStatus as S
from app.domain.site import OcppVersion
from tests.ui.conftest import OCPP_URL
from tests.ui.helpers import bring_online
from ui.views.main_window import MainWindow


def test_title_status_bar_and_demo_badge(window, core):
    assert window.windowTitle() == f"Gatehouse {core.version} — Harbour Street Car Park (demo)"
    assert OCPP_URL in window.ocpp_label.text()
    assert window.online_label.text() == "Chargers online: 0 / 6"
    assert window.demo_badge is not None and window.demo_badge.isVisible()
    assert "DEMO" in window.demo_badge.text()
    assert window.centralWidget().isAncestorOf(window.bay_map)
    assert window.charger_table.model().rowCount() == 6
    assert window.width() >= 1024 and window.height() >= 600


def test_no_demo_badge_on_a_live_site(qtbot, core, bridge):
    core.settings = Settings(demo=False)
    w = MainWindow(core, bridge)
    qtbot.addWidget(w)
    assert w.demo_badge is None


def test_online_count_follows_connections(core, window):
    bring_online(core, "CP-01", S.CHARGING)
    assert window.online_label.text() == "Chargers online: 1 / 6"
    assert window.bay_map.bay_item("EV-01").status is S.CHARGING
    core.charging.disconnected("CP-01", "socket closed")
    assert window.online_label.text() == "Chargers online: 0 / 6"
    assert window.bay_map.bay_item("EV-01").status is S.OFFLINE
    assert window.bay_map.bay_item("EV-02").status is S.OFFLINE


def test_unknown_charger_appears_in_table_and_count(core, window):
    core.charging.connected("EVB-7", OcppVersion.V201, "127.0.0.99:4000")
    model = window.charger_table.model()
    ids = [model.index(r, 0).data() for r in range(model.rowCount(QModelIndex()))]
    assert "EVB-7" in ids
    assert window.online_label.text() == "Chargers online: 1 / 7"
    assert window.bay_map.unassigned_ids() == ["EVB-7"]


def test_about_opens_without_blocking_and_shows_the_version(qtbot, core, window):
    window.about_action.trigger()  # returns at once: open(), not exec()
    dialog = window.about_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    assert dialog.version_label.text() == core.version
    assert dialog.site_label.text() == core.site.name
    assert OCPP_URL in dialog.ocpp_label.text()
    dialog.reject()
    assert not dialog.isVisible()


def test_file_quit_closes_and_emits_closing(qtbot, window):
    assert window.quit_action in window.file_menu.actions()
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    with qtbot.waitSignal(window.closing, timeout=2000):
        window.quit_action.trigger()
    assert not window.isVisible()


def test_closing_is_emitted_once(qtbot, window):
    seen: list[bool] = []
    window.closing.connect(lambda: seen.append(True))
    window.close()
    window.close()
    assert seen == [True]
