"""Asks why a barrier is raised by hand: a manual override always has a reason.

Shown with open() (never exec(): it would nest an event loop inside qasync's); the caller
reads `reason()` once `accepted` is emitted.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

OTHER = "Other…"
REASONS = ("Ticket/plate not read", "Visitor let in by attendant", "Emergency vehicle",
           "Barrier test", OTHER)
MAX_REASON = 200


class RaiseBarrierDialog(QDialog):
    def __init__(self, lane_name: str, barrier_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("raiseBarrierDialog")
        self.setWindowTitle(f"Raise barrier — {lane_name}")
        self.setMinimumWidth(440)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        self.message_label = QLabel(
            f"Open <b>{barrier_name}</b> ({lane_name}) without a credential decision.<br>"
            "The reason and your name are written to the audit trail.", self)
        self.message_label.setWordWrap(True)
        layout.addWidget(self.message_label)
        reason_label = QLabel("Reason:", self)
        reason_label.setStyleSheet("font-weight: 600;")
        layout.addWidget(reason_label)

        self.reason_combo = QComboBox(self)
        self.reason_combo.setObjectName("reasonCombo")
        self.reason_combo.setPlaceholderText("Choose a reason…")
        self.reason_combo.addItems(REASONS)
        self.reason_combo.setCurrentIndex(-1)  # no reason until the attendant picks one
        layout.addWidget(self.reason_combo)

        self.other_edit = QLineEdit(self)
        self.other_edit.setObjectName("reasonText")
        self.other_edit.setPlaceholderText("Describe the reason")
        self.other_edit.setMaxLength(MAX_REASON)
        # Always there, enabled only for "Other…": showing it later would resize the dialog.
        self.other_edit.setEnabled(False)
        layout.addWidget(self.other_edit)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Raise barrier")
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.reason_combo.currentIndexChanged.connect(self._changed)
        self.other_edit.textChanged.connect(self._check)
        self._check()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    def reason(self) -> str:
        """The reason given; "" while there is none."""
        choice = self.reason_combo.currentText()
        if self.reason_combo.currentIndex() < 0 or not choice:
            return ""
        if choice == OTHER:
            return self.other_edit.text().strip()
        return choice

    def choose(self, reason: str) -> None:
        """Pick a listed reason, or any other text through "Other…" (tests, keyboard)."""
        pos = self.reason_combo.findText(reason)
        if pos >= 0 and reason != OTHER:
            self.reason_combo.setCurrentIndex(pos)
        else:
            self.reason_combo.setCurrentIndex(self.reason_combo.findText(OTHER))
            self.other_edit.setText("" if reason == OTHER else reason)

    def _changed(self, _index: int) -> None:
        other = self.reason_combo.currentText() == OTHER
        self.other_edit.setEnabled(other)
        if other:
            self.other_edit.setFocus()
        self._check()

    def _check(self, *_args: object) -> None:
        self.ok_button.setEnabled(bool(self.reason()))

    def accept(self) -> None:
        if self.reason():  # Enter in the text field must not slip past the check
            super().accept()
