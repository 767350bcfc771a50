"""violations on the writer thread (ViolationStore of app.services.enforcement), and the
evidence queries: a bay camera's recent plate reads, a connector's status timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.domain.enforcement import StepKind, Violation, ViolationKind, ViolationStatus


def _violation(r) -> Violation:
    return Violation(
        id=r.id, kind=ViolationKind(r.kind), at=r.at, step=StepKind(r.step),
        status=ViolationStatus(r.status), plate=r.plate or "", account_id=r.account_id,
        bay_id=r.bay_id or "", parking_session_id=r.parking_session_id,
        transaction_id=r.transaction_id, amount=int(r.amount or 0),
        evidence=dict(r.evidence or {}), actor=r.actor or "", reason=r.reason or "",
        resolved_by=r.resolved_by or "", resolved_at=r.resolved_at)


def _values(v: Violation) -> dict[str, Any]:
    return {"kind": v.kind.value, "plate": v.plate[:32], "account_id": v.account_id,
            "bay_id": v.bay_id[:64], "parking_session_id": v.parking_session_id,
            "transaction_id": v.transaction_id, "at": v.at, "step": v.step.value,
            "amount": int(v.amount), "status": v.status.value, "evidence": v.evidence,
            "actor": v.actor[:128], "reason": v.reason[:200],
            "resolved_by": v.resolved_by[:128], "resolved_at": v.resolved_at}


def load_violations(conn: Connection, *, plate: str = "", account_id: int | None = None,
                    parking_session_id: int | None = None, since: datetime | None = None,
                    limit: int = 200) -> list[Violation]:
    """Newest first. plate/account: either matches; parking_session_id: that stay's."""
    v = t.violations
    query = select(v).order_by(v.c.at.desc(), v.c.id.desc()).limit(limit)
    who = []
    if plate:
        who.append(v.c.plate == plate)
    if account_id is not None:
        who.append(v.c.account_id == account_id)
    if who:
        query = query.where(or_(*who))
    if parking_session_id is not None:
        query = query.where(v.c.parking_session_id == parking_session_id)
    if since is not None:
        query = query.where(v.c.at > since)
    return [_violation(r) for r in conn.execute(query)]


def camera_reads(conn: Connection, camera_id: str, since: datetime, until: datetime,
                 plates: tuple[str, ...] = (), limit: int = 20) -> list[dict[str, Any]]:
    """Plate reads of a camera in [since, until], newest first (snapshot: path relative to
    the data folder). `plates`: only those (a bay camera covers several bays)."""
    r = t.plate_reads
    query = (select(r.c.id, r.c.at, r.c.plate, r.c.confidence, r.c.source, r.c.snapshot)
             .where(r.c.camera_id == camera_id, r.c.at >= since, r.c.at <= until)
             .order_by(r.c.at.desc(), r.c.id.desc()).limit(limit))
    if plates:
        query = query.where(r.c.plate.in_(plates))
    return [{"read_id": row.id, "at": row.at, "plate": row.plate,
             "confidence": float(row.confidence or 0.0), "source": row.source,
             "snapshot": row.snapshot} for row in conn.execute(query)]


def connector_timeline(conn: Connection, charger_id: str, connector_id: int,
                       since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The connector's status changes in [since, until], oldest first, led by the last one
    before `since` (the status it was in when the window opened)."""
    s = t.status_changes
    mine = (s.c.charger_id == charger_id, s.c.connector_id == connector_id)
    before = conn.execute(select(s).where(*mine, s.c.at < since)
                          .order_by(s.c.at.desc(), s.c.id.desc()).limit(1)).all()
    inside = conn.execute(select(s).where(*mine, s.c.at >= since, s.c.at <= until)
                          .order_by(s.c.at, s.c.id)).all()
    return [{"at": row.at, "status": row.status, "error_code": row.error_code,
             "charger_time": row.charger_time} for row in [*before, *inside]]


def parking_session_facts(conn: Connection, session_id: int) -> dict[str, Any] | None:
    p = t.parking_sessions
    row = conn.execute(select(p).where(p.c.id == session_id)).first()
    if row is None:
        return None
    return {"id": row.id, "kind": row.kind, "value": row.value, "plate": row.plate or "",
            "account_id": row.account_id, "zone_id": row.zone_id,
            "entry_lane": row.entry_lane, "entry_at": row.entry_at,
            "exit_lane": row.exit_lane or "", "exit_at": row.exit_at}


LADDER_SETTING = "enforcement.ladder"


class SqlViolationStore:
    """ViolationStore through the DbWriter (the writer runs jobs in order: a read queued
    after a write sees it)."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def save_ladder(self, data: dict) -> None:
        """The site's enforcement ladder, as the `enforcement.ladder` site setting."""
        from app.adapters.db.settings_repo import save_settings

        await self._writer.run(lambda conn: save_settings(conn, {LADDER_SETTING: data}))

    async def insert(self, violation: Violation) -> int:
        values = _values(violation)

        def insert_violation(conn: Connection) -> int:
            return int(conn.execute(insert(t.violations).values(values))
                       .inserted_primary_key[0])

        return await self._writer.run(insert_violation)

    async def update(self, violation: Violation) -> None:
        values = _values(violation)
        violation_id = violation.id

        def update_violation(conn: Connection) -> None:
            conn.execute(update(t.violations).where(t.violations.c.id == violation_id)
                         .values(values))

        await self._writer.run(update_violation)

    async def get(self, violation_id: int) -> Violation | None:
        def get_violation(conn: Connection) -> Violation | None:
            row = conn.execute(select(t.violations)
                               .where(t.violations.c.id == violation_id)).first()
            return _violation(row) if row is not None else None

        return await self._writer.run(get_violation)

    async def history(self, plate: str, account_id: int | None, *,
                      limit: int = 200) -> list[Violation]:
        if not plate and account_id is None:
            return []
        return await self._writer.run(lambda conn: load_violations(
            conn, plate=plate, account_id=account_id, limit=limit))

    async def since(self, at: datetime) -> list[Violation]:
        return await self._writer.run(lambda conn: load_violations(conn, since=at,
                                                                   limit=100_000))

    async def camera_reads(self, camera_id: str, since: datetime, until: datetime,
                           plates: tuple[str, ...] = (), limit: int = 20
                           ) -> list[dict[str, Any]]:
        return await self._writer.run(lambda conn: camera_reads(
            conn, camera_id, since, until, plates, limit))

    async def connector_timeline(self, charger_id: str, connector_id: int, since: datetime,
                                 until: datetime) -> list[dict[str, Any]]:
        return await self._writer.run(lambda conn: connector_timeline(
            conn, charger_id, connector_id, since, until))

    async def parking_session(self, session_id: int) -> dict[str, Any] | None:
        return await self._writer.run(lambda conn: parking_session_facts(conn, session_id))

    async def of_session(self, parking_session_id: int) -> list[Violation]:
        """A stay's violations (billing takes the billable ones as fees)."""
        return await self._writer.run(lambda conn: load_violations(
            conn, parking_session_id=parking_session_id))
