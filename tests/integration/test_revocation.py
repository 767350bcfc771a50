"""Revoking a credential over real loopback OCPP: the immediate policy stops the running
session, the finish policy lets it run and refuses the next Authorize; a change written by
another console (a second connection to the same SQLite file) reaches the decisions and
the running sessions within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest

from app.adapters.db import access_repo
from app.adapters.db.database import close_database, open_database
from app.bootstrap import build_core
from app.domain.access import Account, CredentialKind, CredentialStatus
from app.domain.charging import ChargerIdentity
from app.domain.timeutil import utc_now
from app.sim.charger import SimCharger
from app.sim.connector import Timing
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for

V16, V201 = "CP-01", "CP-04"
BOTH = pytest.mark.parametrize("cid", [V16, V201])
TOKEN = "04A1B2C3D4"
WAIT = 15.0
IDENTITY = ChargerIdentity(vendor="ABB", model="Terra AC W22", serial="TACW221234G5678",
                           firmware="1.8.21")
ON_CALL = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9, meter_interval_s=15,
                 min_wall_meter_s=0.25)


@pytest.fixture
async def core(tmp_path):
    # Only known credentials charge: the token must be an account's card.
    core = await build_core(loopback_settings(tmp_path, auth_mode="known_tags"))
    await core.start()
    try:
        yield core
    finally:
        await core.stop()


@contextlib.asynccontextmanager
async def sim_on(core: Any, cid: str):
    url = f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
    sim = SimCharger(core.site.charger(cid), url, identity=IDENTITY, speed=60.0,
                     rng=random.Random(7), timing=ON_CALL, reconnect_min_s=0.05,
                     reconnect_max_s=0.2)
    task = asyncio.create_task(sim.run())
    try:
        await asyncio.wait_for(sim.booted.wait(), WAIT)
        await wait_for(lambda: core.ocpp_server.session(cid) is not None, WAIT)
        yield sim
    finally:
        await sim.stop()
        assert task.done()


async def card_holder(core: Any) -> int:
    account_id = await core.access.save_account("test", Account(0, "Anna de Vries",
                                                                group_id="resident"))
    return await core.access.add_credential("test", account_id, CredentialKind.RFID,
                                            "04:a1:b2:c3:d4", "Anna's card")


async def charging(core: Any, sim: SimCharger, cid: str, connector_id: int = 1) -> Any:
    result = await core.gateway.remote_start(cid, connector_id, TOKEN)
    assert result.ok, result.describe()
    await wait_for(lambda: core.transactions.active_on(cid, connector_id) is not None, WAIT)
    await wait_for(lambda: sim.connector_status(connector_id) == "Charging", WAIT)
    return core.transactions.active_on(cid, connector_id)


def local_status(sim: SimCharger) -> str | None:
    return sim.local_list.status_of(TOKEN)


@BOTH
async def test_immediate_revocation_stops_the_running_session(core, cid) -> None:
    cred_id = await card_holder(core)
    async with sim_on(core, cid) as sim:
        tx = await charging(core, sim, cid)
        await core.access.set_credential_status("attendant", cred_id, CredentialStatus.REVOKED,
                                                "stolen")
        await wait_for(lambda: core.transactions.active_on(cid, 1) is None, WAIT)
        assert core.transactions.get(tx.id).stop_reason == "Remote"
        await wait_for(lambda: sim.connector_status(1) != "Charging", WAIT)
        # The card can no longer start anything, here or at the gate.
        assert core.access.authorize(TOKEN, charger_id=cid).status.value == "Blocked"
        if getattr(core, "local_lists", None) is not None:
            await wait_for(lambda: local_status(sim) not in (None, "Accepted")
                           or TOKEN not in sim.local_list.entries, WAIT)
            assert local_status(sim) != "Accepted"


@BOTH
async def test_finish_policy_lets_the_session_run_and_refuses_the_next(core, cid) -> None:
    cred_id = await card_holder(core)
    async with sim_on(core, cid) as sim:
        on = await core.gateway.change_configuration(cid, "AuthorizeRemoteTxRequests", "true")
        assert on.ok, on.describe()
        await charging(core, sim, cid)
        await core.access.set_credential_status("attendant", cred_id,
                                                CredentialStatus.SUSPENDED, "unpaid")
        await asyncio.sleep(1.0)
        assert sim.connector_status(1) == "Charging"
        assert core.transactions.active_on(cid, 1) is not None
        # The next session of that card: the charger asks first and is refused.
        result = await core.gateway.remote_start(cid, 2, TOKEN)
        assert result.ok
        await wait_for(lambda: any(e.point == "charger" and e.status == "Blocked"
                                   for e in decisions(core)), WAIT)
        await asyncio.sleep(0.5)
        assert core.transactions.active_on(cid, 2) is None
        assert sim.connector_status(1) == "Charging"


def decisions(core: Any) -> list[Any]:
    return core.test_decisions


@pytest.fixture(autouse=True)
def collect_decisions(core):
    from app.domain.events import AccessDecided

    core.test_decisions = []
    core.bus.subscribe(core.test_decisions.append, AccessDecided)


async def test_a_change_from_another_console_reaches_decisions_and_sessions(
        core, tmp_path) -> None:
    # The second console: its own engine and writer on the same database file.
    engine, writer = await open_database(core.settings.resolved_db_url)
    try:
        now = utc_now()

        def add_anna(conn):
            account_id, _ = access_repo.save_account(conn, Account(0, "Anna",
                                                                   group_id="resident"), now)
            cred_id, _ = access_repo.add_credential(conn, account_id, CredentialKind.RFID,
                                                    TOKEN, "", now)
            return cred_id

        assert core.access.authorize(TOKEN, charger_id=V16).status.value != "Accepted"
        cred_id = await writer.run(add_anna)
        await wait_for(lambda: core.access.authorize(TOKEN, charger_id=V16,
                                                     ).status.value == "Accepted", 6.0)
        async with sim_on(core, V16) as sim:
            await charging(core, sim, V16)
            await writer.run(lambda conn: access_repo.set_credential_status(
                conn, cred_id, CredentialStatus.REVOKED, "lost", utc_now()))
            await wait_for(lambda: core.transactions.active_on(V16, 1) is None, 8.0)
    finally:
        close_database(engine, writer)
    rows = await core.access._store.decisions(limit=50)
    assert {r["status"] for r in rows} >= {"Invalid", "Accepted"}


async def test_the_chargers_local_list_follows_the_accounts_with_token_types(core) -> None:
    """The core's own sync: a 2.0.1 charger gets the demo cards as ISO14443 and an app
    token as Central; a revoked card turns Blocked on the charger."""
    import json

    account_id = await core.access.save_account("test", Account(0, "App user",
                                                                group_id="resident"))
    await core.access.add_credential("test", account_id, CredentialKind.APP, "app-7f3a9c")
    cred_id = await core.access.add_credential("test", account_id, CredentialKind.RFID,
                                               TOKEN)
    async with sim_on(core, V201) as sim:
        await wait_for(lambda: sim.local_list.status_of("app-7f3a9c") == "Accepted", WAIT)
        assert sim.local_list.status_of(TOKEN) == "Accepted"
        await core.access.set_credential_status("test", cred_id, CredentialStatus.REVOKED,
                                                "moved out")
        await wait_for(lambda: sim.local_list.status_of(TOKEN) == "Blocked", WAIT)
    types = {}
    for frame in core.frames.recent(V201, 500):
        message = json.loads(frame.text)
        if frame.direction == "out" and message[0] == 2 and message[2] == "SendLocalList":
            for item in message[3].get("localAuthorizationList") or []:
                types[item["idToken"]["idToken"]] = item["idToken"]["type"]
    assert types["app-7f3a9c"] == "Central" and types[TOKEN] == "ISO14443"
