"""Console -> charger commands: one typed result for both OCPP versions, never a bare None."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CommandStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    # The charger said the feature is not there (NotImplemented / NotSupported CALLERROR,
    # or a status such as "NotSupported" / "UnknownVendorId").
    NOT_SUPPORTED = "NotSupported"
    CALL_ERROR = "CallError"
    TIMEOUT = "Timeout"
    # Not sent at all: the charger is not connected.
    OFFLINE = "Offline"
    # Accepted, but effective later (e.g. RebootRequired, Scheduled).
    PENDING = "Pending"
    # The charger accepted a change but reading it back shows the old value.
    IGNORED = "Ignored"


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: str
    charger_id: str
    status: CommandStatus
    # The charger's own status word ("Unlocked", "RebootRequired", ...), when it gave one.
    charger_status: str = ""
    error_code: str = ""
    detail: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (CommandStatus.ACCEPTED, CommandStatus.PENDING)

    def describe(self) -> str:
        """One line for the attendant: what the charger answered."""
        text = f"{self.command} on {self.charger_id}: {self.status}"
        if self.charger_status and self.charger_status != str(self.status):
            text += f" ({self.charger_status})"
        if self.error_code:
            text += f" [{self.error_code}]"
        if self.detail:
            text += f" — {self.detail}"
        return text
