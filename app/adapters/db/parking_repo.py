"""parking_sessions on the writer thread: who is inside, since when, how they left."""

from __future__ import annotations

import logging
from concurrent.futures import Future

from sqlalchemy import Connection, insert, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.services.gate import ParkingSession

log = logging.getLogger(__name__)


def _session(r) -> ParkingSession:
    return ParkingSession(
        id=r.id, kind=r.kind, value=r.value, zone_id=r.zone_id, entry_lane=r.entry_lane,
        entry_at=r.entry_at, plate=r.plate, account_id=r.account_id,
        credential_id=r.credential_id, visitor=bool(r.visitor), exit_lane=r.exit_lane,
        exit_at=r.exit_at, closed_by=r.closed_by)


def load_open_sessions(conn: Connection) -> list[ParkingSession]:
    rows = conn.execute(select(t.parking_sessions)
                        .where(t.parking_sessions.c.exit_at.is_(None))
                        .order_by(t.parking_sessions.c.entry_at))
    return [_session(r) for r in rows]


def load_sessions(conn: Connection, *, limit: int = 200) -> list[ParkingSession]:
    """Newest entries first (history, reports)."""
    rows = conn.execute(select(t.parking_sessions)
                        .order_by(t.parking_sessions.c.id.desc()).limit(limit))
    return [_session(r) for r in rows]


class SqlParkingStore:
    """ParkingStore (app.services.gate) through the DbWriter."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def insert(self, session: ParkingSession) -> int:
        values = {
            "kind": session.kind[:16], "value": session.value[:128],
            "plate": session.plate[:32], "account_id": session.account_id,
            "credential_id": session.credential_id, "zone_id": session.zone_id,
            "visitor": int(session.visitor), "entry_lane": session.entry_lane,
            "entry_at": session.entry_at, "exit_lane": session.exit_lane,
            "exit_at": session.exit_at, "closed_by": session.closed_by}

        def insert_parking_session(conn: Connection) -> int:
            result = conn.execute(insert(t.parking_sessions).values(values))
            return int(result.inserted_primary_key[0])

        return await self._writer.run(insert_parking_session)

    def close(self, session: ParkingSession) -> None:
        """Queue the exit (exit lane, time, closed_by). A failure is a WARNING."""
        session_id = session.id
        values = {"exit_lane": session.exit_lane, "exit_at": session.exit_at,
                  "closed_by": session.closed_by[:32]}

        def close_parking_session(conn: Connection) -> None:
            conn.execute(update(t.parking_sessions)
                         .where(t.parking_sessions.c.id == session_id).values(values))

        self._queue(close_parking_session, session_id)

    async def load_open(self) -> list[ParkingSession]:
        return await self._writer.run(load_open_sessions)

    def _queue(self, job, session_id: int) -> None:
        # submit + a callback rather than enqueue: the writer logs a failed enqueued job
        # at ERROR; a lost parking row is a WARNING the attendant's console survives.
        future: Future = self._writer.submit(job)

        def done(fut: Future) -> None:
            exc = fut.exception() if not fut.cancelled() else None
            if exc is not None:
                log.warning("parking session %d not written: %s: %s", session_id,
                            type(exc).__name__, exc,
                            extra={"event": "parking_db_failed", "session_id": session_id})

        future.add_done_callback(done)
