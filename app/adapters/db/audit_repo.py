"""The audit_log table: SqlAuditLog writes through the DbWriter; load_audit reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.domain.timeutil import utc_now


class SqlAuditLog:
    """AuditLog on the writer thread: `audit()` stamps the time, queues, returns at once."""

    def __init__(self, writer: DbWriter, clock: Callable[[], datetime] = utc_now) -> None:
        self._writer = writer
        self._clock = clock

    def audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        row = {
            "at": self._clock(),
            "actor": str(actor)[:128],
            "action": str(action)[:64],
            "target": str(target)[:200],
            # Made plain JSON here, on the caller's thread: a value the JSON column cannot
            # take must not fail the write later on the writer thread.
            "details": json.loads(json.dumps(details or {}, default=str)),
        }

        def write_audit(conn: Connection) -> None:
            conn.execute(insert(t.audit_log).values(**row))

        self._writer.enqueue(write_audit)


def load_audit(conn: Connection, *, limit: int = 200, target: str | None = None,
               action_prefix: str | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(t.audit_log.c.target == target)
    if action_prefix:
        query = query.where(t.audit_log.c.action.startswith(action_prefix))
    return [dict(r._mapping) for r in conn.execute(query)]
