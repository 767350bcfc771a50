"""The real SQLite file: migrations with backup, WAL, the writer thread."""

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from app.adapters.db import tables as t
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import current_revision, head_revision, upgrade
from app.adapters.db.writer import DbWriter


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'site.db'}")
    yield eng
    eng.dispose()


def test_fresh_database_is_migrated_without_a_backup(engine, tmp_path):
    report = upgrade(engine)
    assert report.before is None and report.after == head_revision()
    assert report.backup is None
    assert list(tmp_path.glob("*.bak")) == []
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    # a second start finds nothing to do
    assert upgrade(engine).backup is None


def test_upgrade_of_an_older_database_keeps_a_copy_first(tmp_path, engine):
    path = tmp_path / "site.db"
    legacy = sqlite3.connect(path)
    legacy.execute("CREATE TABLE legacy_notes (note TEXT)")
    legacy.execute("INSERT INTO legacy_notes VALUES ('keep me')")
    legacy.commit()
    legacy.close()
    report = upgrade(engine)
    assert report.backup is not None and report.backup.exists()
    assert report.backup.name.startswith("site.db.unversioned.")
    copy = sqlite3.connect(report.backup)
    assert copy.execute("SELECT note FROM legacy_notes").fetchall() == [("keep me",)]
    copy.close()
    assert current_revision(engine) == head_revision()


def test_times_come_back_timezone_aware_utc(engine):
    upgrade(engine)
    moment = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.audit_log).values(at=moment, actor="x", action="y", target="",
                                                details={}))
        got = conn.execute(select(t.audit_log.c.at)).scalar_one()
    assert got == moment and got.tzinfo is not None
    with engine.begin() as conn, pytest.raises(Exception, match="naive"):
        conn.execute(insert(t.audit_log).values(at=datetime(2026, 1, 1), actor="x",
                                                action="y", target="", details={}))


def test_writes_run_on_the_writer_thread_and_flush_on_stop(engine):
    upgrade(engine)
    writer = DbWriter(engine)
    writer.start()
    seen_threads = set()

    def job(conn):
        seen_threads.add(threading.current_thread().name)
        conn.execute(insert(t.zones).values(id="Z1", name="Zone", capacity=3))

    writer.enqueue(job)
    for i in range(200):
        writer.enqueue(lambda conn, i=i: conn.execute(
            insert(t.audit_log).values(at=datetime.now(UTC), actor="t", action=f"a{i}",
                                       target="", details={})))
    writer.stop()
    assert seen_threads == {"db-writer"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 200
        assert conn.execute(text("SELECT name FROM zones")).scalar() == "Zone"


@pytest.mark.allow_error_log
def test_one_bad_write_loses_only_itself(engine):
    upgrade(engine)
    writer = DbWriter(engine)
    writer.start()
    good = lambda name: lambda conn: conn.execute(  # noqa: E731
        insert(t.zones).values(id=name, name=name, capacity=0))
    writer.enqueue(good("A"))
    writer.enqueue(good("A"))  # duplicate key: fails
    writer.enqueue(good("B"))
    fut = writer.submit(lambda conn: conn.execute(text("SELECT count(*) FROM zones")).scalar())
    assert fut.result(5) == 2
    writer.stop()
    assert writer.jobs_failed == 1
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT id FROM zones")).scalars()) == ["A", "B"]


async def test_async_run_returns_results_and_errors(engine):
    upgrade(engine)
    writer = DbWriter(engine)
    writer.start()
    try:
        assert await writer.run(lambda conn: conn.execute(text("SELECT 41 + 1")).scalar()) == 42
        with pytest.raises(Exception, match="no such table"):
            await writer.run(lambda conn: conn.execute(text("SELECT * FROM nope")))
    finally:
        writer.stop()


def test_upgrade_from_0001_keeps_data_and_approves_configured_chargers(engine, tmp_path):
    from alembic import command

    from app.adapters.db.migrate import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text(
            "INSERT INTO chargers (id, configured, label, connector_count, max_power_w, vendor,"
            " model, serial, firmware, remote, online, registration)"
            " VALUES ('CP-OLD', 1, '', 2, 22000, 'ABB', 'Terra', 'S1', '1.0', '', 0, 'Accepted')"))
    assert current_revision(engine) == "0001"
    report = upgrade(engine)
    assert report.before == "0001" and report.after == head_revision()
    assert report.backup is not None and report.backup.name.startswith("site.db.0001.")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT vendor, approved, lenient FROM chargers")).one()
        assert tuple(row) == ("ABB", 1, 0)
        assert conn.execute(text("SELECT count(*) FROM transactions")).scalar() == 0


def test_the_migrations_build_every_index_the_tables_declare(engine):
    """The schema the app reads is the one Alembic builds: every table's indexes (e.g. the
    allowance's bills by account and entry, 0007) exist after upgrading a fresh file."""
    from sqlalchemy import inspect

    from app.adapters.db import tables as t

    upgrade(engine)
    found = inspect(engine)
    for table in t.metadata.sorted_tables:
        built = {ix["name"] for ix in found.get_indexes(table.name)}
        declared = {ix.name for ix in table.indexes}
        assert declared <= built, (table.name, declared - built)
