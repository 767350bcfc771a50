"""One account: who it is, its credentials and its permits, and the changes to them.

Every change runs on the qasync loop (ChangeRunner); dialogs stay open until the change is
saved and show the service's message when it is refused.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html import escape
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.access import Account, CredentialStatus, Permit
from ui.dialogs.access_form import AccessFormDialog
from ui.dialogs.account_edit import AccountDialog
from ui.dialogs.credential_edit import CredentialDialog, CredentialStatusDialog
from ui.dialogs.permit_edit import PermitDialog
from ui.models.access import CredentialTableModel, PermitTableModel
from ui.views.access_actions import (
    ChangeRunner,
    StatusLine,
    compact,
    confirm,
    make_table,
    run_form,
    select_id,
    selected_id,
)
from ui.views.charger_panel import ElidedLabel


def _button(text: str, name: str, parent: QWidget, tip: str = "") -> QPushButton:
    b = QPushButton(text, parent)
    b.setObjectName(name)
    compact(b)
    if tip:
        b.setToolTip(tip)
    return b


class AccountDetail(QWidget):
    """The selected account. `account_id` None: nothing selected (a hint is shown)."""

    deleted = Signal(int)

    def __init__(self, core: Any, runner: ChangeRunner, status: StatusLine, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountDetail")
        self._core = core
        self._access = core.access
        self._runner = runner
        self._status = status
        self.actor = actor
        self.account_id: int | None = None
        self.dialog: AccessFormDialog | None = None
        self.confirm_box: Any = None
        self.zones = {z.id: z.name for z in core.site.zones}
        self._build()
        self.show_account(None)

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.title_label = ElidedLabel("", self)  # a long name must not widen the panel
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.title_label.setObjectName("accountTitle")
        self.title_label.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.meta_label = QLabel("", self)
        self.meta_label.setObjectName("muted")
        self.meta_label.setWordWrap(True)
        self.meta_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit_button = _button("Edit…", "editAccount", self)
        self.active_button = _button("Deactivate…", "toggleActive", self,
                                     "A deactivated account's credentials are refused "
                                     "everywhere; nothing is deleted")
        self.delete_button = _button("Delete…", "deleteAccount", self)
        self.edit_button.clicked.connect(self.edit_account)
        self.active_button.clicked.connect(self.toggle_active)
        self.delete_button.clicked.connect(self.delete_account)

        head = QHBoxLayout()
        head.addWidget(self.title_label, 1)
        for b in (self.edit_button, self.active_button, self.delete_button):
            head.addWidget(b)

        self.cred_model = CredentialTableModel(self)
        self.cred_table = make_table(self.cred_model, CredentialTableModel.COL_LABEL, self,
                                     "credentialTable")
        self.add_cred_button = _button("Add…", "addCredential", self)
        self.delete_cred_button = _button("Delete…", "deleteCredential", self)
        # Suspend / revoke / reactivate in one menu: five buttons would widen the panel.
        self.status_button = _button("Suspend / revoke", "credentialStatus", self,
                                     "Refuse the credential for now (suspend) or for good "
                                     "(revoke), with a reason; or reactivate it")
        self.status_menu = QMenu(self.status_button)
        self.suspend_action = self.status_menu.addAction("Suspend…")
        self.revoke_action = self.status_menu.addAction("Revoke…")
        self.status_menu.addSeparator()
        self.reactivate_action = self.status_menu.addAction("Reactivate")
        self.status_button.setMenu(self.status_menu)
        self.add_cred_button.clicked.connect(self.add_credential)
        self.suspend_action.triggered.connect(
            lambda: self.change_credential_status(CredentialStatus.SUSPENDED))
        self.revoke_action.triggered.connect(
            lambda: self.change_credential_status(CredentialStatus.REVOKED))
        self.reactivate_action.triggered.connect(self.reactivate_credential)
        self.delete_cred_button.clicked.connect(self.delete_credential)
        creds = self._tab_page(self.cred_table, self.add_cred_button, self.status_button,
                               self.delete_cred_button)

        self.permit_model = PermitTableModel(self.zones, self)
        self.permit_table = make_table(self.permit_model, PermitTableModel.COL_ZONE, self,
                                       "permitTable")
        self.add_permit_button = _button("Add…", "addPermit", self)
        self.edit_permit_button = _button("Edit…", "editPermit", self)
        self.delete_permit_button = _button("Delete…", "deletePermit", self)
        self.add_permit_button.clicked.connect(lambda: self.edit_permit(None))
        self.edit_permit_button.clicked.connect(
            lambda: self.edit_permit(selected_id(self.permit_table)))
        self.permit_table.activated.connect(
            lambda index: self.edit_permit(selected_id(self.permit_table)))
        self.delete_permit_button.clicked.connect(self.delete_permit)
        permits = self._tab_page(self.permit_table, self.add_permit_button,
                                 self.edit_permit_button, self.delete_permit_button)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("accountTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(creds, "Credentials")
        self.tabs.addTab(permits, "Permits")
        self.hint_label = QLabel("Select an account to see its credentials and permits, "
                                 "or create one with “New account…”.", self)
        self.hint_label.setObjectName("muted")
        self.hint_label.setWordWrap(True)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.meta_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.hint_label, 1)
        for table in (self.cred_table, self.permit_table):
            table.selectionModel().selectionChanged.connect(self._update_buttons)

    def _tab_page(self, table: QWidget, *buttons: QPushButton) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(table, 1)
        row = QHBoxLayout()
        for b in buttons:
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        return page

    # -- showing ---------------------------------------------------------------------------

    def account(self) -> Account | None:
        return self._access.account(self.account_id) if self.account_id is not None else None

    def show_account(self, account_id: int | None) -> None:
        if account_id != self.account_id:
            self.cred_table.clearSelection()
            self.permit_table.clearSelection()
        self.account_id = account_id
        self.refresh()

    def refresh(self) -> None:
        """Re-read the account (after any reload), keeping the selected rows."""
        account = self.account()
        shown = account is not None
        for w in (self.title_label, self.meta_label, self.tabs, self.edit_button,
                  self.active_button, self.delete_button):
            w.setVisible(shown)
        self.hint_label.setVisible(not shown)
        if account is None:
            self.account_id = None
            self.cred_model.set_items([])
            self.permit_model.set_items([])
            return
        group = self._access.index.group_of(account)
        self.title_label.setText(account.name + ("" if account.active else "  (deactivated)"))
        self.title_label.setStyleSheet("font-size: 12pt; font-weight: 600;"
                                       + ("" if account.active else " color: #6e7781;"))
        meta = [f"{account.kind.value.capitalize()} · group {escape(group.name)}"]
        meta += [escape(x) for x in (account.email, account.phone) if x]
        if account.notes:
            meta.append(f"<i>{escape(account.notes)}</i>")
        self.meta_label.setText("  ·  ".join(meta))
        self.active_button.setText("Deactivate…" if account.active else "Reactivate")
        cred_id = selected_id(self.cred_table)
        permit_id = selected_id(self.permit_table)
        creds = self._access.credentials_of(account.id)
        self.cred_model.set_items(sorted(creds, key=lambda c: c.id))
        permits = self._access.permits_of(account.id)
        self.permit_model.set_items(sorted(permits, key=lambda p: (p.valid_from, p.id)))
        if cred_id is not None:
            select_id(self.cred_table, cred_id)
        if permit_id is not None:
            select_id(self.permit_table, permit_id)
        self.tabs.setTabText(0, f"Credentials ({len(creds)})")
        self.tabs.setTabText(1, f"Permits ({len(permits)})")
        self._update_buttons()

    def _update_buttons(self, *_args: object) -> None:
        cred = self.selected_credential()
        self.suspend_action.setEnabled(cred is not None
                                       and cred.status is CredentialStatus.ACTIVE)
        self.revoke_action.setEnabled(cred is not None
                                      and cred.status is not CredentialStatus.REVOKED)
        self.reactivate_action.setEnabled(cred is not None and not cred.active)
        self.status_button.setEnabled(cred is not None)
        self.delete_cred_button.setEnabled(cred is not None)
        has_permit = selected_id(self.permit_table) is not None
        self.edit_permit_button.setEnabled(has_permit)
        self.delete_permit_button.setEnabled(has_permit)

    def selected_credential(self) -> Any:
        cred_id = selected_id(self.cred_table)
        return next((c for c in self.cred_model.items() if c.id == cred_id), None)

    def sizeHint(self) -> QSize:
        return QSize(520, 320)

    # -- changes ---------------------------------------------------------------------------

    def open_form(self, dialog: AccessFormDialog, make: Any, done: str,
                  after: Any = None) -> AccessFormDialog:
        """Open `dialog`; on submit run make(value); close it on success, else keep it open
        with the message."""
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        return run_form(self._runner, self._status, dialog, make, done, after)

    def _simple(self, make: Any, done: str) -> None:
        self._status.pending("Saving…")
        self._runner.run(make, ok=lambda _r: self._status.say(done),
                         fail=lambda msg: self._status.say(msg, ok=False))

    def edit_account(self) -> AccountDialog | None:
        account = self.account()
        if account is None:
            return None
        dialog = AccountDialog(account, self._access.data.groups, self)
        self.open_form(dialog, lambda acc: self._access.save_account(self.actor, acc),
                   f"Account {account.name} saved")
        return dialog  # type: ignore[return-value]

    def toggle_active(self) -> None:
        account = self.account()
        if account is None:
            return
        changed = replace(account, active=not account.active)
        verb = "reactivated" if changed.active else "deactivated"

        def go() -> None:
            self._simple(lambda: self._access.save_account(self.actor, changed),
                         f"Account {account.name} {verb}")

        if changed.active:
            go()
        else:
            self.confirm_box = confirm(
                self, "Deactivate account",
                f"Deactivate <b>{escape(account.name)}</b>? Every credential of the account "
                "is refused at gates and chargers until it is reactivated.", "Deactivate", go)

    def delete_account(self) -> None:
        account = self.account()
        if account is None:
            return

        def go() -> None:
            self._simple(lambda: self._access.delete_account(self.actor, account.id),
                         f"Account {account.name} deleted")

        self.confirm_box = confirm(
            self, "Delete account",
            f"Delete <b>{escape(account.name)}</b> with its credentials and permits? "
            "Past decisions and sessions keep their records. Deactivating keeps the "
            "account instead.", "Delete", go)

    def add_credential(self) -> CredentialDialog | None:
        account = self.account()
        if account is None:
            return None
        dialog = CredentialDialog(account.name, self)

        async def add(new: Any) -> int:
            try:
                return await self._access.add_credential(self.actor, account.id, new.kind,
                                                         new.value, new.label)
            except ValueError as exc:  # "... belongs to account 7": say whose it is
                raise ValueError(self._name_accounts(str(exc))) from exc

        self.open_form(dialog, add, "Credential added")
        return dialog

    def _name_accounts(self, message: str) -> str:
        def named(match: re.Match) -> str:
            other = self._access.account(int(match.group(1)))
            return f"{other.name} (account {other.id})" if other else match.group(0)

        return re.sub(r"\baccount (\d+)", named, message)

    def change_credential_status(self, status: CredentialStatus) -> Any:
        cred = self.selected_credential()
        if cred is None:
            return None
        dialog = CredentialStatusDialog(cred, status, self._access.policy.revoke_policies,
                                        self)
        self.open_form(dialog, lambda reason: self._access.set_credential_status(
            self.actor, cred.id, status, reason), f"{cred.kind.value} {cred.value} {status}")
        return dialog

    def reactivate_credential(self) -> None:
        cred = self.selected_credential()
        if cred is not None:
            self._simple(lambda: self._access.set_credential_status(
                self.actor, cred.id, CredentialStatus.ACTIVE, ""),
                f"{cred.kind.value} {cred.value} reactivated")

    def delete_credential(self) -> None:
        cred = self.selected_credential()
        if cred is None:
            return

        def go() -> None:
            self._simple(lambda: self._access.delete_credential(self.actor, cred.id),
                         f"{cred.kind.value} {cred.value} deleted")

        self.confirm_box = confirm(
            self, "Delete credential",
            f"Delete {escape(cred.kind.value)} <b>{escape(cred.value)}</b>? To keep it on "
            "record but refuse it, revoke it instead.", "Delete", go)

    def edit_permit(self, permit_id: int | None) -> PermitDialog | None:
        account = self.account()
        if account is None:
            return None
        permit: Permit | None = None
        if permit_id is not None:
            permit = next((p for p in self.permit_model.items() if p.id == permit_id), None)
            if permit is None:
                return None
        dialog = PermitDialog(permit, account.id, account.name, self._core.site.zones, self)
        self.open_form(dialog, lambda p: self._access.save_permit(self.actor, p),
                   "Permit saved" if permit else "Permit added")
        return dialog

    def delete_permit(self) -> None:
        permit_id = selected_id(self.permit_table)
        if permit_id is None:
            return

        def go() -> None:
            self._simple(lambda: self._access.delete_permit(self.actor, permit_id),
                         "Permit deleted")

        self.confirm_box = confirm(self, "Delete permit",
                                   "Delete this permit? To end it early, edit its end "
                                   "date or set it suspended instead.", "Delete", go)
