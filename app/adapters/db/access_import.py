"""Accounts CSV against the database: import in one transaction, export as a read.

`import_accounts` runs on the writer thread (DbWriter.run) as ONE job: it loads the
access data, has the caller check the file against it (`make_plan`, in practice
app.access_csv.plan_import: the adapter stays free of the CSV rules) and, only when no
row has an error, writes every change, bumps `access_revision` once and records the
audit row, all in the job's transaction. Checking and writing in one transaction means
a console changing the data meanwhile cannot slip a conflict between the two; if a write
fails anyway, the transaction rolls back and nothing is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, text, update

from app.adapters.db import tables as t
from app.adapters.db.access_repo import bump_revision, load_access
from app.domain.access import AccessData

if TYPE_CHECKING:
    from app.access_csv import AccountChange, ImportPlan

AUDIT_ACTION = "access.import"


@dataclass(frozen=True, slots=True)
class ImportResult:
    plan: ImportPlan
    written: bool  # False: errors, a dry run, or nothing to change
    revision: int  # the access revision after the import


def import_accounts(conn: Connection, make_plan: Callable[[AccessData], ImportPlan], *,
                    actor: str, source: str, now: datetime, dry_run: bool = False
                    ) -> ImportResult:
    """Plan against the current data and, when the plan has no error, apply it."""
    data = load_access(conn)
    plan = make_plan(data)
    if not plan.ok or dry_run or not plan.has_changes:
        return ImportResult(plan, False, data.revision)
    apply_plan(conn, plan, now)
    revision = bump_revision(conn)
    conn.execute(insert(t.audit_log).values(
        at=now, actor=str(actor)[:128], action=AUDIT_ACTION, target=str(source)[:200],
        details={**plan.counts(), "revision": revision,
                 "warnings": len(plan.warnings)}))
    return ImportResult(plan, True, revision)


def apply_plan(conn: Connection, plan: ImportPlan, now: datetime) -> None:
    """Write a checked plan. New accounts with a number from the file go first, so an
    account numbered by the database cannot take a number the file asks for."""
    creating = [a for a in plan.accounts if a.created]
    numbered = [a for a in creating if a.new_id is not None]
    for change in numbered:
        _insert_account(conn, change, now)
    if numbered:
        _sync_sequence(conn)
    for change in creating:
        if change.new_id is None:
            _insert_account(conn, change, now)
    for change in plan.accounts:
        if change.changed:
            conn.execute(update(t.accounts).where(t.accounts.c.id == change.account_id)
                         .values(**change.fields, updated_at=now))
        _write_credentials(conn, change, now)
        _write_permits(conn, change, now)


def _insert_account(conn: Connection, change: AccountChange, now: datetime) -> None:
    values: dict[str, Any] = {**change.fields, "notes": "", "active": 1,
                              "created_at": now, "updated_at": now}
    if change.new_id is not None:
        values["id"] = change.new_id
    change.account_id = int(conn.execute(insert(t.accounts).values(**values))
                            .inserted_primary_key[0])


def _write_credentials(conn: Connection, change: AccountChange, now: datetime) -> None:
    c = t.credentials.c
    for cred in change.credentials:
        if cred.existing_id is None:
            conn.execute(insert(t.credentials).values(
                account_id=change.account_id, kind=cred.kind.value, value=cred.value,
                label=cred.label or "", status=(cred.status.value if cred.status else "active"),
                status_reason="", updated_at=now))
            continue
        values: dict[str, Any] = {"updated_at": now}
        if cred.label is not None:
            values["label"] = cred.label
        if cred.status is not None:
            values["status"] = cred.status.value
        conn.execute(update(t.credentials).where(c.id == cred.existing_id).values(**values))


def _write_permits(conn: Connection, change: AccountChange, now: datetime) -> None:
    for permit in change.permits:
        if permit.existing_id is None:
            conn.execute(insert(t.permits).values(
                account_id=change.account_id, zone_id=permit.zone_id,
                valid_from=permit.valid_from, valid_until=permit.valid_until,
                status=permit.status.value if permit.status else "active", updated_at=now))
        elif permit.status is not None:
            conn.execute(update(t.permits).where(t.permits.c.id == permit.existing_id)
                         .values(status=permit.status.value, updated_at=now))


def _sync_sequence(conn: Connection) -> None:
    """PostgreSQL hands out ids from a sequence that explicit ids do not move."""
    if conn.dialect.name != "postgresql":
        return
    top = conn.execute(select(func.max(t.accounts.c.id))).scalar() or 1
    conn.execute(text("SELECT setval(pg_get_serial_sequence('accounts', 'id'), :top)"),
                 {"top": top})


def export_data(conn: Connection) -> AccessData:
    """What `export accounts` writes (a read)."""
    return load_access(conn)
