"""The local authorization list each charger holds, as last confirmed (local_list_state).

The LocalListStore port of app.services.local_lists on the writer thread: `load_states`
is awaited once at start; `save_state` queues its write and returns at once.

A row says what the charger confirmed: `version` of the list it holds and how many
`entries` that list has. A version of -1 (OCPP 1.6's answer for it) means the charger has
no local list at all (NotSupported): the sync leaves it alone. The list itself (token ->
status) is not stored here: the service keeps the distributed list in memory only and
sends a Full list to every charger after a restart (see app.services.local_lists).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter

NO_LOCAL_LIST = -1


def read_states(conn: Connection) -> dict[str, tuple[int, datetime | None, int]]:
    """charger id -> (version, synced_at, entries)."""
    s = t.local_list_state
    rows = conn.execute(select(s.c.charger_id, s.c.version, s.c.synced_at, s.c.entries))
    return {r.charger_id: (int(r.version), r.synced_at, int(r.entries)) for r in rows}


def write_state(conn: Connection, charger_id: str, version: int, synced_at: datetime | None,
                entries: int) -> None:
    s = t.local_list_state
    values = {"version": int(version), "synced_at": synced_at, "entries": int(entries)}
    if conn.execute(update(s).where(s.c.charger_id == charger_id).values(**values)).rowcount:
        return
    conn.execute(insert(s).values(charger_id=charger_id, **values))


def delete_state(conn: Connection, charger_id: str) -> None:
    s = t.local_list_state
    conn.execute(delete(s).where(s.c.charger_id == charger_id))


class SqlLocalListStore:
    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def load_states(self) -> dict[str, tuple[int, datetime | None, int]]:
        return await self._writer.run(read_states)

    def save_state(self, charger_id: str, version: int, synced_at: datetime | None,
                   entries: int) -> None:
        self._writer.enqueue(
            lambda conn: write_state(conn, charger_id, version, synced_at, entries))

    def forget(self, charger_id: str) -> None:
        self._writer.enqueue(lambda conn: delete_state(conn, charger_id))
