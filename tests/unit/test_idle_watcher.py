"""Charging finished — from the protocol or the meter — and the idling after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from app.services.bus import EventBus
from app.services.idle import IdleWatcher

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.events: list = []
        self.bus.subscribe(self.events.append)
        self.watcher = IdleWatcher(self.bus, lambda: T0, stall_min=10)

    def at(self, minutes: float) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def start(self, m: float = 0) -> None:
        self.bus.publish(TransactionStarted(at=self.at(m), charger_id="CP-1", connector_id=1,
                                            transaction_id=7, id_token="04A1"))

    def status(self, m: float, status: S, previous: S = S.CHARGING) -> None:
        self.bus.publish(ConnectorStatusChanged(at=self.at(m), charger_id="CP-1",
                                                connector_id=1, status=status,
                                                previous=previous))

    def meter(self, m: float, wh: float) -> None:
        self.bus.publish(MeterUpdated(at=self.at(m), charger_id="CP-1", connector_id=1,
                                      transaction_id=7, power_w=None, energy_wh=wh))

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_suspended_ev_is_finished_and_leaving_ends_the_idling():
    w = World()
    w.start()
    w.status(1, S.CHARGING, S.PREPARING)
    w.status(95, S.SUSPENDED_EV)
    [done] = w.of(ChargingFinished)
    assert (done.reason, done.at, done.transaction_id) == ("SuspendedEV", w.at(95), 7)
    assert w.watcher.idle_since("CP-1", 1) == w.at(95)
    w.bus.publish(TransactionEnded(at=w.at(130), charger_id="CP-1", connector_id=1,
                                   transaction_id=7, energy_wh=30000, reason="EVDisconnected"))
    assert len(w.of(ChargingFinished)) == 1  # once per session
    w.status(131, S.FINISHING, S.SUSPENDED_EV)
    w.status(133, S.AVAILABLE, S.FINISHING)
    [left] = w.of(IdleEnded)
    assert left.idle_min == 38.0 and w.watcher.idle_since("CP-1", 1) is None


def test_a_pause_that_resumes_is_not_the_end():
    w = World()
    w.start()
    w.status(1, S.CHARGING, S.PREPARING)
    w.status(20, S.SUSPENDED_EV)
    w.status(24, S.CHARGING, S.SUSPENDED_EV)
    assert len(w.of(ChargingFinished)) == 1 and len(w.of(ChargingResumed)) == 1
    assert w.watcher.idle_since("CP-1", 1) is None


def test_energy_that_stopped_rising_while_the_charger_says_charging():
    w = World()
    w.start()
    w.status(1, S.CHARGING, S.PREPARING)
    for m, wh in ((2, 0), (30, 5000), (40, 9000), (45, 9004), (49, 9006)):
        w.meter(m, wh)
    assert w.of(ChargingFinished) == []  # 9 min without a rise: not yet
    w.meter(51, 9006)  # 11 min: it stopped at the last rise
    [done] = w.of(ChargingFinished)
    assert done.reason == "energy stopped rising" and done.at == w.at(40)
    w.meter(58, 9500)  # it takes energy again
    assert len(w.of(ChargingResumed)) == 1


def test_a_transaction_that_ends_while_charging_finishes_there():
    w = World()
    w.start()
    w.status(1, S.CHARGING, S.PREPARING)
    w.bus.publish(TransactionEnded(at=w.at(60), charger_id="CP-1", connector_id=1,
                                   transaction_id=7, energy_wh=20000, reason="Remote"))
    [done] = w.of(ChargingFinished)
    assert done.reason == "transaction ended"


def test_a_late_status_uses_the_chargers_own_time_when_believable():
    w = World()
    w.start()
    w.status(1, S.CHARGING, S.PREPARING)
    w.bus.publish(ConnectorStatusChanged(at=w.at(90), charger_id="CP-1", connector_id=1,
                                         status=S.SUSPENDED_EV, previous=S.CHARGING,
                                         charger_time=w.at(60)))
    [done] = w.of(ChargingFinished)
    assert done.at == w.at(60)  # queued while offline: it stopped at 60, not 90
