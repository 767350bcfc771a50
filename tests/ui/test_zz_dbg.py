from tests.ui.helpers import bring_online
from app.domain.charging import ConnectorStatus as S
def test_dbg(qtbot, core, window):
    panel = window.open_charger_panel("CP-01")
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    print("dock vis", window.charger_panel_dock.isVisible(), panel.isVisible())
    window.charger_dock.raise_()
    qtbot.wait(200)
    print("after raise", window.charger_panel_dock.isVisible(), panel.isVisible(), window.charger_dock.isVisible(), panel.isVisibleTo(window))
