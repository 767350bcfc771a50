"""Add a credential (every CredentialKind, the stored form shown as it is typed) and
suspend/revoke one with a reason, showing what that reason does to a running session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QSizePolicy, QWidget

from app.domain.access import (
    Credential,
    CredentialKind,
    CredentialStatus,
    RevokePolicy,
    normalize_credential,
)
from ui.dialogs.access_form import AccessFormDialog

KIND_HELP: dict[CredentialKind, str] = {
    CredentialKind.RFID: "RFID card UID as a reader prints it (hex; either byte order matches)",
    CredentialKind.PLATE: "Number plate (read by the ANPR cameras)",
    CredentialKind.APP: "App token (sent by the charger as Central)",
    CredentialKind.ISO14443: "ISO 14443 card UID (OCPP 2.0.1)",
    CredentialKind.ISO15693: "ISO 15693 card UID (OCPP 2.0.1)",
    CredentialKind.KEY_CODE: "Key code typed at the charger",
    CredentialKind.EMAID: "eMAID contract id (ISO 15118 Plug & Charge)",
    CredentialKind.CENTRAL: "Central token (issued by this system)",
    CredentialKind.LOCAL: "Local token",
    CredentialKind.MAC_ADDRESS: "Vehicle MAC address (Autocharge)",
}

PLACEHOLDERS: dict[CredentialKind, str] = {
    CredentialKind.RFID: "04:A1:B2:C3:D4:E5:F6",
    CredentialKind.PLATE: "GX-512-K",
    CredentialKind.EMAID: "NL-TNM-C12345678-X",
    CredentialKind.MAC_ADDRESS: "00:1A:2B:3C:4D:5E",
}


@dataclass(frozen=True, slots=True)
class NewCredential:
    kind: CredentialKind
    value: str  # as typed; the service normalizes
    label: str


class CredentialDialog(AccessFormDialog):
    def __init__(self, account_name: str, parent: QWidget | None = None, *,
                 kind: CredentialKind = CredentialKind.RFID) -> None:
        super().__init__(f"Add credential — {account_name}", "Add credential", parent)
        self.setObjectName("credentialDialog")
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("credentialKind")
        for k in CredentialKind:
            self.kind_combo.addItem(k.value, k.value)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, KIND_HELP.get(k, ""),
                                        Qt.ItemDataRole.ToolTipRole)
        self.help_label = QLabel("", self)
        self.help_label.setObjectName("muted")
        self.help_label.setWordWrap(True)
        self.help_label.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 2)
        self.help_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.value_edit = QLineEdit(self)
        self.value_edit.setObjectName("credentialValue")
        self.value_edit.setMaxLength(128)
        self.stored_label = QLabel("", self)
        self.stored_label.setObjectName("storedAs")
        self.label_edit = QLineEdit(self)
        self.label_edit.setObjectName("credentialLabel")
        self.label_edit.setPlaceholderText("e.g. blue key fob, company car")
        self.label_edit.setMaxLength(100)
        self.form.addRow("Kind:", self.kind_combo)
        self.form.addRow(self.help_label)
        self.form.addRow("Value:", self.value_edit)
        self.form.addRow("Stored as:", self.stored_label)
        self.form.addRow("Label:", self.label_edit)
        self.kind_combo.currentIndexChanged.connect(self._update)
        self.value_edit.textChanged.connect(self._update)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind.value))
        self._update()
        self.finish_layout()
        self.value_edit.setFocus()

    def kind(self) -> CredentialKind:
        return CredentialKind(self.kind_combo.currentData())

    def set_kind(self, kind: CredentialKind) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind.value))

    def stored_value(self) -> str:
        return normalize_credential(self.kind(), self.value_edit.text())

    def _update(self, *_args: object) -> None:
        kind = self.kind()
        self.help_label.setText(KIND_HELP.get(kind, ""))
        self.value_edit.setPlaceholderText(PLACEHOLDERS.get(kind, ""))
        stored = self.stored_value()
        self.stored_label.setText(f"<b>{stored}</b>" if stored else "—")

    def value(self) -> NewCredential:
        if not self.stored_value():
            raise ValueError(f"type the {self.kind().value} value")
        return NewCredential(self.kind(), self.value_edit.text(), self.label_edit.text().strip())


POLICY_TEXT = {
    RevokePolicy.IMMEDIATE: ("Stops now", "#a40e26",
                             "A charging session running on this credential is stopped at "
                             "once; gates and chargers refuse it from now on."),
    RevokePolicy.FINISH: ("Finishes", "#7a4a00",
                          "A charging session already running completes; the next use at a "
                          "gate or charger is refused."),
}


def policy_html(policy: RevokePolicy) -> str:
    title, color, text = POLICY_TEXT[policy]
    return f"<b style='color:{color}'>{title}:</b> {text}"


class CredentialStatusDialog(AccessFormDialog):
    """Suspend or revoke: a reason from the site's list, and what it does shown under it."""

    def __init__(self, credential: Credential, status: CredentialStatus,
                 policies: Mapping[str, RevokePolicy], parent: QWidget | None = None) -> None:
        verb = "Suspend" if status is CredentialStatus.SUSPENDED else "Revoke"
        super().__init__(f"{verb} {credential.kind.value} {credential.value}", verb, parent)
        self.setObjectName("credentialStatusDialog")
        self.credential = credential
        self.status = status
        self.policies = dict(policies)
        self.set_intro(
            f"{verb.removesuffix('e')}ing <b>{credential.kind.value} {credential.value}</b> "
            "refuses it at every gate and charger. "
            + ("It can be reactivated later." if verb == "Suspend"
               else "Revoked credentials are kept for the record; reactivate to undo."))
        self.reason_combo = QComboBox(self)
        self.reason_combo.setObjectName("reasonCombo")
        self.reason_combo.setPlaceholderText("Choose a reason…")
        for reason, policy in self.policies.items():
            self.reason_combo.addItem(f"{reason}  —  {POLICY_TEXT[policy][0].lower()}", reason)
        self.reason_combo.setCurrentIndex(-1)
        self.policy_label = QLabel("", self)
        self.policy_label.setObjectName("policyLabel")
        self.policy_label.setWordWrap(True)
        self.policy_label.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 4)
        self.policy_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.form.addRow("Reason:", self.reason_combo)
        self.form.addRow(self.policy_label)
        self.reason_combo.currentIndexChanged.connect(self._update)
        self._update()
        self.finish_layout()

    def reason(self) -> str:
        return self.reason_combo.currentData() or ""

    def choose(self, reason: str) -> None:
        self.reason_combo.setCurrentIndex(self.reason_combo.findData(reason))

    def policy(self) -> RevokePolicy | None:
        return self.policies.get(self.reason()) if self.reason() else None

    def _update(self, *_args: object) -> None:
        policy = self.policy()
        self.policy_label.setText(policy_html(policy) if policy else
                                  "<i>Choose a reason: it decides what happens to a "
                                  "session that is charging now.</i>")
        self.ok_button.setEnabled(policy is not None and not self.busy)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self.ok_button.setEnabled(bool(self.reason()))

    def value(self) -> str:
        if not self.reason():
            raise ValueError("choose a reason")
        return self.reason()
