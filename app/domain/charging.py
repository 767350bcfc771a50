"""Live state of chargers and connectors, one model for OCPP 1.6 and 2.0.1."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from app.domain.site import OcppVersion


class ConnectorStatus(StrEnum):
    """What the map shows for a connector. 1.6 names; 2.0.1 folds into them."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    # 2.0.1 StatusNotification says only "Occupied"; TransactionEvent refines it.
    OCCUPIED = "Occupied"
    # Not a protocol state: the charger is not connected (or went silent).
    OFFLINE = "Offline"
    UNKNOWN = "Unknown"


class RegistrationStatus(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


_V16 = {s.value.lower(): s for s in ConnectorStatus if s not in (
    ConnectorStatus.OCCUPIED, ConnectorStatus.OFFLINE, ConnectorStatus.UNKNOWN)}

_V201_CONNECTOR = {
    "available": ConnectorStatus.AVAILABLE,
    "occupied": ConnectorStatus.OCCUPIED,
    "reserved": ConnectorStatus.RESERVED,
    "unavailable": ConnectorStatus.UNAVAILABLE,
    "faulted": ConnectorStatus.FAULTED,
}

_V201_CHARGING_STATE = {
    "evconnected": ConnectorStatus.PREPARING,
    "charging": ConnectorStatus.CHARGING,
    "suspendedev": ConnectorStatus.SUSPENDED_EV,
    "suspendedevse": ConnectorStatus.SUSPENDED_EVSE,
    # Idle: the transaction runs but the cable is out or nothing flows yet.
    "idle": ConnectorStatus.OCCUPIED,
}


def status_from_v16(value: str) -> ConnectorStatus:
    """Case-insensitive: some chargers send 'CHARGING' or 'charging'."""
    return _V16.get(str(value).strip().lower(), ConnectorStatus.UNKNOWN)


def status_from_v201(connector_status: str) -> ConnectorStatus:
    return _V201_CONNECTOR.get(str(connector_status).strip().lower(), ConnectorStatus.UNKNOWN)


def status_from_v201_charging_state(charging_state: str) -> ConnectorStatus:
    return _V201_CHARGING_STATE.get(str(charging_state).strip().lower(), ConnectorStatus.UNKNOWN)


def is_occupied(status: ConnectorStatus) -> bool:
    return status in {
        ConnectorStatus.PREPARING,
        ConnectorStatus.CHARGING,
        ConnectorStatus.SUSPENDED_EV,
        ConnectorStatus.SUSPENDED_EVSE,
        ConnectorStatus.FINISHING,
        ConnectorStatus.OCCUPIED,
    }


@dataclass(frozen=True, slots=True)
class ConnectorState:
    connector_id: int
    status: ConnectorStatus = ConnectorStatus.UNKNOWN
    error_code: str = "NoError"
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChargerIdentity:
    vendor: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""


@dataclass(frozen=True, slots=True)
class ChargerState:
    id: str
    ocpp_version: OcppVersion | None = None
    online: bool = False
    registration: RegistrationStatus | None = None
    identity: ChargerIdentity = ChargerIdentity()
    last_seen: datetime | None = None
    remote: str = ""
    heartbeat_interval_s: int = 300
    # Connected but not talking for more than two heartbeat intervals.
    silent: bool = False
    # When the current connection opened: a state reported before it is history.
    connected_at: datetime | None = None
    # Connector 0 is the charger as a whole (1.6); EVSE-level states live in 1..n.
    connectors: dict[int, ConnectorState] = field(default_factory=dict)

    def connector(self, connector_id: int) -> ConnectorState:
        return self.connectors.get(connector_id, ConnectorState(connector_id))

    def shown_status(self, connector_id: int) -> ConnectorStatus:
        """The status the console shows: Offline wins over the last reported state."""
        if not self.online:
            return ConnectorStatus.OFFLINE
        return self.connector(connector_id).status

    def with_connector(self, state: ConnectorState) -> ChargerState:
        return replace(self, connectors={**self.connectors, state.connector_id: state})


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What the installer decided about a charger (kept in the chargers table)."""

    approved: bool = False
    password_hash: str | None = None
    lenient: bool = False
