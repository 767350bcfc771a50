"""A supervisor's approval for service tests that are not about approving (the approval
itself is tested in tests/integration/test_supervisor_approval.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.services.staff import Approval, Role


def supervisor(name: str = "sup.eva") -> Approval:
    return Approval(name, name, Role.SUPERVISOR, datetime(2026, 1, 1, tzinfo=UTC))


async def approve_in_dialog(owner, user: str = "supervisor", password: str = "supervisor"):
    """Fill the supervisor-approval dialog `owner` opened (the demo console's supervisor
    by default), press Approve and wait until it is approved. Returns the dialog."""
    from tests.helpers.waiting import wait_for
    from ui.dialogs.supervisor_approval import SupervisorApprovalDialog

    await wait_for(lambda: isinstance(getattr(owner, "dialog", None),
                                      SupervisorApprovalDialog), 5)
    dialog = owner.dialog
    assert dialog.isVisible()
    dialog.user_edit.setText(user)
    dialog.password_edit.setText(password)
    dialog.approve_button.click()
    await wait_for(lambda: dialog.approval is not None, 10)
    return dialog
