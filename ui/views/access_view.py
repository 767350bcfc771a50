"""The Access tab: accounts (search, list, detail), groups, blocklist, site settings.

Reads `core.access` (app.services.access.AccessService); refreshed on the bridge's
accessChanged, which follows every reload — a change made here, in the CLI or in another
console — keeping whatever was selected.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.dialogs.account_edit import AccountDialog
from ui.models.access import AccountTableModel
from ui.views.access_account import AccountDetail
from ui.views.access_actions import ChangeRunner, StatusLine, make_table, select_id, selected_id
from ui.views.access_blocklist import BlocklistPage
from ui.views.access_groups import GroupsPage
from ui.views.access_settings import AccessSettingsPage
from ui.views.command_bar import actor_name


class AccountsPage(QWidget):
    def __init__(self, core: Any, bridge: Any, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountsPage")
        self._access = core.access
        self.actor = actor
        self.runner = ChangeRunner(self)
        self.status = StatusLine(self)
        self.dialog: AccountDialog | None = None

        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("accountSearch")
        self.search_edit.setPlaceholderText("Search name, e-mail, phone, plate or card…")
        self.search_edit.setClearButtonEnabled(True)
        self.new_button = QPushButton("New account…", self)
        self.new_button.setObjectName("newAccount")
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("muted")
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.new_button)

        self.model = AccountTableModel(self._access, self)
        self.table = make_table(self.model, AccountTableModel.COL_NAME, self, "accountTable")
        self.detail = AccountDetail(core, self.runner, self.status, actor, self)
        list_box = QWidget(self)
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(2)
        list_layout.addWidget(self.table, 1)
        list_layout.addWidget(self.count_label)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(list_box)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)

        self.search_edit.textChanged.connect(self.search)
        self.search_edit.returnPressed.connect(self._open_first)
        self.new_button.clicked.connect(self.new_account)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        bridge.accessChanged.connect(self.refresh)
        self._update_count()

    # -- behaviour -------------------------------------------------------------------------

    def selected_account_id(self) -> int | None:
        return selected_id(self.table)

    def select_account(self, account_id: int) -> bool:
        if select_id(self.table, account_id):
            return True
        if self.search_edit.text():  # hidden by the search: clear it and try again
            self.search_edit.clear()
            return select_id(self.table, account_id)
        return False

    def search(self, text: str) -> None:
        keep = self.selected_account_id()
        self.model.search(text)
        self._restore(keep)

    def refresh(self, *_args: Any) -> None:
        keep = self.selected_account_id()
        self.model.refresh()
        self._restore(keep)
        self.detail.refresh()

    def _open_first(self) -> None:
        """Enter in the search box: show the first hit (or keep the one shown)."""
        if self.model.rowCount() and self.selected_account_id() is None:
            self.table.selectRow(0)
        self.table.setFocus()

    def _restore(self, account_id: int | None) -> None:
        if account_id is not None and not select_id(self.table, account_id):
            self.detail.show_account(None)
        self._update_count()

    def _selected(self, *_args: Any) -> None:
        self.detail.show_account(self.selected_account_id())

    def _update_count(self) -> None:
        total = len(self._access.data.accounts)
        shown = self.model.rowCount()
        self.count_label.setText(f"{total} accounts" if shown == total
                                 else f"{shown} of {total} accounts")

    def new_account(self) -> AccountDialog:
        dialog = AccountDialog(None, self._access.data.groups, self)
        self.detail.open_form(dialog, lambda acc: self._access.save_account(self.actor, acc),
                              "Account created", after=self.select_account)
        self.dialog = dialog
        return dialog


class AccessView(QTabWidget):
    """Everything about who may enter and charge."""

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accessView")
        self.setDocumentMode(True)
        self.actor = actor or actor_name()
        self.accounts = AccountsPage(core, bridge, self.actor, self)
        self.groups = GroupsPage(core, bridge, self.actor, self)
        self.blocklist = BlocklistPage(core, bridge, self.actor, self)
        self.settings = AccessSettingsPage(core, bridge, self.actor, self)
        self.addTab(self.accounts, "Accounts")
        self.addTab(self.groups, "Groups")
        self.addTab(self.blocklist, "Blocklist")
        self.addTab(self.settings, "Settings")

    def sizeHint(self) -> QSize:
        return QSize(560, 680)
