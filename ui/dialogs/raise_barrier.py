"""Asks why a barrier is raised by hand: a manual override always has a reason."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ui.dialogs.reason import MAX_REASON, OTHER, ReasonDialog

REASONS = ("Ticket/plate not read", "Visitor let in by attendant", "Emergency vehicle",
           "Barrier test", OTHER)

__all__ = ["MAX_REASON", "OTHER", "REASONS", "RaiseBarrierDialog"]


class RaiseBarrierDialog(ReasonDialog):
    def __init__(self, lane_name: str, barrier_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(
            f"Raise barrier — {lane_name}",
            f"Open <b>{barrier_name}</b> ({lane_name}) without a credential decision.<br>"
            "The reason and your name are written to the audit trail.",
            REASONS, "Raise barrier", parent)
        self.setObjectName("raiseBarrierDialog")
