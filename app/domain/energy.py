"""Energy normalisation: Wh always, whatever unit and register kind a charger uses."""

from __future__ import annotations

_UNIT_FACTOR = {"wh": 1.0, "kwh": 1000.0, "w": 1.0, "kw": 1000.0, "a": 1.0, "v": 1.0,
                "percent": 1.0, "": 1.0}


def to_number(value: object) -> float | None:
    """Numbers may arrive as strings ("1234.5"), sometimes with a decimal comma."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def scaled(value: object, unit: str | None) -> float | None:
    """Value in base units (Wh, W): kWh and kW are multiplied by 1000."""
    number = to_number(value)
    if number is None:
        return None
    return number * _UNIT_FACTOR.get((unit or "").strip().lower(), 1.0)


def session_energy_wh(meter_start_wh: float | None, register_wh: float | None) -> float | None:
    """Energy of one session from its start reading and a later register reading.

    Lifetime registers count up across sessions: energy = reading - start. Chargers with a
    per-session register (or one that was reset) report readings below the start value:
    then the reading itself is the session's energy.
    """
    if register_wh is None:
        return None
    if meter_start_wh is None or register_wh < meter_start_wh:
        return max(register_wh, 0.0)
    return register_wh - meter_start_wh
