"""Tariffs: versioned, effective-dated prices per user group and zone (pure, no I/O).

Money is always an integer in the site currency's minor unit (cents). A tariff *version*
is in force from its ``effective_from`` until the next version that matches the same
session starts; :func:`pick_tariff` chooses the one in force for a group, zone and moment.

Tariff file format (JSON; one object, a list of objects, or ``{"time_zone": "Europe/
Amsterdam", "tariffs": [...]}``)::

    {
      "id": "standard",                 # required, text
      "version": 2,                     # required, positive integer
      "effective_from": "2026-03-01T00:00:00+01:00",  # required, ISO 8601 WITH offset
      "group_id": "",                   # "" = any group (the default)
      "zone_id": "",                    # "" = any zone (the default)
      "currency": "EUR",                # required, 3 letters; every version must agree
      "vat_rate_bp": 2100,              # VAT in basis points (2100 = 21 %), default 0
      "prices_include_vat": true,       # prices are gross (VAT inside), default true
      "components": {                   # every component is optional
        "parking": {"block_min": 15, "block_price": 100, "free_min": 15,
                    "daily_max": 2000,  # per site-local calendar day; null = no cap
                    "waived_while_charging": true, "resume_after_charging_min": 30},
        "energy": {"per_kwh": 35},
        "charging_time": {"per_min": 2},
        "session_fee": {"amount": 50, "per": "charging"},   # or "visit"
        "idle": {"per_min": 25, "grace_min": 15, "cap": 2500,   # cap null = none
                 "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                            "from": "08:00", "to": "20:00"}]},  # omitted = always
        "overstay": {"max_stay_min": 240, "per_min": 10},
                    # or {"max_stay_min": 240, "block_min": 60, "block_price": 500}
        "allowance": {"kwh_per_month": 100},
        "discounts": [{"kind": "percent", "value": 10, "applies_to": ["parking"]},
                      {"kind": "amount", "value": 200, "applies_to": ["all"]}],
        "penalties": {"overstay": 2500, "idle": 1500, "ice": 5000}
      }
    }

``penalties`` are not charged by the engine: they are the amounts the fee dialog proposes
when an attendant issues an enforcement fee of that kind (overstay, idle, ice) to a car
this tariff prices; without one, the enforcement ladder's step amount is proposed.

Which version applies: among versions whose group_id is the session's group or "" and
whose zone_id is its zone or "", the most specific (group match counts more than zone
match) wins; among those, the latest ``effective_from`` not after the moment (ties: the
higher version). Idle ``hours``: days are mon..sun, times are site-local "HH:MM"
("24:00" allowed as an end); a window whose end is not after its start runs overnight.

An invalid document raises :class:`FieldError` whose message names the field, e.g.
``tariff.components.parking.block_min: must be a positive integer``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

COMPONENTS = ("parking", "energy", "charging_time", "session", "idle", "overstay")
PENALTY_KINDS = ("overstay", "idle", "ice")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INT = 10**9  # prices in minor units, minutes: far beyond any real tariff
MAX_NUMBER = Decimal(10**12)  # Wh register readings, kWh, percentages


class FieldError(ValueError):
    """A bad field in a tariff or timeline document; ``path`` names it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ParkingRule:
    block_min: int
    block_price: int
    free_min: int = 0
    daily_max: int | None = None
    waived_while_charging: bool = False
    resume_after_charging_min: int = 0


@dataclass(frozen=True)
class EnergyRule:
    per_kwh: int


@dataclass(frozen=True)
class ChargingTimeRule:
    per_min: int


@dataclass(frozen=True)
class SessionFee:
    amount: int
    per: str = "charging"  # "charging": each charging session; "visit": once per stay


@dataclass(frozen=True)
class HoursWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time | None  # None = 24:00


@dataclass(frozen=True)
class IdleRule:
    per_min: int
    grace_min: int = 0
    cap: int | None = None
    hours: tuple[HoursWindow, ...] = ()


@dataclass(frozen=True)
class OverstayRule:
    max_stay_min: int
    per_min: int | None = None
    block_min: int | None = None
    block_price: int | None = None


@dataclass(frozen=True)
class Allowance:
    kwh_per_month: Decimal


@dataclass(frozen=True)
class Discount:
    kind: str  # "percent" | "amount"
    value: Decimal  # percent (0..100) or minor units
    applies_to: tuple[str, ...] = ("all",)


@dataclass(frozen=True)
class Tariff:
    id: str
    version: int
    effective_from: datetime  # aware, UTC
    currency: str
    group_id: str = ""
    zone_id: str = ""
    vat_rate_bp: int = 0
    prices_include_vat: bool = True
    parking: ParkingRule | None = None
    energy: EnergyRule | None = None
    charging_time: ChargingTimeRule | None = None
    session_fee: SessionFee | None = None
    idle: IdleRule | None = None
    overstay: OverstayRule | None = None
    allowance: Allowance | None = None
    discounts: tuple[Discount, ...] = field(default_factory=tuple)
    # Proposed enforcement fees, (kind, amount) pairs: a tuple keeps the tariff hashable.
    penalties: tuple[tuple[str, int], ...] = ()

    def penalty(self, kind: str) -> int | None:
        return dict(self.penalties).get(kind)

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"


def pick_tariff(tariffs: Iterable[Tariff], group: str, zone: str,
                at: datetime) -> Tariff | None:
    """The version in force for ``group`` in ``zone`` at ``at`` (None: no tariff)."""
    best: Tariff | None = None
    best_key: tuple[int, datetime, int] | None = None
    for t in tariffs:
        if t.group_id not in ("", group) or t.zone_id not in ("", zone):
            continue
        if t.effective_from > at:
            continue
        key = ((2 if t.group_id else 0) + (1 if t.zone_id else 0), t.effective_from,
               t.version)
        if best_key is None or key > best_key:
            best, best_key = t, key
    return best


# --- parsing -----------------------------------------------------------------------------

_MISSING = object()


def _get(doc: Mapping[str, Any], key: str, path: str, default: Any = _MISSING) -> Any:
    if key not in doc or (doc[key] is None and default is not _MISSING):
        if default is _MISSING:
            raise FieldError(f"{path}.{key}", "is required")
        return default
    return doc[key]


def field_obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FieldError(path, "must be an object")
    return value


def _int(value: Any, path: str, *, minimum: int = 0, what: str = "a non-negative integer"
         ) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FieldError(path, f"must be {what}")
    if value > MAX_INT:
        raise FieldError(path, f"must be at most {MAX_INT}")
    return value


def _pos(value: Any, path: str) -> int:
    return _int(value, path, minimum=1, what="a positive integer")


def _money(value: Any, path: str) -> int:
    return _int(value, path, what="a non-negative integer (minor units)")


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(path, "must be true or false")
    return value


def field_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise FieldError(path, "must be text")
    return value


def field_decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError(path, "must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise FieldError(path, "must be a number") from None
    if not number.is_finite() or number < 0:
        raise FieldError(path, "must be a non-negative number")
    if number > MAX_NUMBER:
        raise FieldError(path, f"must be at most {MAX_NUMBER}")
    return number


def parse_aware(value: Any, path: str) -> datetime:
    """An ISO 8601 time with an offset (or Z), as aware UTC."""
    if not isinstance(value, str):
        raise FieldError(path, "must be an ISO 8601 time with an offset")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(path, "must be an ISO 8601 time with an offset") from None
    if moment.tzinfo is None:
        raise FieldError(path, "must have a UTC offset (e.g. Z or +01:00)")
    return moment.astimezone(UTC)


def _clock(value: Any, path: str, *, allow_24: bool) -> time | None:
    text = field_str(value, path)
    if allow_24 and text == "24:00":
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise FieldError(path, 'must be "HH:MM"')
    hh, mm = int(parts[0]), int(parts[1])
    if hh > 23 or mm > 59:
        raise FieldError(path, 'must be "HH:MM"')
    return time(hh, mm)


def _hours(value: Any, path: str) -> tuple[HoursWindow, ...]:
    if not isinstance(value, list):
        raise FieldError(path, "must be a list")
    windows = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        item = field_obj(item, p)
        days_raw = _get(item, "days", p)
        if not isinstance(days_raw, list) or not days_raw:
            raise FieldError(f"{p}.days", "must be a non-empty list of mon..sun")
        days = set()
        for j, d in enumerate(days_raw):
            if not isinstance(d, str) or d.lower()[:3] not in WEEKDAYS:
                raise FieldError(f"{p}.days[{j}]", "must be one of mon..sun")
            days.add(WEEKDAYS.index(d.lower()[:3]))
        start = _clock(_get(item, "from", p), f"{p}.from", allow_24=False)
        assert start is not None
        end = _clock(_get(item, "to", p), f"{p}.to", allow_24=True)
        windows.append(HoursWindow(frozenset(days), start, end))
    return tuple(windows)


def _discounts(value: Any, path: str) -> tuple[Discount, ...]:
    if not isinstance(value, list):
        raise FieldError(path, "must be a list")
    out = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        item = field_obj(item, p)
        kind = _get(item, "kind", p)
        if kind not in ("percent", "amount"):
            raise FieldError(f"{p}.kind", 'must be "percent" or "amount"')
        v = field_decimal(_get(item, "value", p), f"{p}.value")
        if kind == "percent" and v > 100:
            raise FieldError(f"{p}.value", "must be a percentage between 0 and 100")
        if kind == "amount":
            v = Decimal(_money(item["value"], f"{p}.value"))
        out.append(Discount(kind, v, applies_to(item.get("applies_to", ["all"]),
                                                f"{p}.applies_to")))
    return tuple(out)


def applies_to(value: Any, path: str) -> tuple[str, ...]:
    """A component name, "all", or a list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise FieldError(path, "must be a component name, \"all\" or a list of them")
    for j, c in enumerate(items):
        if c != "all" and c not in COMPONENTS:
            raise FieldError(f"{path}[{j}]" if isinstance(value, list) else path,
                             f"must be one of all, {', '.join(COMPONENTS)}")
    return tuple(items)


def tariff_from_dict(doc: Any, path: str = "tariff") -> Tariff:
    doc = field_obj(doc, path)
    tid = field_str(_get(doc, "id", path), f"{path}.id")
    if not tid:
        raise FieldError(f"{path}.id", "must not be empty")
    currency = field_str(_get(doc, "currency", path), f"{path}.currency")
    if len(currency) != 3 or not currency.isalpha():
        raise FieldError(f"{path}.currency", "must be a 3-letter ISO 4217 code")
    vat = _int(_get(doc, "vat_rate_bp", path, 0), f"{path}.vat_rate_bp",
               what="a non-negative integer (basis points)")
    comps = field_obj(_get(doc, "components", path, {}), f"{path}.components")
    cp = f"{path}.components"
    known = {"parking", "energy", "charging_time", "session_fee", "idle", "overstay",
             "allowance", "discounts", "penalties"}
    for key in comps:
        if key not in known:
            raise FieldError(f"{cp}.{key}",
                             f"unknown component (known: {', '.join(sorted(known))})")

    def sub(name: str) -> Mapping[str, Any] | None:
        value = comps.get(name)
        return None if value is None else field_obj(value, f"{cp}.{name}")

    parking = energy = ctime = fee = idle = overstay = allowance = None
    if (d := sub("parking")) is not None:
        p = f"{cp}.parking"
        daily = _get(d, "daily_max", p, None)
        parking = ParkingRule(
            block_min=_pos(_get(d, "block_min", p), f"{p}.block_min"),
            block_price=_money(_get(d, "block_price", p), f"{p}.block_price"),
            free_min=_int(_get(d, "free_min", p, 0), f"{p}.free_min"),
            daily_max=None if daily is None else _money(daily, f"{p}.daily_max"),
            waived_while_charging=_bool(_get(d, "waived_while_charging", p, False),
                                        f"{p}.waived_while_charging"),
            resume_after_charging_min=_int(_get(d, "resume_after_charging_min", p, 0),
                                           f"{p}.resume_after_charging_min"))
    if (d := sub("energy")) is not None:
        energy = EnergyRule(_money(_get(d, "per_kwh", f"{cp}.energy"), f"{cp}.energy.per_kwh"))
    if (d := sub("charging_time")) is not None:
        p = f"{cp}.charging_time"
        ctime = ChargingTimeRule(_money(_get(d, "per_min", p), f"{p}.per_min"))
    if (d := sub("session_fee")) is not None:
        p = f"{cp}.session_fee"
        per = _get(d, "per", p, "charging")
        if per not in ("charging", "visit"):
            raise FieldError(f"{p}.per", 'must be "charging" or "visit"')
        fee = SessionFee(_money(_get(d, "amount", p), f"{p}.amount"), per)
    if (d := sub("idle")) is not None:
        p = f"{cp}.idle"
        cap = _get(d, "cap", p, None)
        idle = IdleRule(per_min=_money(_get(d, "per_min", p), f"{p}.per_min"),
                        grace_min=_int(_get(d, "grace_min", p, 0), f"{p}.grace_min"),
                        cap=None if cap is None else _money(cap, f"{p}.cap"),
                        hours=_hours(_get(d, "hours", p, []), f"{p}.hours"))
    if (d := sub("overstay")) is not None:
        p = f"{cp}.overstay"
        max_stay = _pos(_get(d, "max_stay_min", p), f"{p}.max_stay_min")
        if d.get("per_min") is not None:
            overstay = OverstayRule(max_stay, per_min=_money(d["per_min"], f"{p}.per_min"))
        elif d.get("block_min") is not None:
            overstay = OverstayRule(max_stay,
                                    block_min=_pos(d["block_min"], f"{p}.block_min"),
                                    block_price=_money(_get(d, "block_price", p),
                                                       f"{p}.block_price"))
        else:
            raise FieldError(f"{p}.per_min", "is required (or block_min and block_price)")
    if (d := sub("allowance")) is not None:
        p = f"{cp}.allowance"
        allowance = Allowance(field_decimal(_get(d, "kwh_per_month", p), f"{p}.kwh_per_month"))
    discounts = _discounts(comps.get("discounts") or [], f"{cp}.discounts")
    penalties: dict[str, int] = {}
    if (d := sub("penalties")) is not None:
        for kind, amount in d.items():
            if kind not in PENALTY_KINDS:
                raise FieldError(f"{cp}.penalties.{kind}",
                                 f"unknown kind (known: {', '.join(PENALTY_KINDS)})")
            penalties[kind] = _money(amount, f"{cp}.penalties.{kind}")
    return Tariff(
        id=tid, version=_pos(_get(doc, "version", path), f"{path}.version"),
        effective_from=parse_aware(_get(doc, "effective_from", path),
                                   f"{path}.effective_from"),
        currency=currency.upper(),
        group_id=field_str(_get(doc, "group_id", path, ""), f"{path}.group_id"),
        zone_id=field_str(_get(doc, "zone_id", path, ""), f"{path}.zone_id"),
        vat_rate_bp=vat,
        prices_include_vat=_bool(_get(doc, "prices_include_vat", path, True),
                                 f"{path}.prices_include_vat"),
        parking=parking, energy=energy, charging_time=ctime, session_fee=fee, idle=idle,
        overstay=overstay, allowance=allowance, discounts=discounts,
        penalties=tuple(sorted(penalties.items())))


def tariffs_from_doc(doc: Any) -> tuple[list[Tariff], str | None]:
    """A tariff file: one tariff, a list, or {"time_zone": ..., "tariffs": [...]}.

    Returns the tariffs and the file's time zone name (None when it names none).
    """
    tz: str | None = None
    items: Sequence[Any]
    if isinstance(doc, Mapping) and "tariffs" in doc:
        if doc.get("time_zone") is not None:
            tz = field_str(doc["time_zone"], "time_zone")
        if not isinstance(doc["tariffs"], list):
            raise FieldError("tariffs", "must be a list")
        items, prefix = doc["tariffs"], "tariffs"
    elif isinstance(doc, list):
        items, prefix = doc, "tariffs"
    else:
        return [tariff_from_dict(doc)], None
    if not items:
        raise FieldError(prefix, "must hold at least one tariff")
    tariffs = [tariff_from_dict(item, f"{prefix}[{i}]") for i, item in enumerate(items)]
    seen: set[tuple[str, int]] = set()
    for i, t in enumerate(tariffs):
        if (t.id, t.version) in seen:
            raise FieldError(f"{prefix}[{i}].version", f"duplicate version of {t.id!r}")
        seen.add((t.id, t.version))
    return tariffs, tz


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def tariff_to_dict(t: Tariff) -> dict[str, Any]:
    comps: dict[str, Any] = {}
    if t.parking:
        comps["parking"] = {"block_min": t.parking.block_min,
                            "block_price": t.parking.block_price,
                            "free_min": t.parking.free_min, "daily_max": t.parking.daily_max,
                            "waived_while_charging": t.parking.waived_while_charging,
                            "resume_after_charging_min": t.parking.resume_after_charging_min}
    if t.energy:
        comps["energy"] = {"per_kwh": t.energy.per_kwh}
    if t.charging_time:
        comps["charging_time"] = {"per_min": t.charging_time.per_min}
    if t.session_fee:
        comps["session_fee"] = {"amount": t.session_fee.amount, "per": t.session_fee.per}
    if t.idle:
        comps["idle"] = {
            "per_min": t.idle.per_min, "grace_min": t.idle.grace_min, "cap": t.idle.cap,
            "hours": [{"days": [WEEKDAYS[d] for d in sorted(w.days)],
                       "from": w.start.strftime("%H:%M"),
                       "to": "24:00" if w.end is None else w.end.strftime("%H:%M")}
                      for w in t.idle.hours]}
    if t.overstay:
        o = t.overstay
        comps["overstay"] = ({"max_stay_min": o.max_stay_min, "per_min": o.per_min}
                             if o.per_min is not None else
                             {"max_stay_min": o.max_stay_min, "block_min": o.block_min,
                              "block_price": o.block_price})
    if t.allowance:
        comps["allowance"] = {"kwh_per_month": _num(t.allowance.kwh_per_month)}
    if t.discounts:
        comps["discounts"] = [{"kind": d.kind, "value": _num(d.value),
                               "applies_to": list(d.applies_to)} for d in t.discounts]
    if t.penalties:
        comps["penalties"] = dict(t.penalties)
    return {"id": t.id, "version": t.version,
            "effective_from": t.effective_from.isoformat().replace("+00:00", "Z"),
            "group_id": t.group_id, "zone_id": t.zone_id, "currency": t.currency,
            "vat_rate_bp": t.vat_rate_bp, "prices_include_vat": t.prices_include_vat,
            "components": comps}
