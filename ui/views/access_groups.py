"""Groups: their rules (zones, max stay, charging, vehicles, tariff); add a custom group."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtWidgets import QPushButton, QWidget

from ui.dialogs.group_edit import GroupDialog
from ui.models.access import GroupTableModel
from ui.views.access_actions import (
    ChangeRunner,
    StatusLine,
    make_table,
    run_form,
    select_id,
    selected_id,
    table_page,
)


class GroupsPage(QWidget):
    def __init__(self, core: Any, bridge: Any, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("groupsPage")
        self._core = core
        self._access = core.access
        self.actor = actor
        self.runner = ChangeRunner(self)
        self.status = StatusLine(self)
        self.dialog: GroupDialog | None = None
        self.model = GroupTableModel({z.id: z.name for z in core.site.zones}, self)
        self.table = make_table(self.model, 1, self, "groupTable")
        self.new_button = QPushButton("New group…", self)
        self.new_button.setObjectName("newGroup")
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.setObjectName("editGroup")
        table_page(self, "Every account belongs to one group; its rules apply at every gate "
                   "and charger. Double-click a group to edit it.", self.table,
                   [self.new_button, self.edit_button], self.status)
        self.new_button.clicked.connect(lambda: self.edit_group(None))
        self.edit_button.clicked.connect(lambda: self.edit_group(selected_id(self.table)))
        self.table.activated.connect(lambda _i: self.edit_group(selected_id(self.table)))
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        bridge.accessChanged.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: Any) -> None:
        keep = selected_id(self.table)
        self.model.set_items(self._access.data.groups)
        if keep is not None:
            select_id(self.table, keep)
        self._update_buttons()

    def _update_buttons(self, *_args: Any) -> None:
        self.edit_button.setEnabled(selected_id(self.table) is not None)

    def edit_group(self, group_id: str | None) -> GroupDialog | None:
        groups = self._access.data.groups
        group = None
        if group_id is not None:
            group = next((g for g in groups if g.id == group_id), None)
            if group is None:
                return None
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        dialog = GroupDialog(group, self._core.site.zones, [g.id for g in groups],
                             [g.tariff for g in groups], self)
        self.dialog = dialog
        run_form(self.runner, self.status, dialog,
                 lambda g: self._access.save_group(self.actor, g),
                 "Group saved" if group else "Group created",
                 after=lambda _r: select_id(self.table, dialog.value().id)
                 if shiboken6.isValid(dialog) else None)
        return dialog
