"""The site's access settings: charging needs a permit, visitors, anti-passback; and the
revocation reasons with what each does to a running session (read-only here)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.access_rules import AntiPassback, VisitorPolicy
from ui.dialogs.credential_edit import POLICY_TEXT
from ui.views.access_actions import ChangeRunner, StatusLine

VISITOR_TEXT = {
    VisitorPolicy.TICKETLESS: "Ticketless: an unknown plate enters; the plate is the ticket",
    VisitorPolicy.ATTENDANT: "Ask the attendant at the lane",
}
def patterns_text(patterns: Any) -> str:
    """NL=[A-Z0-9]{6}; DE=... as the field shows them."""
    return "; ".join(f"{p.country}={p.regex}" for p in patterns)


def parse_patterns(text: str) -> dict[str, str]:
    """The field back to {country: regex}; ValueError names an item without '='."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        country, sep, regex = item.partition("=")
        if not sep or not country.strip() or not regex.strip():
            raise ValueError(f"plate pattern {item!r}: write it as COUNTRY=regular expression")
        out[country.strip().upper()] = regex.strip()
    return out


PASSBACK_TEXT = {
    AntiPassback.HARD: "Hard: a second entry (or exit without entry) is refused",
    AntiPassback.SOFT: "Soft: allowed, and recorded as a violation",
    AntiPassback.OFF: "Off",
}


class AccessSettingsPage(QWidget):
    def __init__(self, core: Any, bridge: Any, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accessSettingsPage")
        self._access = core.access
        self.actor = actor
        self.runner = ChangeRunner(self)
        self.status = StatusLine(self)

        self.permit_check = QCheckBox("Charging requires an active permit", self)
        self.permit_check.setObjectName("chargingRequiresPermit")
        self.permit_check.setToolTip("Off: any known, active credential may charge")
        self.visitor_combo = QComboBox(self)
        self.visitor_combo.setObjectName("visitorPolicy")
        for policy, text in VISITOR_TEXT.items():
            self.visitor_combo.addItem(text, policy.value)
        self.passback_combo = QComboBox(self)
        self.passback_combo.setObjectName("antiPassback")
        for policy, text in PASSBACK_TEXT.items():
            self.passback_combo.addItem(text, policy.value)
        for combo in (self.visitor_combo, self.passback_combo):  # long items: no wide panel
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            combo.setToolTip("\n".join(combo.itemText(i) for i in range(combo.count())))
        self.patterns_edit = QLineEdit(self)
        self.patterns_edit.setObjectName("platePatterns")
        self.patterns_edit.setToolTip(
            "Country formats of normalized plates (letters and digits only), as regular "
            "expressions: COUNTRY=regex; ... A plate that fits none is flagged (imports "
            "warn). Empty: the built-in ones.")
        self.save_button = QPushButton("Save settings", self)
        self.save_button.setObjectName("saveAccessSettings")
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.setObjectName("revertAccessSettings")
        self.reasons_label = QLabel("", self)
        self.reasons_label.setObjectName("revokeReasons")
        self.reasons_label.setWordWrap(True)

        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(10)
        form.addRow(self.permit_check)
        form.addRow("Visitors:", self.visitor_combo)
        form.addRow("Anti-passback:", self.passback_combo)
        form.addRow("Plate formats:", self.patterns_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        heading = QLabel("Suspending or revoking a credential: what each reason does", self)
        heading.setStyleSheet("font-weight: 600;")
        heading.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(self.reasons_label)
        layout.addStretch(1)

        self.permit_check.toggled.connect(self._edited)
        self.visitor_combo.currentIndexChanged.connect(self._edited)
        self.passback_combo.currentIndexChanged.connect(self._edited)
        self.patterns_edit.textChanged.connect(self._edited)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        bridge.accessChanged.connect(self.refresh)
        self.revert()

    def edited(self) -> dict[str, Any]:
        """The settings as on screen that differ from the stored ones."""
        policy = self._access.policy
        shown = {"charging_requires_permit": self.permit_check.isChecked(),
                 "visitor_policy": self.visitor_combo.currentData(),
                 "anti_passback": self.passback_combo.currentData(),
                 "plate_patterns": self.patterns_edit.text().strip()}
        stored = {"charging_requires_permit": policy.charging_requires_permit,
                  "visitor_policy": policy.visitor_policy.value,
                  "anti_passback": policy.anti_passback.value,
                  "plate_patterns": patterns_text(policy.plate_patterns)}
        return {k: v for k, v in shown.items() if stored[k] != v}

    def _edited(self, *_args: Any) -> None:
        dirty = bool(self.edited())
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)

    def refresh(self, *_args: Any) -> None:
        """After a reload: show the stored settings unless the user is editing them."""
        if not self.edited() or not self.save_button.isEnabled():
            self.revert()
        else:
            self._edited()
        self._show_reasons()

    def revert(self) -> None:
        policy = self._access.policy
        for w in (self.permit_check, self.visitor_combo, self.passback_combo,
                  self.patterns_edit):
            w.blockSignals(True)
        self.patterns_edit.setText(patterns_text(policy.plate_patterns))
        self.permit_check.setChecked(policy.charging_requires_permit)
        self.visitor_combo.setCurrentIndex(
            self.visitor_combo.findData(policy.visitor_policy.value))
        self.passback_combo.setCurrentIndex(
            self.passback_combo.findData(policy.anti_passback.value))
        for w in (self.permit_check, self.visitor_combo, self.passback_combo,
                  self.patterns_edit):
            w.blockSignals(False)
        self._edited()
        self._show_reasons()

    def _show_reasons(self) -> None:
        rows = [f"<tr><td style='padding-right:12px'>{reason}</td>"
                f"<td style='color:{POLICY_TEXT[p][1]}'>{POLICY_TEXT[p][0]}</td></tr>"
                for reason, p in self._access.policy.revoke_policies.items()]
        self.reasons_label.setText(
            "<table>" + "".join(rows) + "</table>"
            "<p style='color:#59636e'>Stops now: a running charging session is stopped at "
            "once. Finishes: it completes; the next use is refused.</p>")

    def save(self) -> None:
        changes = self.edited()
        if not changes:
            return
        if "plate_patterns" in changes:
            try:
                changes["plate_patterns"] = parse_patterns(changes["plate_patterns"])
            except ValueError as exc:
                self.status.say(str(exc), ok=False)
                return
        self.save_button.setEnabled(False)
        self.status.pending("Saving…")

        def ok(_result: Any) -> None:
            self.status.say("Access settings saved")
            self.revert()

        def fail(message: str) -> None:
            self.status.say(message, ok=False)
            self._edited()

        self.runner.run(lambda: self._access.save_policy(self.actor, **changes),
                        ok=ok, fail=fail)
