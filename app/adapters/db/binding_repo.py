"""bindings and binding_issues on the writer thread (BindingStore of app.services.binding)."""

from __future__ import annotations

import logging
from concurrent.futures import Future

from sqlalchemy import Connection, insert, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.domain.access import normalize_plate
from app.domain.binding import Binding, BindingIssue

log = logging.getLogger(__name__)


def _binding(r) -> Binding:
    return Binding(
        id=r.id, plate=r.plate, bay_id=r.bay_id, charger_id=r.charger_id,
        connector_id=r.connector_id, transaction_id=r.transaction_id, method=r.method,
        confidence=float(r.confidence or 0.0), created_at=r.created_at,
        parking_session_id=r.parking_session_id, read_id=r.read_id, ended_at=r.ended_at,
        ended_by=r.ended_by or "", actor=r.actor or "")


def _issue(r) -> BindingIssue:
    return BindingIssue(
        id=r.id, kind=r.kind, bay_id=r.bay_id, created_at=r.created_at,
        charger_id=r.charger_id or "", connector_id=r.connector_id,
        transaction_id=r.transaction_id, plates=tuple(r.plates or ()), detail=r.detail or "",
        resolved_at=r.resolved_at, resolved_by=r.resolved_by or "",
        resolution=r.resolution or "")


def _binding_values(b: Binding) -> dict:
    return {"plate": b.plate[:32], "bay_id": b.bay_id[:64], "charger_id": b.charger_id[:128],
            "connector_id": b.connector_id, "transaction_id": b.transaction_id,
            "parking_session_id": b.parking_session_id, "method": str(b.method)[:16],
            "confidence": float(b.confidence), "read_id": b.read_id,
            "created_at": b.created_at, "ended_at": b.ended_at,
            "ended_by": str(b.ended_by)[:32], "actor": b.actor[:128]}


def _issue_values(i: BindingIssue) -> dict:
    return {"kind": str(i.kind)[:16], "bay_id": i.bay_id[:64], "charger_id": i.charger_id[:128],
            "connector_id": i.connector_id, "transaction_id": i.transaction_id,
            "plates": list(i.plates), "detail": i.detail[:200], "created_at": i.created_at,
            "resolved_at": i.resolved_at, "resolved_by": i.resolved_by[:128],
            "resolution": i.resolution[:200]}


def load_open_bindings(conn: Connection) -> list[Binding]:
    rows = conn.execute(select(t.bindings).where(t.bindings.c.ended_at.is_(None))
                        .order_by(t.bindings.c.id))
    return [_binding(r) for r in rows]


def load_open_issues(conn: Connection) -> list[BindingIssue]:
    rows = conn.execute(select(t.binding_issues)
                        .where(t.binding_issues.c.resolved_at.is_(None))
                        .order_by(t.binding_issues.c.id))
    return [_issue(r) for r in rows]


def load_bindings(conn: Connection, *, plate: str | None = None,
                  transaction_id: int | None = None, limit: int = 200) -> list[Binding]:
    """Newest first."""
    query = select(t.bindings).order_by(t.bindings.c.id.desc()).limit(limit)
    if plate is not None:
        query = query.where(t.bindings.c.plate == normalize_plate(plate))
    if transaction_id is not None:
        query = query.where(t.bindings.c.transaction_id == transaction_id)
    return [_binding(r) for r in conn.execute(query)]


def load_issues(conn: Connection, *, limit: int = 200) -> list[BindingIssue]:
    """Newest first, open and resolved."""
    rows = conn.execute(select(t.binding_issues).order_by(t.binding_issues.c.id.desc())
                        .limit(limit))
    return [_issue(r) for r in rows]


class SqlBindingStore:
    """BindingStore through the DbWriter: inserts are awaited (they give ids), updates are
    queued (a failure is a WARNING; the console keeps its in-memory state)."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def insert_binding(self, binding: Binding) -> int:
        values = _binding_values(binding)

        def insert_binding(conn: Connection) -> int:
            return int(conn.execute(insert(t.bindings).values(values))
                       .inserted_primary_key[0])

        return await self._writer.run(insert_binding)

    def update_binding(self, binding: Binding) -> None:
        binding_id, values = binding.id, _binding_values(binding)

        def update_binding(conn: Connection) -> None:
            conn.execute(update(t.bindings).where(t.bindings.c.id == binding_id)
                         .values(values))

        self._queue(update_binding, "binding", binding_id)

    async def insert_issue(self, issue: BindingIssue) -> int:
        values = _issue_values(issue)

        def insert_binding_issue(conn: Connection) -> int:
            return int(conn.execute(insert(t.binding_issues).values(values))
                       .inserted_primary_key[0])

        return await self._writer.run(insert_binding_issue)

    def update_issue(self, issue: BindingIssue) -> None:
        issue_id, values = issue.id, _issue_values(issue)

        def update_binding_issue(conn: Connection) -> None:
            conn.execute(update(t.binding_issues).where(t.binding_issues.c.id == issue_id)
                         .values(values))

        self._queue(update_binding_issue, "binding issue", issue_id)

    async def load_open(self) -> tuple[list[Binding], list[BindingIssue]]:
        def load(conn: Connection) -> tuple[list[Binding], list[BindingIssue]]:
            return load_open_bindings(conn), load_open_issues(conn)

        return await self._writer.run(load)

    async def history(self, *, plate: str | None = None, transaction_id: int | None = None,
                      limit: int = 200) -> list[Binding]:
        return await self._writer.run(
            lambda conn: load_bindings(conn, plate=plate, transaction_id=transaction_id,
                                       limit=limit))

    def _queue(self, job, what: str, row_id: int) -> None:
        future: Future = self._writer.submit(job)

        def done(fut: Future) -> None:
            exc = fut.exception() if not fut.cancelled() else None
            if exc is not None:
                log.warning("%s %d not written: %s: %s", what, row_id, type(exc).__name__, exc,
                            extra={"event": "binding_db_failed", "row_id": row_id})

        future.add_done_callback(done)
