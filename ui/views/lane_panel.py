"""The lanes panel: one card per entry/exit lane with its barrier's live state and a
"Raise…" button for the manual override (a reason is asked, the raise is audited).

Reads `core.lanes` (app.services.lanes.LaneService), listens to the CoreBridge's
barrierChanged, and raises as a coroutine on the qasync loop: the slot opens the dialog
(open(), never exec()) and schedules the coroutine once a reason is given.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ui.dialogs.raise_barrier import RaiseBarrierDialog
from ui.views.charger_panel import ElidedLabel
from ui.views.command_bar import actor_name
from ui.views.scroll_body import scroll_body

log = logging.getLogger("gatehouse.ui.lane_panel")

# state -> (words, fill, text colour). Amber and light grey carry dark text.
_PILL: dict[str, tuple[str, str, str]] = {
    "closed": ("Closed", "#8c959f", "#ffffff"),
    "opening": ("Opening", "#e0a100", "#1f2328"),
    "open": ("Open", "#2e9d4f", "#ffffff"),
    "closing": ("Closing", "#e0a100", "#1f2328"),
    "fault": ("Fault", "#d1242f", "#ffffff"),
    "offline": ("Not driven", "#d0d7de", "#1f2328"),
    "none": ("No barrier", "#d0d7de", "#1f2328"),
}
_UNKNOWN = ("?", "#d0d7de", "#1f2328")
_TIPS = {
    "offline": "The console does not drive this barrier (not configured or not started)",
    "none": "This lane has no barrier",
}
OK_COLOR = "#1a7f37"
FAIL_COLOR = "#cf222e"
PENDING_COLOR = "#59636e"


def pill_style(state: str) -> str:
    _text, fill, ink = _PILL.get(state, _UNKNOWN)
    return (f"background: {fill}; color: {ink}; border-radius: 9px; padding: 2px 10px;"
            " font-weight: 600;")


def pill_text(state: str) -> str:
    return _PILL.get(state, (state.capitalize() or "?",))[0]


class LaneCard(QFrame):
    """One lane: name, entry/exit, barrier, state pill, Raise… and the last result."""

    def __init__(self, lane: Any, barrier_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lane_id = lane.id
        self.barrier_id = lane.barrier_id or ""
        self.state = ""
        self.setObjectName(f"lane_{lane.id}")
        self.setProperty("laneCard", True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(f"QFrame#lane_{lane.id} {{ background: #ffffff;"
                           " border: 1px solid #d0d7de; border-radius: 6px; }")

        self.name_label = QLabel(lane.name, self)
        self.name_label.setObjectName("laneName")
        self.name_label.setStyleSheet("font-size: 12pt; font-weight: 600; border: none;")
        direction = str(getattr(lane.direction, "value", lane.direction))
        self.direction_label = QLabel(direction.capitalize(), self)
        self.direction_label.setObjectName("laneDirection")
        self.direction_label.setStyleSheet(
            "color: #0b5cad; border: 1px solid #0b5cad; border-radius: 4px;"
            " padding: 0px 5px;" if direction == "entry" else
            "color: #7a4a00; border: 1px solid #7a4a00; border-radius: 4px;"
            " padding: 0px 5px;")
        self.direction_label.setToolTip(f"{direction.capitalize()} lane")
        self.pill = QLabel(self)
        self.pill.setObjectName("statePill")
        self.pill.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pill.setMinimumWidth(88)
        self.barrier_name = barrier_name or "No barrier"
        self.barrier_label = ElidedLabel(self.barrier_name, self)
        self.barrier_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                         QSizePolicy.Policy.Preferred)
        self.barrier_label.setObjectName("muted")
        self.barrier_label.setStyleSheet("border: none;")
        self.raise_button = QPushButton("Raise…", self)
        self.raise_button.setObjectName("raiseButton")
        self.raise_button.setToolTip("Open the barrier without a decision (manual override; "
                                     "a reason is asked and audited)")
        self.result_label = ElidedLabel("", self)
        self.result_label.setObjectName("laneResult")
        self.result_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.result_label.setVisible(False)  # until there is a result to show

        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 8)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.name_label, 0, 0)
        grid.addWidget(self.direction_label, 0, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.pill, 0, 3, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.barrier_label, 1, 0, 1, 3)
        grid.addWidget(self.raise_button, 1, 3, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.result_label, 2, 0, 1, 4)
        grid.setColumnStretch(2, 1)

    def set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self.pill.setText(pill_text(state))
        self.pill.setStyleSheet(pill_style(state))
        tip = detail if state == "fault" and detail else _TIPS.get(state, f"Barrier {state}")
        self.pill.setToolTip(tip)
        # A fault also says why on the card: a tooltip alone is easy to miss.
        fault = state == "fault" and bool(detail)
        self.barrier_label.setText(f"{self.barrier_name} · {detail}" if fault
                                   else self.barrier_name)
        self.barrier_label.setStyleSheet("border: none;" + (" color: #cf222e;" if fault else ""))
        self.barrier_label.setToolTip(detail if fault else self.barrier_id)
        self.raise_button.setEnabled(state not in ("none", "offline"))

    def set_result(self, text: str, color: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.result_label.setText(f"{stamp}  {text}")
        self.result_label.setToolTip(text)
        self.result_label.setStyleSheet(f"color: {color}; font-weight: 600; border: none;")
        self.result_label.setVisible(True)

    def result_text(self) -> str:
        return self.result_label.text()


class LanePanel(QWidget):
    """All lanes of the site, one card each, updated live."""

    raiseFinished = Signal(str, str)  # lane_id, message

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lanePanel")
        self._lanes = getattr(core, "lanes", None)
        self.actor = actor or actor_name()
        self.cards: dict[str, LaneCard] = {}
        self.dialog: RaiseBarrierDialog | None = None
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._build()
        bridge.barrierChanged.connect(self._on_barrier)

    def _build(self) -> None:
        layout = scroll_body(self, "lanePanelBody", spacing=8)
        body = layout.parentWidget()
        lanes = self._lanes.lanes() if self._lanes is not None else ()
        self.empty_label = QLabel(
            "No lanes on this site." if self._lanes is not None
            else "Lanes are not available.", body)
        self.empty_label.setObjectName("muted")
        self.empty_label.setVisible(not lanes)
        layout.addWidget(self.empty_label)
        for lane in lanes:
            card = LaneCard(lane, self._lanes.barrier_name(lane.id), body)
            card.raise_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.ask_raise(lid))
            self.cards[lane.id] = card
            layout.addWidget(card)
            self._refresh(lane.id)
        layout.addStretch(1)

    # -- live state ------------------------------------------------------------------

    def card(self, lane_id: str) -> LaneCard:
        return self.cards[lane_id]

    def _refresh(self, lane_id: str, state: str | None = None) -> None:
        card = self.cards[lane_id]
        state = state or self._lanes.barrier_state(lane_id)
        card.set_state(state, self._lanes.barrier_detail(lane_id) if state == "fault" else "")
        if lane_id in self._busy:
            card.raise_button.setEnabled(False)

    def refresh(self) -> None:
        for lane_id in self.cards:
            self._refresh(lane_id)

    def _on_barrier(self, barrier_id: str, state: str) -> None:
        for card in self.cards.values():
            if card.barrier_id == barrier_id:
                self._refresh(card.lane_id, state)

    def showEvent(self, event: QShowEvent) -> None:
        # Barriers may have joined the core since the cards were built (demo start-up).
        super().showEvent(event)
        self.refresh()

    # -- the manual override ---------------------------------------------------------

    def ask_raise(self, lane_id: str) -> RaiseBarrierDialog | None:
        if self._lanes is None or lane_id in self._busy:
            return None
        lane = self._lanes.lane(lane_id)
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        dialog = RaiseBarrierDialog(lane.name, self._lanes.barrier_name(lane_id), self)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._schedule(lane_id, dialog.reason()))
        dialog.open()  # never exec() under qasync
        return dialog

    def _schedule(self, lane_id: str, reason: str) -> None:
        card = self.cards[lane_id]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            card.set_result("Not raised (no event loop)", FAIL_COLOR)
            return
        self._busy.add(lane_id)
        card.raise_button.setEnabled(False)
        card.set_result(f"Raising ({reason})…", PENDING_COLOR)
        task = loop.create_task(self._run(lane_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, lane_id: str, reason: str) -> None:
        try:
            message = await self._lanes.raise_barrier(lane_id, actor=self.actor, reason=reason)
            ok = bool(getattr(message, "ok", True))
        except ValueError as exc:
            message, ok = f"Not raised: {exc}", False
        except Exception as exc:  # a bug behind the service; the attendant still gets a line
            log.exception("manual raise on %s failed", lane_id)
            message, ok = f"Not raised: internal error: {type(exc).__name__}: {exc}", False
        if not shiboken6.isValid(self):
            return  # the window closed meanwhile
        self._busy.discard(lane_id)
        card = self.cards[lane_id]
        card.set_result(f"{'✓' if ok else '✗'} {message}", OK_COLOR if ok else FAIL_COLOR)
        self._refresh(lane_id)
        self.raiseFinished.emit(lane_id, str(message))

    def in_flight(self) -> int:
        return len(self._tasks)

    def sizeHint(self) -> QSize:
        return QSize(520, 640)
