"""Dialogs for charger commands that need input or a confirmation, and the configuration
table a GetConfiguration answer fills.

Callers show them with open() and act on `accepted`: never exec(), which would nest an
event loop inside qasync's (DESIGN.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a command dialog."""

    name: str
    label: str
    kind: str = "text"  # text | choice | number
    # choice: (shown text, value) pairs; the first is preselected unless `default` names one.
    choices: tuple[tuple[str, Any], ...] = ()
    default: Any = None
    required: bool = False
    editable: bool = False  # choice: the user may also type a value of their own
    placeholder: str = ""
    max_length: int = 0
    minimum: float = 0.0
    maximum: float = 1_000_000.0
    decimals: int = 1
    suffix: str = ""
    help: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    """What a command asks before it is sent."""

    title: str
    message: str = ""
    fields: tuple[Field, ...] = ()
    ok_text: str = "Send"
    # A command that interrupts charging or changes the charger: the OK button says so.
    danger: bool = False


class CommandDialog(QDialog):
    def __init__(self, form: Form, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commandDialog")
        self.setWindowTitle(form.title)
        self.setMinimumWidth(380)
        self._fields = {f.name: f for f in form.fields}
        self._widgets: dict[str, QWidget] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(12)
        if form.message:
            self.message_label = QLabel(form.message, self)
            self.message_label.setObjectName("dangerText" if form.danger else "muted")
            self.message_label.setWordWrap(True)
            layout.addWidget(self.message_label)
        if form.fields:
            grid = QFormLayout()
            grid.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for f in form.fields:
                widget = self._make(f)
                widget.setObjectName(f"field_{f.name}")
                if f.help:
                    widget.setToolTip(f.help)
                self._widgets[f.name] = widget
                grid.addRow(f"{f.label}:", widget)
            layout.addLayout(grid)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(form.ok_text)
        self.ok_button.setDefault(True)
        if form.danger:
            self.ok_button.setObjectName("dangerButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._check()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    # -- inputs ----------------------------------------------------------------------

    def _make(self, f: Field) -> QWidget:
        if f.kind == "choice":
            combo = QComboBox(self)
            combo.setEditable(f.editable)
            for text, value in f.choices:
                combo.addItem(text, value)
            if f.default is not None:
                pos = combo.findData(f.default)
                if pos >= 0:
                    combo.setCurrentIndex(pos)
                elif f.editable:
                    combo.setEditText(str(f.default))
            if f.editable:
                if f.placeholder and combo.lineEdit() is not None:
                    combo.lineEdit().setPlaceholderText(f.placeholder)
                combo.editTextChanged.connect(self._check)
            return combo
        if f.kind == "number":
            spin = QDoubleSpinBox(self)
            spin.setRange(f.minimum, f.maximum)
            spin.setDecimals(f.decimals)
            if f.suffix:
                spin.setSuffix(f" {f.suffix}")
            spin.setValue(float(f.default if f.default is not None else f.minimum))
            return spin
        edit = QLineEdit(self)
        if f.placeholder:
            edit.setPlaceholderText(f.placeholder)
        if f.max_length:
            edit.setMaxLength(f.max_length)
        if f.default is not None:
            edit.setText(str(f.default))
        edit.textChanged.connect(self._check)
        return edit

    def widget(self, name: str) -> QWidget:
        return self._widgets[name]

    def set_value(self, name: str, value: Any) -> None:
        """Fill a field as a user would (tests, and defaults chosen after construction)."""
        widget = self._widgets[name]
        if isinstance(widget, QComboBox):
            pos = widget.findData(value)
            if pos >= 0:
                widget.setCurrentIndex(pos)
            else:
                widget.setEditText(str(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))

    def _value(self, name: str) -> Any:
        widget = self._widgets[name]
        if isinstance(widget, QComboBox):
            if widget.isEditable():
                text = widget.currentText().strip()
                pos = widget.findText(text)
                return widget.itemData(pos) if pos >= 0 else text
            return widget.currentData()
        if isinstance(widget, QDoubleSpinBox):
            return widget.value()
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def values(self) -> dict[str, Any]:
        return {name: self._value(name) for name in self._widgets}

    def _check(self, *_args: Any) -> None:
        complete = all(
            self._value(name) not in ("", None)
            for name, f in self._fields.items() if f.required
        )
        self.ok_button.setEnabled(complete)


# -- GetConfiguration ---------------------------------------------------------------------


def config_rows(payload: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(key, value, read-only) from the gateway's get_configuration answer:
    {"configuration": {key: value}, "readonly": [key], "unknown": [key],
    and on 2.0.1 "variables": {key: "Component.Variable"}}."""
    config = payload.get("configuration") or {}
    readonly = {str(k) for k in payload.get("readonly") or []}
    v201 = bool(payload.get("variables"))  # 2.0.1 says nothing about read-only here
    rows: list[tuple[str, str, bool | None]] = [
        (str(key), "" if value is None else str(value), None if v201 else key in readonly)
        for key, value in config.items()]
    rows += [(str(key), "(unknown to the charger)", None)
             for key in payload.get("unknown") or []]
    return sorted(rows, key=lambda r: r[0].lower())


class ConfigurationDialog(QDialog):
    """A charger's configuration keys; filterable, read-only, non-modal."""

    COLUMNS = ("Key", "Value", "Read-only")

    def __init__(self, charger_id: str, rows: Iterable[tuple[str, str, bool | None]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("configurationDialog")
        self.setWindowTitle(f"Configuration of {charger_id}")
        self.setModal(False)
        rows = list(rows)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter keys…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter)
        self.table = QTableWidget(len(rows), len(self.COLUMNS), self)
        self.table.setObjectName("configTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for r, (key, value, readonly) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(key))
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            self.table.setItem(r, 1, item)
            ro = "" if readonly is None else ("yes" if readonly else "no")
            self.table.setItem(r, 2, QTableWidgetItem(ro))
        self.count_label = QLabel(f"{len(rows)} keys", self)
        self.count_label.setObjectName("muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(buttons)
        self.adjustSize()
        self.resize(620, 480)

    def keys(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]

    def value_of(self, key: str) -> str | None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == key:
                return self.table.item(r, 1).text()
        return None

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            hay = f"{self.table.item(r, 0).text()} {self.table.item(r, 1).text()}".lower()
            self.table.setRowHidden(r, bool(needle) and needle not in hay)


def payload_summary(payload: dict[str, Any], limit: int = 120) -> str:
    """A short, readable rendering of an answer's payload for the result line."""
    if not payload:
        return ""
    parts = []
    for key, value in payload.items():
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                default=str)
        parts.append(f"{key}={text}")
    summary = ", ".join(parts)
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"
