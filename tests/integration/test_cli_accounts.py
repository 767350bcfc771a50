"""`gatehouse import accounts` and `gatehouse export accounts` through app.cli.main on a real
SQLite file: a good file, a re-import, a file with one bad row, the round trip, the audit
trail and the access revision every console watches."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, insert, select

from app.adapters.db import tables as t
from app.adapters.db.audit_repo import load_audit
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import upgrade
from app.cli import main as cli_main
from app.domain.timeutil import utc_now

GOOD = (
    "account;Name;Kind;Group;Email;Phone;credential_kind;credential_value;credential_label;"
    "credential_status;permit_from;permit_until;permit_zone\n"
    "A-1001;Jan Jansen;tenant;resident;jan@example.nl;+31 6 1234 5678;rfid;04:a1:b2:c3;"
    "blue card;;2026-01-01;2026-12-31;P1\n"
    "A-1001;;;;;;plate;ab-123-c;Tesla;;2026-01-01;2026-12-31;P1\n"
    "A-1002;Fleet BV;fleet;fleet;ops@fleet.example;;app;APP-77;;suspended;;;\n"
    "A-1002;Fleet BV;fleet;fleet;ops@fleet.example;;plate;GB12ABC;van 1;;2026-03-01T06:00;;\n"
    "A-1003;Zoë Ünal;;;;;;;;;;;\n"
)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def os_user(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "installer-kim")


def cli(data_dir, *args: str) -> int:
    return cli_main([*args, "--data-dir", str(data_dir)])


def write(tmp_path, text: str, name: str = "accounts.csv", *, bom: bool = False):
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def query(data_dir, fn):
    engine = make_engine(f"sqlite:///{data_dir / 'gatehouse.db'}")
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def counts(data_dir) -> tuple[int, int, int, int]:
    """(accounts, credentials, permits, access revision)"""
    def read(conn):
        n = [conn.execute(select(func.count()).select_from(table)).scalar()
             for table in (t.accounts, t.credentials, t.permits)]
        return (*n, conn.execute(select(t.access_revision.c.revision)).scalar())
    return query(data_dir, read)


def export(data_dir, capsys) -> str:
    capsys.readouterr()
    assert cli(data_dir, "export", "accounts") == 0
    return capsys.readouterr().out


def test_a_good_file_imports_everything_once(tmp_path, data_dir, capsys):
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, GOOD, bom=True))) == 0
    err = capsys.readouterr().err
    assert ("imported accounts.csv: 3 account(s) created, 0 updated, 0 unchanged; "
            "4 credential(s) added, 0 updated; 2 permit(s) added, 0 updated") in err
    assert "warning" not in err
    assert counts(data_dir) == (3, 4, 2, 2)  # revision 1 after the migration, bumped once

    def rows(conn):
        accounts = conn.execute(select(t.accounts).order_by(t.accounts.c.id)).all()
        creds = conn.execute(select(t.credentials).order_by(t.credentials.c.id)).all()
        permits = conn.execute(select(t.permits).order_by(t.permits.c.id)).all()
        return accounts, creds, permits, load_audit(conn, action_prefix="access.")

    accounts, creds, permits, audit = query(data_dir, rows)
    assert [(a.id, a.name, a.kind, a.group_id, a.email, a.phone) for a in accounts] == [
        (1, "Jan Jansen", "tenant", "resident", "jan@example.nl", "+31 6 1234 5678"),
        (2, "Fleet BV", "fleet", "fleet", "ops@fleet.example", ""),
        (3, "Zoë Ünal", "driver", "visitor", "", ""),
    ]
    assert [(c.account_id, c.kind, c.value, c.label, c.status) for c in creds] == [
        (1, "rfid", "04A1B2C3", "blue card", "active"),
        (1, "plate", "AB123C", "Tesla", "active"),
        (2, "app", "APP-77", "", "suspended"),
        (2, "plate", "GB12ABC", "van 1", "active"),
    ]
    assert [(p.account_id, p.zone_id, p.valid_from.isoformat(),
             p.valid_until and p.valid_until.isoformat()) for p in permits] == [
        (1, "P1", "2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        (2, "", "2026-03-01T06:00:00+00:00", None),
    ]
    (entry,) = audit
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "installer-kim", "access.import", "accounts.csv")
    assert entry["details"]["accounts_created"] == 3
    assert entry["details"]["credentials_added"] == 4
    assert entry["details"]["revision"] == 2


def test_reimport_updates_and_does_not_duplicate(tmp_path, data_dir, capsys):
    path = write(tmp_path, GOOD)
    assert cli(data_dir, "import", "accounts", str(path)) == 0
    before = counts(data_dir)
    capsys.readouterr()

    # the same file again: nothing to change, no reload for the consoles
    assert cli(data_dir, "import", "accounts", str(path)) == 0
    assert "nothing to change" in capsys.readouterr().err
    assert counts(data_dir) == before

    # the exported file, edited: a card lost, a new phone, one more plate
    exported = export(data_dir, capsys)
    edited = (exported.replace("blue card,active", "blue card,suspended")
              .replace("ops@fleet.example,,", "ops@fleet.example,+44 20 7946 0000,")
              + "3,Zoë Ünal,driver,visitor,,,plate,AB-12-CD,,active,,,,\n")
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, edited, "e.csv"))) == 0
    assert ("imported e.csv: 0 account(s) created, 1 updated, 2 unchanged; "
            "1 credential(s) added, 1 updated; 0 permit(s) added, 0 updated"
            ) in capsys.readouterr().err
    accounts, creds, permits, revision = counts(data_dir)
    assert (accounts, creds, permits, revision) == (3, 5, 2, before[3] + 1)

    def read(conn):
        phone = conn.execute(select(t.accounts.c.phone).where(t.accounts.c.id == 2)).scalar()
        status = conn.execute(select(t.credentials.c.status)
                              .where(t.credentials.c.value == "04A1B2C3")).scalar()
        return phone, status

    assert query(data_dir, read) == ("+44 20 7946 0000", "suspended")

    # the original file by its labels: matched by name and e-mail, so no duplicates
    assert cli(data_dir, "import", "accounts", str(path)) == 0
    assert counts(data_dir)[:3] == (3, 5, 2)


def test_one_bad_row_imports_nothing(tmp_path, data_dir, capsys):
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, GOOD))) == 0
    before = counts(data_dir)
    bad = (GOOD.splitlines(keepends=True)[0]
           + "3;Zoë Ünal;;;;;badge;1234;;;;;\n"
           + "A-1004;New Person;;;;;rfid;04 A1 B2 C3;;;;;\n"
           + "A-1005;Nobody;;vip;;;plate;XX-99-YY;;;;;\n"
           + "A-1006;Fine Person;;;;;plate;B-AB-1234;;;;;\n")
    capsys.readouterr()
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, bad, "bad.csv"))) == 1
    err = capsys.readouterr().err
    assert "nothing imported from bad.csv: 3 error(s)" in err
    assert "row 2, credential_kind: unknown kind 'badge' (one of rfid, plate," in err
    assert "row 3, credential_value: rfid 04A1B2C3 belongs to account 1 (Jan Jansen)" in err
    assert "row 4, group: unknown group 'vip' (one of fleet, resident, staff, visitor)" in err
    assert "row 5" not in err
    assert counts(data_dir) == before  # not even the good new accounts
    audit = query(data_dir, lambda conn: load_audit(conn, action_prefix="access."))
    assert len(audit) == 1


def test_warnings_and_dry_run(tmp_path, data_dir, capsys):
    text = "name,credential_kind,credential_value\nAnn,plate,QQQQQQQQQQ\n"
    path = write(tmp_path, text)
    assert cli(data_dir, "import", "accounts", "--dry-run", str(path)) == 0
    err = capsys.readouterr().err
    assert ("gatehouse: warning: row 2, credential_value: plate QQQQQQQQQQ fits no known "
            "country pattern") in err
    assert "nothing written (dry run); it would make: 1 account(s) created" in err
    assert counts(data_dir) == (0, 0, 0, 1)
    assert cli(data_dir, "import", "accounts", str(path)) == 0
    assert counts(data_dir) == (1, 1, 0, 2)


def test_unreadable_files(tmp_path, data_dir, capsys):
    assert cli(data_dir, "import", "accounts", str(tmp_path / "missing.csv")) == 1
    assert "nothing imported: cannot read" in capsys.readouterr().err
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("name\nZo\xeb\n".encode("latin-1"))
    assert cli(data_dir, "import", "accounts", str(latin)) == 1
    assert 'save it as "CSV UTF-8"' in capsys.readouterr().err
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, "nmae\nAnn\n"))) == 1
    assert "row 1, nmae: unknown column" in capsys.readouterr().err


def test_round_trip_export_import_export(tmp_path, data_dir, capsys):
    assert cli(data_dir, "import", "accounts", str(write(tmp_path, GOOD))) == 0

    # what import cannot write from a file, written by the console: a gap in the account
    # numbers, a revoked credential, a permit that is suspended
    def extra(conn):
        now = utc_now()
        conn.execute(insert(t.accounts).values(
            id=10, name="=HYPERLINK(\"x\")", kind="driver", group_id="staff", email="",
            phone="", notes="", active=1, created_at=now, updated_at=now))
        conn.execute(insert(t.credentials).values(
            account_id=10, kind="ISO14443", value="0A0B0C0D", label="", status="revoked",
            status_reason="lost", updated_at=now))
        for start in ("2026-01-01T08:30:00+00:00", "2026-02-01T00:00:00+00:00"):
            from datetime import datetime
            conn.execute(insert(t.permits).values(
                account_id=10, zone_id="P2", valid_from=datetime.fromisoformat(start),
                valid_until=None, status="suspended", updated_at=now))

    engine = make_engine(f"sqlite:///{data_dir / 'gatehouse.db'}")
    with engine.begin() as conn:
        extra(conn)
    engine.dispose()

    first = export(data_dir, capsys)
    out_file = tmp_path / "export.csv"
    assert cli(data_dir, "export", "accounts", "--output", str(out_file)) == 0
    assert "exported 4 account(s)" in capsys.readouterr().err
    assert out_file.read_bytes().decode("utf-8").replace("\r\n", "\n") == first

    fresh = tmp_path / "fresh"
    assert cli(fresh, "import", "accounts", str(out_file)) == 0
    second = export(fresh, capsys)
    assert second == first
    rows = list(csv.DictReader(io.StringIO(first)))
    assert [r["account"] for r in rows] == ["1", "1", "2", "2", "3", "10", "10"]
    assert rows[5]["name"] == "'=HYPERLINK(\"x\")"  # no formula for the spreadsheet
    assert rows[0]["phone"] == "'+31 6 1234 5678"
    assert (rows[6]["permit_from"], rows[6]["permit_status"]) == ("2026-02-01", "suspended")
    # and a new account in the fresh database does not take a number the file used
    assert cli(fresh, "import", "accounts", str(write(tmp_path, "name\nLater\n", "l.csv"))) == 0
    assert export(fresh, capsys).splitlines()[-1].startswith("11,Later,")


def test_export_is_read_only_and_needs_a_database(tmp_path, data_dir, capsys):
    assert cli(data_dir, "export", "accounts") == 1
    assert "no gatehouse database" in capsys.readouterr().err
    engine = make_engine(f"sqlite:///{data_dir / 'gatehouse.db'}")
    upgrade(engine)
    engine.dispose()
    db = data_dir / "gatehouse.db"
    db.chmod(0o444)  # read-only: the export must not need to write
    try:
        assert export(data_dir, capsys).splitlines() == [
            "account,name,kind,group,email,phone,credential_kind,credential_value,"
            "credential_label,credential_status,permit_from,permit_until,permit_zone,"
            "permit_status"]
    finally:
        db.chmod(0o644)


def test_the_sites_own_plate_patterns_decide_the_plate_warning(tmp_path, capsys):
    """A plate that fits the site's configured country pattern is not warned about."""
    import asyncio

    from app.adapters.db import access_repo
    from app.adapters.db.database import database

    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{(data / 'gatehouse.db').as_posix()}"

    async def configure():
        async with database(url) as writer:
            await writer.run(lambda c: access_repo.save_policy(
                c, {"plate_patterns": {"CH": "ZH[0-9]{1,6}"}}))

    asyncio.run(configure())
    path = tmp_path / "a.csv"
    path.write_text("name,credential_kind,credential_value\nUrs,plate,ZH 123456\n"
                    "Vreni,plate,GX-512-K\n", encoding="utf-8")
    from app.cli import main

    assert main(["import", "accounts", str(path), "--data-dir", str(data),
                 "--log-dir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr()
    warnings = [ln for ln in (out.out + out.err).splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "plate GX512K fits no known country pattern (CH)" in \
        warnings[0]
