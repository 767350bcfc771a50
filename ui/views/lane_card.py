"""One lane on the lanes panel: barrier state, zone occupancy and the loop, the last
decision at the lane, the attendant's prompt (Allow… / Refuse…) and the manual Raise…."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ui.views.access_actions import FAIL_COLOR, OK_COLOR
from ui.views.charger_panel import ElidedLabel

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
PENDING_COLOR = "#59636e"
WARN_COLOR = "#9a6700"


def pill_style(state: str) -> str:
    _text, fill, ink = _PILL.get(state, _UNKNOWN)
    return (f"background: {fill}; color: {ink}; border-radius: 9px; padding: 2px 10px;"
            " font-weight: 600;")


def pill_text(state: str) -> str:
    return _PILL.get(state, (state.capitalize() or "?",))[0]


def local_time(at: datetime | None) -> str:
    """Stored UTC, shown in the console's local time."""
    return (at or datetime.now().astimezone()).astimezone().strftime("%H:%M:%S")


class LaneCard(QFrame):
    """One lane: name, entry/exit, barrier, state pill, Raise… and the last result."""

    def __init__(self, lane: Any, barrier_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lane_id = lane.id
        self.zone_id = lane.zone_id
        self.barrier_id = lane.barrier_id or ""
        self.state = ""
        self.last_status = ""
        self.last_value = ""
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
        self.barrier_label = self._elided("muted")
        self.barrier_label.setText(self.barrier_name)
        self.raise_button = QPushButton("Raise…", self)
        self.raise_button.setObjectName("raiseButton")
        self.raise_button.setToolTip("Open the barrier without a decision (manual override; "
                                     "a reason is asked and audited)")
        # Zone occupancy, the full sign and the vehicle loop.
        self.info_label = QLabel("", self)
        self.info_label.setObjectName("laneInfo")
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.info_label.setStyleSheet("border: none;")
        # The last decision at this lane, and the anti-passback reset it may call for.
        self.decision_label = self._elided("laneDecision")
        self.decision_label.setText("No reads yet")
        self.decision_label.setStyleSheet("border: none; color: #59636e;")
        self.apb_button = QPushButton("Reset anti-passback…", self)
        self.apb_button.setObjectName("apbButton")
        self.apb_button.setToolTip("Close the stale parking session of this plate or card "
                                   "(a reason is asked and audited)")
        self.apb_button.setVisible(False)
        self.prompt_frame = self._prompt_box()
        self.result_label = self._elided("laneResult")
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
        grid.addWidget(self.info_label, 2, 0, 1, 4)
        grid.addWidget(self.decision_label, 3, 0, 1, 3)
        grid.addWidget(self.apb_button, 3, 3, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.prompt_frame, 4, 0, 1, 4)
        grid.addWidget(self.result_label, 5, 0, 1, 4)
        grid.setColumnStretch(2, 1)

    def _elided(self, name: str) -> ElidedLabel:
        label = ElidedLabel("", self)
        label.setObjectName(name)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setStyleSheet("border: none;")
        return label

    def _prompt_box(self) -> QFrame:
        box = QFrame(self)
        box.setObjectName(f"prompt_{self.lane_id}")
        box.setStyleSheet(f"QFrame#prompt_{self.lane_id} {{ background: #fff8c5;"
                          " border: 1px solid #d4a72c; border-radius: 4px; }")
        row = QHBoxLayout(box)
        row.setContentsMargins(8, 4, 6, 4)
        self.prompt_label = QLabel("", box)
        self.prompt_label.setObjectName("promptText")
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setStyleSheet("border: none; color: #1f2328;")
        self.allow_button = QPushButton("Allow…", box)
        self.allow_button.setObjectName("allowButton")
        self.allow_button.setToolTip("Let the car through (a reason is asked; the raise "
                                     "is audited)")
        self.refuse_button = QPushButton("Refuse…", box)
        self.refuse_button.setObjectName("refuseButton")
        # An unpaid bill at the exit: the attendant takes the payment at the booth.
        self.pay_button = QPushButton("Take payment…", box)
        self.pay_button.setObjectName("payButton")
        self.pay_button.setVisible(False)
        row.addWidget(self.prompt_label, 1)
        row.addWidget(self.pay_button)
        row.addWidget(self.allow_button)
        row.addWidget(self.refuse_button)
        box.setVisible(False)
        return box

    # -- what the panel sets -----------------------------------------------------------

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

    def set_info(self, zone_name: str, inside: int, capacity: int, full: bool,
                 vehicle: bool | None) -> None:
        parts = [f"{zone_name}: <b>{inside}</b>" + (f" / {capacity}" if capacity else "")]
        if full:
            parts.append("<span style='color:#ffffff; background:#cf222e; font-weight:600;'>"
                         "&nbsp;FULL&nbsp;</span>")
        if vehicle is not None:
            parts.append("vehicle on the loop" if vehicle else "loop clear")
        self.info_label.setText(" · ".join(parts))
        self.info_label.setToolTip("Vehicles inside the lane's zone / its capacity"
                                   + ("; visitors are refused while it is full" if full else ""))

    def set_decision(self, at: datetime | None, value: str, status: str, reason: str,
                     account: str, violation: str = "", offender: int = 0) -> None:
        self.last_status, self.last_value = status, value
        who = f" · {account}" if account else ""
        note = f" · ⚠ {violation}" if violation else ""
        repeat = f" · ⚠ repeat offender ({offender})" if offender >= 2 else ""
        text = f"{local_time(at)}  {value} → {status}: {reason}{who}{note}{repeat}"
        color = OK_COLOR if status == "Accepted" else (
            WARN_COLOR if status in ("AskAttendant", "Unpaid") else FAIL_COLOR)
        self.decision_label.setText(text)
        self.decision_label.setToolTip(text)
        self.decision_label.setStyleSheet(f"border: none; color: {color}; font-weight: 600;")
        self.apb_button.setVisible(status == "AntiPassback")

    def set_prompt(self, prompt: Any | None) -> None:
        self.pay_button.setVisible(prompt is not None and prompt.status == "Unpaid")
        if prompt is None:
            self.prompt_frame.setVisible(False)
            return
        who = f" ({prompt.account_name})" if getattr(prompt, "account_name", "") else ""
        self.prompt_label.setText(f"<b>Waiting since {local_time(prompt.since)}:</b> "
                                  f"{prompt.value}{who} — {prompt.reason}")
        self.prompt_frame.setVisible(True)

    def set_result(self, text: str, color: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.result_label.setText(f"{stamp}  {text}")
        self.result_label.setToolTip(text)
        self.result_label.setStyleSheet(f"color: {color}; font-weight: 600; border: none;")
        self.result_label.setVisible(True)

    def result_text(self) -> str:
        return self.result_label.text()

    def prompt_text(self) -> str:
        return self.prompt_label.text() if self.prompt_frame.isVisibleTo(self) else ""
