"""The demo site's regular drivers: accounts seeded in demo mode, and the cars the
simulated chargers and lanes see most. Visitors (random plates and cards) come too, so
an attendant in training sees refusals, visitors and permit holders side by side."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from app.sim.vehicles import Vehicle, random_vehicle


@dataclass(frozen=True, slots=True)
class DemoDriver:
    name: str
    group: str  # resident | staff | visitor | fleet
    plate: str
    card: str  # RFID UID as the charger's reader reports it
    permit: str = "active"  # active | expired | none
    card_status: str = "active"  # active | suspended (with reason "unpaid")
    kind: str = "driver"


DEMO_DRIVERS: tuple[DemoDriver, ...] = (
    DemoDriver("Anna de Vries", "resident", "GX-512-K", "04A1B2C3D4E580"),
    DemoDriver("Bram Jansen", "resident", "KL-093-T", "04B7C21A9F3380"),
    DemoDriver("Chantal Bakker", "resident", "S-271-PN", "0433F1D2A45B80"),
    DemoDriver("Daan Visser", "resident", "TZ-88-VB", "04C4D5E6F70180", permit="expired"),
    DemoDriver("Eva Smit", "staff", "HN-447-D", "9A3F52C1"),
    DemoDriver("Farid El Amrani", "staff", "J-620-RT", "B14C7E02"),
    DemoDriver("Gijs Mulder", "resident", "NB-15-XL", "04E1F2A3B4C580", card_status="suspended"),
    DemoDriver("Hanna Meijer", "visitor", "RD-309-G", "0455AA66BB7780", permit="none"),
    DemoDriver("Ivo de Boer", "resident", "VS-704-N", "04778899AABB80"),
    DemoDriver("Harbour Logistics", "fleet", "V-384-BG", "04DEADBEEF0180", kind="fleet"),
    DemoDriver("Harbour Logistics", "fleet", "V-385-BG", "04DEADBEEF0280", kind="fleet"),
    DemoDriver("Joke Peters", "resident", "PL-26-FD", "04123456789A80"),
)

REGULAR_SHARE = 0.65  # of the cars that come to charge


class DemoDriverPool:
    """Cars for the simulated chargers: mostly a regular (their plate and card), otherwise
    a visitor with a card the site has never seen. A regular is at one bay at a time:
    `release(plate)` when their car leaves (SimSite does)."""

    def __init__(self, drivers: tuple[DemoDriver, ...] = DEMO_DRIVERS,
                 share: float = REGULAR_SHARE) -> None:
        self._drivers = drivers
        self._share = share
        self._parked: set[str] = set()
        # The plates on site (SimTraffic.inside), when the lanes are simulated too: a
        # regular who drove in through the entry lane is the one who plugs in, so the
        # stay's bill carries parking, charging and idling together.
        self.inside: Callable[[], Collection[str]] | None = None
        # A regular who plugs in without having driven in (the chargers' first cars, or
        # nobody inside): the lanes drive them in now (SimTraffic.drive_in).
        self.arriving: Callable[[str], None] | None = None

    def __call__(self, rng: random.Random) -> Vehicle:
        vehicle = random_vehicle(rng)
        free = [d for d in self._drivers if d.plate not in self._parked]
        inside = set(self.inside()) if self.inside is not None else set()
        free = [d for d in free if d.plate in inside] or free
        if free and rng.random() < self._share:
            driver = rng.choice(free)
            self._parked.add(driver.plate)
            vehicle = replace(vehicle, plate=driver.plate, id_tag=driver.card)
        else:
            self._parked.add(vehicle.plate)  # a visitor: on the lanes' list while at a bay
        if vehicle.plate not in inside and self.arriving is not None:
            self.arriving(vehicle.plate)
        return vehicle

    def release(self, plate: str) -> None:
        self._parked.discard(plate)

    @property
    def parked(self) -> frozenset[str]:
        return frozenset(self._parked)
