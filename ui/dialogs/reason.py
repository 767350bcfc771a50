"""Asks why: every attendant action without a credential decision has a reason.

One dialog for the manual raise, letting a car through at a lane's prompt, refusing it,
and resetting anti-passback: a list of usual reasons plus "Other…" with free text, and
optionally a value to confirm or correct (the plate as the attendant reads it). Shown
with open() (never exec(): it would nest an event loop inside qasync's); the caller reads
`reason()` and `value()` once `accepted` is emitted.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QIcon
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
MAX_REASON = 200


class ReasonDialog(QDialog):
    def __init__(self, title: str, message: str, reasons: Sequence[str], ok_text: str,
                 parent: QWidget | None = None, *, value_label: str = "",
                 value: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(440)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        self.message_label = QLabel(message, self)
        self.message_label.setWordWrap(True)
        layout.addWidget(self.message_label)

        self.value_edit: QLineEdit | None = None
        if value_label:
            label = QLabel(value_label, self)
            label.setStyleSheet("font-weight: 600;")
            layout.addWidget(label)
            self.value_edit = QLineEdit(value, self)
            self.value_edit.setObjectName("valueEdit")
            self.value_edit.setMaxLength(64)
            layout.addWidget(self.value_edit)

        reason_label = QLabel("Reason:", self)
        reason_label.setStyleSheet("font-weight: 600;")
        layout.addWidget(reason_label)
        self.reason_combo = QComboBox(self)
        self.reason_combo.setObjectName("reasonCombo")
        self.reason_combo.setPlaceholderText("Choose a reason…")
        self.reason_combo.addItems([*reasons, OTHER] if OTHER not in reasons else reasons)
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
        self.ok_button.setText(ok_text)
        self.ok_button.setIcon(QIcon())  # the stock icon is faint on the blue button
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.reason_combo.currentIndexChanged.connect(self._changed)
        self.other_edit.textChanged.connect(self._check)
        if self.value_edit is not None:
            self.value_edit.textChanged.connect(self._check)
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

    def value(self) -> str:
        return self.value_edit.text().strip() if self.value_edit is not None else ""

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

    def _complete(self) -> bool:
        return bool(self.reason()) and (self.value_edit is None or bool(self.value()))

    def _check(self, *_args: object) -> None:
        self.ok_button.setEnabled(self._complete())

    def accept(self) -> None:
        if self._complete():  # Enter in a text field must not slip past the check
            super().accept()
