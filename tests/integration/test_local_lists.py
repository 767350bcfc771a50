"""Local authorization lists end to end: a real core (demo site, SQLite file, OCPP on
loopback), LocalListSync on its gateway and bus, simulated 1.6 and 2.0.1 chargers.

The oracle is the simulated charger's own list (app.sim.local_list.LocalList: it accepts
a differential only as version + 1), the SendLocalList frames the console sent, and the
local_list_state rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

import pytest

from app.adapters.db.database import database
from app.adapters.db.local_list_repo import SqlLocalListStore, read_states
from app.domain.charging import ChargerIdentity
from app.domain.timeutil import utc_now
from app.services.local_lists import LocalListSync
from app.sim.charger import SimCharger
from app.sim.connector import Timing

V16, V201 = "CP-01", "CP-04"  # demo-site chargers (1.6 and 2.0.1)
BOTH = pytest.mark.parametrize("cid", [V16, V201])
IDENTITY = ChargerIdentity(vendor="ABB", model="Terra AC W22", serial="TACW221234G5678",
                           firmware="1.8.33")
NO_CARS = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9)
WAIT = 15.0
LONG = "APP-0123456789-ABCDEFGH"  # 23 characters: too long for a 1.6 idTag (20)


class Desired:
    def __init__(self) -> None:
        self.entries = {"04A1B2C3": "Accepted", "04D5E6F7": "Blocked", "A1B2C3D4E5F6": "Accepted",
                        LONG: "Accepted"}

    def __call__(self) -> dict[str, str]:
        return dict(self.entries)

    def on(self, cid: str) -> dict[str, str]:
        """What a charger of that protocol can hold."""
        return {t: s for t, s in self.entries.items() if cid != V16 or len(t) <= 20}


async def until(predicate: Any, within: float = WAIT) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def writer(core, settings):
    """A second handle on the core's database file (the core does not expose its own)."""
    async with database(settings.resolved_db_url) as w:
        yield w


@pytest.fixture
async def sync(core, writer):
    # This module drives a sync of its own with a list it controls: the core's is stopped.
    await core.local_lists.stop()
    desired = Desired()
    s = LocalListSync(core.gateway, SqlLocalListStore(writer), desired, utc_now,
                      bus=core.bus, settle_s=0.05, reconnect_check_s=0.5)
    s.desired = desired  # type: ignore[attr-defined]
    await s.load()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
def quiet(caplog):
    """Afterwards: no WARNING from the app (a sync that worked says so at INFO)."""
    yield
    worries = [f"{r.name}: {r.getMessage()}" for r in caplog.get_records("call")
               if r.levelno >= logging.WARNING and r.name.startswith("app.")]
    assert not worries, "\n".join(worries)


@contextlib.asynccontextmanager
async def running(sim: SimCharger, core: Any):
    task = asyncio.create_task(sim.run())
    try:
        await asyncio.wait_for(sim.booted.wait(), WAIT)
        await until(lambda: core.ocpp_server.session(sim.id) is not None)
        yield sim
    finally:
        await sim.stop()
        assert task.done()
        await until(lambda: core.ocpp_server.session(sim.id) is None)


def make_sim(core: Any, url: str, cid: str) -> SimCharger:
    return SimCharger(core.site.charger(cid), url, identity=IDENTITY, rng=random.Random(3),
                      timing=NO_CARS, reconnect_min_s=0.05, reconnect_max_s=0.2)


def sent_lists(core: Any, cid: str) -> list[tuple[int, str, int]]:
    """(version, update type, items) of every SendLocalList the console sent."""
    out = []
    for frame in core.frames.recent(cid, 500):
        message = json.loads(frame.text)
        if frame.direction == "out" and message[0] == 2 and message[2] == "SendLocalList":
            body = message[3]
            out.append((body.get("listVersion", body.get("versionNumber")), body["updateType"],
                        len(body.get("localAuthorizationList") or [])))
    return out


def in_sync(sync: LocalListSync, sim: SimCharger) -> bool:
    return sync.status(sim.id)["in_sync"] and sim.local_list.version == sync.version


async def stored(writer) -> dict:
    return await writer.run(read_states)


@BOTH
async def test_boot_gets_the_list_and_a_change_goes_out_as_a_differential(
        core, url, sync, writer, cid, quiet) -> None:
    sim = make_sim(core, url, cid)
    async with running(sim, core):
        await until(lambda: in_sync(sync, sim))
        assert sim.local_list.entries == sync.desired.on(cid)
        assert sent_lists(core, cid) == [(1, "Full", len(sync.desired.on(cid)))]
        assert sync.status(cid)["left_out"] == (1 if cid == V16 else 0)

        before = sim.local_list.version
        sync.desired.entries.pop("04A1B2C3")
        sync.desired.entries["04D5E6F7"] = "Accepted"
        sync.desired.entries["0A0B0C0D"] = "Expired"
        assert await sync.publish() == {cid: "differential"}
        assert sim.local_list.version == before + 1 == sync.version
        assert sim.local_list.entries == sync.desired.on(cid)
        assert sent_lists(core, cid)[-1] == (before + 1, "Differential", 3)

        # GetLocalListVersion agrees; a check finds nothing to do.
        assert (await core.gateway.get_local_list_version(cid)).payload["list_version"] == 2
        assert await sync.check(cid) == "in sync"
    rows = await stored(writer)
    assert rows[cid][0] == 2 and rows[cid][2] == len(sync.desired.on(cid))


@BOTH
async def test_a_charger_offline_during_a_change_catches_up_on_reconnect(
        core, url, sync, writer, cid, quiet) -> None:
    sim = make_sim(core, url, cid)
    async with running(sim, core):
        await until(lambda: in_sync(sync, sim))
    # Offline: the change is not sent to it.
    sync.desired.entries["0A0B0C0D"] = "Accepted"
    sync.desired.entries.pop(LONG)
    assert await sync.publish() == {}
    assert sim.local_list.version == 1 and sync.version == 2
    async with running(sim, core):
        await until(lambda: in_sync(sync, sim))
        assert sim.local_list.entries == sync.desired.on(cid)
        # It still held version 1, which we remember: the missed change as a differential.
        assert sent_lists(core, cid)[-1] == (2, "Differential", 1 if cid == V16 else 2)
    rows = await stored(writer)
    assert rows[cid][0] == 2


@BOTH
async def test_a_tampered_list_is_replaced_on_reconnect(core, url, sync, cid, quiet) -> None:
    sim = make_sim(core, url, cid)
    async with running(sim, core):
        await until(lambda: in_sync(sync, sim))
    # Someone else (a service laptop, another console) gave it another list meanwhile.
    assert sim.local_list.update(17, True, [("FFFFFFFF", "Accepted")]) == "Accepted"
    async with running(sim, core):
        # Our record said "in sync" all along: the charger's own version gave it away.
        await until(lambda: sim.local_list.entries == sync.desired.on(cid)
                    and sim.local_list.version == sync.version)
        assert sent_lists(core, cid)[-1] == (1, "Full", len(sync.desired.on(cid)))
        await until(lambda: in_sync(sync, sim))  # confirmed once the answer is in


async def test_both_protocols_at_once_and_a_list_in_several_messages(core, url, writer,
                                                                     quiet) -> None:
    """Four items per message: a nine-entry list is a Full and two Differentials."""
    desired = Desired()
    desired.entries = {f"04{i:06X}": "Accepted" for i in range(9)}
    sims = [make_sim(core, url, cid) for cid in (V16, V201)]
    for sim in sims:
        sim.local_list.max_per_message = 4
    sync = LocalListSync(core.gateway, SqlLocalListStore(writer), desired, utc_now,
                         bus=core.bus, settle_s=0.05, max_per_message=4)
    try:
        async with running(sims[0], core), running(sims[1], core):
            await until(lambda: all(in_sync(sync, s) for s in sims))
            assert sync.version == 3
            for sim in sims:
                assert sim.local_list.entries == desired.entries
                assert sent_lists(core, sim.id) == [(1, "Full", 4), (2, "Differential", 4),
                                                    (3, "Differential", 1)]
            for i in range(6):
                desired.entries[f"04{i:06X}"] = "Blocked"
            outcomes = await sync.publish()
            # A charger's own boot check may still be on its way and take the change
            # first (the publish then finds it in sync): either way, by differentials.
            assert set(outcomes) == {V16, V201}
            assert set(outcomes.values()) <= {"differential", "in sync"}
            assert sync.version == 5
            for sim in sims:
                assert sim.local_list.entries == desired.entries
                assert sent_lists(core, sim.id)[-2:] == [(4, "Differential", 3),
                                                         (5, "Differential", 3)]
    finally:
        await sync.stop()

    # A restart of the console: the stored versions go on, every charger gets it all.
    again = LocalListSync(core.gateway, SqlLocalListStore(writer), desired, utc_now,
                          bus=core.bus, settle_s=0.05, max_per_message=4)
    await again.load()
    assert again.version == 5 and again.status(V16)["version"] == 5
    try:
        async with running(sims[0], core):
            await until(lambda: in_sync(again, sims[0]))
            assert again.version == 6
            assert sent_lists(core, V16)[-3:] == [(4, "Full", 4), (5, "Differential", 4),
                                                  (6, "Differential", 1)]
    finally:
        await again.stop()
