"""OCPP meterValue lists (1.6 and 2.0.1, snake_cased keys) -> readings in base units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.energy import scaled, to_number
from app.domain.timeutil import parse_iso
from app.domain.transactions import Measurand


@dataclass(frozen=True, slots=True)
class Reading:
    """One meterValue element: a timestamp and what was measured then."""

    at: datetime | None
    energy_wh: float | None = None
    power_w: float | None = None
    current_a: float | None = None
    voltage_v: float | None = None
    soc_pct: float | None = None
    context: str = ""


def _unit_and_multiplier(sv: dict[str, Any]) -> tuple[str | None, int]:
    if "unit_of_measure" in sv and isinstance(sv["unit_of_measure"], dict):  # 2.0.1
        uom = sv["unit_of_measure"]
        return uom.get("unit"), int(to_number(uom.get("multiplier", 0)) or 0)
    return sv.get("unit"), 0


def _value(sv: dict[str, Any]) -> float | None:
    if str(sv.get("format", "Raw")).lower() == "signeddata":
        return None  # a signed blob, not a number
    unit, multiplier = _unit_and_multiplier(sv)
    value = scaled(sv.get("value"), unit)
    if value is None:
        return None
    return value * (10 ** multiplier) if multiplier else value


_LINE_PHASES = {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"}


def _combine(values: list[tuple[str | None, float]], how: str) -> float | None:
    """Prefer a reading without a phase (the total); otherwise combine the phases."""
    if not values:
        return None
    totals = [v for phase, v in values if not phase]
    if totals:
        return totals[-1]
    # Line-to-line voltages (L1-L2) and the neutral would double count with L1/L2/L3.
    phased = [v for phase, v in values if phase in _LINE_PHASES]
    phased = phased or [v for _, v in values]
    if how == "sum":
        return sum(phased)
    if how == "max":
        return max(phased)
    return sum(phased) / len(phased)


def readings(meter_value: list[dict[str, Any]] | None) -> list[Reading]:
    result: list[Reading] = []
    for mv in meter_value or []:
        if not isinstance(mv, dict):
            continue
        buckets: dict[str, list[tuple[str | None, float]]] = {}
        context = ""
        for sv in mv.get("sampled_value") or []:
            if not isinstance(sv, dict):
                continue
            # Energy.Active.Import.Register is the default measurand in both versions.
            measurand = str(sv.get("measurand") or Measurand.ENERGY_IMPORT)
            location = str(sv.get("location") or "Outlet")
            if location.lower() == "ev" and measurand != Measurand.SOC:
                continue  # readings of the car's own meter are not the bill
            value = _value(sv)
            if value is None:
                continue
            context = context or str(sv.get("context") or "")
            buckets.setdefault(measurand, []).append((sv.get("phase"), value))
        result.append(Reading(
            at=parse_iso(mv.get("timestamp")),
            energy_wh=_combine(buckets.get(Measurand.ENERGY_IMPORT, []), "sum"),
            power_w=_combine(buckets.get(Measurand.POWER_IMPORT, []), "sum"),
            current_a=_combine(buckets.get(Measurand.CURRENT_IMPORT, []), "max"),
            voltage_v=_combine(buckets.get(Measurand.VOLTAGE, []), "mean"),
            soc_pct=_combine(buckets.get(Measurand.SOC, []), "mean"),
            context=context,
        ))
    return result
