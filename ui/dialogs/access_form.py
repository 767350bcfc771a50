"""The base of the access dialogs: a form that stays open while its change is saved.

OK does not close the dialog: `submitted(value)` is emitted and the caller runs the
change on the qasync loop, then calls `succeed()` (closes) or `fail(message)` (shows the
message in the dialog, keeps every field as typed). Shown with open(), never exec().
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

ERROR_STYLE = ("color: #a40e26; background: #ffebe9; border: 1px solid #ff818266;"
               " border-radius: 4px; padding: 6px 8px;")


class AccessFormDialog(QDialog):
    submitted = Signal(object)

    def __init__(self, title: str, ok_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.busy = False
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(18, 16, 18, 14)
        self._layout.setSpacing(10)
        self.intro = QLabel("", self)
        self.intro.setObjectName("muted")
        self.intro.setWordWrap(True)
        self.intro.setVisible(False)
        self._layout.addWidget(self.intro)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(8)
        self._layout.addLayout(self.form)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Room for a message from the start: a dialog that grows once shown is what some
        # platforms warn about (offscreen: propagateSizeHints), and it would jump.
        self.error_label.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 16)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setDefault(True)
        self._ok_text = ok_text
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

    def finish_layout(self) -> None:
        """Subclasses call this once their fields are in the form."""
        self._layout.addWidget(self.error_label)
        self._layout.addWidget(self.buttons)
        self.adjustSize()  # sized before it has a native window (offscreen warns later)

    def set_intro(self, text: str) -> None:
        self.intro.setText(text)
        self.intro.setVisible(bool(text))

    # -- the protocol with the caller ----------------------------------------------------

    def value(self) -> Any:
        """What to save; ValueError with a readable message when the form is not right."""
        raise NotImplementedError

    def submit(self) -> None:
        if self.busy:
            return
        try:
            value = self.value()
        except ValueError as exc:
            self.fail(str(exc))
            return
        self.set_busy(True)
        self._show_error("")
        self.submitted.emit(value)

    def succeed(self, *_args: Any) -> None:
        self.set_busy(False)
        QDialog.accept(self)

    def fail(self, message: str) -> None:
        self.set_busy(False)
        self._show_error(message[:1].upper() + message[1:])

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setStyleSheet(ERROR_STYLE if text else "")

    def error_text(self) -> str:
        return self.error_label.text()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.ok_button.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(not busy)
        self.ok_button.setText("Saving…" if busy else self._ok_text)

    def accept(self) -> None:  # Enter: the same path as the OK button
        self.submit()

    def reject(self) -> None:
        if not self.busy:  # a change in flight finishes first
            super().reject()


# ---- local time on screen, UTC in storage -------------------------------------------------

def to_qdatetime(at: datetime) -> QDateTime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return QDateTime.fromSecsSinceEpoch(int(at.timestamp()))  # the PC's local time


def from_qdatetime(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)


def datetime_edit(parent: QWidget, at: datetime, name: str) -> QDateTimeEdit:
    edit = QDateTimeEdit(to_qdatetime(at), parent)
    edit.setObjectName(name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("dd MMM yyyy  HH:mm")
    return edit
