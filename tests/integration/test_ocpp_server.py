"""The embedded OCPP server with foreign ocpp-library clients over real loopback sockets."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.adapters.db import tables as t
from app.domain.charging import ConnectorStatus, RegistrationStatus
from tests.helpers.ocpp_clients import Client16, Client201, charge_point
from tests.helpers.waiting import wait_for


async def test_foreign_16_client_boots_accepted_with_time_and_interval(core, url):
    async with charge_point(url, "CP-X") as cp:
        result = await cp.boot()
        assert result.status == "Accepted"
        assert result.interval == 30
        sent = datetime.fromisoformat(result.current_time.replace("Z", "+00:00"))
        assert abs(sent - datetime.now(UTC)) < timedelta(seconds=5)
        state = core.charging.charger("CP-X")
        assert state.online and state.registration is RegistrationStatus.ACCEPTED
        assert state.identity.vendor == "TestVendor"


async def test_16_status_notifications_drive_connector_state_and_persist(core, url, settings):
    async with charge_point(url, "CP-01") as cp:
        await cp.boot()
        await cp.status(0, "Available")
        await cp.status(1, "Preparing")
        await cp.status(1, "Charging")
        await cp.status(2, "Faulted", error_code="GroundFailure")
        hb = await cp.heartbeat()
        assert hb.current_time.endswith("Z")
        st = core.charging.charger("CP-01")
        assert st.shown_status(1) is ConnectorStatus.CHARGING
        assert st.connector(2).error_code == "GroundFailure"
    await wait_for(lambda: not core.charging.charger("CP-01").online)
    assert core.charging.charger("CP-01").shown_status(1) is ConnectorStatus.OFFLINE
    await core.stop()  # flushes the writer
    engine = create_engine(settings.resolved_db_url)
    with engine.connect() as conn:
        history = conn.execute(
            select(t.status_changes.c.connector_id, t.status_changes.c.status)
            .where(t.status_changes.c.charger_id == "CP-01").order_by(t.status_changes.c.id)
        ).all()
        charger = conn.execute(select(t.chargers).where(t.chargers.c.id == "CP-01")).one()
    engine.dispose()
    assert [tuple(r) for r in history] == [
        (0, "Available"), (1, "Preparing"), (1, "Charging"), (2, "Faulted")]
    assert charger.vendor == "TestVendor" and charger.serial == "SN-1"
    assert charger.online == 0
    assert charger.last_seen.tzinfo is not None


async def test_201_boot_status_and_transaction_state(core, url):
    async with charge_point(url, "CP-04", "ocpp2.0.1") as cp:
        result = await cp.boot()
        assert result.status == "Accepted"
        await cp.status(1, "Occupied")
        await cp.status(2, "Faulted")
        await cp.heartbeat()
        st = core.charging.charger("CP-04")
        assert str(st.ocpp_version) == "2.0.1"
        assert st.identity.serial == "SN-2"
        assert st.shown_status(1) is ConnectorStatus.OCCUPIED
        assert st.shown_status(2) is ConnectorStatus.FAULTED


@pytest.mark.parametrize("offered", ["OCPP1.6", "Ocpp1.6"])
async def test_subprotocol_matched_case_insensitively(core, url, offered):
    async with charge_point(url, "CP-02", offered, cls=Client16) as cp:
        assert cp._connection.subprotocol == offered
        assert (await cp.boot()).status == "Accepted"


async def test_no_subprotocol_uses_the_configured_version(core, url):
    # CP-04 is configured as a 2.0.1 charger in the demo site.
    async with charge_point(url, "CP-04", None, cls=Client201) as cp:
        assert cp._connection.subprotocol is None
        assert (await cp.boot()).status == "Accepted"
        assert str(core.charging.charger("CP-04").ocpp_version) == "2.0.1"
    # an unknown charger without subprotocol defaults to 1.6
    async with charge_point(url, "CP-NEW", None, cls=Client16) as cp:
        assert (await cp.boot()).status == "Accepted"


@pytest.mark.parametrize("path", ["/CP-03", "//ocpp//CP-03", "/ocpp/CP-03/"])
async def test_charger_id_from_any_path_form(core, path):
    port = core.ocpp_server.port
    async with connect(f"ws://127.0.0.1:{port}{path}", subprotocols=["ocpp1.6"]) as ws:
        cp = Client16("CP-03", ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        await cp.boot()
        task.cancel()
    assert core.charging.charger("CP-03").identity.vendor == "TestVendor"


async def test_path_without_id_is_refused_with_404(core):
    with pytest.raises(InvalidStatus) as err:
        async with connect(f"ws://127.0.0.1:{core.ocpp_server.port}/",
                           subprotocols=["ocpp1.6"]):
            pass
    assert err.value.response.status_code == 404


async def test_second_connection_replaces_the_first(core, url):
    async with charge_point(url, "CP-05", "ocpp2.0.1") as first:
        await first.boot()
        async with charge_point(url, "CP-05", "ocpp2.0.1") as second:
            await wait_for(lambda: first._connection.state.name == "CLOSED")
            assert (await second.boot()).status == "Accepted"
            # the old link closing must not mark the charger offline
            assert core.charging.charger("CP-05").online
            assert core.ocpp_server.connected_ids() == ["CP-05"]
        await wait_for(lambda: not core.charging.charger("CP-05").online)


async def test_stopping_the_core_closes_charger_links(core, url):
    async with charge_point(url, "CP-06", "ocpp2.0.1") as cp:
        await cp.boot()
        await core.stop()
        with pytest.raises(ConnectionClosed):
            await cp._connection.recv()
    assert core.charging.online_count() == 0
