"""The attendant's binding queue: the open binding issues of `core.binding`
(app.services.binding.BindingService) and what to do about each.

Which car charges at which bay is decided by the bay cameras; when they cannot decide
(two plates, none, a car at the wrong bay, a car parked at a charger without charging),
an issue waits here. The attendant looks (Show camera enlarges the bay's camera in the
Cameras tab), then binds the right plate (or rebinds the bay's binding to it), unbinds,
or resolves the issue with a reason. Every action goes through the service, which audits
it; the list follows BindingIssueChanged / BindingChanged events from the bridge.
Dialogs open with open(), never exec().
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import BindingChanged, BindingIssueChanged
from ui.dialogs.reason import OTHER, ReasonDialog
from ui.views.command_bar import actor_name
from ui.views.lane_card import FAIL_COLOR, OK_COLOR, PENDING_COLOR
from ui.views.offender_badge import BadgeCache

log = logging.getLogger(__name__)

KIND_WORDS = {
    "conflict": ("Two plates", "The bay camera read more than one plate around the plug-in"),
    "no_plate": ("No plate read", "No plate was read at the bay when the car plugged in"),
    "wrong_bay": ("Wrong bay", "A car bound to another bay was read here"),
    "ice": ("Parked, not charging", "A car occupies a charging bay without a charging session"),
    "unsure": ("Plate unsure", "Bound from an unsure camera read: check the plate"),
}
BIND_REASONS = ("Plate checked on the camera", "Plate checked on site", "Driver asked", OTHER)
UNBIND_REASONS = ("Wrong car bound", "Car left the bay", OTHER)
RESOLVE_REASONS = ("Checked: nothing to do", "Driver informed", "Handed to enforcement",
                   "Camera misread", OTHER)

_Index = QModelIndex | QPersistentModelIndex


class BindingIssueModel(QAbstractTableModel):
    """Open binding issues, oldest first. Refreshed whole (the queue is short)."""

    # Narrow on purpose (a side panel on a 1024 px screen): the charger and the detail of
    # the selected issue show under the table, and in every cell's tooltip.
    COLUMNS = ("Since", "Bay", "Issue")
    COL_SINCE, COL_BAY, COL_KIND = range(3)

    def __init__(self, core: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self._core = core
        self._bays = {b.id: b for b in core.site.bays}
        self.issues: list[Any] = []
        self.badges = BadgeCache(core)  # repeat offenders: "⚠ 3" by the plate
        self.refresh()

    @property
    def service(self) -> Any:
        return getattr(self._core, "binding", None)

    def refresh(self) -> None:
        service = self.service
        issues = list(service.open_issues()) if service is not None else []
        self.badges.clear()
        self.beginResetModel()
        self.issues = issues
        self.endResetModel()

    def issue(self, row: int) -> Any:
        return self.issues[row] if 0 <= row < len(self.issues) else None

    def bay_label(self, bay_id: str) -> str:
        bay = self._bays.get(bay_id)
        return bay.label if bay is not None else bay_id

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.issues)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        issue = self.issue(index.row()) if index.isValid() else None
        if issue is None:
            return None
        col = index.column()
        words, tip = KIND_WORDS.get(str(issue.kind), (str(issue.kind), ""))
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.COL_SINCE:
                return issue.created_at.astimezone().strftime("%H:%M")
            if col == self.COL_KIND:
                if not issue.plates:
                    return words
                if str(issue.kind) == "no_plate":  # the card's account's plates, not reads
                    return f"{words} (account: {self.plates_text(issue)})"
                return f"{words}: {self.plates_text(issue)}"
            if col == self.COL_BAY:
                return self.bay_label(issue.bay_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            since = issue.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            text = f"{tip}\n{self.describe(issue)}\nSince {since}"
            offenders = self.offender_tips(issue)
            return f"{text}\n\n{offenders}" if offenders else text
        return None

    def plates_text(self, issue: Any) -> str:
        """The issue's plates, a repeat offender's with its badge: "AB123 ⚠ 3, CD456"."""
        out = []
        for plate in issue.plates:
            badge = self.badges.get(plate)[0]
            out.append(f"{plate} {badge}" if badge else plate)
        return ", ".join(out)

    def offender_tips(self, issue: Any) -> str:
        """The offences of the issue's repeat offenders, one block per plate."""
        blocks = []
        for plate in issue.plates:
            tip = self.badges.get(plate)[1]
            if tip:
                blocks.append(f"{plate} — {tip}")
        return "\n\n".join(blocks)

    def violations_changed(self) -> None:
        """An offence recorded, waived or adjusted: the badges follow."""
        self.badges.clear()
        if self.issues:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self.issues) - 1, len(self.COLUMNS) - 1))

    def describe(self, issue: Any) -> str:
        """One line: bay, charger/connector, session and the service's detail."""
        parts = [f"Bay {self.bay_label(issue.bay_id)}"]
        if issue.plates:
            parts.append(self.plates_text(issue))
        if issue.charger_id:
            parts.append(f"{issue.charger_id}/{issue.connector_id}"
                         if issue.connector_id is not None else issue.charger_id)
        if issue.transaction_id is not None:
            parts.append(f"session {issue.transaction_id}")
        line = " · ".join(parts)
        return f"{line}: {issue.detail}" if issue.detail else line


class BindingQueueView(QWidget):
    showCamera = Signal(str)  # camera_id: the main window enlarges it in the Cameras tab
    countChanged = Signal(int)  # open issues
    done = Signal(str, bool)  # the result line of an action, ok

    def __init__(self, core: Any, bridge: Any = None, parent: QWidget | None = None,
                 *, actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bindingQueue")
        self._core = core
        self.actor = actor or actor_name()
        self.dialog: ReasonDialog | None = None
        self._tasks: set[asyncio.Task] = set()
        self._bays = {b.id: b for b in core.site.bays}
        self.model = BindingIssueModel(core, self)

        self.summary = QLabel(self)
        self.summary.setObjectName("bindingSummary")
        self.summary.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setObjectName("bindingTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The issue's words give way (elided; the tooltip has them) so the plates show.
        header.setSectionResizeMode(BindingIssueModel.COL_KIND, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.doubleClicked.connect(lambda _i: self.show_camera())

        self.detail = QLabel(self)
        self.detail.setObjectName("bindingDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bind_button = QPushButton("Bind plate…", self)
        self.bind_button.setToolTip("Bind a plate to this bay's charging session (or move "
                                    "the bay's binding to it)")
        self.unbind_button = QPushButton("Unbind…", self)
        self.unbind_button.setToolTip("End the bay's current binding; it is not bound "
                                      "automatically again")
        self.resolve_button = QPushButton("Resolve…", self)
        self.resolve_button.setToolTip("Close the issue with a reason")
        self.camera_button = QPushButton("Show camera", self)
        self.camera_button.setToolTip("Enlarge the bay's camera in the Cameras tab")
        self.bind_button.clicked.connect(self.ask_bind)
        self.unbind_button.clicked.connect(self.ask_unbind)
        self.resolve_button.clicked.connect(self.ask_resolve)
        self.camera_button.clicked.connect(self.show_camera)
        # Two rows of two: four buttons in a row do not fit the panel on a 1024 px screen.
        buttons = QGridLayout()
        buttons.setHorizontalSpacing(6)
        buttons.setVerticalSpacing(6)
        buttons.addWidget(self.bind_button, 0, 0)
        buttons.addWidget(self.unbind_button, 0, 1)
        buttons.addWidget(self.resolve_button, 1, 0)
        buttons.addWidget(self.camera_button, 1, 1)
        self.status = QLabel(self)
        self.status.setObjectName("bindingStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._after_reset)
        if bridge is not None:
            bridge.event.connect(self._on_event)
            if hasattr(bridge, "violationChanged"):
                bridge.violationChanged.connect(self._on_violation_changed)
        self._after_reset()

    # -- state ------------------------------------------------------------------------------

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, BindingIssueChanged | BindingChanged):
            self.refresh()

    def _on_violation_changed(self, _event: Any = None) -> None:
        self.model.violations_changed()
        self._update_buttons()

    def refresh(self) -> None:
        keep = self.current_issue()
        self.model.refresh()
        if keep is not None:
            row = next((n for n, i in enumerate(self.model.issues) if i.id == keep.id), -1)
            if row >= 0:
                self.table.selectRow(row)

    def _after_reset(self) -> None:
        n = len(self.model.issues)
        if self.model.service is None:
            self.summary.setText("Binding is not running on this console.")
        elif n == 0:
            self.summary.setText("No open issues: every charging car is matched to its bay.")
        else:
            self.summary.setText(f"<b>{n} open issue{'s' if n != 1 else ''}</b> — select one, "
                                 "check the camera, then bind, unbind or resolve.")
        self._update_buttons()
        self.countChanged.emit(n)

    def current_issue(self) -> Any:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() \
            else []
        return self.model.issue(rows[0].row()) if rows else None

    def select_issue(self, issue_id: int) -> bool:
        row = next((n for n, i in enumerate(self.model.issues) if i.id == issue_id), -1)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def active_binding(self, issue: Any) -> Any:
        service = self.model.service
        bay = self._bays.get(issue.bay_id) if issue is not None else None
        if service is None or bay is None or not bay.charger_id or bay.connector_id is None:
            return None
        return service.active_binding(bay.charger_id, bay.connector_id)

    def _update_buttons(self, *_args: Any) -> None:
        issue = self.current_issue()
        has = issue is not None
        self.detail.setText(self.model.describe(issue) if has else "")
        self.detail.setToolTip(self.model.offender_tips(issue) if has else "")
        bay = self._bays.get(issue.bay_id) if has else None
        self.bind_button.setEnabled(has and bay is not None and bool(bay.charger_id))
        self.unbind_button.setEnabled(has and self.active_binding(issue) is not None)
        self.resolve_button.setEnabled(has)
        self.camera_button.setEnabled(has and bay is not None and bool(bay.camera_id))

    # -- actions ----------------------------------------------------------------------------

    def show_camera(self) -> str:
        issue = self.current_issue()
        bay = self._bays.get(issue.bay_id) if issue is not None else None
        if bay is None or not bay.camera_id:
            return ""
        self.showCamera.emit(bay.camera_id)
        return bay.camera_id

    def _dialog(self, dialog: ReasonDialog, then: Callable[[ReasonDialog], None]
                ) -> ReasonDialog:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.accepted.connect(lambda: then(dialog))
        dialog.open()  # never exec() under qasync
        return dialog

    def ask_bind(self) -> ReasonDialog | None:
        issue = self.current_issue()
        if issue is None or not self.bind_button.isEnabled():
            return None
        label = self.model.bay_label(issue.bay_id)
        current = self.active_binding(issue)
        if current is not None:
            message = (f"Bay <b>{label}</b> is bound to <b>{current.plate}</b>. Move its "
                       "charging session to another plate; the reason and your name are "
                       "written to the audit trail.")
        else:
            message = (f"Bind a plate to the charging session at bay <b>{label}</b>. The "
                       "reason and your name are written to the audit trail.")
        # One candidate is filled in; between several the attendant picks on the camera
        # (a filled-in first one would be a guess that is easy to confirm by mistake).
        candidates = [p for p in issue.plates if current is None or p != current.plate]
        dialog = ReasonDialog(f"Bind plate — {label}", message, BIND_REASONS,
                              "Rebind" if current is not None else "Bind", self,
                              value_label="Plate:",
                              value=candidates[0] if len(candidates) == 1 else "")
        dialog.setObjectName("bindDialog")
        if len(candidates) > 1 and dialog.value_edit is not None:
            dialog.value_edit.setPlaceholderText(" or ".join(candidates))
        return self._dialog(dialog, lambda d: self._bind(issue, d.value(), d.reason()))

    def ask_unbind(self) -> ReasonDialog | None:
        issue = self.current_issue()
        current = self.active_binding(issue)
        if current is None:
            return None
        label = self.model.bay_label(issue.bay_id)
        dialog = ReasonDialog(
            f"Unbind — {label}",
            f"End the binding of <b>{current.plate}</b> at bay <b>{label}</b>. The bay is not "
            "bound automatically again until its session ends.", UNBIND_REASONS, "Unbind", self)
        dialog.setObjectName("unbindDialog")
        return self._dialog(dialog, lambda d: self._run(
            self.model.service.unbind(self.actor, current.id, d.reason()),
            f"{current.plate} unbound from {label}"))

    def ask_resolve(self) -> ReasonDialog | None:
        issue = self.current_issue()
        if issue is None:
            return None
        words = KIND_WORDS.get(str(issue.kind), (str(issue.kind),))[0]
        label = self.model.bay_label(issue.bay_id)
        dialog = ReasonDialog(f"Resolve — {words} at {label}",
                              f"Close this issue at bay <b>{label}</b> without binding.",
                              RESOLVE_REASONS, "Resolve", self)
        dialog.setObjectName("resolveDialog")
        return self._dialog(dialog, lambda d: self._run(
            self.model.service.resolve_issue(self.actor, issue.id, d.reason()),
            f"{words} at {label} resolved"))

    def _bind(self, issue: Any, plate: str, reason: str) -> None:
        service = self.model.service
        label = self.model.bay_label(issue.bay_id)
        current = self.active_binding(issue)
        if current is not None:
            work = service.rebind(self.actor, current.id, plate, reason)
            line = f"{label} rebound from {current.plate} to {{plate}}"
        else:
            target = issue.transaction_id if issue.transaction_id is not None else issue.bay_id
            work = service.bind(self.actor, target, plate, reason)
            line = f"{{plate}} bound to {label}"
        self._run(work, line, plate_of_result=True)

    def _run(self, work: Awaitable[Any], line: str, *, plate_of_result: bool = False) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            work.close()  # type: ignore[attr-defined]
            self._result("Not done (no event loop)", False)
            return
        self._result("Working…", None)
        task = loop.create_task(self._await(work, line, plate_of_result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await(self, work: Awaitable[Any], line: str, plate_of_result: bool) -> None:
        try:
            result = await work
            ok = True
            if plate_of_result:
                line = line.format(plate=getattr(result, "plate", ""))
        except (ValueError, LookupError) as exc:
            ok, line = False, f"Not done: {exc}"
        except Exception as exc:  # a bug behind the service; the attendant still gets a line
            log.exception("binding action failed")
            ok, line = False, f"Not done: internal error: {type(exc).__name__}: {exc}"
        if not shiboken6.isValid(self):
            return
        self._result(("✓ " if ok else "✗ ") + line, ok)
        self.refresh()
        self.done.emit(line, ok)

    def _result(self, text: str, ok: bool | None) -> None:
        color = PENDING_COLOR if ok is None else OK_COLOR if ok else FAIL_COLOR
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color};")
