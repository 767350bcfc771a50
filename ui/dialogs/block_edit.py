"""Add a blocklist entry: kind, value, reason, optionally until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from app.domain.access import CredentialKind, normalize_credential
from ui.dialogs.access_form import AccessFormDialog, datetime_edit, from_qdatetime

REASONS = ("Repeat offender", "Unpaid sessions", "Stolen vehicle", "Damage to the site",
           "Fraud")


@dataclass(frozen=True, slots=True)
class NewBlock:
    kind: CredentialKind
    value: str
    reason: str
    until: datetime | None


class BlockDialog(AccessFormDialog):
    def __init__(self, parent: QWidget | None = None, *,
                 kind: CredentialKind = CredentialKind.PLATE, value: str = "") -> None:
        super().__init__("Add to blocklist", "Block", parent)
        self.setObjectName("blockDialog")
        self.set_intro("A blocklisted plate or card is refused at every gate and charger; "
                       "a session it is charging now is stopped at once.")
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("blockKind")
        for k in CredentialKind:
            self.kind_combo.addItem(k.value, k.value)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind.value))
        self.value_edit = QLineEdit(value, self)
        self.value_edit.setObjectName("blockValue")
        self.value_edit.setMaxLength(128)
        self.stored_label = QLabel("", self)
        self.stored_label.setObjectName("storedAs")
        self.reason_combo = QComboBox(self)
        self.reason_combo.setObjectName("blockReason")
        self.reason_combo.setEditable(True)
        self.reason_combo.addItems(REASONS)
        self.reason_combo.setCurrentIndex(-1)
        self.reason_combo.lineEdit().setPlaceholderText("Why (required)")
        self.reason_combo.lineEdit().setMaxLength(200)
        now = datetime.now().astimezone().replace(second=0, microsecond=0)
        self.until_edit = datetime_edit(self, now + timedelta(days=30), "blockUntil")
        self.forever_check = QCheckBox("Until lifted", self)
        self.forever_check.setObjectName("untilLifted")
        self.forever_check.setChecked(True)
        self.until_edit.setEnabled(False)
        self.forever_check.toggled.connect(lambda on: self.until_edit.setEnabled(not on))
        until_row = QHBoxLayout()
        until_row.addWidget(self.until_edit, 1)
        until_row.addWidget(self.forever_check)
        self.form.addRow("Kind:", self.kind_combo)
        self.form.addRow("Value:", self.value_edit)
        self.form.addRow("Stored as:", self.stored_label)
        self.form.addRow("Reason:", self.reason_combo)
        self.form.addRow("Until:", until_row)
        self.kind_combo.currentIndexChanged.connect(self._update)
        self.value_edit.textChanged.connect(self._update)
        self._update()
        self.finish_layout()
        self.value_edit.setFocus()

    def kind(self) -> CredentialKind:
        return CredentialKind(self.kind_combo.currentData())

    def _update(self, *_args: object) -> None:
        stored = normalize_credential(self.kind(), self.value_edit.text())
        self.stored_label.setText(f"<b>{stored}</b>" if stored else "—")

    def value(self) -> NewBlock:
        if not normalize_credential(self.kind(), self.value_edit.text()):
            raise ValueError(f"type the {self.kind().value} to block")
        reason = self.reason_combo.currentText().strip()
        if not reason:
            raise ValueError("say why it is blocked")
        until = None
        if not self.forever_check.isChecked():
            until = from_qdatetime(self.until_edit.dateTime())
            if until <= datetime.now().astimezone():
                raise ValueError("the block would already be over: pick a later time")
        return NewBlock(self.kind(), self.value_edit.text(), reason, until)
