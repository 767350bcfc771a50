"""plate_reads on the writer thread: one row per passage (merged reads of one vehicle)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter

_COLUMNS = ("at", "camera_id", "plate", "raw", "confidence", "source", "snapshot", "merged")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in values.items() if k in _COLUMNS}
    for key, limit in (("camera_id", 64), ("plate", 32), ("raw", 64), ("source", 32)):
        if key in row:
            row[key] = str(row[key] or "")[:limit]
    return row


class SqlReadStore:
    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    def insert(self, values: dict[str, Any],
               on_id: Callable[[int], None] | None = None) -> Future[int]:
        """Queue the row (any thread). `on_id` is called on the writer thread with the new
        id before any later queued job runs (updates of the row read it)."""
        row = _clean(values)

        def insert_read(conn: Connection) -> int:
            new_id = int(conn.execute(insert(t.plate_reads).values(row))
                         .inserted_primary_key[0])
            if on_id is not None:
                on_id(new_id)
            return new_id

        return self._writer.submit(insert_read)

    def update(self, read_id: Callable[[], int | None],
               values: Callable[[], dict[str, Any] | None]) -> None:
        """Queue an update whose id and values are taken when it runs (so several merged
        reads cost one write, and an update queued before the insert finished still finds
        its row)."""
        def update_read(conn: Connection) -> None:
            rid = read_id()
            row = values()
            if rid is None or not row:
                return
            conn.execute(update(t.plate_reads).where(t.plate_reads.c.id == rid)
                         .values(_clean(row)))

        self._writer.enqueue(update_read)

    async def clear_snapshots(self, before: datetime) -> int:
        """Rows older than `before` keep their read but lose the (pruned) snapshot path."""
        def job(conn: Connection) -> int:
            result = conn.execute(update(t.plate_reads).where(
                t.plate_reads.c.at < before, t.plate_reads.c.snapshot != "")
                .values(snapshot=""))
            return int(result.rowcount or 0)
        return await self._writer.run(job)

    async def get(self, read_id: int) -> dict[str, Any] | None:
        def job(conn: Connection) -> dict[str, Any] | None:
            r = conn.execute(select(t.plate_reads).where(t.plate_reads.c.id == read_id)).first()
            return dict(r._mapping) if r else None
        return await self._writer.run(job)

    async def latest(self, camera_id: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first; for the evidence browser and tests."""
        def job(conn: Connection) -> list[dict]:
            q = select(t.plate_reads).order_by(t.plate_reads.c.id.desc()).limit(limit)
            if camera_id is not None:
                q = q.where(t.plate_reads.c.camera_id == camera_id)
            return [dict(r._mapping) for r in conn.execute(q)]
        return await self._writer.run(job)
