"""Take a payment on a stay's bill: method, reference, amount (prefilled with what is owed).

Shown with open(); the caller reads `method()`, `reference()` and `amount()` (minor units)
once `accepted` is emitted.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.receipt import money

METHODS = (("cash", "Cash"), ("card", "Card"), ("invoice", "Invoice"),
           ("permit", "Permit / account"))
_REFERENCE_HINT = {"cash": "Till or receipt no. (optional)",
                   "card": "Card terminal reference",
                   "invoice": "Invoice number",
                   "permit": "Permit or account reference (optional)"}


class PaymentDialog(QDialog):
    def __init__(self, record: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Take payment — bill {record.id}")
        self.setMinimumWidth(400)
        self._currency = record.currency
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            f"<b>{record.plate or 'Stay ' + str(record.parking_session_id)}</b> · total "
            f"{money(record.total, record.currency)} · paid {money(record.paid, record.currency)}"
            f" · owed <b>{money(record.outstanding, record.currency)}</b>", self))
        form = QFormLayout()
        self.method_combo = QComboBox(self)
        self.method_combo.setObjectName("methodCombo")
        for key, label in METHODS:
            self.method_combo.addItem(label, key)
        self.reference_edit = QLineEdit(self)
        self.reference_edit.setObjectName("referenceEdit")
        self.reference_edit.setMaxLength(128)
        self.amount_spin = QDoubleSpinBox(self)
        self.amount_spin.setObjectName("amountSpin")
        self.amount_spin.setDecimals(2)
        self.amount_spin.setRange(0.0, 1_000_000.0)
        self.amount_spin.setPrefix(money(0, record.currency).replace("0.00", ""))
        self.amount_spin.setValue(record.outstanding / 100)
        form.addRow("Method:", self.method_combo)
        form.addRow("Reference:", self.reference_edit)
        form.addRow("Amount:", self.amount_spin)
        layout.addLayout(form)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("errorLabel")
        self.error_label.setStyleSheet("color: #c62828;")
        # Room for the message from the start: a dialog that grows once shown is what some
        # platforms warn about (offscreen: propagateSizeHints).
        self.error_label.setFixedHeight(self.fontMetrics().lineSpacing() + 6)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Take payment")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.method_combo.currentIndexChanged.connect(self._update)
        self.amount_spin.valueChanged.connect(self._update)
        self._update()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    def method(self) -> str:
        return str(self.method_combo.currentData())

    def reference(self) -> str:
        return self.reference_edit.text().strip()

    def amount(self) -> int:
        return round(self.amount_spin.value() * 100)

    def set_method(self, method: str) -> None:
        self.method_combo.setCurrentIndex(self.method_combo.findData(method))

    def _update(self, *_args: Any) -> None:
        self.reference_edit.setPlaceholderText(_REFERENCE_HINT.get(self.method(), ""))
        ok = self.amount() > 0
        self.error_label.setText("" if ok else "The amount must be more than zero.")
        self.ok_button.setEnabled(ok)

    def accept(self) -> None:
        if self.amount() <= 0:
            return
        super().accept()
