"""The Violations tab: violations newest first with each plate's offender level, the
selected one's evidence (snapshot thumbnails, the connector's status timeline, times),
and the attendant's / supervisor's actions: issue a fee, waive, adjust (all audited by
core.enforcement).

Listed: the violations inside the ladder's window when the tab opens
(EnforcementService.recent), then every ViolationChanged. Dialogs are shown with open(),
never exec(); calls run as loop tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.dialogs.fee import FeeDialog
from ui.dialogs.ladder_editor import LadderDialog
from ui.dialogs.supervisor_approval import ask_supervisor
from ui.dialogs.violation_edit import ViolationEditDialog
from ui.receipt import local_time, money
from ui.views.access_actions import ChangeRunner, open_dialog, show_result
from ui.views.command_bar import actor_name
from ui.views.offender_badge import ordinal

log = logging.getLogger(__name__)

WARN_COLOR = "#ef6c00"
THUMB_W, THUMB_H = 120, 72
MAX_THUMBS = 4
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
COLUMNS = ["Time", "Kind", "Plate / bay", "Step", "Amount", "Status", "Offender"]


def offender_text(count: int, window_days: int) -> str:
    """The badge: "3rd in 90 days" ("" when the plate has no offence in the window)."""
    return f"{ordinal(count)} in {window_days} days" if count > 0 else ""


def repeat_offender(core: Any, plate: str) -> int:
    """Offences of the plate in the window when it is a repeat offender (>= 2), else 0.
    For the badge "wherever the plate appears" (lane cards): never raises."""
    enforcement = getattr(core, "enforcement", None)
    if enforcement is None or not plate:
        return 0
    try:
        count = enforcement.offender_level(plate).count
    except Exception as exc:
        log.warning("offender level of %s unknown: %s", plate, exc)
        return 0
    return count if count >= 2 else 0


def _value(x: Any) -> str:
    return str(getattr(x, "value", x) or "")


def _when(value: Any) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return "—" if value in (None, "") else str(value)


def short_time(moment: datetime | None) -> str:
    """Local time for the list: "19:45" today, "11-21 19:45" before (a narrow dock)."""
    if moment is None:
        return "—"
    local = moment.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


def _item(text: str, right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if right:
        item.setTextAlignment(_RIGHT)
    return item


class ViolationsView(QWidget):
    violationShown = Signal(int)  # the violation id whose evidence the detail shows

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._enf = core.enforcement
        self.actor = actor or actor_name()
        self.currency = getattr(getattr(core, "site", None), "currency", "EUR") or "EUR"
        self._data_dir = Path(getattr(getattr(core, "settings", None), "data_dir", ".") or ".")
        self.violations: dict[int, Any] = {}
        self._current: int | None = None
        self._tasks: set[asyncio.Task] = set()  # the first load
        self.runner = ChangeRunner(self)
        self.dialog: Any = None  # the last dialog opened (tests drive it)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        layout.addWidget(splitter)

        self.table = QTableWidget(0, len(COLUMNS), splitter)
        self.table.setObjectName("violationTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        detail = QWidget(splitter)
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        self.header_label = QLabel("Pick a violation to see its evidence.", detail)
        self.header_label.setObjectName("violationHeader")
        self.header_label.setWordWrap(True)
        dl.addWidget(self.header_label)
        self.thumbs = QWidget(detail)
        self.thumbs.setObjectName("snapshotStrip")
        self._thumb_row = QHBoxLayout(self.thumbs)
        self._thumb_row.setContentsMargins(0, 0, 0, 0)
        self._thumb_row.addStretch(1)
        dl.addWidget(self.thumbs)
        self.evidence_label = QLabel("", detail)
        self.evidence_label.setObjectName("evidenceText")
        self.evidence_label.setWordWrap(True)
        self.evidence_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.evidence_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea(detail)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.evidence_label)
        dl.addWidget(scroll, 1)
        buttons = QGridLayout()
        self.fee_button = QPushButton("Issue fee…", detail)
        self.waive_button = QPushButton("Waive…", detail)
        self.waive_button.setToolTip("Supervisor action: written to the audit trail")
        self.adjust_button = QPushButton("Adjust…", detail)
        self.adjust_button.setToolTip("Supervisor action: written to the audit trail")
        self.ladder_button = QPushButton("Ladder…", detail)
        self.ladder_button.setToolTip("Warning, fee, ban: what each offence brings "
                                      "(supervisor action, audited)")
        for i, button in enumerate((self.fee_button, self.waive_button, self.adjust_button,
                                    self.ladder_button)):
            buttons.addWidget(button, i // 2, i % 2)  # two a row: the dock stays narrow
        buttons.setColumnStretch(2, 1)
        dl.addLayout(buttons)
        self.result_label = QLabel("", detail)
        self.result_label.setObjectName("violationResult")
        self.result_label.setWordWrap(True)
        dl.addWidget(self.result_label)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)

        self.fee_button.clicked.connect(lambda _c=False: self.ask_fee())
        self.waive_button.clicked.connect(lambda _c=False: self.ask_edit("waive"))
        self.adjust_button.clicked.connect(lambda _c=False: self.ask_edit("adjust"))
        self.ladder_button.clicked.connect(lambda _c=False: self.ask_ladder())
        bridge.violationChanged.connect(self._on_changed)
        self._show(None)
        # Built outside the qasync loop (some tests): events only.
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(self._load_recent())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- loading ------------------------------------------------------------------------

    async def _load_recent(self) -> None:
        try:
            rows = await self._enf.recent(200)
        except Exception as exc:
            log.warning("violations: earlier ones not loaded: %s", exc)
            return
        if not shiboken6.isValid(self):
            return
        for v in rows:
            self.violations.setdefault(v.id, v)
        self._fill()

    def _on_changed(self, event: Any) -> None:
        self._schedule(self._enf.get(event.violation_id), self._take)

    def _take(self, violation: Any) -> None:
        if violation is None:
            return
        self.violations[violation.id] = violation
        self._fill()
        if violation.id == self._current:
            self._show(violation)

    # -- the list -----------------------------------------------------------------------

    def level_text(self, plate: str) -> str:
        if not plate:
            return ""
        try:
            level = self._enf.offender_level(plate)
        except Exception as exc:
            log.warning("offender level of %s unknown: %s", plate, exc)
            return ""
        return offender_text(level.count, self._enf.ladder.window_days)

    def _repeat(self, plate: str) -> bool:
        return repeat_offender(self._core, plate) >= 2

    def _fill(self) -> None:
        ordered = sorted(self.violations.values(), key=lambda v: (v.at, v.id), reverse=True)
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(ordered))
        selected = -1
        for r, v in enumerate(ordered):
            first = _item(short_time(v.at))
            first.setData(Qt.ItemDataRole.UserRole, v.id)
            first.setToolTip(local_time(v.at))
            table.setItem(r, 0, first)
            table.setItem(r, 1, _item(_value(v.kind)))
            where = v.plate or ""
            if v.bay_id:
                where = f"{where} · {v.bay_id}" if where else f"bay {v.bay_id}"
            table.setItem(r, 2, _item((where or "—").replace(" · ", " ")))
            table.setItem(r, 3, _item(_value(v.step)))
            table.setItem(r, 4, _item(money(v.amount, self.currency), True))
            status = _item(_value(v.status))
            if _value(v.status) == "waived":
                status.setForeground(Qt.GlobalColor.gray)
            table.setItem(r, 5, status)
            level = _item(self.level_text(v.plate))
            if self._repeat(v.plate):
                level.setForeground(QColor(WARN_COLOR))
            table.setItem(r, 6, level)
            if v.id == self._current:
                selected = r
        if selected >= 0:
            table.selectRow(selected)
        else:
            table.clearSelection()
        table.blockSignals(False)

    def violation_ids(self) -> list[int]:
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
                for r in range(self.table.rowCount())]

    def row_texts(self, violation_id: int) -> list[str]:
        row = self.violation_ids().index(violation_id)
        return [self.table.item(row, c).text() for c in range(self.table.columnCount())]

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.select(int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)))

    def select(self, violation_id: int) -> None:
        self._current = violation_id
        self.result_label.setText("")
        self._show(self.violations.get(violation_id))
        self._fill()

    # -- the evidence -------------------------------------------------------------------

    def _show(self, v: Any) -> None:
        has = v is not None
        status = _value(v.status) if has else ""
        self.waive_button.setEnabled(has and status != "waived")
        self.adjust_button.setEnabled(has and status != "waived")
        self.fee_button.setEnabled(True)
        self._set_thumbs([])
        if not has:
            self.header_label.setText("Pick a violation to see its evidence."
                                      if self._current is None else "Loading…")
            self.evidence_label.setText("")
            return
        badge = self.level_text(v.plate)
        who = v.plate or "—"
        self.header_label.setText(
            f"<b>{who}</b>" + (f" <span style='color:{WARN_COLOR}'>⚠ {badge}</span>"
                               if badge else "")
            + f" · {_value(v.kind)} · {_value(v.step)} · {money(v.amount, self.currency)}"
            + f" · {status}<br/>#{v.id} at {local_time(v.at)}"
            + (f" · bay {v.bay_id}" if v.bay_id else "")
            + (f" · stay {v.parking_session_id}" if v.parking_session_id else "")
            + (f" · by {v.actor}" if getattr(v, "actor", "") else ""))
        ev = dict(v.evidence or {})
        self._set_thumbs([r.get("snapshot") for r in ev.get("reads") or ()
                          if isinstance(r, dict) and r.get("snapshot")])
        self.evidence_label.setText(self.evidence_html(v))
        self.violationShown.emit(v.id)

    def evidence_html(self, v: Any) -> str:
        ev = dict(v.evidence or {})
        parts: list[str] = []
        if getattr(v, "reason", ""):
            parts.append(f"<b>Reason:</b> {v.reason}")
        times = [(label, ev.get(key)) for key, label in (
            ("detected_at", "Detected"), ("issued_at", "Issued"), ("entry_at", "Entry"),
            ("exit_at", "Exit")) if ev.get(key)]
        if ev.get("minutes"):
            times.append(("Minutes", ev["minutes"]))
        if ev.get("overstay_min"):
            times.append(("Overstay", f"{ev['overstay_min']} min"))
        if times:
            parts.append("<b>Times:</b> " + " · ".join(
                f"{label} {_when(value) if label not in ('Minutes', 'Overstay') else value}"
                for label, value in times))
        timeline = ev.get("timeline") or []
        if timeline:
            rows = "".join(f"<br/>&nbsp;&nbsp;{_when(s.get('at'))} {s.get('status', '')}"
                           + (f" ({s['error_code']})" if s.get("error_code")
                              not in (None, "", "NoError") else "")
                           for s in timeline)
            parts.append(f"<b>Status timeline</b> {ev.get('charger_id', '')} "
                         f"#{ev.get('connector_id', '')}:{rows}")
        elif ev.get("charger_id"):
            parts.append(f"<b>Status timeline</b> {ev['charger_id']} "
                         f"#{ev.get('connector_id', '')}: no status change recorded")
        reads = ev.get("reads") or []
        if reads:
            rows = "".join(f"<br/>&nbsp;&nbsp;{_when(r.get('at'))} {r.get('plate', '')} "
                           f"({float(r.get('confidence') or 0):.0%})" for r in reads[:10])
            parts.append(f"<b>Reads</b> {ev.get('camera_id', '')}:{rows}")
        elif ev.get("camera_id"):
            parts.append(f"<b>Reads</b> {ev['camera_id']}: none in the window")
        if ev.get("ban"):
            ban = ev["ban"]
            parts.append(f"<b>Ban:</b> until {_when(ban.get('until'))}"
                         + (" (lifted)" if ban.get("lifted") else ""))
        if ev.get("evidence_error"):
            parts.append(f"<b>Evidence incomplete:</b> {ev['evidence_error']}")
        for change in ev.get("changes") or ():
            parts.append(f"<b>{str(change.get('status', '')).capitalize()}</b> "
                         f"{_when(change.get('at'))} by {change.get('actor', '')}: "
                         f"{money(int(change.get('amount_before') or 0), self.currency)} → "
                         f"{money(int(change.get('amount') or 0), self.currency)} — "
                         f"{change.get('reason', '')}")
        return "<br/>".join(parts) or "<i>No evidence recorded.</i>"

    def _set_thumbs(self, paths: list[str]) -> None:
        while self._thumb_row.count() > 1:
            item = self._thumb_row.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        shown = 0
        for rel in paths:
            if shown >= MAX_THUMBS:
                break
            path = Path(rel) if Path(rel).is_absolute() else self._data_dir / rel
            if not path.is_file():
                continue
            pixmap = QPixmap(str(path))
            if pixmap.isNull():
                continue
            label = QLabel(self.thumbs)
            label.setObjectName("snapshotThumb")
            label.setPixmap(pixmap.scaled(THUMB_W, THUMB_H,
                                          Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
            label.setToolTip(str(path))
            self._thumb_row.insertWidget(shown, label)
            shown += 1
        self.thumbs.setVisible(shown > 0)

    def thumbnail_count(self) -> int:
        return self._thumb_row.count() - 1

    # -- actions ------------------------------------------------------------------------

    def _stay_line(self, plate: str) -> str:
        gate = getattr(self._core, "gate", None)
        try:
            session = gate.session_of(plate) if gate is not None else None
        except Exception:
            session = None
        if session is None or not getattr(session, "id", 0):
            return ""
        return (f"stay {session.id} (inside since {local_time(session.entry_at)}): "
                "the fee goes on its bill")

    def ask_fee(self, plate: str = "", bay_id: str = "") -> FeeDialog:
        current = self.violations.get(self._current) if self._current is not None else None
        if not plate and not bay_id and current is not None:
            plate = current.plate

        def propose(kind: str, plate_: str, bay_: str) -> int:
            return self._enf.propose_fee(kind, plate=plate_, bay_id=bay_)

        dialog = FeeDialog(getattr(self._core.site, "bays", ()), propose, self._stay_line,
                           plate=plate, bay_id=bay_id, currency=self.currency, parent=self)
        dialog.setObjectName("feeDialog")

        def issue() -> None:
            self._schedule(self._enf.issue_fee(
                self.actor, kind=dialog.kind(), reason=dialog.reason(), plate=dialog.plate(),
                bay_id=dialog.bay_id(), amount=dialog.amount()),
                lambda v: self._done(v, "Fee issued"))
        return self._open(dialog, issue)

    def ask_edit(self, mode: str) -> ViolationEditDialog | None:
        v = self.violations.get(self._current) if self._current is not None else None
        if v is None:
            return None
        dialog = ViolationEditDialog(v, mode, currency=self.currency, parent=self)
        dialog.setObjectName("violationEditDialog")

        def apply() -> None:
            # Read the dialog before it is deleted; the supervisor approves, then it runs.
            mode, amount, reason = dialog.mode(), dialog.amount() or 0, dialog.reason()
            what = (f"Waive violation #{v.id} ({v.plate or v.bay_id})" if mode == "waive"
                    else f"Adjust violation #{v.id} ({v.plate or v.bay_id}) to "
                         f"{money(amount, self.currency)}")

            def run(approval: Any) -> None:
                if mode == "waive":
                    work = self._enf.waive(self.actor, v.id, reason, approval=approval)
                    message = "Waived"
                else:
                    work = self._enf.adjust(self.actor, v.id, amount, reason,
                                            approval=approval)
                    message = "Adjusted"
                self._schedule(work, lambda r: self._done(r, message))
            ask_supervisor(self, self._core, what, run)
        return self._open(dialog, apply)

    def ask_ladder(self) -> LadderDialog:
        dialog = LadderDialog(self._enf.ladder, currency=self.currency, parent=self)
        dialog.setObjectName("ladderDialog")

        def save() -> None:
            data = dialog.data()  # read before it is deleted
            summary = dialog.summary_label.text()

            def run(approval: Any) -> None:
                self._schedule(self._enf.set_ladder(self.actor, data, approval=approval),
                               lambda _ladder: self._ladder_saved(summary))
            ask_supervisor(self, self._core, "Change the enforcement ladder", run)
        return self._open(dialog, save)

    def _ladder_saved(self, summary: str) -> None:
        self._result(f"✓ Ladder saved: {summary}", True)
        self._fill()  # the offender column counts in the new window

    def in_flight(self) -> bool:
        return self.runner.in_flight() > 0 or any(not t.done() for t in self._tasks)

    # -- helpers ------------------------------------------------------------------------

    def _open(self, dialog: Any, on_accept: Callable[[], None]) -> Any:
        return open_dialog(self, dialog, on_accept)

    def _done(self, v: Any, message: str) -> None:
        self._current = v.id
        self._take(v)
        self._show(v)
        self._result(f"✓ {message}: #{v.id} {v.plate or v.bay_id} "
                     f"{money(v.amount, self.currency)} ({_value(v.status)})", True)

    def _result(self, text: str, ok: bool) -> None:
        show_result(self.result_label, text, ok)

    def _schedule(self, work: Awaitable[Any], done: Callable[[Any], None]) -> None:
        """Run a service call on the loop; its result goes to `done`, a refusal (ValueError,
        KeyError: a message for the user) to the result line."""
        self.runner.call(work, ok=done,
                         fail=lambda m: self._result(f"✗ Not done: {m}", False))
