"""Charging finished, and the idling that follows.

"Finished" comes from the protocol — the connector reports SuspendedEV or Finishing, or
the transaction ends — or from the meter: energy that stopped rising for `stall_min`
while the charger still says Charging. From then the car idles on the bay: the grace
period, then idle fees (billing). A car that takes energy again was only pausing
(ChargingResumed). The idling ends when the connector is free (IdleEnded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.charging import ConnectorStatus as S
from app.domain.events import (
    ChargingFinished,
    ChargingResumed,
    ConnectorStatusChanged,
    IdleEnded,
    MeterUpdated,
    TransactionEnded,
    TransactionStarted,
)
from app.domain.transactions import clock_is_plausible
from app.services.bus import EventBus
from app.services.ports import Clock

log = logging.getLogger(__name__)

RISE_WH = 10.0  # less than this in `stall_min` is "not rising" (meter noise, rounding)
FREE = {S.AVAILABLE, S.UNAVAILABLE, S.FAULTED, S.OFFLINE}


@dataclass(slots=True)
class _Watch:
    transaction_id: int | None
    energy_wh: float | None = None
    rose_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str = ""
    charging: bool = False


class IdleWatcher:
    def __init__(self, bus: EventBus, clock: Clock, *, stall_min: float = 10.0) -> None:
        self._bus = bus
        self._clock = clock
        self.stall = timedelta(minutes=stall_min)
        self._watch: dict[tuple[str, int], _Watch] = {}
        self._unsubscribe = [
            bus.subscribe(self._on_started, TransactionStarted),
            bus.subscribe(self._on_status, ConnectorStatusChanged),
            bus.subscribe(self._on_meter, MeterUpdated),
            bus.subscribe(self._on_ended, TransactionEnded),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # -- what the map and the bill ask --------------------------------------------------

    def idle_since(self, charger_id: str, connector_id: int) -> datetime | None:
        watch = self._watch.get((charger_id, connector_id))
        return watch.finished_at if watch is not None else None

    def finished_reason(self, charger_id: str, connector_id: int) -> str:
        watch = self._watch.get((charger_id, connector_id))
        return watch.reason if watch is not None and watch.finished_at else ""

    # -- events -------------------------------------------------------------------------

    def _on_started(self, event: TransactionStarted) -> None:
        self._watch[(event.charger_id, event.connector_id)] = _Watch(event.transaction_id)

    def _on_status(self, event: ConnectorStatusChanged) -> None:
        key = (event.charger_id, event.connector_id)
        watch = self._watch.get(key)
        if event.status in FREE:
            self._watch.pop(key, None)  # first: listeners of IdleEnded see it gone
            if watch is not None and watch.finished_at is not None:
                idle = (event.at - watch.finished_at).total_seconds() / 60
                self._bus.publish(IdleEnded(at=event.at, charger_id=key[0],
                                            connector_id=key[1],
                                            transaction_id=watch.transaction_id,
                                            idle_min=round(max(idle, 0.0), 1)))
            return
        if watch is None:
            return
        if event.status in (S.SUSPENDED_EV, S.FINISHING):
            # A status from the charger's offline queue arrives late: its own time says
            # when the car stopped taking energy (when that clock is believable).
            at = event.at
            if (event.charger_time is not None and event.charger_time <= event.at
                    and clock_is_plausible(event.charger_time, event.at)):
                at = event.charger_time
            self._finish(key, watch, at, event.status.value)
        elif event.status is S.CHARGING:
            watch.charging = True
            watch.rose_at = event.at
            if watch.finished_at is not None and watch.reason == S.SUSPENDED_EV.value:
                self._resume(key, watch, event.at)

    def _on_meter(self, event: MeterUpdated) -> None:
        key = (event.charger_id, event.connector_id)
        watch = self._watch.get(key)
        if watch is None or event.energy_wh is None:
            return
        now = event.at
        if watch.energy_wh is None or event.energy_wh >= watch.energy_wh + RISE_WH:
            rising = watch.energy_wh is not None
            watch.energy_wh = event.energy_wh
            if rising:
                watch.rose_at = now
                if watch.finished_at is not None and watch.reason == "energy stopped rising":
                    self._resume(key, watch, now)
            elif watch.rose_at is None:
                watch.rose_at = now
            return
        if (watch.finished_at is None and watch.charging and watch.rose_at is not None
                and now - watch.rose_at >= self.stall):
            self._finish(key, watch, watch.rose_at, "energy stopped rising")

    def _on_ended(self, event: TransactionEnded) -> None:
        key = (event.charger_id, event.connector_id)
        watch = self._watch.get(key)
        if watch is not None and watch.finished_at is None:
            self._finish(key, watch, event.at, "transaction ended")

    # -- transitions -----------------------------------------------------------------------

    def _finish(self, key: tuple[str, int], watch: _Watch, at: datetime, reason: str) -> None:
        if watch.finished_at is not None:
            return
        watch.finished_at, watch.reason, watch.charging = at, reason, False
        log.info("%s/%s: charging finished (%s)", key[0], key[1], reason,
                 extra={"event": "charging_finished", "charger_id": key[0],
                        "connector_id": key[1], "reason": reason})
        self._bus.publish(ChargingFinished(at=at, charger_id=key[0], connector_id=key[1],
                                           transaction_id=watch.transaction_id,
                                           reason=reason))

    def _resume(self, key: tuple[str, int], watch: _Watch, at: datetime) -> None:
        watch.finished_at, watch.reason = None, ""
        self._bus.publish(ChargingResumed(at=at, charger_id=key[0], connector_id=key[1],
                                          transaction_id=watch.transaction_id))
