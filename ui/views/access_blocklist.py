"""The blocklist: plates and cards refused everywhere, with a reason; add and remove."""

from __future__ import annotations

from html import escape
from typing import Any

import shiboken6
from PySide6.QtWidgets import QPushButton, QWidget

from ui.dialogs.block_edit import BlockDialog
from ui.models.access import BlockTableModel
from ui.views.access_actions import (
    ChangeRunner,
    StatusLine,
    confirm,
    make_table,
    run_form,
    select_id,
    selected_id,
    table_page,
)


class BlocklistPage(QWidget):
    def __init__(self, core: Any, bridge: Any, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blocklistPage")
        self._access = core.access
        self.actor = actor
        self.runner = ChangeRunner(self)
        self.status = StatusLine(self)
        self.dialog: BlockDialog | None = None
        self.confirm_box: Any = None
        self.model = BlockTableModel(self)
        self.table = make_table(self.model, 2, self, "blockTable")
        self.add_button = QPushButton("Block…", self)
        self.add_button.setObjectName("addBlock")
        self.remove_button = QPushButton("Lift block…", self)
        self.remove_button.setObjectName("removeBlock")
        table_page(self, "Refused at every gate and charger, whoever they belong to.",
                   self.table, [self.add_button, self.remove_button], self.status)
        self.add_button.clicked.connect(self.add_block)
        self.remove_button.clicked.connect(self.remove_block)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        bridge.accessChanged.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: Any) -> None:
        keep = selected_id(self.table)
        self.model.set_items(sorted(self._access.blocklist(), key=lambda b: -b.id))
        if keep is not None:
            select_id(self.table, keep)
        self._update_buttons()

    def _update_buttons(self, *_args: Any) -> None:
        self.remove_button.setEnabled(selected_id(self.table) is not None)

    def add_block(self, *_args: Any, **preset: Any) -> BlockDialog:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        dialog = BlockDialog(self, **preset)
        self.dialog = dialog
        run_form(self.runner, self.status, dialog,
                 lambda b: self._access.add_block(self.actor, b.kind, b.value, b.reason,
                                                  b.until),
                 "Blocked", after=lambda block_id: select_id(self.table, block_id))
        return dialog

    def remove_block(self) -> None:
        block_id = selected_id(self.table)
        entry = next((b for b in self.model.items() if b.id == block_id), None)
        if entry is None:
            return

        def go() -> None:
            self.status.pending("Saving…")
            self.runner.run(lambda: self._access.remove_block(self.actor, entry.id),
                            ok=lambda _r: self.status.say(f"{entry.value} no longer blocked"),
                            fail=lambda msg: self.status.say(msg, ok=False))

        self.confirm_box = confirm(
            self, "Lift block", f"Lift the block on {escape(entry.kind.value)} "
            f"<b>{escape(entry.value)}</b> ({escape(entry.reason)})?", "Lift block", go)
