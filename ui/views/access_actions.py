"""What the access screens share: running an AccessService change as a task on the qasync
loop, a yes/no confirmation opened with open(), a read-only table, a status line.

A change never runs inside a modal exec(): a slot schedules the coroutine and the result
comes back through a callback (on the Qt main thread, which is the loop's thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.models.access import ITEM_ID

log = logging.getLogger("gatehouse.ui.access")

OK_COLOR = "#1a7f37"
FAIL_COLOR = "#cf222e"


# Refusals a service call explains in words (a bad value, an unknown id, no approval).
SERVICE_REFUSALS: tuple[type[Exception], ...] = (ValueError, KeyError, PermissionError)


class ChangeRunner(QObject):
    """Schedules changes; `ok(result)` or `fail(message)` is called when one is done.

    ValueError (AccessConflict included) carries a message a person can read; anything
    else is a bug behind the service: logged, and the user still gets a line.
    """

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task] = set()

    def run(self, make: Callable[[], Awaitable[Any]], *,
            ok: Callable[[Any], None] | None = None,
            fail: Callable[[str], None] | None = None,
            expected: tuple[type[Exception], ...] = (ValueError,)) -> bool:
        """`expected`: the errors that carry a message for the user (not a bug)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if fail is not None:
                fail("not saved: the console has no event loop")
            return False
        task = loop.create_task(self._run(make, ok, fail, expected))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, make: Callable[[], Awaitable[Any]],
                   ok: Callable[[Any], None] | None,
                   fail: Callable[[str], None] | None,
                   expected: tuple[type[Exception], ...]) -> None:
        try:
            result = await make()
        except expected as exc:
            if shiboken6.isValid(self) and fail is not None:
                fail(str(exc))
            return
        except Exception as exc:
            log.exception("console change failed")
            if shiboken6.isValid(self) and fail is not None:
                fail(f"internal error: {type(exc).__name__}: {exc}")
            return
        if shiboken6.isValid(self) and ok is not None:
            ok(result)

    def call(self, work: Awaitable[Any], *, ok: Callable[[Any], None],
             fail: Callable[[str], None],
             expected: tuple[type[Exception], ...] = SERVICE_REFUSALS) -> None:
        """run() for a service call already made (a coroutine): closed, never awaited, when
        there is no loop to run it on."""
        if not self.run(lambda: work, ok=ok, fail=fail, expected=expected):
            close = getattr(work, "close", None)
            if close is not None:
                close()

    def in_flight(self) -> int:
        return len(self._tasks)


def open_dialog(owner: Any, dialog: Any, on_accept: Callable[[], None]) -> Any:
    """open() a dialog (never exec() under qasync): `on_accept` runs once it is accepted,
    and it is deleted when it closes. Kept on `owner.dialog`: tests drive it."""
    dialog.accepted.connect(on_accept)
    dialog.finished.connect(dialog.deleteLater)
    owner.dialog = dialog
    dialog.open()
    return dialog


def show_result(label: QLabel, text: str, ok: bool) -> None:
    """A view's result line: how the last action went, green or red."""
    label.setText(text)
    label.setStyleSheet(f"color: {OK_COLOR if ok else FAIL_COLOR};")


def run_form(runner: ChangeRunner, status: StatusLine | None, dialog: Any,
             make: Callable[[Any], Awaitable[Any]], done: str,
             after: Callable[[Any], None] | None = None) -> Any:
    """Open an AccessFormDialog; each submit runs make(value): on success the dialog closes
    (and `after(result)` runs), on a refusal it stays open with the message."""

    def submitted(value: Any) -> None:
        def ok(result: Any) -> None:
            if shiboken6.isValid(dialog):
                dialog.succeed()
            if status is not None and shiboken6.isValid(status):
                status.say(done)
            if after is not None:
                after(result)

        def fail(message: str) -> None:
            if shiboken6.isValid(dialog):
                dialog.fail(message)

        runner.run(lambda: make(value), ok=ok, fail=fail)

    dialog.submitted.connect(submitted)
    dialog.open()  # never exec() under qasync
    return dialog


class ConfirmDialog(QDialog):
    """A yes/no question (a QMessageBox resizes itself once shown, which offscreen and
    some window managers warn about; this one is sized before it opens)."""

    def __init__(self, parent: QWidget, title: str, text: str, yes: str) -> None:
        super().__init__(parent)
        self.setObjectName("confirmDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.label = QLabel(text, self)
        self.label.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.yes_button = self.buttons.addButton(yes, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)  # Enter must not delete anything
        self.yes_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(12)
        layout.addWidget(self.label)
        layout.addWidget(self.buttons)
        self.adjustSize()

    def text(self) -> str:
        return self.label.text()


def confirm(parent: QWidget, title: str, text: str, yes: str,
            then: Callable[[], None]) -> ConfirmDialog:
    """Ask yes/no with open() (never exec()); `then()` runs only on yes."""
    box = ConfirmDialog(parent, title, text, yes)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.accepted.connect(then)
    box.open()
    return box


def table_page(page: QWidget, intro: str, table: QTableView, buttons: list[QPushButton],
               status: QWidget) -> QLabel:
    """The layout of a list page: a line saying what the list is, the table, its buttons
    and the status line for the last change. Returns the intro label."""
    label = QLabel(intro, page)
    label.setObjectName("muted")
    label.setWordWrap(True)
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(8, 8, 8, 6)
    layout.setSpacing(6)
    layout.addWidget(label)
    layout.addWidget(table, 1)
    layout.addLayout(row)
    layout.addWidget(status)
    return label


def make_table(model: QAbstractItemModel, stretch: int, parent: QWidget,
               name: str) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setShowGrid(False)
    view.verticalHeader().hide()
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(48)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return view


def selected_id(view: QTableView) -> Any:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    return rows[0].data(ITEM_ID) if rows else None


def select_id(view: QTableView, item_id: Any) -> bool:
    """Select the row holding `item_id` (after a reload); False when it is gone."""
    model = view.model()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(ITEM_ID) == item_id:
            view.selectRow(row)
            view.scrollTo(index)
            return True
    view.clearSelection()
    view.setCurrentIndex(QModelIndex())
    return False


def compact(button: QPushButton) -> QPushButton:
    """Narrower than the theme's buttons (min-width 64px + 16px padding a side): rows of
    them must fit a side panel on a 1024-pixel-wide booth screen."""
    button.setStyleSheet("QPushButton { min-width: 0px; padding: 5px 10px; }")
    return button


class StatusLine(QLabel):
    """One line under a page saying how the last change went."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("", parent)
        self.setObjectName("accessStatus")
        self.setWordWrap(True)
        self.setVisible(False)

    def say(self, text: str, ok: bool = True) -> None:
        self.setText(("✓ " if ok else "✗ ") + text)
        self.setStyleSheet(f"color: {OK_COLOR if ok else FAIL_COLOR}; font-weight: 600;")
        self.setVisible(True)

    def pending(self, text: str) -> None:
        self.setText(text)
        self.setStyleSheet("color: #59636e;")
        self.setVisible(True)
