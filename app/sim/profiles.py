"""Smart charging in a simulated charger: the charging profiles it holds and the power cap
they put on each connector now. Protocol-neutral; ocpp16 / ocpp201 translate the
messages into `Profile`s.

What a real charger does, kept small: the highest stack level in force wins; a TxProfile
beats the TxDefaultProfile and lives as long as its transaction; a TxDefaultProfile on a
connector beats the one on connector 0 (every connector); the charger-wide maximum
(ChargePointMaxProfile / ChargingStationMaxProfile) is shared by the connectors charging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.timeutil import parse_iso

MAX_PURPOSES = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
VOLTS = 230.0  # per phase, to turn an ampere limit into watts
_RECURRENCE_S = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}


@dataclass(frozen=True, slots=True)
class Period:
    start_s: float
    limit: float
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    connector_id: int  # 0: the whole charger
    stack_level: int
    purpose: str
    kind: str  # Absolute, Recurring, Relative
    unit: str  # "W" or "A"
    periods: tuple[Period, ...]
    start: datetime | None = None  # startSchedule
    duration_s: float | None = None
    recurrency: str | None = None  # Daily, Weekly
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None

    def limit_w(self, elapsed_s: float, now: datetime) -> float | None:
        """The cap in force now; None when the profile does not apply at this moment."""
        if (self.valid_from and now < self.valid_from) or (self.valid_to and now >= self.valid_to):
            return None
        if self.kind == "Relative" or self.start is None:
            offset = elapsed_s  # from the start of the session
        else:
            offset = (now - self.start).total_seconds()
            if self.kind == "Recurring" and self.recurrency in _RECURRENCE_S:
                offset %= _RECURRENCE_S[self.recurrency]
        if offset < 0 or (self.duration_s is not None and offset >= self.duration_s):
            return None
        period = None
        for p in self.periods:
            if p.start_s <= offset:
                period = p
        if period is None:
            return None
        if self.unit.upper() == "A":
            return period.limit * VOLTS * (period.phases or 3)
        return period.limit


@dataclass(slots=True)
class ChargingProfiles:
    max_stack_level: int = 10
    max_periods: int = 24
    max_installed: int = 10
    _profiles: dict[int, Profile] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._profiles)

    def problem(self, p: Profile, *, connectors: int, tx_id: str | None) -> str | None:
        """Why a charger would refuse this profile (None: it takes it). `tx_id`: the
        transaction running on the profile's connector."""
        if not 0 <= p.connector_id <= connectors:
            return "UnknownEVSE"
        if p.purpose in MAX_PURPOSES and p.connector_id != 0:
            return "MaxProfileNotOnStation"
        if p.purpose == TX:
            if p.connector_id == 0 or tx_id is None:
                return "NoTransaction"
            if p.transaction_id is not None and p.transaction_id != tx_id:
                return "WrongTransaction"
        if not 0 <= p.stack_level <= self.max_stack_level:
            return "StackLevelTooHigh"
        if not p.periods or len(p.periods) > self.max_periods:
            return "TooManyPeriods"
        if p.unit.upper() not in ("A", "W") or any(x.limit < 0 for x in p.periods):
            return "InvalidSchedule"
        replaced = self._replaced(p)
        if len(self._profiles) - len(replaced) >= self.max_installed:
            return "TooManyProfiles"
        return None

    def install(self, p: Profile) -> None:
        for pid in self._replaced(p):
            del self._profiles[pid]
        self._profiles[p.id] = p

    def matching(self, *, profile_id: int | None = None, connector_id: int | None = None,
                 purpose: str | None = None, stack_level: int | None = None) -> list[int]:
        """ClearChargingProfile: an id alone, or every criterion given."""
        if profile_id is not None:
            return [profile_id] if profile_id in self._profiles else []
        return [p.id for p in self._profiles.values()
                if (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)]

    def remove(self, ids: list[int]) -> None:
        for pid in ids:
            self._profiles.pop(pid, None)

    def transaction_ended(self, connector_id: int) -> bool:
        """A TxProfile dies with its transaction."""
        gone = [p.id for p in self._profiles.values()
                if p.purpose == TX and p.connector_id == connector_id]
        self.remove(gone)
        return bool(gone)

    def limit_w(self, connector_id: int, elapsed_s: float, charging: int) -> float | None:
        """The cap on one connector now; `charging`: connectors sharing the charger's max."""
        if not self._profiles:
            return None
        now = datetime.now(UTC)
        mine = [p for p in self._profiles.values() if p.connector_id == connector_id]
        limit = _best([p for p in mine if p.purpose == TX], elapsed_s, now)
        if limit is None:
            limit = _best([p for p in mine if p.purpose == TX_DEFAULT], elapsed_s, now)
        if limit is None:
            limit = _best([p for p in self._profiles.values()
                           if p.purpose == TX_DEFAULT and p.connector_id == 0], elapsed_s, now)
        station = _best([p for p in self._profiles.values() if p.purpose in MAX_PURPOSES],
                        elapsed_s, now)
        if station is not None:
            share = station / max(1, charging)
            limit = share if limit is None else min(limit, share)
        return limit

    def _replaced(self, p: Profile) -> list[int]:
        # The same id, or the same purpose and stack level on the same connector.
        return [q.id for q in self._profiles.values()
                if q.id == p.id or (q.connector_id == p.connector_id and q.purpose == p.purpose
                                    and q.stack_level == p.stack_level)]


def _best(profiles: list[Profile], elapsed_s: float, now: datetime) -> float | None:
    for p in sorted(profiles, key=lambda q: q.stack_level, reverse=True):
        limit = p.limit_w(elapsed_s, now)
        if limit is not None:
            return limit
    return None


def profile_from_ocpp(connector_id: int, p: dict[str, Any], *, id_key: str) -> Profile:
    """A SetChargingProfile / RequestStartTransaction profile (snake_cased), either version.

    1.6 names the id `charging_profile_id` and has one schedule; 2.0.1 names it `id` and
    has a list of schedules, of which the first is used.
    """
    schedule = p.get("charging_schedule") or {}
    if isinstance(schedule, list):
        schedule = schedule[0] if schedule else {}
    tx_id = p.get("transaction_id")
    return Profile(
        id=int(p[id_key]),
        connector_id=connector_id,
        stack_level=int(p["stack_level"]),
        purpose=str(p["charging_profile_purpose"]),
        kind=str(p["charging_profile_kind"]),
        unit=str(schedule.get("charging_rate_unit", "W")),
        periods=tuple(Period(float(x["start_period"]), float(x["limit"]), x.get("number_phases"))
                      for x in schedule.get("charging_schedule_period") or []),
        start=parse_iso(schedule.get("start_schedule")),
        duration_s=schedule.get("duration"),
        recurrency=p.get("recurrency_kind"),
        valid_from=parse_iso(p.get("valid_from")),
        valid_to=parse_iso(p.get("valid_to")),
        transaction_id=None if tx_id is None else str(tx_id),
    )
