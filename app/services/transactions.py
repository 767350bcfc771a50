"""Transactions from both OCPP versions, tolerant of what real chargers do.

Idempotent: a replayed StartTransaction gets the same id, a second stop changes nothing,
a repeated TransactionEvent seqNo is ignored. Charger timestamps are kept as sent (and
flagged when implausible); decisions use the time we received the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from app.domain.energy import session_energy_wh, to_number
from app.domain.events import MeterUpdated, TransactionEnded, TransactionStarted
from app.domain.metering import Reading, readings
from app.domain.timeutil import parse_iso
from app.domain.transactions import MeterSample, Transaction, clock_is_plausible
from app.services.authorization import AuthDecision, Authorizer
from app.services.bus import EventBus
from app.services.ports import Clock, TransactionStore

log = logging.getLogger(__name__)

# A StartTransaction this much older than its arrival came from the charger's offline queue.
OFFLINE_DELAY = timedelta(minutes=5)
_SEQ_MEMORY = 512


@dataclass(frozen=True, slots=True)
class LiveMeter:
    transaction_id: int | None
    power_w: float | None = None
    energy_wh: float | None = None
    soc_pct: float | None = None
    at: datetime | None = None


class TransactionService:
    def __init__(self, store: TransactionStore, bus: EventBus, clock: Clock,
                 authorizer: Authorizer) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._auth = authorizer
        self._by_id: dict[int, Transaction] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self._active: dict[tuple[str, int], int] = {}
        self._live: dict[tuple[str, int], LiveMeter] = {}
        self._seqs: dict[int, set[int]] = {}

    async def load(self) -> None:
        """Transactions still open when the console last stopped."""
        for tx in await self._store.load_open():
            self._remember(tx)

    # -- queries -------------------------------------------------------------------

    def get(self, transaction_id: int) -> Transaction | None:
        return self._by_id.get(transaction_id)

    def active_on(self, charger_id: str, connector_id: int) -> Transaction | None:
        tx_id = self._active.get((charger_id, connector_id))
        return self._by_id.get(tx_id) if tx_id is not None else None

    def active(self) -> list[Transaction]:
        return [self._by_id[i] for i in self._active.values()]

    def live(self, charger_id: str, connector_id: int) -> LiveMeter | None:
        return self._live.get((charger_id, connector_id))

    def authorize(self, id_token: str, *, charger_id: str,
                  connector_id: int | None = None) -> AuthDecision:
        return self._auth.authorize(id_token, charger_id=charger_id, connector_id=connector_id)

    # -- OCPP 1.6 ------------------------------------------------------------------

    async def start_16(self, charger_id: str, connector_id: int, id_tag: str,
                       meter_start: Any, timestamp: str | None) -> tuple[int, AuthDecision]:
        now = self._clock()
        decision = self._auth.authorize(id_tag, charger_id=charger_id, connector_id=connector_id)
        started = parse_iso(timestamp)
        meter = to_number(meter_start)
        current = self.active_on(charger_id, connector_id)
        if current is not None:
            if (current.id_token, current.meter_start_wh, current.started_at) == (
                    id_tag, meter, started):
                return current.id, decision  # the same StartTransaction, retried
            # The charger lost (or never sent) the stop of the previous session.
            await self._close(current, stopped_at=started or now, meter_stop=None,
                              reason="SupersededByNewStart")
        tx = Transaction(
            id=0, charger_id=charger_id, connector_id=connector_id, charger_tx_id="",
            id_token=id_tag, started_at=started or now, meter_start_wh=meter,
            offline=started is not None and now - started > OFFLINE_DELAY,
            clock_flagged=not clock_is_plausible(started, now),
        )
        tx_id = await self._store.insert(tx, received_at=now)
        tx = replace(tx, id=tx_id, charger_tx_id=str(tx_id))
        self._remember(tx)
        self._bus.publish(TransactionStarted(at=now, charger_id=charger_id,
                                             connector_id=connector_id, transaction_id=tx_id,
                                             id_token=id_tag, offline=tx.offline))
        return tx_id, decision

    async def stop_16(self, charger_id: str, transaction_id: Any, meter_stop: Any,
                      timestamp: str | None, reason: str | None = None,
                      id_tag: str | None = None,
                      transaction_data: list[dict] | None = None) -> AuthDecision | None:
        now = self._clock()
        stopped = parse_iso(timestamp) or now
        tx_number = int(to_number(transaction_id) or 0)
        tx = await self._find_16(charger_id, tx_number)
        decision = self._auth.authorize(id_tag, charger_id=charger_id) if id_tag else None
        if tx is None:
            tx = await self._orphan(charger_id, f"stop:{tx_number}:{timestamp}:{meter_stop}",
                                    stopped, meter_stop, reason or "", now, id_tag or "")
            self._attach(tx, readings(transaction_data), now)
            return decision
        if tx.stopped_at is not None:
            return decision  # a replayed stop changes nothing
        self._attach(tx, readings(transaction_data), now)
        await self._close(tx, stopped_at=stopped, meter_stop=to_number(meter_stop),
                          reason=reason or "Local")
        return decision

    async def meter_values(self, charger_id: str, connector_id: int, transaction_id: Any,
                           meter_value: list[dict] | None) -> None:
        """Both versions. A missing, 0, -1 or unknown id falls back to the connector's
        active transaction; values for a stopped transaction are attached to it."""
        now = self._clock()
        tx = None
        if isinstance(transaction_id, str) and transaction_id and not transaction_id.lstrip(
                "-").isdigit():
            tx = await self._find_201(charger_id, transaction_id)
        elif transaction_id is not None:
            tx = await self._find_16(charger_id, int(to_number(transaction_id) or 0))
        if tx is None and connector_id:
            tx = self.active_on(charger_id, connector_id)
        self._attach(tx, readings(meter_value), now, charger_id=charger_id,
                     connector_id=connector_id)

    # -- OCPP 2.0.1 ----------------------------------------------------------------

    async def transaction_event(self, charger_id: str, event_type: str, timestamp: str,
                                seq_no: int, transaction_info: dict, *,
                                offline: bool = False, id_token: dict | None = None,
                                evse: dict | None = None,
                                meter_value: list[dict] | None = None) -> AuthDecision | None:
        now = self._clock()
        at = parse_iso(timestamp) or now
        tx_key = str(transaction_info.get("transaction_id", ""))
        token = (id_token or {}).get("id_token", "")
        decision = (self._auth.authorize(token, charger_id=charger_id,
                                         token_type=(id_token or {}).get("type"))
                    if token else None)
        tx = await self._find_201(charger_id, tx_key)
        if tx is not None and seq_no in self._seqs.setdefault(tx.id, set()):
            return decision  # the same event, delivered again
        connector_id = int((evse or {}).get("id") or (tx.connector_id if tx else 0))
        if tx is None:
            if event_type == "Ended":
                tx = await self._orphan(charger_id, tx_key, at, None,
                                        transaction_info.get("stopped_reason", ""), now, token,
                                        connector_id=connector_id)
                self._attach(tx, readings(meter_value), now)
                self._seqs.setdefault(tx.id, set()).add(seq_no)
                return decision
            # Started (or an Updated whose Started was lost): a new transaction.
            tx = Transaction(
                id=0, charger_id=charger_id, connector_id=connector_id, charger_tx_id=tx_key,
                id_token=token, started_at=at, offline=offline,
                clock_flagged=not clock_is_plausible(parse_iso(timestamp), now),
                last_seq_no=seq_no,
            )
            tx = replace(tx, id=await self._store.insert(tx, received_at=now))
            self._remember(tx)
            self._bus.publish(TransactionStarted(at=now, charger_id=charger_id,
                                                 connector_id=connector_id,
                                                 transaction_id=tx.id, id_token=token,
                                                 offline=offline))
        self._seqs.setdefault(tx.id, set()).add(seq_no)
        if len(self._seqs[tx.id]) > _SEQ_MEMORY:
            self._seqs[tx.id] = set(sorted(self._seqs[tx.id])[-_SEQ_MEMORY // 2:])
        changes: dict[str, Any] = {"last_seq_no": max(seq_no, tx.last_seq_no or 0)}
        if token and not tx.id_token:
            changes["id_token"] = token
        if offline:
            changes["offline"] = True
        tx = self._update(replace(tx, **changes))
        self._attach(tx, readings(meter_value), now)
        tx = self._by_id[tx.id]
        if event_type == "Ended" and tx.stopped_at is None:
            await self._close(tx, stopped_at=at, meter_stop=None,
                              reason=transaction_info.get("stopped_reason") or "Local")
        else:
            self._store.update(self._by_id[tx.id], updated_at=now)
        return decision

    def record_event(self, charger_id: str, kind: str, payload: dict,
                     charger_time: str | None = None) -> None:
        self._store.record_event(charger_id, kind, self._clock(), parse_iso(charger_time),
                                 payload)

    # -- internals -------------------------------------------------------------------

    def _remember(self, tx: Transaction) -> None:
        self._by_id[tx.id] = tx
        if tx.charger_tx_id:
            self._by_key[(tx.charger_id, tx.charger_tx_id)] = tx.id
        if tx.active:
            self._active[(tx.charger_id, tx.connector_id)] = tx.id

    def _update(self, tx: Transaction) -> Transaction:
        self._by_id[tx.id] = tx
        return tx

    async def _find_16(self, charger_id: str, tx_number: int) -> Transaction | None:
        if tx_number <= 0:
            return None
        tx = self._by_id.get(tx_number) or await self._store.get(tx_number)
        if tx is None or tx.charger_id != charger_id:
            return None
        self._remember(tx)
        return tx

    async def _find_201(self, charger_id: str, key: str) -> Transaction | None:
        if not key:
            return None
        tx_id = self._by_key.get((charger_id, key))
        if tx_id is not None:
            return self._by_id[tx_id]
        tx = await self._store.find(charger_id, key)
        if tx is not None:
            self._remember(tx)
        return tx

    async def _orphan(self, charger_id: str, key: str, stopped: datetime, meter_stop: Any,
                      reason: str, now: datetime, id_token: str,
                      connector_id: int = 0) -> Transaction:
        existing = self._by_key.get((charger_id, key))
        if existing is not None:
            return self._by_id[existing]
        found = await self._store.find(charger_id, key)
        if found is not None:
            self._remember(found)
            return found
        log.warning("%s: stop for a transaction never seen (%s); kept as an orphan for review",
                    charger_id, key, extra={"event": "orphan_stop", "charger_id": charger_id})
        meter = to_number(meter_stop)
        tx = Transaction(id=0, charger_id=charger_id, connector_id=connector_id,
                         charger_tx_id=key, id_token=id_token, started_at=None,
                         stopped_at=stopped, meter_stop_wh=meter, stop_reason=reason,
                         orphan=True)
        tx = replace(tx, id=await self._store.insert(tx, received_at=now))
        self._remember(tx)
        self._bus.publish(TransactionEnded(at=now, charger_id=charger_id,
                                           connector_id=connector_id, transaction_id=tx.id,
                                           energy_wh=None, reason=reason, orphan=True))
        return tx

    def _attach(self, tx: Transaction | None, items: list[Reading], now: datetime, *,
                charger_id: str = "", connector_id: int = 0) -> None:
        if not items:
            return
        charger_id = tx.charger_id if tx else charger_id
        connector_id = tx.connector_id if tx and tx.connector_id else connector_id
        samples = [
            MeterSample(
                charger_id=charger_id, connector_id=connector_id,
                transaction_id=tx.id if tx else None, at=r.at or now, received_at=now,
                energy_wh=r.energy_wh, power_w=r.power_w, current_a=r.current_a,
                voltage_v=r.voltage_v, soc_pct=r.soc_pct, context=r.context,
                clock_flagged=not clock_is_plausible(r.at, now),
            )
            for r in items
        ]
        self._store.add_samples(samples)
        registers = [r.energy_wh for r in items if r.energy_wh is not None]
        if tx is not None and registers:
            if tx.meter_start_wh is None:
                tx = self._update(replace(tx, meter_start_wh=registers[0]))
            energy = session_energy_wh(tx.meter_start_wh, registers[-1])
            tx = self._update(replace(tx, energy_wh=energy))
        if tx is not None and not tx.active:
            return  # late values for a closed session: stored, not live
        last = items[-1]
        live = LiveMeter(
            transaction_id=tx.id if tx else None,
            power_w=next((r.power_w for r in reversed(items) if r.power_w is not None), None),
            energy_wh=tx.energy_wh if tx else None,
            soc_pct=next((r.soc_pct for r in reversed(items) if r.soc_pct is not None), None),
            at=last.at or now,
        )
        self._live[(charger_id, connector_id)] = live
        self._bus.publish(MeterUpdated(at=now, charger_id=charger_id, connector_id=connector_id,
                                       transaction_id=live.transaction_id, power_w=live.power_w,
                                       energy_wh=live.energy_wh, soc_pct=live.soc_pct))

    async def _close(self, tx: Transaction, *, stopped_at: datetime, meter_stop: float | None,
                     reason: str) -> None:
        now = self._clock()
        energy = tx.energy_wh
        if meter_stop is not None:
            energy = session_energy_wh(tx.meter_start_wh, meter_stop)
        tx = self._update(replace(tx, stopped_at=stopped_at, meter_stop_wh=meter_stop,
                                  energy_wh=energy, stop_reason=reason))
        if self._active.get((tx.charger_id, tx.connector_id)) == tx.id:
            del self._active[(tx.charger_id, tx.connector_id)]
            self._live.pop((tx.charger_id, tx.connector_id), None)
        self._store.update(tx, updated_at=now)
        self._bus.publish(TransactionEnded(at=now, charger_id=tx.charger_id,
                                           connector_id=tx.connector_id, transaction_id=tx.id,
                                           energy_wh=energy, reason=reason))
