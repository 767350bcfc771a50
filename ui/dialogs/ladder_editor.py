"""The enforcement ladder, edited by a supervisor: how many days an offence counts, and
what the 1st, 2nd, ... offence of a plate (or its account) brings — a warning, a fee, a
ban of N days (with an optional fee). The last step repeats for every further offence.

Shown with open(); once `accepted` the caller reads `data()` (the ladder as
app.domain.enforcement.Ladder.from_dict reads it) and saves it with a supervisor's
approval. Every change is checked by Ladder.from_dict: a bad step is named and OK stays
disabled. Amounts are currency units on screen, minor units in `data()`.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.enforcement import Ladder
from ui.receipt import money
from ui.views.access_actions import FAIL_COLOR
from ui.views.offender_badge import ordinal

KINDS = (("warning", "Warning"), ("fee", "Fee"), ("ban", "Ban"))
MAX_STEPS = 10


def step_text(step: dict[str, Any], currency: str) -> str:
    kind, amount, days = step["kind"], step.get("amount", 0), step.get("ban_days", 0)
    if kind == "warning":
        return "warning" + (f" + {money(amount, currency)}" if amount else "")
    if kind == "fee":
        return f"fee {money(amount, currency)}"
    return f"ban {days} days" + (f" + {money(amount, currency)}" if amount else "")


class LadderDialog(QDialog):
    def __init__(self, ladder: Ladder, *, currency: str = "EUR",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enforcement ladder")
        self.setMinimumWidth(460)
        self._currency = currency
        layout = QVBoxLayout(self)
        intro = QLabel("What each offence of a plate (or its account) brings. Offences "
                       "waived, or older than the window, do not count. The last step "
                       "repeats. A supervisor approves the change; it is audited.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.window_spin = QSpinBox(self)
        self.window_spin.setRange(1, 3650)
        self.window_spin.setSuffix(" days")
        self.window_spin.setValue(ladder.window_days)
        form.addRow("Offences count for", self.window_spin)
        layout.addLayout(form)
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("ladderSteps")
        self.table.setHorizontalHeaderLabels(["Offence", "Step", "Amount", "Ban days"])
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        layout.addWidget(self.table, 1)
        row_buttons = QHBoxLayout()
        self.add_button = QPushButton("Add step", self)
        self.remove_button = QPushButton("Remove last step", self)
        row_buttons.addWidget(self.add_button)
        row_buttons.addWidget(self.remove_button)
        row_buttons.addStretch(1)
        layout.addLayout(row_buttons)
        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("ladderSummary")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("ladderError")
        self.error_label.setStyleSheet(f"color: {FAIL_COLOR};")
        self.error_label.setWordWrap(True)
        self.error_label.setMinimumHeight(2 * self.error_label.fontMetrics().height())
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save…")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        for step in ladder.to_dict()["steps"]:
            self._add_row(step)
        self.window_spin.valueChanged.connect(self._update)
        self.add_button.clicked.connect(lambda _c=False: self._add_row({"kind": "warning"}))
        self.remove_button.clicked.connect(self._remove_row)
        self._update()
        self.adjustSize()  # sized before it has a native window (offscreen warns later)

    # -- what the caller reads ------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        steps = []
        for row in range(self.table.rowCount()):
            kind = str(self._kind(row).currentData())
            step: dict[str, Any] = {"kind": kind}
            amount = round(self._amount(row).value() * 100)
            if amount:
                step["amount"] = amount
            if kind == "ban":
                step["ban_days"] = self._days(row).value()
            steps.append(step)
        return {"window_days": self.window_spin.value(), "steps": steps}

    def set_step(self, row: int, kind: str, amount: float = 0.0, ban_days: int = 0) -> None:
        self._kind(row).setCurrentIndex(self._kind(row).findData(kind))
        self._amount(row).setValue(amount)
        self._days(row).setValue(ban_days)

    # -- rows ------------------------------------------------------------------------------

    def _add_row(self, step: dict[str, Any]) -> None:
        row = self.table.rowCount()
        if row >= MAX_STEPS:
            return
        self.table.insertRow(row)
        kind = QComboBox(self.table)
        for key, label in KINDS:
            kind.addItem(label, key)
        kind.setCurrentIndex(max(0, kind.findData(step.get("kind", "warning"))))
        amount = QDoubleSpinBox(self.table)
        amount.setRange(0, 100000)
        amount.setDecimals(2)
        amount.setSuffix(f" {self._currency}")
        amount.setValue(int(step.get("amount", 0)) / 100)
        days = QSpinBox(self.table)
        days.setRange(0, 3650)
        days.setValue(int(step.get("ban_days", 0)))
        # Cell widgets do not size their column: make room for the longest step name.
        self.table.setColumnWidth(1, max(self.table.columnWidth(1),
                                         kind.sizeHint().width() + 12))
        self.table.setCellWidget(row, 1, kind)
        self.table.setCellWidget(row, 2, amount)
        self.table.setCellWidget(row, 3, days)
        kind.currentIndexChanged.connect(self._update)
        amount.valueChanged.connect(self._update)
        days.valueChanged.connect(self._update)
        self._number_rows()
        self._update()

    def _remove_row(self) -> None:
        if self.table.rowCount() > 1:
            self.table.removeRow(self.table.rowCount() - 1)
            self._number_rows()
            self._update()

    def _number_rows(self) -> None:
        from PySide6.QtWidgets import QTableWidgetItem

        last = self.table.rowCount() - 1
        for row in range(self.table.rowCount()):
            text = ordinal(row + 1) + (" and later" if row == last else "")
            self.table.setItem(row, 0, QTableWidgetItem(text))
        self.add_button.setEnabled(self.table.rowCount() < MAX_STEPS)
        self.remove_button.setEnabled(self.table.rowCount() > 1)

    def _kind(self, row: int) -> QComboBox:
        return self.table.cellWidget(row, 1)  # type: ignore[return-value]

    def _amount(self, row: int) -> QDoubleSpinBox:
        return self.table.cellWidget(row, 2)  # type: ignore[return-value]

    def _days(self, row: int) -> QSpinBox:
        return self.table.cellWidget(row, 3)  # type: ignore[return-value]

    def _update(self, *_args: Any) -> None:
        for row in range(self.table.rowCount()):
            self._days(row).setEnabled(self._kind(row).currentData() == "ban")
        data = self.data()
        try:
            Ladder.from_dict(data)
        except ValueError as exc:
            # "ladder.steps[1].amount: ..." -> "2nd offence, amount: ..." (as the table says)
            text = re.sub(r"ladder\.steps\[(\d+)\]\.?(\w*)",
                          lambda m: f"{ordinal(int(m[1]) + 1)} offence"
                                    + (f", {m[2].replace('_', ' ')}" if m[2] else ""),
                          str(exc))
            self.error_label.setText(f"✗ {text}")
            self.ok_button.setEnabled(False)
            self.summary_label.setText("")
            return
        self.error_label.setText("")
        self.ok_button.setEnabled(True)
        steps = data["steps"]
        parts = [f"{ordinal(i + 1)}{' and later' if i == len(steps) - 1 else ''}: "
                 f"{step_text(s, self._currency)}" for i, s in enumerate(steps)]
        self.summary_label.setText(" · ".join(parts)
                                   + f" (within {data['window_days']} days)")
