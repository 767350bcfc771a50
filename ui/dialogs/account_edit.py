"""New account / edit account: name, kind, group, contact, notes, active."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QWidget

from app.domain.access import Account, AccountKind, Group
from ui.dialogs.access_form import AccessFormDialog


class AccountDialog(AccessFormDialog):
    def __init__(self, account: Account | None, groups: Sequence[Group],
                 parent: QWidget | None = None) -> None:
        new = account is None
        super().__init__("New account" if new else f"Edit account — {account.name}",
                         "Create account" if new else "Save", parent)
        self.setObjectName("accountDialog")
        self.account = account or Account(0, "", group_id="resident")

        self.name_edit = QLineEdit(self.account.name, self)
        self.name_edit.setObjectName("accountName")
        self.name_edit.setPlaceholderText("Person or company")
        self.name_edit.setMaxLength(200)
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("accountKind")
        for kind in AccountKind:
            self.kind_combo.addItem(kind.value.capitalize(), kind.value)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(self.account.kind.value))
        self.group_combo = QComboBox(self)
        self.group_combo.setObjectName("accountGroup")
        for group in groups:
            self.group_combo.addItem(group.name, group.id)
        pos = self.group_combo.findData(self.account.group_id)
        if pos < 0:  # a group that is gone: keep it selectable rather than change it silently
            self.group_combo.addItem(self.account.group_id, self.account.group_id)
            pos = self.group_combo.count() - 1
        self.group_combo.setCurrentIndex(pos)
        self.email_edit = QLineEdit(self.account.email, self)
        self.email_edit.setObjectName("accountEmail")
        self.email_edit.setPlaceholderText("name@example.com")
        self.phone_edit = QLineEdit(self.account.phone, self)
        self.phone_edit.setObjectName("accountPhone")
        self.notes_edit = QPlainTextEdit(self.account.notes, self)
        self.notes_edit.setObjectName("accountNotes")
        self.notes_edit.setFixedHeight(64)
        self.active_check = QCheckBox("Active (its credentials may open gates and charge)", self)
        self.active_check.setObjectName("accountActive")
        self.active_check.setChecked(self.account.active)

        self.form.addRow("Name:", self.name_edit)
        self.form.addRow("Kind:", self.kind_combo)
        self.form.addRow("Group:", self.group_combo)
        self.form.addRow("E-mail:", self.email_edit)
        self.form.addRow("Phone:", self.phone_edit)
        self.form.addRow("Notes:", self.notes_edit)
        self.form.addRow("", self.active_check)
        self.finish_layout()
        self.name_edit.setFocus()

    def value(self) -> Account:
        name = self.name_edit.text().strip()
        if not name:
            raise ValueError("an account needs a name")
        email = self.email_edit.text().strip()
        if email and ("@" not in email or " " in email):
            raise ValueError(f"{email!r} is not an e-mail address")
        return Account(
            id=self.account.id, name=name, kind=AccountKind(self.kind_combo.currentData()),
            group_id=self.group_combo.currentData(), email=email,
            phone=self.phone_edit.text().strip(),
            notes=self.notes_edit.toPlainText().strip(), active=self.active_check.isChecked())
