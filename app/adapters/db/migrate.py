"""Apply Alembic migrations at start-up, keeping a copy of the database first."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from app.adapters.db.engine import sqlite_path
from app.domain.timeutil import utc_now

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class MigrationReport:
    before: str | None
    after: str | None
    backup: Path | None


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _backup_sqlite(path: Path, revision: str | None) -> Path:
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{revision or 'unversioned'}.{stamp}.bak")
    # The sqlite backup API copies a consistent snapshot even with a WAL in use.
    src = sqlite3.connect(path)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def _has_tables(engine: Engine) -> bool:
    """A brand-new file (created by merely connecting) holds nothing worth a backup."""
    with engine.connect() as conn:
        return bool(inspect(conn).get_table_names())


def upgrade(engine: Engine) -> MigrationReport:
    url = engine.url.render_as_string(hide_password=False)
    before = current_revision(engine)
    head = head_revision()
    if before == head:
        return MigrationReport(before, head, None)
    backup = None
    path = sqlite_path(url)
    if path is not None and path.exists() and _has_tables(engine):
        backup = _backup_sqlite(path, before)
        log.info("database backed up to %s before migrating", backup,
                 extra={"event": "db_backup", "path": str(backup)})
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    after = current_revision(engine)
    log.info("database migrated from %s to %s", before or "empty", after,
             extra={"event": "db_migrated", "before": before, "after": after})
    return MigrationReport(before, after, backup)
