"""Simulated cars and one connector's behaviour, without any network."""

from __future__ import annotations

import asyncio
import itertools
import random
import re

from hypothesis import given
from hypothesis import strategies as st

from app.domain.site import ChargerConfig
from app.sim.connector import Happening, SimConnector, State, Timing
from app.sim.identities import identity_for
from app.sim.vehicles import charge_power_w, random_dwell_s, random_plate, random_vehicle

NL = re.compile(r"^[A-Z0-9]{1,3}-[A-Z0-9]{2,3}-[A-Z0-9]{1,2}$")


@given(st.integers(0, 2**32))
def test_vehicles_are_plausible(seed: int) -> None:
    rng = random.Random(seed)
    v = random_vehicle(rng)
    assert 10 <= v.battery_kwh <= 100
    assert 0 < v.arrival_soc < v.target_soc <= 1.0
    assert 3_000 <= v.ac_max_w <= 22_000
    assert len(v.id_tag) in (8, 14) and int(v.id_tag, 16) >= 0
    assert 20 * 60 <= random_dwell_s(rng) <= 10 * 3600


@given(st.integers(0, 2**32), st.floats(0, 1), st.sampled_from([3_700, 11_000, 22_000, 150_000]))
def test_power_never_exceeds_car_or_charger(seed: int, soc: float, evse_w: int) -> None:
    v = random_vehicle(random.Random(seed))
    p = charge_power_w(v, soc, evse_w)
    assert 0 < p <= evse_w
    assert p <= max(v.ac_max_w, v.dc_max_w)


def test_ac_power_tapers_only_near_full() -> None:
    v = random_vehicle(random.Random(1))
    assert charge_power_w(v, 0.5, 22_000) == charge_power_w(v, 0.9, 22_000)
    assert charge_power_w(v, 0.99, 22_000) < charge_power_w(v, 0.9, 22_000)


def test_most_plates_are_dutch() -> None:
    rng = random.Random(9)
    plates = [random_plate(rng) for _ in range(500)]
    dutch = [p for p in plates if len(p) == 8 and NL.match(p)]
    assert len(dutch) > 350
    assert all(not set(p) & set("AEIOUCQ") for p in dutch)


def test_identities_follow_the_label() -> None:
    rng = random.Random(3)
    ident = identity_for(ChargerConfig("CP-02", label="Alfen Eve Double Pro-line"), rng)
    assert (ident.vendor, ident.model) == ("Alfen", "Eve Double Pro-line")
    assert re.fullmatch(r"ACE0\d{6}", ident.serial) and ident.firmware
    odd = identity_for(ChargerConfig("X-1", label="Acme Volt"), rng)
    assert odd.vendor == "Gatehouse" and odd.serial == "SIM-X-1"


async def _watch(timing: Timing, seed: int, until: Happening, nth: int = 1):
    seen: list[tuple[Happening, State, float]] = []
    done = asyncio.Event()

    def listener(conn: SimConnector, what: Happening) -> None:
        seen.append((what, conn.state, conn.meter_wh))
        if sum(1 for w, _, _ in seen if w is until) >= nth:
            done.set()

    conn = SimConnector(1, 22_000, random.Random(seed), 36_000, listener, timing)
    task = asyncio.create_task(conn.run())
    try:
        await asyncio.wait_for(done.wait(), 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return conn, seen


async def test_a_session_goes_plug_charge_unplug_and_energy_only_rises() -> None:
    timing = Timing(fault_chance=0, idle_fault_chance=0, min_wall_meter_s=0)
    conn, seen = await _watch(timing, seed=11, until=Happening.AVAILABLE, nth=3)
    whats = [w for w, _, _ in seen]
    assert whats[:3] == [Happening.PLUGGED, Happening.AUTHORIZED, Happening.CHARGING_STATE]
    assert Happening.METER in whats
    for a, b in itertools.pairwise(seen):
        assert b[2] >= a[2]
    states = [s for w, s, _ in seen if w is not Happening.METER]
    allowed = {(State.PREPARING, State.PREPARING), (State.PREPARING, State.CHARGING),
               (State.CHARGING, State.SUSPENDED_EV), (State.CHARGING, State.FINISHING),
               (State.SUSPENDED_EV, State.FINISHING), (State.FINISHING, State.AVAILABLE),
               (State.AVAILABLE, State.PREPARING)}
    assert all(pair in allowed for pair in itertools.pairwise(states)), states
    assert conn.vehicle is None or conn.state is not State.AVAILABLE


async def test_faults_end_the_session_and_recover() -> None:
    timing = Timing(fault_chance=1.0, idle_fault_chance=0)
    conn, seen = await _watch(timing, seed=2, until=Happening.AVAILABLE)
    faulted = [s for w, s, _ in seen if w is Happening.FAULTED]
    assert faulted == [State.FAULTED]
    assert [w for w, _, _ in seen][-1] is Happening.AVAILABLE
    assert conn.error_code == "NoError" and conn.tx is None
