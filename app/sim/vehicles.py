"""Simulated electric cars: plates, batteries, how much power they draw, how long they stay."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# (model, usable kWh, max AC kW, max DC kW, share of the fleet). Published figures, rounded;
# plug-in hybrids fill up fast and sit in SuspendedEV, which is what enforcement is for.
_MODELS: tuple[tuple[str, float, float, float, float], ...] = (
    ("Tesla Model Y", 75.0, 11.0, 250.0, 12),
    ("Tesla Model 3", 57.5, 11.0, 170.0, 8),
    ("Volkswagen ID.3", 58.0, 11.0, 120.0, 8),
    ("Kia EV6", 77.4, 11.0, 230.0, 6),
    ("Skoda Enyaq", 77.0, 11.0, 135.0, 6),
    ("Hyundai Kona Electric", 64.0, 11.0, 77.0, 6),
    ("Renault Zoe", 52.0, 22.0, 50.0, 5),
    ("Peugeot e-208", 48.0, 7.4, 100.0, 6),
    ("MG4 Electric", 61.7, 6.6, 135.0, 5),
    ("Nissan Leaf", 39.0, 3.7, 46.0, 4),
    ("Polestar 2", 78.0, 11.0, 155.0, 4),
    ("BMW i4", 80.7, 11.0, 205.0, 4),
    ("Volvo EX30", 64.0, 22.0, 153.0, 4),
    ("Audi Q4 e-tron", 77.0, 11.0, 135.0, 4),
    ("BYD Atto 3", 60.5, 11.0, 88.0, 4),
    ("Toyota RAV4 Plug-in", 18.1, 6.6, 0.0, 5),
    ("Volvo XC60 Recharge", 14.9, 3.7, 0.0, 5),
    ("Mitsubishi Outlander PHEV", 20.0, 3.7, 50.0, 4),
)

# Dutch plates use consonants only (no C or Q); the site is in Amsterdam.
_NL_LETTERS = "BDFGHJKLNPRSTVXZ"
_NL_SIDECODES = ("LL-LL-99", "99-LLL-9", "9-LLL-99", "LL-999-L", "L-999-LL", "LLL-99-L")


@dataclass(frozen=True, slots=True)
class Vehicle:
    plate: str
    model: str
    battery_kwh: float
    ac_max_w: float
    dc_max_w: float
    arrival_soc: float  # 0..1
    target_soc: float  # the car's own charge limit
    id_tag: str  # RFID card UID the driver presents


def random_plate(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.85:
        code = rng.choice(_NL_SIDECODES)
        return "".join(
            rng.choice(_NL_LETTERS) if ch == "L" else str(rng.randint(0, 9)) if ch == "9" else ch
            for ch in code
        )
    if r < 0.95:  # German visitors: city code, letters, number
        city = rng.choice(("D", "K", "DU", "E", "OB", "KLE", "BOR"))
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 2)))
        return f"{city}-{letters} {rng.randint(1, 9999)}"
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
    return f"{rng.randint(1, 2)}-{letters}-{rng.randint(0, 999):03d}"  # Belgian


def random_id_tag(rng: random.Random) -> str:
    """An RFID UID as chargers report it: 4 or 7 bytes in hex."""
    return "".join(f"{rng.randrange(256):02X}" for _ in range(rng.choice((4, 7, 7))))


def random_vehicle(rng: random.Random) -> Vehicle:
    model, kwh, ac_kw, dc_kw, _ = rng.choices(_MODELS, weights=[m[4] for m in _MODELS])[0]
    arrival = rng.uniform(0.08, 0.7)
    target = rng.choice((0.8, 0.8, 0.9, 1.0, 1.0))
    return Vehicle(
        plate=random_plate(rng),
        model=model,
        battery_kwh=kwh,
        ac_max_w=ac_kw * 1000,
        dc_max_w=dc_kw * 1000,
        arrival_soc=arrival,
        target_soc=max(target, arrival + 0.05),
        id_tag=random_id_tag(rng),
    )


def charge_power_w(vehicle: Vehicle, soc: float, evse_max_w: float) -> float:
    """What the car draws at this state of charge.

    AC (<= 22 kW chargers): the on-board charger's limit, tapering over the last few
    percent. DC: a fast-charge curve that falls off after about half full.
    """
    if evse_max_w > 22_000 and vehicle.dc_max_w > 0:
        limit = min(vehicle.dc_max_w, evse_max_w)
        factor = 1.0 if soc < 0.5 else max(0.12, 1.0 - (soc - 0.5) * 1.9)
        return limit * factor
    limit = min(vehicle.ac_max_w, evse_max_w) * 0.97  # cable and charger losses
    if soc < 0.93:
        return limit
    return limit * max(0.2, 1.0 - (soc - 0.93) / 0.07 * 0.8)


def random_dwell_s(rng: random.Random) -> float:
    """How long the driver stays away: median two hours, a long tail of overstays."""
    return min(10 * 3600.0, max(20 * 60.0, rng.lognormvariate(math.log(2 * 3600), 0.6)))
