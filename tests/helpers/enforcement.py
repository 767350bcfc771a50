"""A hand-written enforcement stand-in for the views that show a repeat offender's badge
(the real EnforcementService is tested in tests/integration/test_enforcement.py)."""

from __future__ import annotations

from datetime import datetime

from app.domain.enforcement import (
    OffenderLevel,
    StepKind,
    Violation,
    ViolationKind,
    ViolationStatus,
)

PLATE = "GX512K"


class FakeEnforcement:
    def __init__(self) -> None:
        self.ladder = type("Ladder", (), {"window_days": 90})()
        self.history: dict[str, list[Violation]] = {}

    def offender_level(self, plate: str) -> OffenderLevel:
        found = self.history.get(plate, [])
        return OffenderLevel(len(found), found[0].step if found else None)

    def offences(self, plate: str) -> list[Violation]:
        return list(self.history.get(plate, []))


def violation(n: int, at: datetime, kind: ViolationKind, step: StepKind,
              amount: int = 0, plate: str = PLATE) -> Violation:
    return Violation(id=n, kind=kind, at=at, step=step, status=ViolationStatus.ISSUED,
                     plate=plate, amount=amount)
