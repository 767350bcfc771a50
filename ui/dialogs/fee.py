"""Issue an enforcement fee: kind, the plate or the bay, the amount (prefilled with the
service's proposal), a reason (required). Lists the evidence the service will attach.

Shown with open(); once `accepted` the caller reads `kind()`, `plate()`, `bay_id()`,
`amount()` (minor units) and `reason()`. Amounts are currency units on screen.
`propose(kind, plate, bay_id) -> minor units` and `stay_of(plate) -> str` (a line about
the plate's open stay, or "") come from the caller (EnforcementService / GateService).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

KINDS = (("overstay", "Overstay"), ("idle", "Idle at a charger"), ("ice", "ICE-ing (no charging)"))
MAX_REASON = 200


class FeeDialog(QDialog):
    def __init__(self, bays: Any, propose: Callable[[str, str, str], int],
                 stay_of: Callable[[str], str] | None = None, *, plate: str = "",
                 bay_id: str = "", currency: str = "EUR",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Issue a fee")
        self.setMinimumWidth(420)
        self._bays = {b.id: b for b in bays}
        self._propose = propose
        self._stay_of = stay_of
        self._amount_touched = False
        self._proposed = 0
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A fee for a plate (its open stay's bill) or a bay. "
                                "Fees are audited.", self))
        form = QFormLayout()
        self.kind_combo = QComboBox(self)
        for key, label in KINDS:
            self.kind_combo.addItem(label, key)
        form.addRow("Kind:", self.kind_combo)
        self.plate_edit = QLineEdit(plate, self)
        self.plate_edit.setObjectName("plateEdit")
        self.plate_edit.setPlaceholderText("e.g. HN-447-D")
        form.addRow("Plate:", self.plate_edit)
        self.bay_combo = QComboBox(self)
        self.bay_combo.addItem("—", "")
        for b in bays:
            self.bay_combo.addItem(getattr(b, "name", "") or b.id, b.id)
        if bay_id:
            self.bay_combo.setCurrentIndex(max(0, self.bay_combo.findData(bay_id)))
        form.addRow("Bay:", self.bay_combo)
        self.amount_spin = QDoubleSpinBox(self)
        self.amount_spin.setObjectName("amountSpin")
        self.amount_spin.setRange(0.0, 100_000.0)
        self.amount_spin.setDecimals(2)
        self.amount_spin.setSuffix(f" {currency}")
        form.addRow("Amount:", self.amount_spin)
        self.proposal_label = QLabel("", self)
        self.proposal_label.setObjectName("muted")
        form.addRow("", self.proposal_label)
        layout.addLayout(form)
        self.evidence_label = QLabel("", self)
        self.evidence_label.setObjectName("evidenceList")
        self.evidence_label.setWordWrap(True)
        layout.addWidget(self.evidence_label)
        layout.addWidget(QLabel("Reason (required):", self))
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setMaxLength(MAX_REASON)
        self.reason_edit.setPlaceholderText("e.g. parked on the charging bay without charging")
        layout.addWidget(self.reason_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Issue fee")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.kind_combo.currentIndexChanged.connect(self._repropose)
        self.plate_edit.textChanged.connect(self._repropose)
        self.bay_combo.currentIndexChanged.connect(self._repropose)
        self.amount_spin.valueChanged.connect(self._amount_edited)
        self.reason_edit.textChanged.connect(self._update)
        self._repropose()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    # -- what the caller reads ------------------------------------------------------------

    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def plate(self) -> str:
        return self.plate_edit.text().strip().upper()

    def bay_id(self) -> str:
        return str(self.bay_combo.currentData() or "")

    def amount(self) -> int:
        return round(self.amount_spin.value() * 100)

    def proposed(self) -> int:
        return self._proposed

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))

    def is_valid(self) -> bool:
        return bool(self.reason()) and bool(self.plate() or self.bay_id())

    # -- behaviour ------------------------------------------------------------------------

    def _amount_edited(self, _value: float) -> None:
        if round(self.amount_spin.value() * 100) != self._proposed:
            self._amount_touched = True

    def _repropose(self, *_args: Any) -> None:
        try:
            self._proposed = int(self._propose(self.kind(), self.plate(), self.bay_id()))
        except Exception as exc:  # a proposal is a help, not a requirement
            self._proposed = 0
            self.proposal_label.setText(f"No proposal: {exc}")
        else:
            self.proposal_label.setText(f"Proposed: {self._proposed / 100:.2f}")
        if not self._amount_touched:
            self.amount_spin.blockSignals(True)
            self.amount_spin.setValue(self._proposed / 100)
            self.amount_spin.blockSignals(False)
        self._list_evidence()
        self._update()

    def _list_evidence(self) -> None:
        items: list[str] = []
        bay = self._bays.get(self.bay_id())
        if bay is not None:
            if getattr(bay, "camera_id", ""):
                items.append(f"reads and snapshots of camera {bay.camera_id} (last 30 min)")
            if getattr(bay, "charger_id", "") and getattr(bay, "connector_id", None) is not None:
                items.append(f"status timeline of {bay.charger_id} #{bay.connector_id}")
        stay = self._stay_of(self.plate()) if (self._stay_of and self.plate()) else ""
        if stay:
            items.append(stay)
        items.append("the time issued, you as the actor, the reason")
        self.evidence_label.setText("<b>Evidence attached:</b><br/>• " + "<br/>• ".join(items))

    def _update(self, *_args: Any) -> None:
        self.ok_button.setEnabled(self.is_valid())

    def accept(self) -> None:
        if self.is_valid():
            super().accept()
