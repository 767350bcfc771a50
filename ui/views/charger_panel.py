"""The charger panel: one charger's identity, connectors with live meter and session, its
last OCPP messages, the console's commands and what the charger answered.

Reads the Core facade (charging, transactions, frames), listens to the CoreBridge, and
sends commands as coroutines on the qasync loop: a slot schedules the coroutine and
returns at once; dialogs are open()ed before anything is scheduled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import shiboken6
from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QHideEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QWidget,
)

from app.domain.charging import ChargerState, RegistrationStatus
from app.domain.commands import CommandResult, CommandStatus
from app.domain.frames import Direction
from ui.dialogs.charger_command import (
    CommandDialog,
    ConfigurationDialog,
    config_rows,
    payload_summary,
)
from ui.models.chargers import charger_state_text
from ui.models.common import NO_VALUE, format_local
from ui.theme import dot, status_color, status_label
from ui.views.command_bar import (
    COMMANDS_BY_KEY,
    ChargerContext,
    CommandBar,
    CommandRunner,
    CommandSpec,
    Session,
    actor_name,
)
from ui.views.scroll_body import scroll_body

log = logging.getLogger("gatehouse.ui.charger_panel")

OK_COLOR = QColor("#1a7f37")
FAIL_COLOR = QColor("#cf222e")
PENDING_COLOR = QColor("#59636e")
IN_COLOR = QColor("#0b5cad")  # charger -> console
OUT_COLOR = QColor("#7a4a00")  # console -> charger
_STATE_BADGE = {"Online": "#1a7f37", "Offline": "#6e7781", "Pending": "#9a6700",
                "Rejected": "#cf222e"}
_MAX_RESULTS = 200
_FRAME_LIMIT = 50
_FRAME_CHARS = 240
_IDENTITY = (("vendor", "Vendor"), ("model", "Model"), ("serial", "Serial"),
             ("firmware", "Firmware"), ("ocpp", "OCPP"), ("registration", "Registration"),
             ("remote", "Address"), ("last_seen", "Last seen"))


def _kw(watts: float | None) -> str:
    return NO_VALUE if watts is None else f"{watts / 1000:.1f} kW"


def _kwh(wh: float | None) -> str:
    return NO_VALUE if wh is None else f"{wh / 1000:.2f} kWh"


def _pct(soc: float | None) -> str:
    return NO_VALUE if soc is None else f"{soc:.0f} %"


def _short(text: str, width: int = 10) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ElidedLabel(QLabel):
    """One line that ends in … when it does not fit; the whole text stays in `text()`."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.contentsRect().width(), 40)
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                      width))


def _log_list(name: str, parent: QWidget) -> QListWidget:
    """One line per entry, cut with … at the panel's edge (full text in the tooltip)."""
    view = QListWidget(parent)
    view.setObjectName(name)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setResizeMode(QListWidget.ResizeMode.Adjust)
    return view


def _section(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("panelSection")
    label.setStyleSheet("font-weight: 600; color: #424a53; padding-top: 4px;")
    return label


class ChargerPanel(QWidget):
    """Shows one charger at a time: `show_charger(charger_id)`."""

    commandFinished = Signal(object)  # CommandResult, after it is shown
    feeRequested = Signal(str)  # bay_id: the attendant issues a fee at this bay
    COLUMNS = ("#", "Status", "Power", "Energy", "SoC", "Session")
    COL_ID, COL_STATUS, COL_POWER, COL_ENERGY, COL_SOC, COL_SESSION = range(6)

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chargerPanel")
        self._core = core
        self._charger_id: str | None = None
        self._rows: list[int] = []  # connector ids, one table row each
        self._busy: set[tuple[str, str]] = set()  # (charger_id, command key) in flight
        self._tasks: set[asyncio.Task] = set()
        self._frames_seen: tuple = ()
        self.runner = CommandRunner(core, actor or actor_name())
        self.dialog: CommandDialog | None = None
        self.config_dialog: ConfigurationDialog | None = None
        self.last_result: CommandResult | None = None
        self._build()
        bridge.chargerChanged.connect(self._on_charger)
        bridge.connectorChanged.connect(self._on_connector)
        bridge.meterChanged.connect(self._on_connector)
        bridge.transactionChanged.connect(self._on_connector)
        self._frame_timer = QTimer(self)
        self._frame_timer.setInterval(1000)
        self._frame_timer.timeout.connect(self._tick)
        self._show_empty()

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        layout = scroll_body(self, "chargerPanelBody", spacing=6)
        body = layout.parentWidget()

        # Header: id, state badge, where it is.
        self.title_label = QLabel(body)
        self.title_label.setObjectName("panelTitle")
        self.title_label.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label = QLabel(body)
        self.state_label.setObjectName("stateBadge")
        self.place_label = QLabel(body)
        self.place_label.setObjectName("muted")
        head = QHBoxLayout()
        head.addWidget(self.title_label)
        head.addSpacing(8)
        head.addWidget(self.state_label, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)
        head.addWidget(self.place_label, 0, Qt.AlignmentFlag.AlignVCenter)
        # Enforcement at the bay: an overstay / idle / ICE fee for the car standing there.
        self.fee_button = QToolButton(body)
        self.fee_button.setObjectName("bayFeeButton")
        self.fee_button.setText("Issue fee…")
        self.fee_button.setToolTip("Issue an overstay, idle or ICE-ing fee to the car at this "
                                   "bay (evidence attached; audited)")
        self.fee_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.fee_button.hide()
        self._fee_bays: list[str] = []
        self.fee_button.clicked.connect(self._fee_clicked)
        head.addWidget(self.fee_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(head)

        # A charger that connected on its own and waits for an installer.
        self.pending_box = QFrame(body)
        self.pending_box.setObjectName("pendingBox")
        self.pending_box.setStyleSheet(
            "QFrame#pendingBox { background: #fff8c5; border: 1px solid #d4a72c;"
            " border-radius: 6px; }")
        self.pending_text = QLabel(self.pending_box)
        self.approve_button = QPushButton("Approve charger", self.pending_box)
        self.approve_button.setObjectName("approveButton")
        self.approve_button.setToolTip("Accept this charger into the site (audited)")
        self.approve_button.clicked.connect(self.approve)
        pending = QHBoxLayout(self.pending_box)
        pending.setContentsMargins(10, 6, 10, 6)
        pending.addWidget(self.pending_text, 1)
        pending.addWidget(self.approve_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.pending_box)

        # Identity: two label/value pairs per row.
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        self.identity: dict[str, QLabel] = {}
        for i, (key, name) in enumerate(_IDENTITY):
            caption = QLabel(f"{name}:", body)
            caption.setObjectName("muted")
            value = QLabel(NO_VALUE, body)
            value.setObjectName(f"id_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.identity[key] = value
            row, col = divmod(i, 2)
            grid.addWidget(caption, row, col * 2)
            grid.addWidget(value, row, col * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)

        layout.addWidget(_section("Connectors", body))
        self.connector_table = QTableWidget(0, len(self.COLUMNS), body)
        self.connector_table.setObjectName("connectorTable")
        self.connector_table.setHorizontalHeaderLabels(self.COLUMNS)
        self.connector_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.connector_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.connector_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.connector_table.verticalHeader().hide()
        self.connector_table.setShowGrid(False)
        self.connector_table.setWordWrap(False)
        self.connector_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.connector_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.connector_table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_SESSION, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.connector_table)

        layout.addWidget(_section("Commands", body))
        self.command_bar = CommandBar(body)
        self.command_bar.triggered.connect(self.request_command)
        layout.addWidget(self.command_bar)

        # The last answer, always in view; the history and the raw messages in tabs.
        self.result_label = ElidedLabel("No command sent yet.", body)
        self.result_label.setObjectName("resultLine")
        self.result_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._style_result_line(PENDING_COLOR)
        layout.addWidget(self.result_label)

        self.result_list = _log_list("resultList", body)
        self.frame_list = _log_list("frameList", body)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(QFont(self.font()).pointSizeF() - 1, 8.0))
        self.frame_list.setFont(mono)
        self.frame_list.setUniformItemSizes(True)
        self.log_tabs = QTabWidget(body)
        self.log_tabs.setObjectName("panelTabs")
        self.log_tabs.setDocumentMode(True)
        self.log_tabs.addTab(self.frame_list, "Messages  (← from charger, → to charger)")
        self.log_tabs.addTab(self.result_list, "Command log")
        self.log_tabs.setMinimumHeight(150)
        self.log_tabs.currentChanged.connect(lambda _i: self._tick())
        layout.addWidget(self.log_tabs, 1)

    # -- what is shown -------------------------------------------------------------------

    @property
    def charger_id(self) -> str | None:
        return self._charger_id

    def show_charger(self, charger_id: str) -> None:
        if charger_id != self._charger_id:
            self._charger_id = charger_id
            self._frames_seen = ()
            self.frame_list.clear()
            self._rows = []
        self.refresh()
        self.refresh_frames()
        if self.isVisible():
            self._frame_timer.start()

    def refresh(self) -> None:
        if self._charger_id is None:
            return
        state = self._state()
        self._refresh_header(state)
        self._refresh_identity(state)
        self._refresh_pending(state)
        connectors = self._connector_ids(state)
        if connectors != self._rows:
            self._rows = connectors
            self.connector_table.setRowCount(len(connectors))
        for n in connectors:
            self._refresh_connector(n, state)
        self._fit_table()
        self._sync_buttons(state)

    def _refresh_fee_button(self, charger_id: str) -> None:
        """One bay: the button issues its fee; several: a menu of the charger's bays."""
        bays = [b for b in self._core.site.bays if b.charger_id == charger_id]
        if getattr(self._core, "enforcement", None) is None or not bays:
            self._fee_bays = []
            self.fee_button.hide()
            return
        ids = [b.id for b in bays]
        if ids != self._fee_bays:
            self._fee_bays = ids
            old = self.fee_button.menu()
            menu = None
            if len(bays) > 1:
                menu = QMenu(self.fee_button)
                for bay in bays:
                    menu.addAction(f"Bay {bay.label}",
                                   lambda b=bay.id: self.feeRequested.emit(b))
            self.fee_button.setMenu(menu)
            if old is not None:
                old.deleteLater()
        self.fee_button.show()

    def _fee_clicked(self) -> None:
        if len(self._fee_bays) == 1:
            self.feeRequested.emit(self._fee_bays[0])

    def _show_empty(self) -> None:
        self.fee_button.hide()
        self.title_label.setText("No charger selected")
        self.state_label.hide()
        self.pending_box.hide()
        self.command_bar.sync(usable=False, busy=set(), why_not="no charger selected")

    def _state(self) -> ChargerState:
        assert self._charger_id is not None
        return self._core.charging.charger(self._charger_id) or ChargerState(id=self._charger_id)

    def _connector_ids(self, state: ChargerState) -> list[int]:
        ids = {n for n in state.connectors if n > 0}
        cfg = self._core.site.charger(state.id)
        if cfg is not None:
            ids |= set(range(1, cfg.connectors + 1))
        return sorted(ids)

    def _refresh_header(self, state: ChargerState) -> None:
        self.title_label.setText(state.id)
        text = charger_state_text(state)
        self.state_label.setText(text)
        self.state_label.setStyleSheet(
            f"background: {_STATE_BADGE[text]}; color: #ffffff; font-weight: 600;"
            " padding: 2px 10px; border-radius: 9px;")
        self.state_label.show()
        self._refresh_fee_button(state.id)
        bays = [b.label for b in self._core.site.bays if b.charger_id == state.id]
        cfg = self._core.site.charger(state.id)
        if bays:
            self.place_label.setText("Bay " + ", ".join(bays) if len(bays) == 1
                                     else "Bays " + ", ".join(bays))
        else:
            self.place_label.setText(cfg.label if cfg and cfg.label else "Not on the map")

    def _refresh_identity(self, state: ChargerState) -> None:
        ident = state.identity
        values = {
            "vendor": ident.vendor, "model": ident.model, "serial": ident.serial,
            "firmware": ident.firmware,
            "ocpp": state.ocpp_version.value if state.ocpp_version else "",
            "registration": state.registration.value if state.registration else "",
            "remote": state.remote,
            "last_seen": format_local(state.last_seen) if state.last_seen else "",
        }
        for key, value in values.items():
            self.identity[key].setText(value or NO_VALUE)
            self.identity[key].setToolTip(value)
        if state.last_seen is not None:
            self.identity["last_seen"].setToolTip(
                state.last_seen.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))

    def _refresh_pending(self, state: ChargerState) -> None:
        if state.registration is not RegistrationStatus.PENDING:
            self.pending_box.hide()
            return
        approved = self._core.charging.is_known(state.id)
        # Explicit line breaks, no word wrap: a height-for-width label would make the
        # panel's scroll area ask for more height than it needs.
        if approved:
            self.pending_text.setText(
                "Approved: accepted at the charger's next boot\n"
                "(Trigger… → BootNotification does it now).")
        else:
            self.pending_text.setText(
                "This charger connected on its own and waits for\n"
                "approval; until then it may not charge.")
        self.approve_button.setVisible(not approved)
        self.approve_button.setEnabled((state.id, "approve") not in self._busy)
        self.pending_box.show()

    def _refresh_connector(self, n: int, state: ChargerState | None = None) -> None:
        if self._charger_id is None or n not in self._rows:
            return
        state = state or self._state()
        row = self._rows.index(n)
        status = state.shown_status(n)
        tx = self._active(n)
        live = self._live(n)
        session, session_tip = NO_VALUE, ""
        if tx is not None:
            started = format_local(tx.started_at)
            # What the attendant recognises first; a 2.0.1 UUID may be cut.
            session = f"{started} · {tx.id_token or NO_VALUE} · #{_short(tx.charger_tx_id, 9)}"
            session_tip = (f"Transaction {tx.charger_tx_id} (console #{tx.id})\n"
                           f"idToken {tx.id_token or NO_VALUE}\nStarted {started}")
        live_here = live is not None and (tx is None or live.transaction_id in (None, tx.id))
        power = live.power_w if live_here else None
        energy = live.energy_wh if live_here else None
        if energy is None and tx is not None:
            energy = tx.energy_wh
        soc = live.soc_pct if live_here else None
        err = state.connector(n).error_code
        cells = {
            self.COL_ID: (str(n), ""),
            self.COL_STATUS: (status_label(status),
                              f"OCPP status {status.value}"
                              + (f" [{err}]" if err not in ("", "NoError") else "")),
            self.COL_POWER: (_kw(power), ""),
            self.COL_ENERGY: (_kwh(energy), "Energy of this session"),
            self.COL_SOC: (_pct(soc), "Battery state of charge"),
            self.COL_SESSION: (session, session_tip),
        }
        for col, (text, tip) in cells.items():
            item = self.connector_table.item(row, col)
            if item is None:
                item = QTableWidgetItem()
                self.connector_table.setItem(row, col, item)
            item.setText(text)
            item.setToolTip(tip)
            if col in (self.COL_POWER, self.COL_ENERGY, self.COL_SOC):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
        self.connector_table.item(row, self.COL_STATUS).setIcon(dot(status_color(status)))

    def _fit_table(self) -> None:
        table = self.connector_table
        rows = max(table.rowCount(), 1)
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(r) for r in range(table.rowCount())) if \
            table.rowCount() else table.verticalHeader().defaultSectionSize() * rows
        table.setFixedHeight(height)

    def _active(self, n: int) -> Any:
        tx = getattr(self._core, "transactions", None)
        return tx.active_on(self._charger_id, n) if tx is not None else None

    def _live(self, n: int) -> Any:
        tx = getattr(self._core, "transactions", None)
        return tx.live(self._charger_id, n) if tx is not None else None

    def connector_text(self, connector_id: int, column: int) -> str:
        """What the table shows for a connector (tests and screen readers)."""
        item = self.connector_table.item(self._rows.index(connector_id), column)
        return item.text() if item is not None else ""

    # -- live updates ----------------------------------------------------------------------

    def _on_charger(self, charger_id: str) -> None:
        if charger_id == self._charger_id:
            self.refresh()

    def _on_connector(self, charger_id: str, connector_id: int) -> None:
        if charger_id != self._charger_id:
            return
        state = self._state()
        if connector_id > 0 and connector_id not in self._rows:
            self.refresh()  # a connector we had not heard of
            return
        self._refresh_connector(connector_id, state)
        self.identity["last_seen"].setText(format_local(state.last_seen))

    def refresh_frames(self) -> None:
        """The charger's last OCPP messages, newest on top; cheap when nothing changed."""
        frames_log = getattr(self._core, "frames", None)
        if self._charger_id is None:
            return
        if frames_log is None:
            if self.frame_list.count() == 0:
                self.frame_list.addItem("The message log is not available.")
            return
        frames = frames_log.recent(self._charger_id, _FRAME_LIMIT)
        seen = (len(frames), frames[-1].at, frames[-1].text) if frames else ()
        if seen == self._frames_seen:
            return
        self._frames_seen = seen
        self.frame_list.clear()
        if not frames:
            self.frame_list.addItem("No messages yet.")
            return
        for frame in reversed(frames):
            inbound = frame.direction == Direction.IN
            text = frame.text if len(frame.text) <= _FRAME_CHARS else \
                frame.text[: _FRAME_CHARS - 1] + "…"
            item = QListWidgetItem(f"{'←' if inbound else '→'} "
                                   f"{format_local(frame.at)}  {text}")
            item.setForeground(IN_COLOR if inbound else OUT_COLOR)
            item.setToolTip(("From the charger" if inbound else "To the charger") + "\n"
                            + frame.text[:2000])
            self.frame_list.addItem(item)

    def frames_in_view(self) -> bool:
        """The message list can be seen: its tab is current and the panel is on screen (a
        dock tab behind another is moved off the window, not hidden)."""
        if not self.isVisible() or self.log_tabs.currentWidget() is not self.frame_list:
            return False
        window = self.window()
        return window.rect().intersects(
            QRect(self.mapTo(window, QPoint(0, 0)), self.size()))

    def _tick(self) -> None:
        if self.frames_in_view():
            self.refresh_frames()

    def frame_lines(self) -> list[str]:
        return [self.frame_list.item(i).text() for i in range(self.frame_list.count())]

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._charger_id is not None:
            self.refresh_frames()
            self._frame_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._frame_timer.stop()
        super().hideEvent(event)

    # -- commands ------------------------------------------------------------------------

    def _context(self) -> ChargerContext:
        state = self._state()
        sessions = []
        for n in self._connector_ids(state):
            tx = self._active(n)
            if tx is not None:
                sessions.append(Session(n, tx.charger_tx_id, tx.id_token))
        version = state.ocpp_version.value if state.ocpp_version else ""
        return ChargerContext(state.id, version, tuple(self._connector_ids(state)),
                              tuple(sessions))

    def _sync_buttons(self, state: ChargerState | None = None) -> None:
        if self._charger_id is None:
            return
        state = state or self._state()
        busy = {key for cid, key in self._busy if cid == self._charger_id}
        if not self.runner.available:
            usable, why = False, "commands are not available: no OCPP gateway"
        elif not state.online:
            usable, why = False, "the charger is offline"
        else:
            usable, why = True, ""
        self.command_bar.sync(usable=usable, busy=busy, why_not=why)

    def request_command(self, key: str) -> None:
        """A command button was clicked: ask what the command needs, then send it."""
        if self._charger_id is None:
            return
        spec = COMMANDS_BY_KEY[key]
        charger_id = self._charger_id
        if spec.form is None:
            self._send(spec, charger_id, {})
            return
        dialog = CommandDialog(spec.form(self._context()), self)
        dialog.accepted.connect(lambda: self._send(spec, charger_id, dialog.values()))
        dialog.finished.connect(lambda _code: self._dialog_done(dialog))
        self.dialog = dialog
        dialog.open()  # never exec(): see DESIGN.md

    def _dialog_done(self, dialog: CommandDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _send(self, spec: CommandSpec, charger_id: str, values: dict[str, Any]) -> None:
        args = spec.args(values)
        self._schedule(spec.key, charger_id, spec.title,
                       lambda: self.runner.run(spec.method, charger_id, *args), spec)

    def approve(self) -> None:
        if self._charger_id is None:
            return
        charger_id, actor = self._charger_id, self.runner.actor
        core = self._core

        async def approve() -> CommandResult:
            detail = f"by {actor}"
            # Core.approve_charger also asks the charger to boot again (accepted now).
            via_core = getattr(core, "approve_charger", None)
            if via_core is None:
                core.charging.approve(charger_id, actor)
            else:
                trigger = await via_core(charger_id, actor)
                if isinstance(trigger, CommandResult):
                    detail += f"; BootNotification requested: {trigger.status}"
            return CommandResult("Approve charger", charger_id, CommandStatus.ACCEPTED,
                                 detail=detail)

        self._schedule("approve", charger_id, "Approve charger", approve, None)

    def _schedule(self, key: str, charger_id: str, title: str,
                  call: Callable[[], Any], spec: CommandSpec | None) -> None:
        if (charger_id, key) in self._busy:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._add_line(f"{title} on {charger_id}: not sent (no event loop)", FAIL_COLOR)
            return
        self._busy.add((charger_id, key))
        self._sync_buttons()
        self._refresh_if_current(charger_id)
        line = self._add_line(f"{title} on {charger_id}: sending…", PENDING_COLOR)
        task = loop.create_task(self._run(key, charger_id, title, call, spec, line))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: str, charger_id: str, title: str, call: Callable[[], Any],
                   spec: CommandSpec | None, line: QListWidgetItem) -> None:
        try:
            outcome = call()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if isinstance(outcome, CommandResult):
                result = outcome
            else:
                result = CommandResult(title, charger_id, CommandStatus.ACCEPTED,
                                       detail=f"by {self.runner.actor}")
        except Exception as exc:
            log.exception("%s on %s failed", title, charger_id)
            result = CommandResult(title, charger_id, CommandStatus.CALL_ERROR,
                                   detail=f"internal error: {type(exc).__name__}: {exc}")
        if not shiboken6.isValid(self):
            return  # the window closed while the charger was answering
        self._busy.discard((charger_id, key))
        self._show_result(line, result, spec)
        self._refresh_if_current(charger_id)
        if spec is not None and spec.key == "get_config" and result.ok:
            self._show_configuration(charger_id, result)
        self.commandFinished.emit(result)

    def _refresh_if_current(self, charger_id: str) -> None:
        if charger_id == self._charger_id:
            self.refresh()

    def _add_line(self, text: str, color: QColor) -> QListWidgetItem:
        item = QListWidgetItem(f"{datetime.now().strftime('%H:%M:%S')}  {text}")
        item.setForeground(color)
        self.result_list.insertItem(0, item)
        self.result_label.setText(item.text())
        self._style_result_line(color)
        while self.result_list.count() > _MAX_RESULTS:
            self.result_list.takeItem(self.result_list.count() - 1)
        return item

    def _show_result(self, line: QListWidgetItem, result: CommandResult,
                     spec: CommandSpec | None) -> None:
        self.last_result = result
        text = result.describe()
        if spec is not None and text.startswith(f"{result.command} "):
            text = spec.title + text[len(result.command):]  # words, not "clear_cache"
        summary = payload_summary(result.payload) if spec is not None and spec.show_payload \
            else ""
        if summary:
            text += f" · {summary}"
        mark = "✓" if result.ok else "✗"
        shown = f"{datetime.now().strftime('%H:%M:%S')}  {mark} {text}"
        tip = text if not result.payload else \
            f"{text}\n{payload_summary(result.payload, limit=2000)}"
        color = OK_COLOR if result.ok else FAIL_COLOR
        line.setText(shown)
        line.setForeground(color)
        line.setToolTip(tip)
        self.result_label.setText(shown)
        self.result_label.setToolTip(tip)
        self._style_result_line(color)

    def _style_result_line(self, color: QColor) -> None:
        self.result_label.setStyleSheet(
            f"color: {color.name()}; font-weight: 600; padding: 3px 0px;")

    def result_lines(self) -> list[str]:
        """The results shown, newest first."""
        return [self.result_list.item(i).text() for i in range(self.result_list.count())]

    def _show_configuration(self, charger_id: str, result: CommandResult) -> None:
        if self.config_dialog is not None:
            self.config_dialog.close()
            self.config_dialog.deleteLater()
        dialog = ConfigurationDialog(charger_id, config_rows(result.payload), self)
        self.config_dialog = dialog
        dialog.show()  # non-modal: the attendant may keep it open while working

    def in_flight(self) -> int:
        return len(self._tasks)

    def sizeHint(self) -> QSize:
        return QSize(520, 640)
