"""The billing engine: one itemized bill for parking, charging, idle and overstay.

``compute_bill(timeline, tariffs, tz)`` is a pure, deterministic function: the same
timeline and tariffs always give the same bill, so a late offline transaction, a rebind
or a waiver simply recomputes it, and replaying the same events changes nothing
(charging sessions are deduplicated by transaction id, meter samples by id or by
(time, value), adjustments by id).

Rules (all times aware UTC; the site's time zone ``tz`` only decides calendar days and
scheduled hours, so a daylight-saving night has 23 or 25 real hours):

* The stay runs from ``entry_at`` to ``exit_at`` (or ``now`` while the car is inside).
  It is split where a new tariff version takes effect: each piece is priced by the
  version in force at its start (:func:`app.domain.tariffs.pick_tariff`). Rules about
  the stay as a whole (free minutes, maximum stay, allowance, discounts) come from the
  version in force at entry; rules about one charging session (waiver window, session
  fee, idle grace and cap) from the version in force when that session (or its charging)
  started (ended).
* Minutes are *started* minutes: ceil(seconds / 60), counted per priced piece.
* Parking: the first ``free_min`` minutes after entry are free; with
  ``waived_while_charging`` the time from a charging start until ``charging_ended_at +
  resume_after_charging_min`` is not charged. What remains is counted per site-local
  calendar day and version: blocks = ceil(minutes / block_min); then each day is capped
  at ``daily_max`` (the cap of the version in force at the day's last charged moment): a
  line "daily maximum 25.00 reached on 2026-03-14", quantity 1 day, unit price the cap,
  amount negative (cap minus the day's parking lines).
* Energy: per transaction, from its meter samples; each rise of the register is billed
  by the version in force at that sample. A drop of the register is a reset: the new
  reading counts from zero. Energy is never negative. kWh are exact (Wh / 1000).
* Allowance: ``kwh_per_month`` minus the timeline's ``allowance_used_kwh_this_month``
  covers the first kWh of this stay (negative "allowance" lines, at the energy price).
  The engine only takes that number; the caller decides it (BillingService: the kWh the
  allowance lines of the same account's *other* bills cover, among stays whose entry
  falls in the same site-local calendar month as this stay's entry; 0 for visitors).
* Charging time: start of transaction to ``charging_ended_at``, per started minute.
* Session fee: per charging session (``per: charging``) or once per stay (``visit``).
* Idle: from ``charging_ended_at + grace_min`` to the transaction end, only inside the
  version's ``hours`` (site-local) when given; capped per charging session at ``cap``.
* Overstay: after ``max_stay_min`` (the group's value on the timeline, else the
  tariff's) from entry to exit, per started minute or per started block, charging or not.
* Discounts (tariff, in order) then the timeline's waivers and validations (sorted by
  id) each reduce what is left of the components they apply to, never below zero.
  Percentages are of what is left; a reduction spanning several components is taken
  from them in the order parking, energy, charging_time, session, idle, overstay.
  Discount lines carry the VAT rate of the version in force at entry.
* Fees (the timeline's ``fees``: issued enforcement fees) are "fee" lines added as they
  are after all reductions, at the VAT rate of the version in force at entry.
* A charger clock flagged bad: the transaction's start, end, samples and status
  times are the central system's receive times instead.

Rounding: every line's amount is rounded half-up to the minor unit once (quantities are
exact Decimals; prices are integers). VAT is computed once per rate on the sum of the
lines at that rate, rounded half-up: with ``prices_include_vat`` (gross prices)
vat = total * rate / (1 + rate) and total = sum of lines; otherwise vat = subtotal * rate
and total = subtotal + vat. All versions used in one bill must share the currency and
the gross/net convention.

Timeline file format (JSON)::

    {
      "session_id": "P-1001",                      # optional, echoed in the bill
      "entry_at": "2026-03-28T22:00:00Z",          # required, ISO 8601 with offset
      "exit_at": "2026-03-29T10:00:00Z",           # or null/absent with "now"
      "now": null,
      "zone": "P1", "group": "visitor", "plate": "AB123C",   # optional text
      "max_stay_min": null,                        # the group's maximum stay, optional
      "allowance_used_kwh_this_month": 0,          # optional number
      "charging": [{
        "transaction_id": "T-1",                   # required; duplicates are ignored
        "where": "EV 01",                          # optional: the bay, named on the lines
        "start": "...", "end": "...",              # required (end: null = still running,
                                                   #   billed up to exit/now)
        "start_received": "...", "end_received": "...",  # used when clock_flagged
        "clock_flagged": false,
        "samples": [{"id": "s1", "at": "...", "received_at": "...", "wh": 12345.6}],
        "energy_wh": 5000,                         # only when there are no samples
        "status": [{"at": "...", "received_at": "...", "status": "SuspendedEV"}],
        "charging_ended_at": null                  # explicit override, optional
      }],
      "fees": [{"id": "V-7", "amount": 2500, "description": "overstay fee"}],
      "adjustments": [{"id": "W-1", "type": "waiver" | "validation",
                       "component": "parking" | ["parking", "idle"] | "all",
                       "percent": 50 | "amount": 300,  # neither = waive it all
                       "reason": "shop validation"}]
    }

``charging_ended_at`` (when not given): the last SuspendedEV/Finishing/Available status
not followed by Charging; else the time of the last sample where the register rose, if
a later sample shows it flat; else the transaction end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.tariffs import (
    COMPONENTS,
    FieldError,
    Tariff,
    applies_to,
    field_decimal,
    field_obj,
    field_str,
    parse_aware,
    pick_tariff,
)

Interval = tuple[datetime, datetime]
_STOP_STATUSES = {"suspendedev", "finishing", "available"}


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_of(amount: int, rate_bp: int, gross: bool) -> int:
    """The VAT in (gross) or on (net) the lines of one rate, rounded half up once per rate."""
    if gross:
        return round_half_up(Decimal(amount) * rate_bp / (10000 + rate_bp))
    return round_half_up(Decimal(amount) * rate_bp / 10000)


def started_minutes(seconds: float) -> int:
    return math.ceil(seconds / 60 - 1e-9) if seconds > 0 else 0


# --- the timeline --------------------------------------------------------------------------

@dataclass(frozen=True)
class ChargingPeriod:
    transaction_id: str
    start: datetime
    end: datetime | None
    charging_ended_at: datetime | None
    deliveries: tuple[tuple[datetime, Decimal], ...] = ()  # (time, Wh added), all >= 0
    clock_flagged: bool = False
    where: str = ""  # the bay (or charger/connector) it charged at, for the bill's lines

    @property
    def name(self) -> str:
        """How its lines name it: "at EV 01 (session 12)", or the transaction id alone."""
        return f"at {self.where} (session {self.transaction_id})" if self.where \
            else self.transaction_id

    @property
    def energy_wh(self) -> Decimal:
        return sum((wh for _, wh in self.deliveries), Decimal(0))


@dataclass(frozen=True)
class Adjustment:
    id: str
    type: str  # "waiver" | "validation"
    components: tuple[str, ...]
    percent: Decimal | None = None
    amount: int | None = None  # both None: waive all
    reason: str = ""


@dataclass(frozen=True)
class Fee:
    """A manual fee on the bill (an issued violation): ``amount`` in minor units."""

    id: str
    amount: int
    description: str = ""


@dataclass(frozen=True)
class Timeline:
    entry_at: datetime
    exit_at: datetime | None
    now: datetime | None = None
    zone: str = ""
    group: str = ""
    plate: str = ""
    session_id: str = ""
    charging: tuple[ChargingPeriod, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    allowance_used_kwh_this_month: Decimal = Decimal(0)
    max_stay_min: int | None = None
    # Fees issued outside the tariff (an enforcement fee for this stay): added as they are,
    # after discounts and adjustments (a fee is waived by resolving it, not by a waiver).
    fees: tuple[Fee, ...] = ()

    @property
    def end(self) -> datetime:
        end = self.exit_at or self.now
        if end is None:
            raise ValueError("a timeline without exit_at needs now")
        return max(end, self.entry_at)


def deliveries_from_samples(samples: Sequence[tuple[datetime, Decimal]]
                            ) -> tuple[tuple[datetime, Decimal], ...]:
    """Register readings (time, Wh) -> energy added at each sample; a drop is a reset."""
    out: list[tuple[datetime, Decimal]] = []
    previous: Decimal | None = None
    for at, wh in sorted(samples):
        if previous is not None:
            delta = wh - previous if wh >= previous else wh  # reset: counts from zero
            if delta > 0:
                out.append((at, delta))
        previous = wh
    return tuple(out)


def _ended_at(samples: Sequence[tuple[datetime, Decimal]],
              statuses: Sequence[tuple[datetime, str]], end: datetime | None
              ) -> datetime | None:
    last_stop: datetime | None = None
    for at, status in sorted(statuses):
        s = status.lower()
        if s in _STOP_STATUSES:
            last_stop = last_stop or at
        elif s == "charging":
            last_stop = None
    if last_stop is not None:
        return last_stop
    ordered = sorted(samples)
    last_rise = None
    flat_after = False
    for (_, a), (t2, b) in pairwise(ordered):
        if b != a:
            last_rise, flat_after = t2, False
        else:
            flat_after = True
    if last_rise is not None and flat_after:
        return last_rise
    return end


def _opt_time(doc: Mapping[str, Any], key: str, path: str) -> datetime | None:
    value = doc.get(key)
    return None if value is None else parse_aware(value, f"{path}.{key}")


def period_from_dict(doc: Any, path: str) -> ChargingPeriod:
    doc = field_obj(doc, path)
    if "transaction_id" not in doc:
        raise FieldError(f"{path}.transaction_id", "is required")
    tid = str(doc["transaction_id"])
    flagged = doc.get("clock_flagged", False)
    if not isinstance(flagged, bool):
        raise FieldError(f"{path}.clock_flagged", "must be true or false")
    if "start" not in doc:
        raise FieldError(f"{path}.start", "is required")
    start = parse_aware(doc["start"], f"{path}.start")
    end = _opt_time(doc, "end", path)
    if flagged:
        start = _opt_time(doc, "start_received", path) or start
        end = _opt_time(doc, "end_received", path) or end
    if end is not None and end < start:
        raise FieldError(f"{path}.end", "must not be before start")
    samples_raw = doc.get("samples") or []
    if not isinstance(samples_raw, list):
        raise FieldError(f"{path}.samples", "must be a list")
    seen: set[Any] = set()
    samples: list[tuple[datetime, Decimal]] = []
    for i, s in enumerate(samples_raw):
        p = f"{path}.samples[{i}]"
        s = field_obj(s, p)
        at = parse_aware(s.get("at"), f"{p}.at")
        if flagged and s.get("received_at") is not None:
            at = parse_aware(s["received_at"], f"{p}.received_at")
        wh = field_decimal(s.get("wh"), f"{p}.wh")
        key = ("id", str(s["id"])) if s.get("id") is not None else (at, wh)
        if key in seen:
            continue
        seen.add(key)
        samples.append((at, wh))
    statuses_raw = doc.get("status") or []
    if not isinstance(statuses_raw, list):
        raise FieldError(f"{path}.status", "must be a list")
    statuses = []
    for i, s in enumerate(statuses_raw):
        p = f"{path}.status[{i}]"
        s = field_obj(s, p)
        at = parse_aware(s.get("at"), f"{p}.at")
        if flagged and s.get("received_at") is not None:
            at = parse_aware(s["received_at"], f"{p}.received_at")
        statuses.append((at, field_str(s.get("status"), f"{p}.status")))
    if samples:
        deliveries = deliveries_from_samples(samples)
    elif doc.get("energy_wh") is not None:
        wh = field_decimal(doc["energy_wh"], f"{path}.energy_wh")
        deliveries = ((start, wh),) if wh > 0 else ()
    else:
        deliveries = ()
    ended = _opt_time(doc, "charging_ended_at", path) or _ended_at(samples, statuses, end)
    if ended is not None:
        ended = max(ended, start)
        if end is not None:
            ended = min(ended, end)
    where = field_str(doc.get("where", ""), f"{path}.where")
    return ChargingPeriod(tid, start, end, ended, deliveries, flagged, where)


def timeline_from_dict(doc: Any, path: str = "timeline") -> Timeline:
    doc = field_obj(doc, path)
    if doc.get("entry_at") is None:
        raise FieldError(f"{path}.entry_at", "is required")
    entry = parse_aware(doc["entry_at"], f"{path}.entry_at")
    exit_at = _opt_time(doc, "exit_at", path)
    now = _opt_time(doc, "now", path)
    if exit_at is None and now is None:
        raise FieldError(f"{path}.exit_at", "is required (or now, while the car is inside)")
    if exit_at is not None and exit_at < entry:
        raise FieldError(f"{path}.exit_at", "must not be before entry_at")
    charging_raw = doc.get("charging") or []
    if not isinstance(charging_raw, list):
        raise FieldError(f"{path}.charging", "must be a list")
    periods: dict[str, ChargingPeriod] = {}
    for i, item in enumerate(charging_raw):
        period = period_from_dict(item, f"{path}.charging[{i}]")
        periods.setdefault(period.transaction_id, period)  # a replayed duplicate: ignored
    adj_raw = doc.get("adjustments") or []
    if not isinstance(adj_raw, list):
        raise FieldError(f"{path}.adjustments", "must be a list")
    adjustments: dict[str, Adjustment] = {}
    for i, item in enumerate(adj_raw):
        p = f"{path}.adjustments[{i}]"
        item = field_obj(item, p)
        if item.get("id") is None:
            raise FieldError(f"{p}.id", "is required")
        kind = item.get("type", "waiver")
        if kind not in ("waiver", "validation"):
            raise FieldError(f"{p}.type", 'must be "waiver" or "validation"')
        percent = amount = None
        if item.get("percent") is not None:
            percent = field_decimal(item["percent"], f"{p}.percent")
            if percent > 100:
                raise FieldError(f"{p}.percent", "must be between 0 and 100")
        elif item.get("amount") is not None:
            value = item["amount"]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
                raise FieldError(f"{p}.amount", "must be a non-negative integer (minor units)")
            amount = value
        adjustments.setdefault(str(item["id"]), Adjustment(
            str(item["id"]), kind, applies_to(item.get("component", "all"), f"{p}.component"),
            percent, amount, str(item.get("reason", ""))))
    fees_raw = doc.get("fees") or []
    if not isinstance(fees_raw, list):
        raise FieldError(f"{path}.fees", "must be a list")
    fees: dict[str, Fee] = {}
    for i, item in enumerate(fees_raw):
        p = f"{path}.fees[{i}]"
        item = field_obj(item, p)
        if item.get("id") is None:
            raise FieldError(f"{p}.id", "is required")
        value = item.get("amount")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
            raise FieldError(f"{p}.amount", "must be a non-negative integer (minor units)")
        fees.setdefault(str(item["id"]), Fee(str(item["id"]), value,
                                             field_str(item.get("description", ""),
                                                       f"{p}.description")))
    max_stay = doc.get("max_stay_min")
    if max_stay is not None and (isinstance(max_stay, bool) or not isinstance(max_stay, int)
                                 or not 0 < max_stay <= 10**9):
        raise FieldError(f"{path}.max_stay_min", "must be a positive integer")
    return Timeline(
        entry_at=entry, exit_at=exit_at, now=now,
        zone=field_str(doc.get("zone", ""), f"{path}.zone"),
        group=field_str(doc.get("group", ""), f"{path}.group"),
        plate=field_str(doc.get("plate", ""), f"{path}.plate"),
        session_id=str(doc.get("session_id", "")),
        charging=tuple(periods.values()), adjustments=tuple(adjustments.values()),
        allowance_used_kwh_this_month=field_decimal(doc.get("allowance_used_kwh_this_month", 0),
                                               f"{path}.allowance_used_kwh_this_month"),
        max_stay_min=max_stay, fees=tuple(fees.values()))


# --- the bill ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    component: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: int
    amount: int
    tariff: str = ""  # "id@version"
    vat_rate_bp: int = 0


@dataclass(frozen=True)
class Bill:
    currency: str
    lines: tuple[Line, ...]
    subtotal: int  # without VAT
    vat: int
    total: int  # what the customer pays
    prices_include_vat: bool
    vat_by_rate: tuple[tuple[int, int, int], ...] = ()  # (rate_bp, base without VAT, vat)
    tariff_versions: tuple[str, ...] = ()
    allowance_kwh_used: Decimal = Decimal(0)
    session_id: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def gross_amount(self, component: str) -> int:
        """What the driver pays for one component's lines (VAT included), with the VAT
        worked out per rate the way the bill's own total is."""
        by_rate: dict[int, int] = {}
        for ln in self.lines:
            if ln.component == component:
                by_rate[ln.vat_rate_bp] = by_rate.get(ln.vat_rate_bp, 0) + ln.amount
        if self.prices_include_vat:
            return sum(by_rate.values())
        return sum(v + vat_of(v, rate, gross=False) for rate, v in by_rate.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "currency": self.currency,
            "prices_include_vat": self.prices_include_vat,
            "lines": [{"component": ln.component, "description": ln.description,
                       "quantity": _qty(ln.quantity), "unit": ln.unit,
                       "unit_price": ln.unit_price, "amount": ln.amount,
                       "tariff": ln.tariff, "vat_rate_bp": ln.vat_rate_bp}
                      for ln in self.lines],
            "subtotal": self.subtotal, "vat": self.vat, "total": self.total,
            "vat_by_rate": [{"rate_bp": r, "base": b, "vat": v}
                            for r, b, v in self.vat_by_rate],
            "tariff_versions": list(self.tariff_versions),
            "allowance_kwh_used": _qty(self.allowance_kwh_used),
            "warnings": list(self.warnings)}


def _qty(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


class BillingError(ValueError):
    """No tariff applies, or the versions of one bill cannot be combined."""


class _Pricer:
    def __init__(self, tariffs: Sequence[Tariff], group: str, zone: str) -> None:
        self.tariffs = [t for t in tariffs if t.group_id in ("", group)
                        and t.zone_id in ("", zone)]
        self.group, self.zone = group, zone
        self.used: dict[str, Tariff] = {}

    def at(self, moment: datetime) -> Tariff:
        t = pick_tariff(self.tariffs, self.group, self.zone, moment)
        if t is None:
            raise BillingError(f"no tariff in force for group {self.group!r}, zone "
                               f"{self.zone!r} at {moment.isoformat()}")
        self.used.setdefault(t.label, t)
        return t

    def pieces(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Tariff]]:
        """[start, end) split where a matching version takes effect."""
        cuts = sorted({t.effective_from for t in self.tariffs if start < t.effective_from < end})
        edges = [start, *cuts, end]
        return [(a, b, self.at(a)) for a, b in pairwise(edges) if b > a]


def _subtract(intervals: list[Interval], cut: Interval) -> list[Interval]:
    out = []
    for a, b in intervals:
        if cut[1] <= a or cut[0] >= b:
            out.append((a, b))
            continue
        if a < cut[0]:
            out.append((a, cut[0]))
        if cut[1] < b:
            out.append((cut[1], b))
    return out


def _intersect(intervals: Iterable[Interval], others: Iterable[Interval]) -> list[Interval]:
    others = list(others)
    out = []
    for a, b in intervals:
        for c, d in others:
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                out.append((lo, hi))
    return out


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _split_days(start: datetime, end: datetime,
                tz: ZoneInfo) -> list[tuple[date, datetime, datetime]]:
    out = []
    cursor = start
    while cursor < end:
        day = cursor.astimezone(tz).date()
        nxt = _local_midnight(day + timedelta(days=1), tz)
        stop = min(end, nxt.astimezone(start.tzinfo))
        out.append((day, cursor, stop))
        cursor = stop
    return out


def _hours_intervals(t: Tariff, start: datetime, end: datetime,
                     tz: ZoneInfo) -> list[Interval]:
    assert t.idle is not None
    out: list[Interval] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        for w in t.idle.hours:
            if day.weekday() not in w.days:
                continue
            a = datetime.combine(day, w.start, tzinfo=tz)
            if w.end is None:
                b = _local_midnight(day + timedelta(days=1), tz)
            elif w.end > w.start:
                b = datetime.combine(day, w.end, tzinfo=tz)
            else:  # overnight
                b = datetime.combine(day + timedelta(days=1), w.end, tzinfo=tz)
            out.append((a.astimezone(start.tzinfo), b.astimezone(start.tzinfo)))
        day += timedelta(days=1)
    return out


def _seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def _major(minor: int) -> str:
    """Minor units as major units with two decimals ("2500" -> "25.00"), for descriptions."""
    return f"{Decimal(minor).scaleb(-2):.2f}"


def _line(component: str, description: str, quantity: Decimal | int, unit: str,
          unit_price: int, t: Tariff, amount: int | None = None) -> Line:
    q = Decimal(quantity)
    value = round_half_up(q * unit_price) if amount is None else amount
    return Line(component, description, q, unit, unit_price, value, t.label, t.vat_rate_bp)


def compute_bill(timeline: Timeline, tariffs: Sequence[Tariff], tz: ZoneInfo | str) -> Bill:
    """The itemized bill of one stay (see the module docstring for every rule)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    pricer = _Pricer(tariffs, timeline.group, timeline.zone)
    entry, end = timeline.entry_at, timeline.end
    base = pricer.at(entry)
    lines: list[Line] = []
    periods = sorted(timeline.charging, key=lambda p: (p.start, p.transaction_id))
    warnings: list[str] = []

    def period_end(p: ChargingPeriod) -> datetime:
        return max(p.start, min(p.end or end, end))

    # parking
    chargeable: list[Interval] = [(entry, end)]
    if base.parking and base.parking.free_min:
        free_until = entry + timedelta(minutes=base.parking.free_min)
        chargeable = _subtract(chargeable, (entry, free_until))
    for p in periods:
        rule = pricer.at(p.start).parking
        if rule and rule.waived_while_charging:
            stop = p.charging_ended_at or period_end(p)
            chargeable = _subtract(chargeable, (p.start, stop + timedelta(
                minutes=rule.resume_after_charging_min)))
    per_day: dict[date, list[tuple[Tariff, float]]] = {}
    for a, b in sorted(chargeable):
        for pa, pb, t in pricer.pieces(a, b):
            if t.parking is None:
                continue
            for day, da, db in _split_days(pa, pb, zone):
                bucket = per_day.setdefault(day, [])
                for i, (bt, secs) in enumerate(bucket):
                    if bt is t:
                        bucket[i] = (bt, secs + (db - da).total_seconds())
                        break
                else:
                    bucket.append((t, (db - da).total_seconds()))
    for day in sorted(per_day):
        day_total = 0
        for t, secs in per_day[day]:
            assert t.parking is not None
            minutes = started_minutes(secs)
            blocks = math.ceil(minutes / t.parking.block_min)
            ln = _line("parking", f"parking {day.isoformat()}: {minutes} min",
                       blocks, "block", t.parking.block_price, t)
            lines.append(ln)
            day_total += ln.amount
        cap_t = per_day[day][-1][0]
        assert cap_t.parking is not None
        cap = cap_t.parking.daily_max
        if cap is not None and day_total > cap:
            # Reads on a receipt as "daily maximum 25.00 reached on <day> | 1 day | 25.00 |
            # -5.00": the unit price is the cap per day, the amount what the cap takes off.
            lines.append(_line("parking", f"daily maximum {_major(cap)} reached on "
                               f"{day.isoformat()}", 1, "day", cap, cap_t,
                               amount=cap - day_total))

    # charging: energy, charging time, session fee, idle
    energy_lines: list[tuple[Line, Tariff]] = []
    for p in periods:
        p_end = period_end(p)
        by_version: dict[str, tuple[Tariff, Decimal]] = {}
        for at, wh in p.deliveries:
            t = pricer.at(max(at, p.start))
            prev = by_version.get(t.label, (t, Decimal(0)))[1]
            by_version[t.label] = (t, prev + wh)
        for t, wh in by_version.values():
            if t.energy is None:
                continue
            ln = _line("energy", f"energy {p.name}", wh / 1000, "kWh",
                       t.energy.per_kwh, t)
            lines.append(ln)
            energy_lines.append((ln, t))
        ended = p.charging_ended_at or p_end
        for a, b, t in pricer.pieces(p.start, min(ended, p_end)):
            if t.charging_time:
                minutes = started_minutes((b - a).total_seconds())
                lines.append(_line("charging_time", f"charging time {p.name}",
                                   minutes, "min", t.charging_time.per_min, t))
        t0 = pricer.at(p.start)
        if t0.session_fee and t0.session_fee.per == "charging":
            lines.append(_line("session", f"session fee {p.name}", 1, "session",
                               t0.session_fee.amount, t0))
        te = pricer.at(min(ended, p_end))
        if te.idle:
            idle_from = ended + timedelta(minutes=te.idle.grace_min)
            idle_total = 0
            for a, b, t in pricer.pieces(idle_from, p_end) if idle_from < p_end else []:
                if t.idle is None:
                    continue
                spans = [(a, b)] if not t.idle.hours else _intersect(
                    [(a, b)], _hours_intervals(t, a, b, zone))
                minutes = started_minutes(_seconds(spans))
                if minutes:
                    ln = _line("idle", f"idle {p.name}: {minutes} min after "
                               f"{te.idle.grace_min} min grace", minutes, "min",
                               t.idle.per_min, t)
                    lines.append(ln)
                    idle_total += ln.amount
            if te.idle.cap is not None and idle_total > te.idle.cap:
                lines.append(_line("idle", f"idle cap {p.name}", 1, "session",
                                   te.idle.cap - idle_total, te))
    if base.session_fee and base.session_fee.per == "visit":
        lines.append(_line("session", "session fee", 1, "visit", base.session_fee.amount,
                           base))

    # allowance
    allowance_used = Decimal(0)
    if base.allowance and energy_lines:
        left_kwh = max(Decimal(0), base.allowance.kwh_per_month
                       - timeline.allowance_used_kwh_this_month)
        for ln, t in energy_lines:
            if left_kwh <= 0:
                break
            assert t.energy is not None
            covered = min(left_kwh, ln.quantity)
            left_kwh -= covered
            allowance_used += covered
            lines.append(_line("allowance", f"allowance ({ln.description})", -covered,
                               "kWh", t.energy.per_kwh, t))

    # overstay
    max_stay = timeline.max_stay_min or (base.overstay.max_stay_min if base.overstay else None)
    if max_stay is not None:
        start = entry + timedelta(minutes=max_stay)
        for a, b, t in pricer.pieces(start, end) if start < end else []:
            o = t.overstay
            if o is None:
                continue
            minutes = started_minutes((b - a).total_seconds())
            desc = f"overstay after {max_stay} min: {minutes} min"
            if o.per_min is not None:
                lines.append(_line("overstay", desc, minutes, "min", o.per_min, t))
            else:
                assert o.block_min and o.block_price is not None
                lines.append(_line("overstay", desc, math.ceil(minutes / o.block_min),
                                   "block", o.block_price, t))

    # discounts, then waivers and validations
    left: dict[str, int] = {c: 0 for c in COMPONENTS}
    for ln in lines:
        key = "energy" if ln.component == "allowance" else ln.component
        left[key] += ln.amount
    reductions: list[tuple[str, str, tuple[str, ...], Decimal | None, int | None]] = []
    for i, d in enumerate(base.discounts):
        reductions.append(("discount", f"discount {i + 1}", d.applies_to,
                           d.value if d.kind == "percent" else None,
                           int(d.value) if d.kind == "amount" else None))
    for adj in sorted(timeline.adjustments, key=lambda a: a.id):
        percent = adj.percent if adj.percent is not None or adj.amount is not None \
            else Decimal(100)
        desc = f"{adj.type} {adj.id}" + (f": {adj.reason}" if adj.reason else "")
        reductions.append((adj.type, desc, adj.components, percent, adj.amount))
    for kind, desc, comps, percent, amount in reductions:
        targets = list(COMPONENTS) if "all" in comps else [c for c in COMPONENTS if c in comps]
        pool = sum(max(left[c], 0) for c in targets)
        if pool <= 0:
            continue
        off = round_half_up(Decimal(pool) * percent / 100) if percent is not None \
            else min(amount or 0, pool)
        if off <= 0:
            continue
        remaining = off
        for c in targets:
            take = min(max(left[c], 0), remaining)
            left[c] -= take
            remaining -= take
        what = "all" if "all" in comps else ", ".join(targets)
        qty = (percent if percent is not None else Decimal(1))
        lines.append(Line(kind, f"{desc} ({what})", qty, "%" if percent is not None else "x",
                          0 if percent is not None else -off, -off, base.label,
                          base.vat_rate_bp))

    # manual fees (issued violations): as they are, at the entry version's VAT rate
    for fee in sorted(timeline.fees, key=lambda f: f.id):
        if fee.amount > 0:
            lines.append(Line("fee", fee.description or f"fee {fee.id}", Decimal(1), "x",
                              fee.amount, fee.amount, base.label, base.vat_rate_bp))

    # VAT
    used = list(pricer.used.values())
    currencies = {t.currency for t in used}
    gross_flags = {t.prices_include_vat for t in used}
    if len(currencies) > 1:
        raise BillingError("tariff versions in one bill use several currencies: "
                           f"{sorted(currencies)}")
    if len(gross_flags) > 1:
        raise BillingError("tariff versions in one bill disagree on prices_include_vat")
    gross = base.prices_include_vat
    by_rate: dict[int, int] = {}
    for ln in lines:
        by_rate[ln.vat_rate_bp] = by_rate.get(ln.vat_rate_bp, 0) + ln.amount
    vat_rows = []
    vat_total = 0
    lines_total = sum(ln.amount for ln in lines)
    for rate in sorted(by_rate):
        amount = by_rate[rate]
        vat = vat_of(amount, rate, gross)
        vat_rows.append((rate, amount - vat if gross else amount, vat))
        vat_total += vat
    subtotal = lines_total - vat_total if gross else lines_total
    total = lines_total if gross else lines_total + vat_total
    versions = tuple(sorted(pricer.used, key=lambda k: (pricer.used[k].effective_from, k)))
    if timeline.exit_at is None:
        warnings.append("the car is still inside: billed up to now")
    return Bill(currency=base.currency, lines=tuple(lines), subtotal=subtotal, vat=vat_total,
                total=total, prices_include_vat=gross, vat_by_rate=tuple(vat_rows),
                tariff_versions=versions, allowance_kwh_used=allowance_used,
                session_id=timeline.session_id, warnings=tuple(warnings))
