"""Charger facts: the ChargerStore port on the writer thread, plus the start-up read."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.domain.charging import (
    ChargerIdentity,
    ChargerState,
    ConnectorState,
    ConnectorStatus,
    RegistrationStatus,
    RegistryEntry,
)
from app.domain.site import OcppVersion

_NEW_CHARGER = {"configured": 0, "label": "", "connector_count": 0, "max_power_w": 22000,
                "vendor": "", "model": "", "serial": "", "firmware": "", "remote": "",
                "online": 0, "approved": 0, "lenient": 0}


def _upsert_charger(conn: Connection, charger_id: str, **values) -> None:
    if conn.execute(
        update(t.chargers).where(t.chargers.c.id == charger_id).values(**values)
    ).rowcount:
        return
    conn.execute(insert(t.chargers).values({**_NEW_CHARGER, **values, "id": charger_id}))


# last_seen is exact in memory; the database follows within this much (and exactly on
# disconnect). Writing it per message was the writer's biggest cost (tests/bench profile).
SEEN_WRITE_INTERVAL = timedelta(seconds=15)


class SqlChargerStore:
    """Every method queues its write and returns at once (handlers must not block)."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer
        self._seen_latest: dict[str, datetime] = {}
        self._seen_written: dict[str, datetime] = {}
        self._seen_pending: dict[str, datetime] = {}
        # The loop thread fills _seen_pending, the writer thread empties it.
        self._seen_lock = threading.Lock()

    def record_connection(self, charger_id: str, version: OcppVersion, remote: str,
                          at: datetime) -> None:
        def job(conn: Connection) -> None:
            _upsert_charger(conn, charger_id, ocpp_version=str(version), remote=remote,
                            last_seen=at, online=1)
        self._writer.enqueue(job)

    def record_boot(self, charger_id: str, identity: ChargerIdentity,
                    registration: RegistrationStatus, at: datetime) -> None:
        def job(conn: Connection) -> None:
            _upsert_charger(conn, charger_id, vendor=identity.vendor[:64],
                            model=identity.model[:64], serial=identity.serial[:64],
                            firmware=identity.firmware[:64], registration=str(registration),
                            last_boot=at, last_seen=at)
        self._writer.enqueue(job)

    def record_seen(self, charger_id: str, at: datetime) -> None:
        self._seen_latest[charger_id] = at
        last = self._seen_written.get(charger_id)
        if last is not None and at - last < SEEN_WRITE_INTERVAL:
            return
        self._seen_written[charger_id] = at
        with self._seen_lock:
            first = not self._seen_pending
            self._seen_pending[charger_id] = at
        if first:  # one job carries every charger seen until the writer gets to it
            self._writer.enqueue(self._write_seen)

    def _write_seen(self, conn: Connection) -> None:
        with self._seen_lock:
            pending, self._seen_pending = self._seen_pending, {}
        if pending:
            conn.execute(
                update(t.chargers).where(t.chargers.c.id == bindparam("cid"))
                .values(last_seen=bindparam("seen")),
                [{"cid": cid, "seen": at} for cid, at in pending.items()])

    def record_status(self, charger_id: str, connector_id: int, status: ConnectorStatus,
                      error_code: str, at: datetime, charger_time: datetime | None) -> None:
        def job(conn: Connection) -> None:
            # The charger row exists: its connection was queued before any message.
            values = {"status": str(status), "error_code": error_code[:64], "since": at}
            if not conn.execute(
                update(t.connectors)
                .where(t.connectors.c.charger_id == charger_id,
                       t.connectors.c.connector_id == connector_id)
                .values(values)
            ).rowcount:
                conn.execute(insert(t.connectors).values(
                    charger_id=charger_id, connector_id=connector_id, **values))
            conn.execute(insert(t.status_changes).values(
                charger_id=charger_id, connector_id=connector_id, status=str(status),
                error_code=error_code[:64], at=at, charger_time=charger_time))
        self._writer.enqueue(job)

    def record_disconnect(self, charger_id: str, at: datetime) -> None:
        self._seen_written.pop(charger_id, None)
        values: dict = {"online": 0}
        if charger_id in self._seen_latest:  # exact, whatever the throttle skipped
            values["last_seen"] = self._seen_latest[charger_id]

        def job(conn: Connection) -> None:
            conn.execute(update(t.chargers).where(t.chargers.c.id == charger_id)
                         .values(values))
        self._writer.enqueue(job)


    def record_registry(self, charger_id: str, entry: RegistryEntry) -> None:
        def job(conn: Connection) -> None:
            _upsert_charger(conn, charger_id, approved=int(entry.approved),
                            password_hash=entry.password_hash, lenient=int(entry.lenient))
        self._writer.enqueue(job)


def load_registry(conn: Connection) -> dict[str, RegistryEntry]:
    return {
        r.id: RegistryEntry(bool(r.approved), r.password_hash, bool(r.lenient))
        for r in conn.execute(select(t.chargers.c.id, t.chargers.c.approved,
                                     t.chargers.c.password_hash, t.chargers.c.lenient))
    }


def load_chargers(conn: Connection) -> list[ChargerState]:
    """Every charger ever seen or configured, as last known, all offline (nobody is connected
    at start-up)."""
    conns: dict[str, dict[int, ConnectorState]] = {}
    for r in conn.execute(select(t.connectors)):
        try:
            status = ConnectorStatus(r.status)
        except ValueError:
            status = ConnectorStatus.UNKNOWN
        conns.setdefault(r.charger_id, {})[r.connector_id] = ConnectorState(
            r.connector_id, status, r.error_code, r.since)
    result = []
    for r in conn.execute(select(t.chargers).order_by(t.chargers.c.id)):
        result.append(ChargerState(
            id=r.id,
            ocpp_version=OcppVersion(r.ocpp_version) if r.ocpp_version else None,
            online=False,
            registration=RegistrationStatus(r.registration) if r.registration else None,
            identity=ChargerIdentity(r.vendor, r.model, r.serial, r.firmware),
            last_seen=r.last_seen,
            remote=r.remote,
            connectors=conns.get(r.id, {}),
        ))
    return result


def mark_all_offline(conn: Connection) -> None:
    """At start-up and clean shutdown: no charger is connected to a process that is not up."""
    conn.execute(update(t.chargers).values(online=0))
