"""Staff accounts on a real SQLite file: migration 0003, the service and its SQL store, the
audit trail, `gatehouse user add|list`, `gatehouse import site`, and the first-run setup
(site, stored OCPP settings, first administrator) as build_core then reads it."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from app.adapters.db import staff_repo
from app.adapters.db import tables as t
from app.adapters.db.audit_repo import SqlAuditLog, load_audit
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import current_revision, head_revision, upgrade
from app.adapters.db.writer import DbWriter
from app.bootstrap import build_core
from app.cli import main as cli_main
from app.config import Settings
from app.first_run import SetupChoices, Start, apply_setup, setup_state
from app.services.staff import DuplicateUsername, Role, StaffError, StaffService
from app.site_import import read_site_csv

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gatehouse.db'}")
    upgrade(engine)
    writer = DbWriter(engine)
    writer.start()
    yield engine, writer
    writer.stop()
    engine.dispose()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", log_dir=None, ocpp_host="127.0.0.1",
                    ocpp_port=0)


def cli(settings: Settings, *args: str) -> int:
    return cli_main([*args, "--data-dir", str(settings.data_dir)])


def test_migration_0003_creates_staff_users_and_upgrades_an_0002_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        from alembic import command

        from app.adapters.db.migrate import alembic_config

        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
        with engine.begin() as conn:
            conn.execute(t.id_tags.insert().values(id_token="KEEP", label="", status="Accepted"))
        report = upgrade(engine)
        assert (report.before, report.after) == ("0002", head_revision())
        assert report.backup is not None and report.backup.exists()
        with engine.connect() as conn:
            assert "staff_users" in inspect(conn).get_table_names()
            assert conn.execute(select(t.id_tags.c.id_token)).scalars().all() == ["KEEP"]
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


async def test_create_list_verify_and_audit(db):
    engine, writer = db
    audit = SqlAuditLog(writer, lambda: AT)
    staff = StaffService(staff_repo.SqlStaffStore(writer), audit.audit, lambda: AT)
    user = await staff.create("installer", "  Alice ", "correct horse", "admin", "Alice A.")
    assert (user.username, user.role, user.display_name) == ("alice", Role.ADMIN, "Alice A.")
    await staff.create("installer", "bob", "battery staple", Role.ATTENDANT)
    assert [u.username for u in await staff.list()] == ["alice", "bob"]
    assert await staff.has_admin()
    assert (await staff.verify("ALICE", "correct horse")).username == "alice"
    assert await staff.verify("alice", "wrong password") is None
    assert await staff.verify("nobody", "correct horse") is None
    with pytest.raises(DuplicateUsername):
        await staff.create("installer", "alice", "another password", "supervisor")
    for bad in (("x", "long enough"), ("carol", "short"), ("carol", "long enough", "boss")):
        with pytest.raises(StaffError):
            await staff.create("installer", bad[0], bad[1], bad[2] if len(bad) > 2 else "admin")
    writer.flush()
    with engine.connect() as conn:
        row = conn.execute(select(t.staff_users).where(t.staff_users.c.username == "alice")).one()
        entries = load_audit(conn, action_prefix="staff.")
    assert row.password_hash.startswith("pbkdf2_sha256$") and "correct" not in row.password_hash
    assert row.created_at == AT
    assert [(e["actor"], e["target"], e["details"]["role"]) for e in entries] == [
        ("installer", "bob", "attendant"), ("installer", "alice", "admin")]


def test_cli_user_add_and_list(settings, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-password\n"))
    assert cli(settings, "user", "add", "Admin", "--role", "admin", "--password-stdin",
               "--display-name", "Site admin") == 0
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another-password")
    assert cli(settings, "user", "add", "att1") == 0
    capsys.readouterr()
    assert cli(settings, "user", "list", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["username"], r["role"], r["display_name"]) for r in rows] == [
        ("admin", "admin", "Site admin"), ("att1", "attendant", "att1")]
    assert cli(settings, "user", "list") == 0
    assert "admin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-password\n"))
    assert cli(settings, "user", "add", "admin", "--password-stdin") == 1
    assert "exists already" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli(settings, "user", "add", "carol", "--password-stdin") == 1
    db = sqlite3.connect(settings.data_dir / "gatehouse.db")
    actions = db.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    db.close()
    assert actions == [("cli", "staff.create", "admin"), ("cli", "staff.create", "att1")]


def test_cli_import_site(settings, tmp_path, capsys):
    chargers, bays = tmp_path / "c.csv", tmp_path / "b.csv"
    chargers.write_text("id,connectors\nCP-01,2\n")
    bays.write_text("id,charger_id,connector_id\nB1,CP-01,1\nB2,CP-01,3\n")
    assert cli(settings, "import", "site", str(chargers), str(bays), "--name", "S") == 1
    assert "b.csv line 3: charger CP-01 has no connector 3" in capsys.readouterr().err
    assert not setup_state(settings).has_admin and setup_state(settings).needed  # nothing in
    bays.write_text("id,charger_id,connector_id\nB1,CP-01,1\nB2,CP-01,2\n")
    assert cli(settings, "import", "site", str(chargers), str(bays)) == 2  # no name yet
    assert cli(settings, "import", "site", str(chargers), str(bays), "--name", "S") == 0
    assert "imported 1 charger(s), 2 bay(s)" in capsys.readouterr().err
    assert cli(settings, "import", "site", str(chargers), str(bays)) == 1  # configured already
    assert cli(settings, "import", "site", str(chargers), str(bays), "--replace") == 0
    assert not setup_state(settings).needed


async def test_first_run_setup_is_what_the_next_start_uses(settings, tmp_path):
    state = setup_state(settings)
    assert state.needed and not state.has_admin
    chargers, bays = tmp_path / "c.csv", tmp_path / "b.csv"
    chargers.write_text("id,ocpp_version,connectors\nGATE-01,2.0.1,1\n")
    bays.write_text("id,zone,charger_id\nB1,EV,GATE-01\n")
    tags = tmp_path / "t.csv"
    tags.write_text("id_token\nCARD-1\n")
    imported = read_site_csv(chargers, bays, tags=tags, name="x")
    choices = SetupChoices(site_name="Harbour Street", ocpp_port=9123, start=Start.IMPORT,
                           admin_username="boss", admin_password="long enough",
                           imported=imported)
    await apply_setup(settings, choices)
    assert setup_state(settings) == type(state)(needed=False, has_admin=True)
    core = await build_core(settings)  # explicit nothing: the stored port applies
    try:
        assert core.site.name == "Harbour Street"
        assert [c.id for c in core.site.chargers] == ["GATE-01"]
        assert settings.ocpp_port == 9123
    finally:
        await core.stop()
    again = Settings(data_dir=settings.data_dir, log_dir=None, ocpp_port=0,
                     explicit=frozenset({"ocpp_port"}))
    core = await build_core(again)  # the command line wins over the stored port
    try:
        assert again.ocpp_port == 0
    finally:
        await core.stop()
    db = sqlite3.connect(settings.data_dir / "gatehouse.db")
    audit = db.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    # The setup's tags became accounts with that card (and left the old tag list).
    tags_rows = db.execute("SELECT c.value, c.status, a.group_id FROM credentials c "
                           "JOIN accounts a ON a.id = c.account_id").fetchall()
    old_rows = db.execute("SELECT id_token FROM id_tags").fetchall()
    db.close()
    assert audit == [("first-run setup", "staff.create", "boss"),
                     ("first-run setup", "site.setup", "Harbour Street")]
    assert tags_rows == [("CARD-1", "active", "staff")] and old_rows == []


async def test_first_run_demo_layout_and_tls_settings(settings, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    choices = SetupChoices(site_name="Demo copy", ocpp_port=9000, start=Start.DEMO,
                           tls_cert=cert, tls_key=key, admin_username="admin",
                           admin_password="long enough")
    assert choices.stored_settings() == {"ocpp.port": 9000, "ocpp.tls_cert": str(cert),
                                         "ocpp.tls_key": str(key)}
    site = await apply_setup(settings, choices)
    assert site.name == "Demo copy" and len(site.chargers) == 6 and len(site.bays) == 12
    stored = Settings(data_dir=settings.data_dir)
    engine = make_engine(stored.resolved_db_url)
    try:
        from app.adapters.db.settings_repo import load_settings

        with engine.connect() as conn:
            stored.apply_stored(load_settings(conn))
    finally:
        engine.dispose()
    assert (stored.tls_cert, stored.tls_key, stored.ocpp_port) == (cert, key, 9000)


def test_a_demo_run_needs_no_setup(settings):
    settings.demo = True
    assert not setup_state(settings).needed
