"""One simulated connector: cars arrive, plug in, charge, sit full, leave; now and then a fault.

Protocol-neutral: it changes its own state and tells a listener what happened; the
charger turns that into OCPP 1.6 or 2.0.1 messages. Durations are in site time and
divided by `speed` when slept.

The central system can step in (through the charger): a remote start brings a car that
"is already there" or authorises the one waiting, a remote stop or an unlock ends the
session, a change of availability takes the connector out of service, a charging
profile caps the power. Such a request sets a flag and pokes the connector's task, which
acts on it at once: every wait of the task is cut short by a poke.
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
    SUSPENDED_EVSE = "SuspendedEVSE"  # the charger holds the power back (limit below 6 A)
    FINISHING = "Finishing"
    UNAVAILABLE = "Unavailable"  # out of service (ChangeAvailability, firmware install)
    FAULTED = "Faulted"


# A car is at the connector and its session is not over yet.
BUSY = frozenset({State.PREPARING, State.CHARGING, State.SUSPENDED_EV, State.SUSPENDED_EVSE,
                  State.FINISHING})
# A transaction that can still be stopped.
RUNNING = frozenset({State.PREPARING, State.CHARGING, State.SUSPENDED_EV, State.SUSPENDED_EVSE})


class Happening(StrEnum):
    PLUGGED = "plugged"  # car connected; 2.0.1 starts its transaction here
    # A remote start's idToken goes to the central system first (AuthorizeRemoteTxRequests):
    # the messages say Authorize and set `tx.verdict` with its answer.
    AUTHORIZING = "authorizing"
    AUTHORIZED = "authorized"  # driver's card accepted locally, or a remote start; 1.6 starts
    CHARGING_STATE = "charging_state"  # now Charging, SuspendedEV or SuspendedEVSE
    METER = "meter"  # periodic meter sample while plugged
    # The transaction ended (car unplugged, remote stop, unlock, deauthorised): Finishing.
    UNPLUGGED = "unplugged"
    FAULTED = "faulted"  # ends any transaction
    AVAILABLE = "available"  # the car has gone: Available, or Unavailable if out of service
    AVAILABILITY = "availability"  # in or out of service while no car is there


# 1.6 error codes seen on AC chargers in the field, roughly by frequency.
FAULT_CODES = ("GroundFailure", "EVCommunicationError", "ConnectorLockFailure",
               "OverCurrentFailure", "HighTemperature", "PowerSwitchFailure")
# IEC 61851: below 6 A (one phase, 230 V) a car cannot charge; the charger suspends.
MIN_CHARGE_W = 6 * 230.0
# After an unlock the driver takes the car away within this much site time.
_UNLOCKED_LEAVE_S = 10.0
# No answer to an Authorize within this much site time: authorise locally.
_VERDICT_WAIT_S = 60.0


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
    meter_interval_s: float = 60.0  # MeterValueSampleInterval; 0: no periodic samples
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
    elapsed_s: float = 0.0  # site time since authorisation (Relative charging profiles)
    rejected: bool = False  # the central system refused the card
    stop_reason: str = ""
    authorized: bool = False
    token_type: str = "ISO14443"
    remote: bool = False  # started by RemoteStartTransaction / RequestStartTransaction
    remote_start_id: int | None = None  # 2.0.1
    authorize_first: bool = False  # AuthorizeRemoteTxRequests: ask before starting
    verdict: bool | None = None  # the central system's answer to that Authorize
    token_reported: bool = False  # 2.0.1: a TransactionEvent carried the idToken already
    begin: tuple[str, float] | None = None  # 1.6: (timestamp, Wh) sent in StartTransaction


@dataclass(frozen=True, slots=True)
class RemoteStart:
    id_tag: str
    token_type: str = "ISO14443"
    remote_start_id: int | None = None
    authorize_first: bool = False


Listener = Callable[["SimConnector", Happening], None]
# The power cap in W the charging profiles put on this connector now (None: no cap).
Limit = Callable[["SimConnector"], float | None]


class SimConnector:
    def __init__(
        self,
        connector_id: int,
        max_power_w: float,
        rng: random.Random,
        speed: float,
        listener: Listener,
        timing: Timing | None = None,
        *,
        limit: Limit | None = None,
        vehicles: Callable[[random.Random], Vehicle] = random_vehicle,
    ) -> None:
        self.id = connector_id
        self._vehicles = vehicles  # who parks here (demo mode: mostly the site's regulars)
        self.max_power_w = max_power_w
        self.state = State.AVAILABLE
        self.error_code = "NoError"
        self.vehicle: Vehicle | None = None
        self.soc = 0.0
        self.power_w = 0.0
        self.tx: Transaction | None = None
        # ChangeAvailability (kept across reboots, as OCPP asks) and the charger's own
        # maintenance (waiting to install firmware): either takes it out of service.
        self.operative = True
        self.maintenance = False
        self._rng = rng
        self._speed = speed
        self._listener = listener
        self._timing = timing or Timing()
        self._limit = limit
        # Requests from the central system, acted on by the task.
        self._remote: RemoteStart | None = None
        self._stop: str | None = None  # stop reason asked for
        self._leave = False  # the cable is unlocked: the driver takes the car away
        self._poke = asyncio.Event()
        # A lifetime energy register, like the MID meter in a real charger.
        self.meter_wh = float(rng.randint(50_000, 4_000_000))

    # -- what the central system may ask (through the charger) -------------------------

    @property
    def in_service(self) -> bool:
        return self.operative and not self.maintenance

    @property
    def busy(self) -> bool:
        """A car's session is on (Preparing to Finishing)."""
        return self.state in BUSY

    def can_remote_start(self) -> bool:
        """Free and in service, or a plugged-in car still waits for its driver's card."""
        if not self.in_service or self._remote is not None or self._stop is not None:
            return False
        if self.state is State.AVAILABLE:
            return True
        return (self.state is State.PREPARING and self.tx is not None
                and not self.tx.authorized)

    def waiting_car(self) -> bool:
        return self.state is State.PREPARING and self.tx is not None and not self.tx.authorized

    def remote_start(self, request: RemoteStart) -> bool:
        if not self.can_remote_start():
            return False
        self._remote = request
        self._poke.set()
        return True

    def can_stop(self) -> bool:
        return self.tx is not None and self.state in RUNNING and self._stop is None

    def stop(self, reason: str) -> bool:
        """End the running transaction (reason "Remote", "UnlockCommand", ...)."""
        if not self.can_stop():
            return False
        self._stop = reason
        self._poke.set()
        return True

    def release(self) -> None:
        """The cable lock opened: the driver takes the car away soon."""
        if self.vehicle is not None:
            self._leave = True
            self._poke.set()

    def set_operative(self, operative: bool) -> None:
        """ChangeAvailability. Out of service at once when no car is there, else when the
        car has gone (the answer was Scheduled)."""
        self.operative = operative
        self.refresh()

    def refresh(self) -> None:
        """Available <-> Unavailable after a change of availability or maintenance; and let
        the task see a changed power limit at once."""
        if self.state is State.AVAILABLE and not self.in_service:
            self._set(State.UNAVAILABLE, Happening.AVAILABILITY)
        elif self.state is State.UNAVAILABLE and self.in_service:
            self._set(State.AVAILABLE, Happening.AVAILABILITY)
        self._poke.set()

    def poke(self) -> None:
        """Something the task waits for changed (an Authorize was answered)."""
        self._poke.set()

    def limit_w(self) -> float | None:
        return self._limit(self) if self._limit is not None else None

    def offered_w(self) -> float:
        """What the charger offers the car now: its maximum, or the profile's cap."""
        limit = self.limit_w()
        return self.max_power_w if limit is None else max(0.0, min(limit, self.max_power_w))

    # -- the car's life ------------------------------------------------------------------

    async def run(self) -> None:
        t = self._timing
        idle = self._rng.uniform(0, min(t.idle_mean_s / 2, t.first_arrival_max_s))
        while True:
            remote = await self._wait_for_car(idle)
            if remote is None and self._rng.random() < t.idle_fault_chance:
                await self._fault()
            else:
                await self._session(remote)
            idle = self._rng.expovariate(1 / t.idle_mean_s)

    async def _wait_for_car(self, site_s: float) -> RemoteStart | None:
        """The next car comes after `site_s` in service, or at once for a remote start."""
        left = site_s
        while True:
            if self._remote is not None:
                remote, self._remote = self._remote, None
                return remote
            if not self.in_service:
                await self._pause(None)  # no car parks at a bay that is out of service
                continue
            if left <= 0:
                return None
            left -= await self._pause(left)

    async def _session(self, remote: RemoteStart | None) -> None:
        t, rng = self._timing, self._rng
        vehicle = self._vehicles(rng)
        self.vehicle, self.soc = vehicle, vehicle.arrival_soc
        self._stop, self._leave = None, False
        tx = self.tx = Transaction(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            id_tag=vehicle.id_tag,
            started_at=datetime.now(UTC),
            meter_start_wh=self.meter_wh,
        )
        if remote is not None:  # the driver asked the app or the attendant: no card
            self._take(remote)
        self._set(State.PREPARING, Happening.PLUGGED)
        card_after = rng.uniform(*t.authorize_s)
        if remote is None and not await self._until_authorized(card_after):
            await self._finish(tx)  # stopped or unlocked before it was authorised
            return
        if tx.authorize_first and not await self._verdict(tx):
            await self._finish(tx)  # the central system refused the token
            return
        tx.authorized = True
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
            if tx.rejected:
                tx.stop_reason = "DeAuthorized"
                break
            if self._stop is not None:
                tx.stop_reason = self._stop
                break
            dt = await self._pause(min(step, dwell - elapsed))
            elapsed += dt
            since_sample += dt
            tx.elapsed_s = elapsed
            self._integrate(dt)
            interval = t.meter_interval_s
            if 0 < interval <= since_sample and loop.time() - last_wall >= t.min_wall_meter_s:
                since_sample, last_wall = 0.0, loop.time()
                self._emit(Happening.METER)
        await self._finish(tx)

    def _take(self, remote: RemoteStart) -> None:
        tx = self.tx
        assert tx is not None
        tx.id_tag, tx.token_type = remote.id_tag, remote.token_type
        tx.remote, tx.remote_start_id = True, remote.remote_start_id
        tx.authorize_first = remote.authorize_first

    async def _until_authorized(self, site_s: float) -> bool:
        """The driver presents a card after `site_s`, unless a remote start comes first.
        False: the session was stopped (remote stop, unlock) before that."""
        left = site_s
        while True:
            if self._stop is not None:
                return False
            if self._remote is not None:
                remote, self._remote = self._remote, None
                self._take(remote)
                return True
            if left <= 0:
                return True
            left -= await self._pause(left)

    async def _verdict(self, tx: Transaction) -> bool:
        """AuthorizeRemoteTxRequests: ask the central system about the remote idToken."""
        self._emit(Happening.AUTHORIZING)
        left = _VERDICT_WAIT_S
        while tx.verdict is None and self._stop is None and left > 0:
            left -= await self._pause(left)
        if self._stop is not None:
            return False
        if tx.verdict is False:
            tx.stop_reason = "DeAuthorized"
            return False
        return True  # accepted, or no answer: LocalAuthorizeOffline

    async def _finish(self, tx: Transaction) -> None:
        """The transaction is over; the driver unplugs and drives off after a while."""
        self.power_w = 0.0
        if not tx.stop_reason:
            tx.stop_reason = self._stop or "EVDisconnected"
        self._stop = None
        self._set(State.FINISHING, Happening.UNPLUGGED)
        self.tx = None
        left, hurried = self._rng.uniform(*self._timing.finishing_s), False
        while left > 0:
            if self._leave and not hurried:
                hurried, left = True, min(left, _UNLOCKED_LEAVE_S)
            left -= await self._pause(left)
        self._leave = False
        self.vehicle = None
        self._set(State.AVAILABLE if self.in_service else State.UNAVAILABLE, Happening.AVAILABLE)

    def _integrate(self, dt: float) -> None:
        v, tx = self.vehicle, self.tx
        assert v is not None and tx is not None
        if self.state not in (State.CHARGING, State.SUSPENDED_EVSE):
            return
        limit = self.limit_w()
        if limit is not None and limit < MIN_CHARGE_W:
            if self.state is State.CHARGING:
                self.power_w = 0.0
                self._set(State.SUSPENDED_EVSE, Happening.CHARGING_STATE)
            return
        if self.state is State.SUSPENDED_EVSE:
            self._set(State.CHARGING, Happening.CHARGING_STATE)
        # Power ramps up over the first minute, then follows the car's curve.
        ramp = min(1.0, (tx.charging_s + dt) / 60.0)
        power = charge_power_w(v, self.soc, self.max_power_w) * ramp
        power *= self._rng.uniform(0.985, 1.01)
        self.power_w = power if limit is None else min(power, limit)
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
        self._stop = None
        # The driver unplugs and leaves while the charger is down.
        await self._sleep(self._rng.uniform(*self._timing.fault_s))
        self.vehicle = None
        self._leave = False
        self.error_code = "NoError"
        self._set(State.AVAILABLE if self.in_service else State.UNAVAILABLE, Happening.AVAILABLE)

    def _set(self, state: State, happening: Happening) -> None:
        self.state = state
        self._emit(happening)

    def _emit(self, happening: Happening) -> None:
        self._listener(self, happening)

    async def _sleep(self, site_s: float) -> None:
        await asyncio.sleep(site_s / self._speed)

    async def _pause(self, site_s: float | None) -> float:
        """Wait `site_s` of site time (None: until poked), less if a request pokes the
        task; the site time that passed. Callers check the request flags before each
        pause: no await lies between that check and this clear."""
        self._poke.clear()
        if site_s is not None and site_s <= 0:
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(None if site_s is None else site_s / self._speed):
                await self._poke.wait()
        except TimeoutError:
            return float(site_s or 0.0)
        return (loop.time() - started) * self._speed
