"""Waive (part of) a stay's bill: which components, all / a percent / an amount, and why.

A supervisor action: the billing service audits it. Shown with open(); the caller reads
`components()`, `percent()`, `amount()` (minor units or None) and `reason()` once
`accepted` is emitted. Both percent and amount None waive the components entirely.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ui.receipt import money

COMPONENTS = (("parking", "Parking"), ("energy", "Energy"), ("charging_time", "Charging time"),
              ("session", "Session fee"), ("idle", "Idle"), ("overstay", "Overstay"))
MAX_REASON = 200


class WaiverDialog(QDialog):
    def __init__(self, record: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Waive — bill {record.id}")
        self.setMinimumWidth(420)
        charged = {ln.component for ln in record.bill.lines if ln.amount > 0}
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            f"<b>{record.plate or 'Stay ' + str(record.parking_session_id)}</b> · total "
            f"{money(record.total, record.currency)}. Waivers are audited.", self))

        box = QGroupBox("Components", self)
        grid = QGridLayout(box)
        self.component_boxes: dict[str, QCheckBox] = {}
        for i, (key, label) in enumerate(COMPONENTS):
            check = QCheckBox(label, box)
            check.setChecked(key in charged)
            check.toggled.connect(self._update)
            grid.addWidget(check, i // 3, i % 3)
            self.component_boxes[key] = check
        layout.addWidget(box)

        how = QHBoxLayout()
        self.full_radio = QRadioButton("All of it", self)
        self.percent_radio = QRadioButton("Percent", self)
        self.amount_radio = QRadioButton("Amount", self)
        self._group = QButtonGroup(self)
        for radio in (self.full_radio, self.percent_radio, self.amount_radio):
            self._group.addButton(radio)
            how.addWidget(radio)
        self.full_radio.setChecked(True)
        self.percent_spin = QDoubleSpinBox(self)
        self.percent_spin.setRange(0.0, 100.0)
        self.percent_spin.setDecimals(1)
        self.percent_spin.setSuffix(" %")
        self.percent_spin.setValue(50.0)
        self.amount_spin = QDoubleSpinBox(self)
        self.amount_spin.setRange(0.0, 1_000_000.0)
        self.amount_spin.setDecimals(2)
        self.amount_spin.setValue(record.total / 100)
        how.addWidget(self.percent_spin)
        how.addWidget(self.amount_spin)
        for radio in (self.full_radio, self.percent_radio, self.amount_radio):
            radio.toggled.connect(self._update)
        layout.addLayout(how)

        layout.addWidget(QLabel("Reason (required):", self))
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setMaxLength(MAX_REASON)
        self.reason_edit.setPlaceholderText("e.g. barrier fault, validated by shop, goodwill")
        self.reason_edit.textChanged.connect(self._update)
        layout.addWidget(self.reason_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Waive")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    def components(self) -> list[str]:
        return [key for key, check in self.component_boxes.items() if check.isChecked()]

    def percent(self) -> float | None:
        return self.percent_spin.value() if self.percent_radio.isChecked() else None

    def amount(self) -> int | None:
        return round(self.amount_spin.value() * 100) if self.amount_radio.isChecked() else None

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def is_valid(self) -> bool:
        return bool(self.components()) and bool(self.reason())

    def _update(self, *_args: Any) -> None:
        self.percent_spin.setEnabled(self.percent_radio.isChecked())
        self.amount_spin.setEnabled(self.amount_radio.isChecked())
        self.ok_button.setEnabled(self.is_valid())

    def accept(self) -> None:
        if self.is_valid():
            super().accept()
