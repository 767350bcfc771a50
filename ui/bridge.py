"""Core events -> Qt signals. The only place the UI listens to the event bus.

The bus dispatches synchronously on the asyncio loop thread, which under qasync is the
Qt main thread, so these signals are direct calls. Should an event ever be published
from another thread, Qt queues the signal to this object's (main) thread by itself.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from app.domain.events import (
    AccessChanged,
    AccessDecided,
    BarrierStateChanged,
    BillChanged,
    BindingChanged,
    CameraHealthChanged,
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargerNotice,
    ChargingFinished,
    ChargingResumed,
    ConnectorStatusChanged,
    GatePromptChanged,
    HeartbeatReceived,
    IdleEnded,
    MeterUpdated,
    ParkingSessionChanged,
    PlateRead,
    TransactionEnded,
    TransactionStarted,
    VehiclePresenceChanged,
    ViolationChanged,
)

_CHARGER_EVENTS = (ChargerConnected, ChargerDisconnected, ChargerBooted, HeartbeatReceived,
                   ChargerNotice)


class CoreBridge(QObject):
    """Re-emits domain events as Qt signals; `close()` stops listening.

    `source` is the Core facade or its EventBus (anything with `.bus` is taken as a Core).
    """

    chargerChanged = Signal(str)  # charger_id: connect, disconnect, boot, heartbeat, notice
    connectorChanged = Signal(str, int)  # charger_id, connector_id
    meterChanged = Signal(str, int)  # charger_id, connector_id: a live reading arrived
    transactionChanged = Signal(str, int)  # charger_id, connector_id: a session started/ended
    barrierChanged = Signal(str, str)  # barrier_id, state
    cameraChanged = Signal(str, bool)  # camera_id, online
    accessChanged = Signal(int)  # revision: the access data was reloaded (here, CLI, other console)
    accessDecided = Signal(object)  # AccessDecided: one credential decision at a gate/charger
    # The lanes: GatePromptChanged, ParkingSessionChanged (occupancy), VehiclePresenceChanged.
    gateEvent = Signal(object)
    plateRead = Signal(object)  # PlateRead: a plate read at a camera (lane or bay)
    bindingChanged = Signal(object)  # BindingChanged: a plate bound to / freed from a bay
    # ChargingFinished / ChargingResumed / IdleEnded: a car fully charged, idling, gone.
    idleChanged = Signal(object)
    billChanged = Signal(object)  # BillChanged: a stay's bill was recomputed, paid, waived
    violationChanged = Signal(object)  # ViolationChanged: recorded, waived or adjusted
    # Every event, for logs and lists. Shadows QObject.event() by name: PySide6 only
    # dispatches virtuals to Python methods, so Qt's own event handling is untouched.
    event = Signal(object)

    def __init__(self, source: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        bus = getattr(source, "bus", source)
        self._unsubscribe = bus.subscribe(self._on_event)

    def close(self) -> None:
        """Unsubscribe from the bus; safe to call twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, _CHARGER_EVENTS):
            self.chargerChanged.emit(ev.charger_id)
        elif isinstance(ev, ConnectorStatusChanged):
            self.connectorChanged.emit(ev.charger_id, ev.connector_id)
        elif isinstance(ev, MeterUpdated):
            self.meterChanged.emit(ev.charger_id, ev.connector_id)
        elif isinstance(ev, TransactionStarted | TransactionEnded):
            self.transactionChanged.emit(ev.charger_id, ev.connector_id)
        elif isinstance(ev, BarrierStateChanged):
            self.barrierChanged.emit(ev.barrier_id, ev.state)
        elif isinstance(ev, CameraHealthChanged):
            self.cameraChanged.emit(ev.camera_id, ev.online)
        elif isinstance(ev, AccessChanged):
            self.accessChanged.emit(ev.revision)
        elif isinstance(ev, AccessDecided):
            self.accessDecided.emit(ev)
        elif isinstance(ev, GatePromptChanged | ParkingSessionChanged | VehiclePresenceChanged):
            self.gateEvent.emit(ev)
        elif isinstance(ev, PlateRead):
            self.plateRead.emit(ev)
        elif isinstance(ev, BindingChanged):
            self.bindingChanged.emit(ev)
        elif isinstance(ev, ChargingFinished | ChargingResumed | IdleEnded):
            self.idleChanged.emit(ev)
        elif isinstance(ev, BillChanged):
            self.billChanged.emit(ev)
        elif isinstance(ev, ViolationChanged):
            self.violationChanged.emit(ev)
        self.event.emit(ev)
