"""`gatehouse chargers` and `gatehouse export transactions` on a real SQLite file filled by
the app itself (build_core, its services and stores), read while the core runs."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from app import cli_chargers
from app.adapters.db import tables as t
from app.adapters.db.engine import make_engine
from app.bootstrap import build_core
from app.cli import build_parser, settings_from_args
from app.domain.charging import ChargerIdentity
from app.domain.site import OcppVersion
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for

AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    return loopback_settings(tmp_path)


def export(settings, fmt="json", since=None) -> str:
    out = io.StringIO()
    assert cli_chargers.export_transactions(settings, fmt, since=since, out=out) == 0
    return out.getvalue()


def export_json(settings, since=None) -> list[dict]:
    return json.loads(export(settings, "json", since))


def cli(settings, *argv: str, capsys) -> tuple[int, str, str]:
    """Parse as `gatehouse ...` does and dispatch to the command, without the log setup."""
    args = build_parser().parse_args([*argv, "--data-dir", str(settings.data_dir), "--demo"])
    code = cli_chargers.run(args, settings_from_args(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_export_sees_what_the_running_core_records(settings, capsys):
    core = await build_core(settings)
    await core.start()
    try:
        tx = core.transactions
        # OCPP 1.6: a whole session
        tx_id, _ = await tx.start_16("CP-01", 1, "04A1B2C3", 1_000, "2025-03-14T09:00:00Z")
        await tx.stop_16("CP-01", tx_id, 8_400, "2025-03-14T10:00:00Z", "EVDisconnected")
        # OCPP 2.0.1: a session that is still running
        await tx.transaction_event("CP-03", "Started", "2025-03-14T09:30:00Z", 0,
                                   {"transaction_id": "c0ffee-42"},
                                   id_token={"id_token": "APP-7", "type": "Central"},
                                   evse={"id": 2})
        # a stop for a transaction the console never saw start
        await tx.stop_16("CP-02", 999, 5_000, "2025-03-14T11:00:00Z", "PowerLoss")

        # read while the console runs; the writer thread may still be flushing the stop
        rows: list[dict] = []

        def stopped() -> bool:
            rows[:] = export_json(settings)
            return any(r["stop_reason"] == "EVDisconnected" for r in rows)

        await wait_for(stopped, within=5)
    finally:
        await core.stop()

    by_charger = {r["charger_id"]: r for r in rows}
    assert set(by_charger) == {"CP-01", "CP-02", "CP-03"}
    one = by_charger["CP-01"]
    assert one["transaction_id"] == str(tx_id)
    assert (one["connector_id"], one["id_token"]) == (1, "04A1B2C3")
    assert (one["started_at"], one["stopped_at"]) == ("2025-03-14T09:00:00Z",
                                                      "2025-03-14T10:00:00Z")
    assert one["energy_wh"] == pytest.approx(7_400)
    assert one["orphan"] is False
    running = by_charger["CP-03"]
    assert (running["transaction_id"], running["id_token"]) == ("c0ffee-42", "APP-7")
    assert running["connector_id"] == 2 and running["stopped_at"] is None
    orphan = by_charger["CP-02"]
    assert orphan["orphan"] is True and orphan["started_at"] is None
    assert orphan["transaction_id"] == "999", "the charger's id, not the internal key"
    assert orphan["stop_reason"] == "PowerLoss"
    # chronological: by start, orphans where they stopped
    assert [r["charger_id"] for r in rows] == ["CP-01", "CP-03", "CP-02"]


async def test_chargers_lists_the_registry(settings, capsys):
    core = await build_core(settings)
    await core.start()
    try:
        core.charging.connected("EVB-7", OcppVersion.V201, "127.0.0.99:4000")
        core.charging.boot("EVB-7", ChargerIdentity("Alfen", "Eve Single", "ACE-1", "6.1.0"))

        def listed() -> list[dict]:
            out = io.StringIO()
            cli_chargers.list_chargers(settings, "json", out)
            return json.loads(out.getvalue())

        await wait_for(lambda: any(r["id"] == "EVB-7" and r["vendor"] for r in listed()))
        rows = {r["id"]: r for r in listed()}
    finally:
        await core.stop()

    assert set(rows) == {"CP-01", "CP-02", "CP-03", "CP-04", "CP-05", "CP-06", "EVB-7"}
    evb = rows["EVB-7"]
    assert (evb["ocpp_version"], evb["vendor"], evb["model"], evb["serial"],
            evb["firmware"]) == ("2.0.1", "Alfen", "Eve Single", "ACE-1", "6.1.0")
    assert evb["registration"] == "Accepted"
    assert evb["online"] is True and evb["configured"] is False
    assert evb["last_seen"].endswith("Z")
    assert rows["CP-01"]["configured"] is True
    assert set(evb) == set(cli_chargers.CHARGER_COLUMNS)

    code, out, _ = cli(settings, "chargers", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["Charger", "OCPP", "Vendor"]
    assert any(line.startswith("EVB-7") and "Alfen" in line for line in lines)


def _fill(settings) -> None:
    """Plain inserts: the transactions table as a console of this version writes it."""
    engine = make_engine(settings.resolved_db_url)
    rows = [
        dict(charger_id="CP-01", connector_id=1, charger_tx_id="1", id_token="=HYPERLINK()",
             started_at=datetime(2025, 3, 13, 22, 0, tzinfo=UTC),
             stopped_at=datetime(2025, 3, 13, 23, 0, tzinfo=UTC), energy_wh=5000.0,
             stop_reason="Local"),
        dict(charger_id="CP-01", connector_id=2, charger_tx_id="2", id_token="TAG, \"B\"",
             started_at=datetime(2025, 3, 14, 8, 0, tzinfo=UTC), energy_wh=1234.5),
        dict(charger_id="CP-02", connector_id=0, charger_tx_id="stop:77:x:1", id_token="",
             started_at=None, stopped_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
             orphan=1, stop_reason="Other"),
    ]
    base = {"stopped_at": None, "energy_wh": None, "stop_reason": "", "orphan": 0,
            "received_at": AT, "updated_at": AT}
    with engine.begin() as conn:
        conn.execute(insert(t.transactions), [{**base, **r} for r in rows])
    engine.dispose()


async def test_since_filter_and_csv(settings, capsys):
    core = await build_core(settings)  # creates and migrates the demo database
    await core.start()
    await core.stop()
    _fill(settings)

    since = cli_chargers.parse_since("2025-03-14T00:00:00Z")
    assert [r["transaction_id"] for r in export_json(settings, since)] == ["2", "77"]
    assert len(export_json(settings)) == 3

    text = export(settings, "csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(cli_chargers.EXPORT_COLUMNS)
    assert [r["transaction_id"] for r in table] == ["1", "2", "77"]
    assert table[0]["id_token"] == "'=HYPERLINK()", "a spreadsheet must not run it"
    assert table[1]["id_token"] == 'TAG, "B"'
    assert table[1]["stopped_at"] == "" and table[1]["energy_wh"] == "1234.5"
    assert table[2]["orphan"] == "true" and table[0]["orphan"] == "false"

    # through the parser, to a file
    target = settings.data_dir / "out.csv"
    code, out, err = cli(settings, "export", "transactions", "--format", "csv",
                         "--since", "2025-03-14T08:00Z", "--output", str(target),
                         capsys=capsys)
    assert code == 0 and out == ""
    assert "exported 2 transaction(s)" in err
    assert target.read_text("utf-8").splitlines()[0].startswith("id,charger_id,")


def test_since_is_local_time_without_an_offset():
    local = datetime(2025, 3, 14, 8, 0).astimezone()
    assert cli_chargers.parse_since("2025-03-14T08:00") == local.astimezone(UTC)
    assert cli_chargers.parse_since("2025-03-14") == datetime(2025, 3, 14).astimezone()
    assert cli_chargers.parse_since("2025-03-14T08:00:00+02:00") == datetime(
        2025, 3, 14, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "14/03/2025", "2025-13-01", ""])
def test_a_bad_since_is_a_usage_error(settings, capsys, bad):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["export", "transactions", "--since", bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--since" in err and "ISO 8601" in err


def test_no_database_is_a_clear_error_and_creates_nothing(settings, capsys):
    code, out, err = cli(settings, "export", "transactions", "--format", "json",
                         capsys=capsys)
    assert code == 1 and out == ""
    assert f"no gatehouse database at {settings.data_dir / 'demo.db'}" in err
    assert not (settings.data_dir / "demo.db").exists()


def test_an_empty_file_is_not_migrated(settings, capsys):
    path = settings.data_dir / "demo.db"
    sqlite3.connect(path).close()  # a zero-byte file, as `touch` leaves it
    code, _, err = cli(settings, "chargers", "--format", "json", capsys=capsys)
    assert code == 1 and "no gatehouse database at" in err
    with sqlite3.connect(path) as conn:
        assert conn.execute("select name from sqlite_master").fetchall() == []
