"""Tariffs, bills, payments and bill adjustments on the writer thread (BillingStore of
app.services.billing), and the reads a bill's timeline needs: the parking session, the
transactions bound to it (through the bindings), their meter samples, the issued
violation fees, and the permit allowance the account's other bills of the month already
used (``allowance_used_kwh``: summed from their stored "allowance" lines, so no column
holds it and a recompute of one bill never counts its own lines)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.domain.tariffs import tariff_from_dict

# Bindings that no longer hold their transaction: a rebind moved it, an unbind dropped it.
_LET_GO = ("rebind", "unbind")

DEFAULT_TARIFF: dict[str, Any] = {
    # A Dutch garage: EUR 3.00 an hour in 15-minute blocks, the first 15 min free, EUR 25
    # a day at most; EUR 0.35/kWh; parking free while charging and 15 min after; idle
    # EUR 0.25/min after 30 min, at most EUR 15 a charge; overstay EUR 5 an hour after the
    # group's maximum stay (else 24 h); 21 % VAT included.
    "id": "standard", "version": 1, "effective_from": "2020-01-01T00:00:00Z",
    "group_id": "", "zone_id": "", "currency": "EUR", "vat_rate_bp": 2100,
    "prices_include_vat": True,
    "components": {
        "parking": {"block_min": 15, "block_price": 75, "free_min": 15, "daily_max": 2500,
                    "waived_while_charging": True, "resume_after_charging_min": 15},
        "energy": {"per_kwh": 35},
        "idle": {"per_min": 25, "grace_min": 30, "cap": 1500},
        "overstay": {"max_stay_min": 1440, "block_min": 60, "block_price": 500},
        # Proposed when an attendant issues a fee: EUR 25 overstay, 15 idle, 50 ICE-ing.
        "penalties": {"overstay": 2500, "idle": 1500, "ice": 5000},
    },
}


def seed_default_tariff(conn: Connection, now: datetime) -> int:
    """Demo mode: the default tariff when there is none. Returns how many were added."""
    if conn.execute(select(func.count()).select_from(t.tariffs)).scalar_one():
        return 0
    tariff = tariff_from_dict(DEFAULT_TARIFF)
    conn.execute(insert(t.tariffs).values(
        tariff_id=tariff.id, version=tariff.version, effective_from=tariff.effective_from,
        doc=DEFAULT_TARIFF, created_by="demo", created_at=now))
    return 1


# -- tariffs --------------------------------------------------------------------------------

def load_tariff_docs(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(t.tariffs.c.doc)
                        .order_by(t.tariffs.c.tariff_id, t.tariffs.c.version))
    return [dict(r.doc) for r in rows]


def insert_tariff(conn: Connection, doc: dict[str, Any], actor: str, now: datetime) -> int:
    """Store a version of a tariff: the next version number of its id (the doc's own number
    is replaced). Returns that version."""
    tariff_id = str(doc["id"])
    latest = conn.execute(select(func.max(t.tariffs.c.version))
                          .where(t.tariffs.c.tariff_id == tariff_id)).scalar()
    version = int(latest or 0) + 1
    doc = {**doc, "version": version}
    tariff = tariff_from_dict(doc)
    conn.execute(insert(t.tariffs).values(
        tariff_id=tariff_id, version=version, effective_from=tariff.effective_from, doc=doc,
        created_by=actor[:128], created_at=now))
    return version


# -- the timeline's facts -------------------------------------------------------------------

def load_parking_session(conn: Connection, session_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.parking_sessions)
                       .where(t.parking_sessions.c.id == session_id)).first()
    return dict(row._mapping) if row is not None else None


def transactions_of_session(conn: Connection, session_id: int) -> list[int]:
    """The transactions whose newest binding gives them to this parking session (a rebind
    or an unbind lets a transaction go)."""
    b = t.bindings.c
    newest = (select(b.transaction_id, func.max(b.id).label("id"))
              .where(b.transaction_id.is_not(None)).group_by(b.transaction_id).subquery())
    rows = conn.execute(
        select(b.transaction_id, b.ended_by).join(newest, newest.c.id == b.id)
        .where(b.parking_session_id == session_id).order_by(b.transaction_id))
    return [int(r.transaction_id) for r in rows if r.ended_by not in _LET_GO]


def sessions_of_transaction(conn: Connection, transaction_id: int) -> list[int]:
    """Every parking session a transaction was ever bound to (its bills all recompute)."""
    rows = conn.execute(select(t.bindings.c.parking_session_id).distinct()
                        .where(t.bindings.c.transaction_id == transaction_id,
                               t.bindings.c.parking_session_id.is_not(None)))
    return sorted(int(r.parking_session_id) for r in rows)


def sessions_of_binding(conn: Connection, binding_id: int) -> list[int]:
    row = conn.execute(select(t.bindings.c.transaction_id, t.bindings.c.parking_session_id)
                       .where(t.bindings.c.id == binding_id)).first()
    if row is None:
        return []
    if row.transaction_id is not None:
        return sessions_of_transaction(conn, int(row.transaction_id))
    return [int(row.parking_session_id)] if row.parking_session_id is not None else []


def load_transaction(conn: Connection, transaction_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.transactions)
                       .where(t.transactions.c.id == transaction_id)).first()
    return dict(row._mapping) if row is not None else None


def load_meter_registers(conn: Connection, transaction_id: int
                         ) -> list[tuple[int, datetime, datetime, float]]:
    """(id, at, received_at, energy_wh) of a transaction's samples with a register."""
    c = t.meter_samples.c
    rows = conn.execute(select(c.id, c.at, c.received_at, c.energy_wh)
                        .where(c.transaction_id == transaction_id, c.energy_wh.is_not(None))
                        .order_by(c.at, c.id))
    return [(r.id, r.at, r.received_at, float(r.energy_wh)) for r in rows]


def load_violation_fees(conn: Connection, session_id: int) -> list[dict[str, Any]]:
    """Issued (or adjusted) violations of a stay that carry a fee."""
    c = t.violations.c
    rows = conn.execute(select(c.id, c.kind, c.amount, c.reason)
                        .where(c.parking_session_id == session_id,
                               c.status.in_(("issued", "adjusted")), c.amount > 0)
                        .order_by(c.id))
    return [dict(r._mapping) for r in rows]


def load_timeline_facts(conn: Connection, session_id: int) -> dict[str, Any] | None:
    """Everything stored that a stay's bill depends on, in one read."""
    session = load_parking_session(conn, session_id)
    if session is None:
        return None
    charging = []
    for tx_id in transactions_of_session(conn, session_id):
        tx = load_transaction(conn, tx_id)
        if tx is None:
            continue
        charging.append({"tx": tx, "samples": load_meter_registers(conn, tx_id)})
    bill = load_bill_row(conn, session_id)
    return {"session": session, "charging": charging,
            "fees": load_violation_fees(conn, session_id),
            "bill": bill,
            "adjustments": load_adjustments(conn, bill["id"]) if bill else [],
            "payments": load_payments(conn, bill["id"]) if bill else []}


# -- bills ----------------------------------------------------------------------------------

def load_bill_row(conn: Connection, session_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.bills).where(t.bills.c.parking_session_id == session_id)
                       ).first()
    return dict(row._mapping) if row is not None else None


def load_bill_by_id(conn: Connection, bill_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.bills).where(t.bills.c.id == bill_id)).first()
    return dict(row._mapping) if row is not None else None


def load_adjustments(conn: Connection, bill_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(t.bill_adjustments)
                        .where(t.bill_adjustments.c.bill_id == bill_id)
                        .order_by(t.bill_adjustments.c.id))
    return [dict(r._mapping) for r in rows]


def load_payments(conn: Connection, bill_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(t.payments).where(t.payments.c.bill_id == bill_id)
                        .order_by(t.payments.c.id))
    return [dict(r._mapping) for r in rows]


_CONTENT = ("currency", "subtotal", "vat", "total", "lines", "tariff_versions", "plate",
            "account_id", "zone_id", "opened_at", "closed_at", "paid", "status")


def upsert_bill(conn: Connection, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert or update the bill of ``values["parking_session_id"]``. The revision moves
    only when the lines or totals change; an unchanged recompute writes nothing.
    Returns (the row, whether anything changed)."""
    current = load_bill_row(conn, values["parking_session_id"])
    if current is None:
        bill_id = conn.execute(insert(t.bills).values({**values, "revision": 1})
                               ).inserted_primary_key[0]
        return load_bill_by_id(conn, int(bill_id)) or {}, True
    if all(current.get(k) == values.get(k) for k in _CONTENT):
        return current, False
    priced = ("lines", "subtotal", "vat", "total", "currency")
    revision = current["revision"] + (1 if any(current.get(k) != values.get(k)
                                               for k in priced) else 0)
    conn.execute(update(t.bills).where(t.bills.c.id == current["id"])
                 .values({**values, "revision": revision}))
    return load_bill_by_id(conn, current["id"]) or {}, True


def insert_payment(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(t.payments).values(values)).inserted_primary_key[0])


def insert_adjustment(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(t.bill_adjustments).values(values))
               .inserted_primary_key[0])


def allowance_used_kwh(conn: Connection, account_id: int, exclude_session_id: int,
                       since: datetime, until: datetime) -> Decimal:
    """kWh the allowance lines of this account's bills cover, over the stays that entered
    in [since, until) (``opened_at`` is the stay's entry), leaving out the bill of
    ``exclude_session_id`` (the one being computed) and void bills. Allowance lines have
    a negative quantity in kWh."""
    b = t.bills.c
    rows = conn.execute(select(b.lines).where(
        b.account_id == account_id, b.opened_at >= since, b.opened_at < until,
        or_(b.parking_session_id.is_(None), b.parking_session_id != exclude_session_id),
        b.status != "void"))
    used = Decimal(0)
    for row in rows:
        for line in row.lines or ():
            if not isinstance(line, dict) or line.get("component") != "allowance":
                continue
            try:
                used += -Decimal(str(line.get("quantity", "0")))
            except InvalidOperation:
                continue
    return max(used, Decimal(0))


def load_recent_bills(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest bills, summary columns only (the Bills tab's list after a restart)."""
    b = t.bills
    query = (select(b.c.id, b.c.parking_session_id, b.c.plate, b.c.opened_at, b.c.closed_at,
                    b.c.total, b.c.paid, b.c.status, b.c.currency)
             .where(b.c.parking_session_id.is_not(None)).order_by(b.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in conn.execute(query)]


class SqlBillingStore:
    """BillingStore (app.services.billing) through the DbWriter; every call is awaited."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def load_tariffs(self) -> list[dict[str, Any]]:
        return await self._writer.run(load_tariff_docs)

    async def save_tariff(self, doc: dict[str, Any], actor: str, now: datetime) -> int:
        return await self._writer.run(lambda conn: insert_tariff(conn, doc, actor, now))

    async def timeline_facts(self, session_id: int) -> dict[str, Any] | None:
        return await self._writer.run(lambda conn: load_timeline_facts(conn, session_id))

    async def sessions_of_transaction(self, transaction_id: int) -> list[int]:
        return await self._writer.run(lambda conn: sessions_of_transaction(conn,
                                                                           transaction_id))

    async def sessions_of_binding(self, binding_id: int) -> list[int]:
        return await self._writer.run(lambda conn: sessions_of_binding(conn, binding_id))

    async def upsert_bill(self, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return await self._writer.run(lambda conn: upsert_bill(conn, values))

    async def bill_by_id(self, bill_id: int) -> dict[str, Any] | None:
        return await self._writer.run(lambda conn: load_bill_by_id(conn, bill_id))

    async def add_payment(self, values: dict[str, Any]) -> int:
        return await self._writer.run(lambda conn: insert_payment(conn, values))

    async def add_adjustment(self, values: dict[str, Any]) -> int:
        return await self._writer.run(lambda conn: insert_adjustment(conn, values))

    async def recent_bills(self, limit: int = 200) -> list[dict[str, Any]]:
        return await self._writer.run(lambda conn: load_recent_bills(conn, limit))

    async def allowance_used_kwh(self, account_id: int, exclude_session_id: int,
                                 since: datetime, until: datetime) -> Decimal:
        return await self._writer.run(lambda conn: allowance_used_kwh(
            conn, account_id, exclude_session_id, since, until))
