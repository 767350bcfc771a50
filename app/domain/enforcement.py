"""Enforcement rules (pure): violations and the repeat-offender ladder.

A violation is one offence of a plate (or of an account, or of a bay when nobody could be
read): ICE-ing (a bay occupied with no charging session), overstay (past the group's
maximum stay), idle (staying on after charging) or a fee an attendant issued.

The ladder turns the offender's history into the next step. Only offences inside the
window count, and waived ones never do:

    1st offence in `window_days` -> steps[0]   (default: warning)
    2nd                          -> steps[1]   (default: fee 25.00)
    3rd and later                -> steps[-1]  (default: ban for 30 days, and a 50.00 fee)

The site setting (`enforcement.ladder`) is a dict::

    {"window_days": 90,
     "steps": [{"kind": "warning"},
               {"kind": "fee", "amount": 2500},
               {"kind": "ban", "amount": 5000, "ban_days": 30}]}

Amounts are in minor units (cents) of the site's currency. `Ladder.from_dict` refuses a
bad setting with a ValueError naming the field (`ladder.steps[1].amount: ...`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class ViolationKind(StrEnum):
    ICE = "ice"
    OVERSTAY = "overstay"
    IDLE = "idle"
    FEE = "fee"


class StepKind(StrEnum):
    WARNING = "warning"
    FEE = "fee"
    BAN = "ban"


class ViolationStatus(StrEnum):
    OPEN = "open"  # recorded, not (yet) put on anybody's bill
    ISSUED = "issued"
    WAIVED = "waived"  # a supervisor dropped it: no fee, and it no longer counts
    ADJUSTED = "adjusted"  # a supervisor changed the amount


# What the bill takes (with amount > 0).
BILLABLE = frozenset({ViolationStatus.ISSUED, ViolationStatus.ADJUSTED})


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    amount: int = 0  # minor units; a fee or a ban may carry one
    ban_days: int = 0  # a ban: blocklisted that many days

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.amount:
            out["amount"] = self.amount
        if self.ban_days:
            out["ban_days"] = self.ban_days
        return out


@dataclass(frozen=True, slots=True)
class Offence:
    """What the ladder needs of one past violation."""

    at: datetime
    step: StepKind
    status: ViolationStatus = ViolationStatus.ISSUED


@dataclass(frozen=True, slots=True)
class OffenderLevel:
    """The badge next to a plate: offences in the window and the last step reached."""

    count: int
    last_step: StepKind | None

    @property
    def clean(self) -> bool:
        return self.count == 0


DEFAULT_WINDOW_DAYS = 90
DEFAULT_STEPS: tuple[Step, ...] = (
    Step(StepKind.WARNING),
    Step(StepKind.FEE, amount=2500),
    Step(StepKind.BAN, amount=5000, ban_days=30),
)


def _counts(offence: Offence, since: datetime) -> bool:
    return offence.status is not ViolationStatus.WAIVED and offence.at > since


@dataclass(frozen=True, slots=True)
class Ladder:
    steps: tuple[Step, ...] = DEFAULT_STEPS
    window_days: int = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("ladder.steps: at least one step")
        if self.window_days < 1:
            raise ValueError("ladder.window_days: must be at least 1")

    def since(self, now: datetime) -> datetime:
        return now - timedelta(days=self.window_days)

    def count(self, history: Iterable[Offence], now: datetime) -> int:
        """Offences that count at `now` (in the window, not waived)."""
        since = self.since(now)
        return sum(1 for o in history if _counts(o, since))

    def next_step(self, history: Iterable[Offence], now: datetime) -> Step:
        """The step of a new offence at `now` given the earlier ones."""
        return self.steps[min(self.count(history, now), len(self.steps) - 1)]

    def level(self, history: Iterable[Offence], now: datetime) -> OffenderLevel:
        since = self.since(now)
        counted = sorted((o for o in history if _counts(o, since)), key=lambda o: o.at)
        return OffenderLevel(len(counted), counted[-1].step if counted else None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, name: str = "ladder") -> Ladder:
        """From the site setting; missing keys take the defaults."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{name}: must be a mapping")
        unknown = set(data) - {"window_days", "steps"}
        if unknown:
            raise ValueError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
        window = data.get("window_days", DEFAULT_WINDOW_DAYS)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"{name}.window_days: must be a whole number >= 1, got {window!r}")
        raw_steps = data.get("steps")
        if raw_steps is None:
            return cls(DEFAULT_STEPS, window)
        if not isinstance(raw_steps, list | tuple) or not raw_steps:
            raise ValueError(f"{name}.steps: must be a non-empty list")
        steps = tuple(_step_from(raw, f"{name}.steps[{i}]") for i, raw in enumerate(raw_steps))
        return cls(steps, window)

    def to_dict(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "steps": [s.to_dict() for s in self.steps]}


def _whole(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field_name}: must be a whole number >= 0, got {value!r}")
    return value


def _step_from(raw: Any, name: str) -> Step:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name}: must be a mapping")
    unknown = set(raw) - {"kind", "amount", "ban_days"}
    if unknown:
        raise ValueError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        kind = StepKind(raw.get("kind"))
    except ValueError:
        choices = ", ".join(k.value for k in StepKind)
        raise ValueError(f"{name}.kind: one of {choices}, got {raw.get('kind')!r}") from None
    amount = _whole(raw.get("amount", 0), f"{name}.amount")
    ban_days = _whole(raw.get("ban_days", 0), f"{name}.ban_days")
    if kind is StepKind.FEE and amount == 0:
        raise ValueError(f"{name}.amount: a fee step needs an amount > 0")
    if kind is StepKind.BAN and ban_days == 0:
        raise ValueError(f"{name}.ban_days: a ban step needs ban_days >= 1")
    if kind is not StepKind.BAN and ban_days:
        raise ValueError(f"{name}.ban_days: only a ban step has ban_days")
    return Step(kind, amount, ban_days)


@dataclass(slots=True)
class Violation:
    """One row of `violations`. `id` is 0 until stored. `evidence` is JSON-ready."""

    id: int
    kind: ViolationKind
    at: datetime
    step: StepKind
    status: ViolationStatus
    plate: str = ""  # normalized
    account_id: int | None = None
    bay_id: str = ""
    parking_session_id: int | None = None
    transaction_id: int | None = None
    amount: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)
    actor: str = ""
    reason: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None

    @property
    def offence(self) -> Offence:
        return Offence(self.at, self.step, self.status)

    @property
    def billable(self) -> bool:
        return self.status in BILLABLE and self.amount > 0

    def of(self, plate: str, account_id: int | None) -> bool:
        """An offence of this plate, or of this account (any of its plates)?"""
        return bool(plate and self.plate == plate) or (
            account_id is not None and self.account_id == account_id)
