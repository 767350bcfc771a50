"""Supervisor approval: a supervisor (or admin) types name and password at the booth to
approve one action — a waiver, an adjustment, a tariff change — like a manager override
on a till. The check runs in StaffService.approve (audited, wrong passwords counted); the
dialog stays open on a refusal so the supervisor can try again, and hands the Approval to
the caller only when it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ui.views.access_actions import FAIL_COLOR, ChangeRunner

DEMO_HINT = "Demo console: user <b>supervisor</b>, password <b>supervisor</b>."


class SupervisorApprovalDialog(QDialog):
    approved = Signal(object)  # app.services.staff.Approval

    def __init__(self, staff: Any, action: str, parent: QWidget | None = None, *,
                 demo: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Supervisor approval")
        self.setMinimumWidth(380)
        self._staff = staff
        self._action = action
        self.approval: Any = None
        self.runner = ChangeRunner(self)
        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{action}</b><br>needs a supervisor's approval. "
                       "The approval is written to the audit trail.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.user_edit = QLineEdit(self)
        self.user_edit.setObjectName("supervisorUser")
        self.password_edit = QLineEdit(self)
        self.password_edit.setObjectName("supervisorPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Supervisor", self.user_edit)
        form.addRow("Password", self.password_edit)
        layout.addLayout(form)
        if demo:
            hint = QLabel(DEMO_HINT, self)
            hint.setStyleSheet("color: #57606a;")
            layout.addWidget(hint)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("approvalError")
        self.error_label.setStyleSheet(f"color: {FAIL_COLOR};")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.approve_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.approve_button.setText("Approve")
        self.buttons.accepted.connect(self.try_approve)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        if staff is None:
            self._refused("staff accounts are not available: nobody can approve here")
            self.approve_button.setEnabled(False)
        # Room for a two-line refusal, sized before it has a native window (offscreen
        # warns about size hints that change later).
        self.error_label.setMinimumHeight(2 * self.error_label.fontMetrics().height())
        self.adjustSize()

    def try_approve(self) -> None:
        user, password = self.user_edit.text(), self.password_edit.text()
        if not user.strip() or not password:
            self._refused("type the supervisor's name and password")
            return
        self.approve_button.setEnabled(False)
        self.error_label.setText("Checking…")
        started = self.runner.run(lambda: self._staff.approve(user, password, self._action),
                                  ok=self._given, fail=self._refused)
        if not started:
            self.approve_button.setEnabled(True)

    def _given(self, approval: Any) -> None:
        self.approval = approval
        self.error_label.setText("")
        self.approved.emit(approval)
        self.accept()

    def _refused(self, message: str) -> None:
        self.error_label.setText(f"✗ {message}")
        self.password_edit.clear()
        self.password_edit.setFocus()
        self.approve_button.setEnabled(self._staff is not None)


def ask_supervisor(parent: QWidget, core: Any, action: str,
                   on_approved: Callable[[Any], None]) -> SupervisorApprovalDialog:
    """Open the approval dialog (open(), not exec()); `on_approved(approval)` runs once a
    supervisor approved. The dialog is kept on `parent.dialog` for tests."""
    settings = getattr(core, "settings", None)
    dialog = SupervisorApprovalDialog(getattr(core, "staff", None), action, parent,
                                      demo=bool(getattr(settings, "demo", False)))
    dialog.setObjectName("supervisorApproval")
    dialog.approved.connect(on_approved)
    dialog.finished.connect(dialog.deleteLater)
    parent.dialog = dialog  # type: ignore[attr-defined]
    dialog.open()
    return dialog
