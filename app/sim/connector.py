"""One simulated connector: cars arrive, plug in, charge, sit full, leave; now and then a fault.

Protocol-neutral: it changes its own state and tells a listener what happened; the
charger turns that into OCPP 1.6 or 2.0.1 messages. Durations are in site time and
divided by `speed` when slept.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from app.sim.vehicles import Vehicle, charge_power_w, random_dwell_s, random_vehicle


class State(StrEnum):
    """The physical situation at the connector, named like OCPP 1.6 statuses."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    FAULTED = "Faulted"


class Happening(StrEnum):
    PLUGGED = "plugged"  # car connected; 2.0.1 starts its transaction here
    AUTHORIZED = "authorized"  # driver's card accepted locally; 1.6 starts here
    CHARGING_STATE = "charging_state"  # now Charging or SuspendedEV
    METER = "meter"  # periodic meter sample while plugged
    UNPLUGGED = "unplugged"  # car disconnected, cable still in the socket: tx ends
    FAULTED = "faulted"  # ends any transaction
    AVAILABLE = "available"


# 1.6 error codes seen on AC chargers in the field, roughly by frequency.
FAULT_CODES = ("GroundFailure", "EVCommunicationError", "ConnectorLockFailure",
               "OverCurrentFailure", "HighTemperature", "PowerSwitchFailure")


@dataclass(slots=True)
class Timing:
    """Site-time behaviour (seconds). The defaults make a busy but believable car park."""

    idle_mean_s: float = 25 * 60
    # The first arrival comes within this much site time, so a fresh demo fills up while
    # the attendant watches instead of after a quarter of an hour.
    first_arrival_max_s: float = 90.0
    authorize_s: tuple[float, float] = (10, 60)
    finishing_s: tuple[float, float] = (15, 90)
    fault_chance: float = 0.03  # per charging session
    idle_fault_chance: float = 0.01  # per idle period
    fault_s: tuple[float, float] = (2 * 60, 15 * 60)
    meter_interval_s: float = 60.0  # like MeterValueSampleInterval
    step_s: float = 30.0  # energy integration step
    # Wall-clock floors so a high speed does not flood the loop or the server.
    min_wall_step_s: float = 0.05
    min_wall_meter_s: float = 1.0


@dataclass(slots=True)
class Transaction:
    id: str  # the charger's own id (2.0.1 transactionId)
    id_tag: str
    started_at: datetime
    meter_start_wh: float
    remote_id: int | None = None  # 1.6: the id the central system gave in StartTransaction
    seq_no: int = 0
    charging_s: float = 0.0
    rejected: bool = False  # the central system refused the card
    stop_reason: str = ""


Listener = Callable[["SimConnector", Happening], None]


class SimConnector:
    def __init__(
        self,
        connector_id: int,
        max_power_w: float,
        rng: random.Random,
        speed: float,
        listener: Listener,
        timing: Timing | None = None,
    ) -> None:
        self.id = connector_id
        self.max_power_w = max_power_w
        self.state = State.AVAILABLE
        self.error_code = "NoError"
        self.vehicle: Vehicle | None = None
        self.soc = 0.0
        self.power_w = 0.0
        self.tx: Transaction | None = None
        self._rng = rng
        self._speed = speed
        self._listener = listener
        self._timing = timing or Timing()
        # A lifetime energy register, like the MID meter in a real charger.
        self.meter_wh = float(rng.randint(50_000, 4_000_000))

    async def run(self) -> None:
        t = self._timing
        idle = self._rng.uniform(0, min(t.idle_mean_s / 2, t.first_arrival_max_s))
        while True:
            await self._sleep(idle)
            if self._rng.random() < t.idle_fault_chance:
                await self._fault()
            else:
                await self._session()
            idle = self._rng.expovariate(1 / t.idle_mean_s)

    async def _session(self) -> None:
        t, rng = self._timing, self._rng
        vehicle = random_vehicle(rng)
        self.vehicle, self.soc = vehicle, vehicle.arrival_soc
        self.tx = Transaction(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            id_tag=vehicle.id_tag,
            started_at=datetime.now(UTC),
            meter_start_wh=self.meter_wh,
        )
        self._set(State.PREPARING, Happening.PLUGGED)
        await self._sleep(rng.uniform(*t.authorize_s))
        self._emit(Happening.AUTHORIZED)
        self._set(State.CHARGING, Happening.CHARGING_STATE)

        dwell = random_dwell_s(rng)
        fault_at = rng.uniform(0.05, 0.9) * dwell if rng.random() < t.fault_chance else None
        step = max(t.step_s, t.min_wall_step_s * self._speed)
        loop = asyncio.get_running_loop()
        elapsed = since_sample = 0.0
        last_wall = loop.time()
        while elapsed < dwell:
            if fault_at is not None and elapsed >= fault_at:
                await self._fault()
                return
            if self.tx.rejected:
                self.tx.stop_reason = "DeAuthorized"
                break
            dt = min(step, dwell - elapsed)
            await self._sleep(dt)
            elapsed += dt
            since_sample += dt
            self._integrate(dt)
            if since_sample >= t.meter_interval_s and loop.time() - last_wall >= t.min_wall_meter_s:
                since_sample, last_wall = 0.0, loop.time()
                self._emit(Happening.METER)

        self.power_w = 0.0
        if not self.tx.stop_reason:
            self.tx.stop_reason = "EVDisconnected"
        self._set(State.FINISHING, Happening.UNPLUGGED)
        self.tx = None
        await self._sleep(rng.uniform(*t.finishing_s))
        self.vehicle = None
        self._set(State.AVAILABLE, Happening.AVAILABLE)

    def _integrate(self, dt: float) -> None:
        v, tx = self.vehicle, self.tx
        assert v is not None and tx is not None
        if self.state is not State.CHARGING:
            return
        # Power ramps up over the first minute, then follows the car's curve.
        ramp = min(1.0, (tx.charging_s + dt) / 60.0)
        self.power_w = charge_power_w(v, self.soc, self.max_power_w) * ramp
        self.power_w *= self._rng.uniform(0.985, 1.01)
        needed_wh = max(0.0, (v.target_soc - self.soc) * v.battery_kwh * 1000)
        wh = min(self.power_w * dt / 3600, needed_wh)
        self.meter_wh += wh
        self.soc += wh / (v.battery_kwh * 1000)
        tx.charging_s += dt
        if self.soc >= v.target_soc - 1e-6:
            self.power_w = 0.0
            self._set(State.SUSPENDED_EV, Happening.CHARGING_STATE)

    async def _fault(self) -> None:
        self.power_w = 0.0
        self.error_code = self._rng.choice(FAULT_CODES)
        if self.tx is not None:
            self.tx.stop_reason = "Other"
        self._set(State.FAULTED, Happening.FAULTED)
        self.tx = None
        # The driver unplugs and leaves while the charger is down.
        await self._sleep(self._rng.uniform(*self._timing.fault_s))
        self.vehicle = None
        self.error_code = "NoError"
        self._set(State.AVAILABLE, Happening.AVAILABLE)

    def _set(self, state: State, happening: Happening) -> None:
        self.state = state
        self._emit(happening)

    def _emit(self, happening: Happening) -> None:
        self._listener(self, happening)

    async def _sleep(self, site_s: float) -> None:
        await asyncio.sleep(site_s / self._speed)
