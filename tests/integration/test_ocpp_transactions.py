"""Transactions over loopback OCPP, including the quirks of real chargers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from app.adapters.db import tables as t
from app.domain import events as ev
from tests.helpers.raw_client import RawCharger
from tests.helpers.waiting import wait_for

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def mv16(wh, *, unit="Wh", at=T0, power=None, extra=()):
    sampled = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": unit}]
    if power is not None:
        sampled.append({"value": str(power), "measurand": "Power.Active.Import", "unit": "W"})
    sampled.extend(extra)
    return [{"timestamp": iso(at), "sampledValue": sampled}]


async def boot16(url, cid="CP-01") -> RawCharger:
    cp = await RawCharger.open(url, cid)
    reply = await cp.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert reply[2]["status"] == "Accepted"
    return cp


async def start16(cp, connector=1, tag="TAG1", meter=1_000_000, at=T0):
    reply = await cp.call("StartTransaction", {"connectorId": connector, "idTag": tag,
                                               "meterStart": meter, "timestamp": iso(at)})
    assert reply[0] == 3, reply
    return reply[2]["transactionId"], reply[2]["idTagInfo"]["status"]


def db_rows(settings, table, *where):
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(table).where(*where).order_by(table.c.id)).all()
    finally:
        engine.dispose()


async def flushed(core):
    await core.stop()


async def test_16_session_end_to_end_is_persisted(core, url, settings):
    events: list = []
    core.bus.subscribe(events.append)
    cp = await boot16(url)
    assert (await cp.call("Authorize", {"idTag": "TAG1"}))[2]["idTagInfo"]["status"] == \
        "Accepted"
    tx_id, status = await start16(cp)
    assert status == "Accepted" and isinstance(tx_id, int) and tx_id > 0
    tx2, _ = await start16(cp, connector=2, tag="TAG2", meter=5_000)
    assert tx2 > tx_id  # ids come from the database sequence
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx_id,
                                  "meterValue": mv16(1_004_000, power=7400,
                                                     at=T0 + timedelta(minutes=10))})
    await wait_for(lambda: core.transactions.live("CP-01", 1) is not None)
    live = core.transactions.live("CP-01", 1)
    assert live.power_w == 7400 and live.energy_wh == 4000
    reply = await cp.call("StopTransaction", {
        "transactionId": tx_id, "meterStop": 1_011_000, "timestamp": iso(T0 + timedelta(hours=1)),
        "reason": "EVDisconnected", "idTag": "TAG1",
        "transactionData": mv16(1_011_000, at=T0 + timedelta(hours=1))})
    assert reply[0] == 3 and reply[2]["idTagInfo"]["status"] == "Accepted"
    assert core.transactions.active_on("CP-01", 1) is None
    await cp.close()
    await flushed(core)
    (row,) = db_rows(settings, t.transactions, t.transactions.c.id == tx_id)
    assert row.energy_wh == 11_000 and row.stop_reason == "EVDisconnected"
    assert row.started_at == T0 and row.stopped_at == T0 + timedelta(hours=1)
    assert row.charger_tx_id == str(tx_id) and not row.orphan
    samples = db_rows(settings, t.meter_samples, t.meter_samples.c.transaction_id == tx_id)
    assert [s.energy_wh for s in samples] == [1_004_000, 1_011_000]
    kinds = [type(e) for e in events if isinstance(e, ev.TransactionStarted | ev.TransactionEnded)]
    assert kinds == [ev.TransactionStarted, ev.TransactionStarted, ev.TransactionEnded]


async def test_energy_in_kwh_and_per_session_registers(core, url, settings):
    cp = await boot16(url)
    # kWh register: 1000.0 kWh at start (meterStart is Wh per spec), 1012.5 kWh later
    tx_a, _ = await start16(cp, connector=1, meter=1_000_000)
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx_a,
                                  "meterValue": mv16("1012.5", unit="kWh")})
    await wait_for(lambda: core.transactions.live("CP-01", 1) is not None)
    assert core.transactions.live("CP-01", 1).energy_wh == 12_500
    # per-session register: meterStart is the lifetime value, values restart at 0
    tx_b, _ = await start16(cp, connector=2, meter=3_000_000)
    await cp.call("MeterValues", {"connectorId": 2, "transactionId": tx_b,
                                  "meterValue": mv16(2_300)})
    await cp.call("StopTransaction", {"transactionId": tx_b, "meterStop": 4_100,
                                      "timestamp": iso(T0 + timedelta(hours=1))})
    await cp.close()
    await flushed(core)
    (row,) = db_rows(settings, t.transactions, t.transactions.c.id == tx_b)
    assert row.energy_wh == 4_100


async def test_stale_and_zero_transaction_ids(core, url, settings):
    cp = await boot16(url)
    tx_id, _ = await start16(cp, connector=1)
    for bad in (0, -1, 987_654):
        reply = await cp.call("MeterValues", {"connectorId": 1, "transactionId": bad,
                                              "meterValue": mv16(1_000_500)})
        assert reply[0] == 3
    # StopTransaction for a transaction never seen: answered normally, kept as orphan
    reply = await cp.call("StopTransaction", {"transactionId": 424242, "meterStop": 9,
                                              "timestamp": iso(T0)})
    assert reply[0] == 3
    # the same stop again (the charger retries): still one orphan
    await cp.call("StopTransaction", {"transactionId": 424242, "meterStop": 9,
                                      "timestamp": iso(T0)})
    await cp.close()
    await flushed(core)
    samples = db_rows(settings, t.meter_samples, t.meter_samples.c.charger_id == "CP-01")
    assert [s.transaction_id for s in samples] == [tx_id] * 3
    orphans = db_rows(settings, t.transactions, t.transactions.c.orphan == 1)
    assert len(orphans) == 1 and orphans[0].charger_tx_id.startswith("stop:424242")


async def test_replays_change_nothing(core, url, settings):
    cp = await boot16(url)
    tx_id, _ = await start16(cp)
    again, _ = await start16(cp)  # the same StartTransaction, retried after a lost reply
    assert again == tx_id
    stop = {"transactionId": tx_id, "meterStop": 1_002_000,
            "timestamp": iso(T0 + timedelta(minutes=20)), "reason": "Local"}
    await cp.call("StopTransaction", stop)
    await cp.call("StopTransaction", {**stop, "meterStop": 1_999_999, "reason": "Other"})
    await cp.close()
    await flushed(core)
    rows = db_rows(settings, t.transactions, t.transactions.c.charger_id == "CP-01")
    assert len(rows) == 1
    assert rows[0].energy_wh == 2_000 and rows[0].stop_reason == "Local"


async def test_meter_values_after_stop_attach_to_the_closed_transaction(core, url, settings):
    cp = await boot16(url)
    tx_id, _ = await start16(cp)
    await cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 1_001_000,
                                      "timestamp": iso(T0 + timedelta(minutes=5))})
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx_id,
                                  "meterValue": mv16(1_001_000, at=T0 + timedelta(minutes=5))})
    assert core.transactions.active_on("CP-01", 1) is None
    await cp.close()
    await flushed(core)
    (sample,) = db_rows(settings, t.meter_samples, t.meter_samples.c.charger_id == "CP-01")
    assert sample.transaction_id == tx_id
    (row,) = db_rows(settings, t.transactions, t.transactions.c.id == tx_id)
    assert row.stopped_at is not None


async def test_bad_clocks_are_kept_and_flagged_and_offline_starts_keep_their_time(
        core, url, settings):
    cp = await boot16(url)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    tx_bad, _ = await start16(cp, connector=1, at=epoch)
    two_hours_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    tx_late, _ = await start16(cp, connector=2, at=two_hours_ago)
    await cp.close()
    await flushed(core)
    (bad,) = db_rows(settings, t.transactions, t.transactions.c.id == tx_bad)
    assert bad.started_at == epoch and bad.clock_flagged == 1
    assert bad.received_at > datetime.now(UTC) - timedelta(minutes=5)
    (late,) = db_rows(settings, t.transactions, t.transactions.c.id == tx_late)
    assert late.started_at == two_hours_ago and late.offline == 1 and late.clock_flagged == 0


def tx_event(event_type, seq, tx="T-1", *, at=T0, wh=None, state=None, token=None, **extra):
    payload = {"eventType": event_type, "timestamp": iso(at), "seqNo": seq,
               "triggerReason": extra.pop("trigger", "Authorized"),
               "transactionInfo": {"transactionId": tx}, "evse": {"id": 1, "connectorId": 1}}
    if state:
        payload["transactionInfo"]["chargingState"] = state
    if token:
        payload["idToken"] = {"idToken": token, "type": "ISO14443"}
    if wh is not None:
        payload["meterValue"] = [{"timestamp": iso(at), "sampledValue": [
            {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]
    payload.update(extra)
    return payload


async def test_201_transaction_events(core, url, settings):
    cp = await RawCharger.open(url, "CP-04", "ocpp2.0.1")
    await cp.call("BootNotification", {"chargingStation": {"model": "M", "vendorName": "V"},
                                       "reason": "PowerUp"})
    reply = await cp.call("TransactionEvent", tx_event("Started", 0, wh=50_000,
                                                       state="EVConnected", token="AA11"))
    assert reply[2]["idTokenInfo"]["status"] == "Accepted"
    await cp.call("TransactionEvent", tx_event("Updated", 1, wh=53_000, state="Charging",
                                               at=T0 + timedelta(minutes=10)))
    # a replay of seqNo 1 with other numbers changes nothing
    await cp.call("TransactionEvent", tx_event("Updated", 1, wh=99_000,
                                               at=T0 + timedelta(minutes=10)))
    await cp.call("MeterValues", {"evseId": 1, "meterValue": [{"timestamp": iso(T0),
                                  "sampledValue": [{"value": 7.2, "measurand":
                                                    "Power.Active.Import",
                                                    "unitOfMeasure": {"unit": "kW"}}]}]})
    await wait_for(lambda: (core.transactions.live("CP-04", 1) or None) is not None
                   and core.transactions.live("CP-04", 1).power_w == 7200)
    await cp.call("TransactionEvent", tx_event("Ended", 2, wh=60_000,
                                               at=T0 + timedelta(minutes=40), trigger="EVDeparted",
                                               transactionInfo={"transactionId": "T-1",
                                                                "stoppedReason": "EVDisconnected"}))
    # an Ended for a transaction never seen, delivered from the offline queue
    await cp.call("TransactionEvent", tx_event("Ended", 7, tx="GHOST", offline=True))
    await cp.close()
    await flushed(core)
    rows = db_rows(settings, t.transactions, t.transactions.c.charger_id == "CP-04")
    real, ghost = rows
    assert real.charger_tx_id == "T-1" and real.energy_wh == 10_000
    assert real.stop_reason == "EVDisconnected" and real.id_token == "AA11"
    assert real.last_seq_no == 2
    assert ghost.orphan == 1 and ghost.charger_tx_id == "GHOST"
    samples = db_rows(settings, t.meter_samples, t.meter_samples.c.charger_id == "CP-04")
    assert 99_000 not in [s.energy_wh for s in samples]
    assert any(s.power_w == 7200 and s.transaction_id == real.id for s in samples)


async def test_events_for_review_are_recorded(core, url, settings):
    cp = await boot16(url, "CP-02")
    reply = await cp.call("DataTransfer", {"vendorId": "com.acme", "messageId": "x",
                                           "data": "hello"})
    assert reply[2]["status"] == "UnknownVendorId"
    await cp.call("DiagnosticsStatusNotification", {"status": "Uploaded"})
    await cp.call("FirmwareStatusNotification", {"status": "Installed"})
    cp201 = await RawCharger.open(url, "CP-05", "ocpp2.0.1")
    await cp201.call("NotifyEvent", {"generatedAt": iso(T0), "seqNo": 0, "eventData": [{
        "eventId": 1, "timestamp": iso(T0), "trigger": "Alerting", "actualValue": "true",
        "eventNotificationType": "HardWiredNotification",
        "component": {"name": "EVSE"}, "variable": {"name": "Problem"}}]})
    await cp201.call("SecurityEventNotification", {"type": "TamperDetectionActivated",
                                                   "timestamp": iso(T0)})
    await cp201.call("NotifyReport", {"requestId": 1, "generatedAt": iso(T0), "seqNo": 0})
    await cp201.call("FirmwareStatusNotification", {"status": "Installed"})
    await cp.close()
    await cp201.close()
    await flushed(core)
    kinds = sorted(r.kind for r in db_rows(settings, t.charger_events))
    assert kinds == sorted(["DataTransfer", "DiagnosticsStatus", "FirmwareStatus", "NotifyEvent",
                            "SecurityEvent", "NotifyReport", "FirmwareStatus"])


@pytest.mark.parametrize("auth_mode", ["known_tags"])
async def test_unknown_tags_refused_when_only_known_tags_are_accepted(
        settings, auth_mode, tmp_path):
    from app.bootstrap import build_core

    settings.auth_mode = auth_mode
    core = await build_core(settings)
    await core.start()
    try:
        url = f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp"
        cp = await boot16(url)
        reply = await cp.call("Authorize", {"idTag": "NOBODY"})
        assert reply[2]["idTagInfo"]["status"] == "Invalid"
        await cp.close()
    finally:
        await core.stop()
