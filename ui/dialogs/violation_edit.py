"""Waive or adjust one violation, with a reason (a supervisor action, audited by the
enforcement service). Shown with open(); once `accepted` the caller reads `mode()`
("waive" | "adjust"), `amount()` (minor units, adjust only) and `reason()`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ui.receipt import money

MAX_REASON = 200


class ViolationEditDialog(QDialog):
    def __init__(self, violation: Any, mode: str, *, currency: str = "EUR",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if mode not in ("waive", "adjust"):
            raise ValueError(f"mode: waive or adjust, got {mode!r}")
        self._mode = mode
        self.setWindowTitle(f"{'Waive' if mode == 'waive' else 'Adjust'} — violation "
                            f"{violation.id}")
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        who = violation.plate or (f"bay {violation.bay_id}" if violation.bay_id else "—")
        kind = getattr(violation.kind, "value", violation.kind)
        step = getattr(violation.step, "value", violation.step)
        layout.addWidget(QLabel(
            f"<b>{who}</b> · {kind} · {step} · {money(violation.amount, currency)}<br/>"
            + ("Waived: no fee, and it no longer counts as an offence."
               if mode == "waive" else "The new amount replaces the fee on the bill.")
            + " Audited.", self))
        self.amount_spin = QDoubleSpinBox(self)
        self.amount_spin.setObjectName("amountSpin")
        self.amount_spin.setRange(0.0, 100_000.0)
        self.amount_spin.setDecimals(2)
        self.amount_spin.setSuffix(f" {currency}")
        self.amount_spin.setValue(violation.amount / 100)
        row = QHBoxLayout()
        row.addWidget(QLabel("New amount:", self))
        row.addWidget(self.amount_spin, 1)
        if mode == "adjust":
            layout.addLayout(row)
        else:
            self.amount_spin.hide()
        layout.addWidget(QLabel("Reason (required):", self))
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setMaxLength(MAX_REASON)
        self.reason_edit.textChanged.connect(self._update)
        layout.addWidget(self.reason_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Waive" if mode == "waive" else "Adjust")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()
        self.adjustSize()  # before a native window exists (offscreen size-hint warnings)

    def mode(self) -> str:
        return self._mode

    def amount(self) -> int | None:
        return round(self.amount_spin.value() * 100) if self._mode == "adjust" else None

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def is_valid(self) -> bool:
        return bool(self.reason())

    def _update(self, *_args: Any) -> None:
        self.ok_button.setEnabled(self.is_valid())

    def accept(self) -> None:
        if self.is_valid():
            super().accept()
