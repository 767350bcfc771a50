"""The attendant's main window: live bay map in the middle, chargers and bays docked right.

Builds its models from the Core facade and the CoreBridge; it never touches adapters.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.enforcement import SYSTEM_ACTOR
from ui.dialogs.about import AboutDialog
from ui.models.bays import BayTableModel
from ui.models.chargers import ChargerTableModel
from ui.models.common import Roles
from ui.theme import app_icon, icon
from ui.views.access_actions import make_table
from ui.views.access_view import AccessView
from ui.views.bay_map import BayMapView, LegendBar
from ui.views.bills_view import BillsView
from ui.views.binding_queue import BindingQueueView
from ui.views.camera_wall import CameraWall
from ui.views.charger_panel import ChargerPanel
from ui.views.decisions_view import DecisionsView
from ui.views.lane_panel import LanePanel
from ui.views.violations_view import ViolationsView


class MainWindow(QMainWindow):
    closing = Signal()  # emitted once from closeEvent: the entry point shuts the core down

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._bridge = bridge
        self._closing_sent = False
        self.about_dialog: AboutDialog | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle(f"Gatehouse {core.version} — {core.site.name}")
        self.setWindowIcon(app_icon())
        # Booth PCs often have 1366x768 screens: everything must fit and stay readable there.
        self.setMinimumSize(1024, 600)
        self.resize(1366, 768)

        self.bay_model = BayTableModel(core, bridge, self)
        self.charger_model = ChargerTableModel(core, bridge, self)
        self.charger_panel = ChargerPanel(core, bridge, self)
        self.lane_panel = LanePanel(core, bridge, self)
        # Access screens only when the core has an AccessService (not in bare test cores).
        has_access = getattr(core, "access", None) is not None
        self.access_view = AccessView(core, bridge, self) if has_access else None
        self.decisions_view = DecisionsView(core, bridge, self) if has_access else None
        # The binding queue only when the core runs a BindingService.
        self.binding_view = (BindingQueueView(core, bridge, self)
                             if getattr(core, "binding", None) is not None else None)
        # The Bills tab only when the core runs a BillingService.
        self.bills_view = (BillsView(core, bridge, self)
                           if getattr(core, "billing", None) is not None else None)
        # The Violations tab only when the core runs an EnforcementService.
        self.violations_view = (ViolationsView(core, bridge, self)
                                if getattr(core, "enforcement", None) is not None else None)
        self._build_central()
        self._build_docks()
        self._build_menus()
        self._build_status_bar()

    # -- construction -----------------------------------------------------------------

    def _build_central(self) -> None:
        panel = QWidget(self)
        panel.setObjectName("mapPanel")
        title = QLabel(self._core.site.name, panel)
        title.setObjectName("siteTitle")
        subtitle = QLabel("Live bay map", panel)
        subtitle.setObjectName("muted")
        head = QHBoxLayout()
        head.setContentsMargins(16, 10, 16, 4)
        head.addWidget(title)
        head.addSpacing(10)
        head.addWidget(subtitle, 0, Qt.AlignmentFlag.AlignBottom)
        head.addStretch(1)
        self.demo_badge: QLabel | None = None
        if self._core.settings.demo:
            # Loud on purpose: nobody should mistake simulated chargers for the real site.
            self.demo_badge = QLabel("DEMO  ·  simulated site", panel)
            self.demo_badge.setObjectName("demoBadge")
            self.demo_badge.setToolTip("Demo mode: chargers, cameras and barriers are simulated")
            head.addWidget(self.demo_badge)

        # The middle: the live map, and the camera wall as a second tab.
        self.center_tabs = QTabWidget(panel)
        self.center_tabs.setObjectName("centerTabs")
        self.center_tabs.setDocumentMode(True)
        map_page = QWidget(self.center_tabs)
        self.bay_map = BayMapView(self.bay_model, self.charger_model, map_page)
        self.legend = LegendBar(map_page)
        map_layout = QVBoxLayout(map_page)
        map_layout.setContentsMargins(0, 0, 0, 0)
        map_layout.setSpacing(0)
        map_layout.addWidget(self.bay_map, 1)
        map_layout.addWidget(self.legend)
        self.center_tabs.addTab(map_page, "Live map")
        self.camera_wall = CameraWall(self._core, self._bridge, self.center_tabs)
        self.center_tabs.addTab(self.camera_wall, "Cameras")
        self.center_tabs.currentChanged.connect(
            lambda i: subtitle.setText("Live bay map" if i == 0 else "Live cameras"))
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(head)
        layout.addWidget(self.center_tabs, 1)
        self.setCentralWidget(panel)

    def _build_docks(self) -> None:
        self.charger_table = make_table(self.charger_model, ChargerTableModel.COL_MAKE, self,
                                        "chargerTable")
        self.bay_table = make_table(self.bay_model, BayTableModel.COL_ZONE, self, "bayTable")
        self.charger_dock = self._dock("Chargers", self.charger_table)
        self.bay_dock = self._dock("Bays", self.bay_table)
        self.lane_dock = self._dock("Lanes", self.lane_panel)
        # The charger panel is the last tab, hidden until a charger is opened.
        self.charger_panel_dock = self._dock("Charger", self.charger_panel)
        self.tabifyDockWidget(self.charger_dock, self.bay_dock)
        self.tabifyDockWidget(self.bay_dock, self.lane_dock)
        last = self.lane_dock
        self.access_dock = self.decisions_dock = None
        if self.access_view is not None and self.decisions_view is not None:
            self.access_dock = self._dock("Access", self.access_view)
            self.decisions_dock = self._dock("Decisions", self.decisions_view)
            self.tabifyDockWidget(self.lane_dock, self.access_dock)
            self.tabifyDockWidget(self.access_dock, self.decisions_dock)
            last = self.decisions_dock
        self.binding_dock = None
        if self.binding_view is not None:
            self.binding_dock = self._dock("Binding", self.binding_view)
            self.tabifyDockWidget(last, self.binding_dock)
            last = self.binding_dock
            self.binding_view.countChanged.connect(self._binding_count)
            self.binding_view.showCamera.connect(self.show_cameras)
            self._binding_count(len(self.binding_view.model.issues))
        self.bills_dock = None
        if self.bills_view is not None:
            self.bills_dock = self._dock("Bills", self.bills_view)
            self.tabifyDockWidget(last, self.bills_dock)
            last = self.bills_dock
        self.violations_dock = None
        if self.violations_view is not None:
            self.violations_dock = self._dock("Violations", self.violations_view)
            self.tabifyDockWidget(last, self.violations_dock)
            last = self.violations_dock
        self.tabifyDockWidget(last, self.charger_panel_dock)
        self.charger_panel_dock.hide()
        self.setTabPosition(Qt.DockWidgetArea.RightDockWidgetArea, QTabWidget.TabPosition.North)
        self.charger_dock.raise_()
        self.charger_table.activated.connect(self._open_from_index)  # double-click, Enter
        self.bay_table.activated.connect(self._open_from_index)
        self.bay_map.bayClicked.connect(self._open_from_bay)
        self.charger_panel.feeRequested.connect(self.issue_fee_at)
        # The map gets the larger share; the table still shows every column.
        self.resizeDocks([self.charger_dock], [560], Qt.Orientation.Horizontal)

    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        # A fixed side panel: an attendant must not lose the table by dragging or closing
        # it. No title bar either: the tabs already name each panel.
        dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        dock.setTitleBarWidget(QWidget(dock))
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_menus(self) -> None:
        self.quit_action = QAction(icon("quit"), "&Quit", self)
        # Explicit: QKeySequence.Quit is empty on Windows.
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.about_action = QAction(icon("about"), "&About Gatehouse", self)
        self.about_action.setShortcut(QKeySequence("F1"))
        self.about_action.triggered.connect(self.show_about)
        menu = self.menuBar()
        self.file_menu = menu.addMenu("&File")
        self.file_menu.addAction(self.quit_action)
        self.help_menu = menu.addMenu("&Help")
        self.help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.ocpp_label = QLabel(f"OCPP server: {self._core.ocpp_url or 'not started'}", self)
        self.ocpp_label.setObjectName("ocppLabel")
        self.ocpp_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.online_label = QLabel(self)
        self.online_label.setObjectName("onlineLabel")
        # The attendant's alert line: a car fully charged (grace, then idle fees).
        self.alert_label = QLabel("", self)
        self.alert_label.setObjectName("alertLabel")
        self.alert_label.setStyleSheet("color: #9a6700; font-weight: 600;")
        bar.addWidget(self.ocpp_label)
        bar.addWidget(self.alert_label, 1)
        bar.addPermanentWidget(self.online_label)
        if hasattr(self._bridge, "idleChanged"):
            self._bridge.idleChanged.connect(self._on_idle)
        if hasattr(self._bridge, "violationChanged"):
            self._bridge.violationChanged.connect(self._on_violation)
        m = self.charger_model
        for sig in (m.dataChanged, m.rowsInserted, m.rowsRemoved, m.modelReset):
            sig.connect(self._update_online)
        self._update_online()

    def _on_idle(self, event: Any) -> None:
        from app.domain.events import ChargingFinished

        if not isinstance(event, ChargingFinished):
            return
        bay = next((b for b in self._core.site.bays if b.charger_id == event.charger_id
                    and (b.connector_id or 0) == event.connector_id), None)
        where = bay.label if bay is not None else f"{event.charger_id}/{event.connector_id}"
        plate = self.bay_model.plate(bay.id) if bay is not None else ""
        at = event.at.astimezone().strftime("%H:%M")
        self.alert_label.setText(f"⚡ {where}{f' ({plate})' if plate else ''}: vehicle fully "
                                 f"charged at {at} — the grace period runs, then idle fees")

    def _on_violation(self, event: Any) -> None:
        """ICE-ing or an overstay found by the console: the attendant's alert line."""
        if event.status != "issued" or event.actor != SYSTEM_ACTOR:
            return
        bay = next((b for b in self._core.site.bays if b.id == event.bay_id), None)
        where = bay.label if bay is not None else event.bay_id
        plate = event.plate or "unknown plate"
        if event.kind == "ice":
            text = f"⚠ ICE-ing at {where} ({plate}): parked at a charger without charging"
        elif event.kind == "overstay":
            text = f"⚠ Overstay: {plate} past the maximum stay"
        else:
            return
        self.alert_label.setText(f"{text} — see Violations")

    # -- behaviour -------------------------------------------------------------------------

    @property
    def online_text(self) -> str:
        return self.online_label.text()

    def _update_online(self, *_args: Any) -> None:
        online, total = self.charger_model.online_count(), self.charger_model.rowCount()
        self.online_label.setText(f"Chargers online: {online} / {total}")
        all_online = online == total and total > 0
        if self.online_label.property("allOnline") != all_online:
            self.online_label.setProperty("allOnline", all_online)
            # A dynamic property only restyles after an unpolish/polish.
            self.online_label.style().unpolish(self.online_label)
            self.online_label.style().polish(self.online_label)

    def open_charger_panel(self, charger_id: str) -> ChargerPanel:
        """Show one charger in the panel tab and bring the tab to the front."""
        self.charger_panel.show_charger(charger_id)
        self.charger_panel_dock.setWindowTitle(f"Charger {charger_id}")
        self.charger_panel_dock.show()
        self.charger_panel_dock.raise_()
        return self.charger_panel

    def _binding_count(self, n: int) -> None:
        if self.binding_dock is not None:
            self.binding_dock.setWindowTitle(f"Binding ({n})" if n else "Binding")

    def show_cameras(self, camera_id: str = "") -> CameraWall:
        """Bring the Cameras tab forward; with a camera id, that camera enlarged."""
        self.center_tabs.setCurrentWidget(self.camera_wall)
        if camera_id:
            self.camera_wall.enlarge(camera_id)
        return self.camera_wall

    def show_access(self, page: str = "accounts") -> None:
        """Bring the Access tab (or, with page="decisions", the Decisions tab) forward."""
        if page == "decisions" and self.decisions_dock is not None:
            self.decisions_dock.raise_()
        elif self.access_dock is not None and self.access_view is not None:
            self.access_dock.raise_()
            self.access_view.setCurrentWidget(getattr(self.access_view, page))

    def _open_from_index(self, index: QModelIndex) -> None:
        charger_id = index.data(Roles.CHARGER_ID)
        if charger_id:
            self.open_charger_panel(charger_id)

    def _open_from_bay(self, bay_id: str) -> None:
        bay = next((b for b in self._core.site.bays if b.id == bay_id), None)
        if bay is not None and bay.charger_id:
            self.open_charger_panel(bay.charger_id)

    def issue_fee_at(self, bay_id: str) -> Any:
        """The attendant issues a fee to the car at a bay: the Violations tab comes forward
        with the fee dialog filled in (bay, bound plate, the proposed amount)."""
        if self.violations_view is None or self.violations_dock is None:
            return None
        self.violations_dock.raise_()
        return self.violations_view.ask_fee(plate=self.bay_model.plate(bay_id), bay_id=bay_id)

    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self._core, self)
        # open(), never exec(): exec() would nest an event loop inside qasync's.
        self.about_dialog.open()
        return self.about_dialog

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_sent:
            self._closing_sent = True
            self.closing.emit()
        super().closeEvent(event)
