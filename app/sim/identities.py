"""Believable identities for simulated chargers: vendor, model, serial and firmware."""

from __future__ import annotations

import random

from app.domain.charging import ChargerIdentity
from app.domain.site import ChargerConfig

# vendor -> (model when the label names none, serial pattern, firmware versions seen in
# the field). Serial patterns: "#" is a random digit, anything else is literal.
_VENDORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ABB": ("Terra AC W22", "TACW22####G####", ("1.6.11", "1.7.2", "1.8.33")),
    "Alfen": ("Eve Double Pro", "ACE0######", ("6.3.0-4138", "6.4.0-4203", "7.1.0-4335")),
    "Wallbox": ("Copper SB", "######", ("5.17.4", "6.3.18", "6.4.2")),
    "Kempower": ("Satellite S", "KP####-######", ("1.31.4", "1.34.0", "1.36.1")),
    "Zaptec": ("Pro", "ZPR######", ("4.2.1.3", "4.3.0.1")),
    "Etrel": ("INCH Duo", "ETR-INCH-#####", ("5.5.7", "5.6.2", "5.7.0")),
}


def identity_for(config: ChargerConfig, rng: random.Random) -> ChargerIdentity:
    """A believable identity from the label ("ABB Terra AC W22"): vendor, model, serial."""
    vendor, _, model = config.label.partition(" ")
    known = _VENDORS.get(vendor)
    if known is None:
        return ChargerIdentity(vendor="Gatehouse", model=(config.label or "SimCharger")[:20],
                               serial=f"SIM-{config.id}", firmware="sim-1.0")
    default_model, pattern, firmwares = known
    serial = "".join(str(rng.randint(0, 9)) if ch == "#" else ch for ch in pattern)
    return ChargerIdentity(vendor=vendor, model=(model or default_model)[:20], serial=serial,
                           firmware=rng.choice(firmwares))
