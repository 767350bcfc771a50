"""One log line per domain event, with the event's fields as structured extras."""

from __future__ import annotations

import logging
from dataclasses import asdict, is_dataclass

from app.domain import events as ev
from app.services.bus import EventBus

log = logging.getLogger("gatehouse.events")

_NAMES = {
    ev.ChargerConnected: "charger_connected",
    ev.ChargerDisconnected: "charger_disconnected",
    ev.ChargerBooted: "charger_booted",
    ev.ConnectorStatusChanged: "connector_status",
    ev.BarrierStateChanged: "barrier_state",
    ev.CameraHealthChanged: "camera_health",
}


def _describe(event: object) -> str:
    match event:
        case ev.ChargerBooted():
            who = " ".join(x for x in (event.identity.vendor, event.identity.model) if x)
            return f"charger {event.charger_id} booted ({who or 'unknown model'}): " \
                   f"{event.registration}"
        case ev.ConnectorStatusChanged():
            err = "" if event.error_code in ("NoError", "") else f" [{event.error_code}]"
            return f"{event.charger_id}/{event.connector_id}: {event.previous} -> " \
                   f"{event.status}{err}"
        case ev.BarrierStateChanged():
            return f"barrier {event.barrier_id}: {event.previous} -> {event.state}"
        case ev.CameraHealthChanged():
            return f"camera {event.camera_id} {'online' if event.online else 'OFFLINE'}" \
                   f"{': ' + event.detail if event.detail else ''}"
    return repr(event)


def _fields(event: object) -> dict:
    if not is_dataclass(event):
        return {}
    return {k: (str(v) if not isinstance(v, int | float | bool | type(None)) else v)
            for k, v in asdict(event).items()}


class EventLogger:
    """Connection events are logged by the OCPP server itself, with the remote address."""

    def __init__(self, bus: EventBus) -> None:
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        name = _NAMES.get(type(event))
        if name is None or name in {"charger_connected", "charger_disconnected"}:
            return
        log.info(_describe(event), extra={"event": name, **_fields(event)})

    def close(self) -> None:
        self._unsubscribe()
