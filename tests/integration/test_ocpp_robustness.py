"""Real chargers are not well-behaved: bad frames, schema deviations, silence."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.helpers.raw_client import RawCharger
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}


async def test_schema_violation_gets_a_callerror_and_the_link_stays(core, url):
    cp = await RawCharger.open(url, "CP-01")
    reply = await cp.call("BootNotification", {"chargePointVendor": "V"})  # model missing
    assert reply[0] == 4 and reply[2] in ("OccurenceConstraintViolation",
                                          "OccurrenceConstraintViolation",
                                          "FormationViolation", "ProtocolError")
    reply = await cp.call("StatusNotification", {"connectorId": "one", "errorCode": "NoError",
                                                 "status": "Available"})
    assert reply[0] == 4
    assert (await cp.call("Heartbeat", {}))[0] == 3
    await cp.close()


async def test_unknown_action_is_not_implemented(core, url):
    cp = await RawCharger.open(url, "CP-01")
    reply = await cp.call("MakeCoffee", {})
    assert reply[0] == 4 and reply[2] in ("NotImplemented", "NotSupported")
    await cp.close()


async def test_malformed_frames_are_survived(core, url):
    cp = await RawCharger.open(url, "CP-01")
    await cp.send_raw('[2, "abc", "Heartbeat", {')  # truncated: no id to answer, ignored
    await cp.send_raw("not json at all")
    await cp.send_raw('{"a": 1}')
    await cp.send_raw("[2,0,{},0]")  # action not a string (found by hypothesis)
    await cp.send_raw('[2, "bad-action", {"x": 1}, {}]')
    reply = await cp.reply_to("bad-action")
    assert reply[0] == 4
    await cp.send_raw('[2, "only-an-id"]')  # an id but no action: answered with CALLERROR
    reply = await cp.reply_to("only-an-id")
    assert reply[0] == 4 and reply[2] in ("FormationViolation", "ProtocolError")
    assert (await cp.call("Heartbeat", {}))[0] == 3
    await cp.close()


async def test_lenient_charger_gets_harmless_deviations_accepted(core, url):
    odd = {"connectorId": "1", "errorCode": "noerror", "status": "AVAILABLE",
           "vendorExtra": "x"}
    strict = await RawCharger.open(url, "CP-01")
    assert (await strict.call("StatusNotification", odd))[0] == 4
    await strict.close()
    core.charging.set_lenient("CP-02", True, actor="installer")
    lenient = await RawCharger.open(url, "CP-02")
    reply = await lenient.call("StatusNotification", odd)
    assert reply[0] == 3, reply
    assert str(core.charging.charger("CP-02").connector(1).status) == "Available"
    await lenient.close()


async def test_silent_charger_goes_offline_and_comes_back(core, url):
    cp = await RawCharger.open(url, "CP-03")
    await cp.call("BootNotification", BOOT16)
    state = core.charging.charger("CP-03")
    assert state.online
    # pretend two heartbeat intervals passed
    from dataclasses import replace
    from datetime import timedelta

    core.charging._chargers["CP-03"] = replace(
        state, last_seen=state.last_seen - timedelta(seconds=3 * state.heartbeat_interval_s))
    assert core.charging.check_silence() == ["CP-03"]
    assert not core.charging.charger("CP-03").online
    await cp.call("Heartbeat", {})
    assert core.charging.charger("CP-03").online
    await cp.close()


async def test_raw_frames_are_logged_per_charger(core, url, settings):
    cp = await RawCharger.open(url, "CP%2Fweird%20id")  # percent-encoded in the URL
    await cp.call("BootNotification", BOOT16)
    await cp.close()
    recent = core.frames.recent("CP/weird id")
    assert [f.direction.value for f in recent] == ["in", "out"]
    assert "BootNotification" in recent[0].text
    path = core.frames.path("CP/weird id")
    await core.stop()
    assert path.parent == settings.frames_dir
    text = path.read_text()
    assert "<- [2," in text and "-> [3," in text


frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=20), st.none(),
                       st.dictionaries(st.text(max_size=10), st.integers())),
             max_size=5).map(json.dumps),
    st.tuples(st.sampled_from([2, 3, 4]), st.text(max_size=12),
              st.sampled_from(["BootNotification", "Heartbeat", "StatusNotification",
                               "StartTransaction", "StopTransaction", "MeterValues",
                               "TransactionEvent", "Authorize", "DataTransfer", "Nope"]),
              st.dictionaries(st.text(max_size=15),
                              st.one_of(st.integers(), st.text(max_size=10), st.none(),
                                        st.lists(st.integers(), max_size=3)),
                              max_size=4))
    .map(lambda t: json.dumps(list(t))),
)


@pytest.mark.timeout(120)
@hsettings(max_examples=60, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_arbitrary_frames_never_crash_or_stick_a_connection(batch, tmp_path_factory):
    from app.bootstrap import build_core

    async def run() -> None:
        settings = loopback_settings(tmp_path_factory.mktemp("fuzz"))
        core = await build_core(settings)
        await core.start()
        try:
            url = f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
            for version in ("ocpp1.6", "ocpp2.0.1"):
                cp = await RawCharger.open(url, "CP-FUZZ", version)
                for frame in batch:
                    await cp.send_raw(frame)
                # still alive and answering
                reply = await cp.call("Heartbeat", {}, within=5)
                assert reply[0] == 3
                await cp.close()
            await wait_for(lambda: not core.charging.charger("CP-FUZZ").online)
        finally:
            await core.stop()

    asyncio.run(run())
