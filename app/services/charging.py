"""Charger registry and protocol-neutral handling of what chargers report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from app.domain.charging import (
    ChargerIdentity,
    ChargerState,
    ConnectorState,
    ConnectorStatus,
    RegistrationStatus,
    is_occupied,
)
from app.domain.events import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    HeartbeatReceived,
)
from app.domain.site import OcppVersion, Site
from app.services.bus import EventBus
from app.services.ports import ChargerStore, Clock

log = logging.getLogger(__name__)


class UnknownChargerPolicy(StrEnum):
    ACCEPT = "accept"
    PENDING = "pending"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: RegistrationStatus
    interval_s: int
    current_time: datetime


class ChargingService:
    """One registry of chargers fed by both OCPP versions; publishes domain events."""

    def __init__(
        self,
        site: Site,
        store: ChargerStore,
        bus: EventBus,
        clock: Clock,
        *,
        unknown_policy: UnknownChargerPolicy = UnknownChargerPolicy.ACCEPT,
        heartbeat_interval_s: int = 60,
        known: list[ChargerState] | None = None,
    ) -> None:
        self._site = site
        self._store = store
        self._bus = bus
        self._clock = clock
        self.unknown_policy = unknown_policy
        self.heartbeat_interval_s = heartbeat_interval_s
        self._chargers: dict[str, ChargerState] = {}
        for cfg in site.chargers:
            self._chargers[cfg.id] = ChargerState(
                id=cfg.id,
                ocpp_version=cfg.ocpp_version,
                connectors={
                    n: ConnectorState(n) for n in range(1, cfg.connectors + 1)
                },
            )
        # Chargers remembered from earlier runs keep their identity, shown offline.
        for state in known or []:
            base = self._chargers.get(state.id, ChargerState(id=state.id))
            self._chargers[state.id] = replace(
                state,
                online=False,
                connectors={**base.connectors, **state.connectors},
            )

    # -- queries ---------------------------------------------------------------

    def chargers(self) -> list[ChargerState]:
        return sorted(self._chargers.values(), key=lambda c: c.id)

    def charger(self, charger_id: str) -> ChargerState | None:
        return self._chargers.get(charger_id)

    def online_count(self) -> int:
        return sum(1 for c in self._chargers.values() if c.online)

    def is_known(self, charger_id: str) -> bool:
        return self._site.charger(charger_id) is not None

    # -- what chargers report ----------------------------------------------------

    def connected(self, charger_id: str, version: OcppVersion, remote: str) -> None:
        now = self._clock()
        prev = self._chargers.get(charger_id, ChargerState(id=charger_id))
        self._chargers[charger_id] = replace(
            prev, online=True, ocpp_version=version, last_seen=now, remote=remote
        )
        self._store.record_connection(charger_id, version, remote, now)
        self._bus.publish(
            ChargerConnected(
                at=now, charger_id=charger_id, ocpp_version=version, remote=remote,
                known=self.is_known(charger_id),
            )
        )

    def boot(self, charger_id: str, identity: ChargerIdentity) -> BootDecision:
        now = self._clock()
        if self.is_known(charger_id) or self.unknown_policy is UnknownChargerPolicy.ACCEPT:
            status, reason = RegistrationStatus.ACCEPTED, ""
        elif self.unknown_policy is UnknownChargerPolicy.PENDING:
            status, reason = RegistrationStatus.PENDING, "unknown charger awaits approval"
        else:
            status, reason = RegistrationStatus.REJECTED, "unknown charger"
        prev = self._chargers.get(charger_id, ChargerState(id=charger_id))
        self._chargers[charger_id] = replace(
            prev, identity=identity, registration=status, last_seen=now,
            heartbeat_interval_s=self.heartbeat_interval_s,
        )
        self._store.record_boot(charger_id, identity, status, now)
        self._bus.publish(
            ChargerBooted(
                at=now, charger_id=charger_id, identity=identity, registration=status,
                reason=reason,
            )
        )
        return BootDecision(status, self.heartbeat_interval_s, now)

    def heartbeat(self, charger_id: str) -> datetime:
        now = self._seen(charger_id)
        self._bus.publish(HeartbeatReceived(at=now, charger_id=charger_id))
        return now

    def status(
        self,
        charger_id: str,
        connector_id: int,
        status: ConnectorStatus,
        error_code: str = "NoError",
        charger_time: datetime | None = None,
    ) -> None:
        now = self._seen(charger_id)
        state = self._chargers[charger_id]
        previous = state.connector(connector_id)
        if status is ConnectorStatus.OCCUPIED and is_occupied(previous.status):
            # 2.0.1 says only "Occupied"; keep the finer state TransactionEvent gave us.
            status = previous.status
        if previous.status == status and previous.error_code == error_code:
            return  # a repeated report changes nothing
        self._chargers[charger_id] = state.with_connector(
            ConnectorState(connector_id, status, error_code, now)
        )
        self._store.record_status(charger_id, connector_id, status, error_code, now, charger_time)
        self._bus.publish(
            ConnectorStatusChanged(
                at=now, charger_id=charger_id, connector_id=connector_id, status=status,
                previous=previous.status, error_code=error_code, charger_time=charger_time,
            )
        )

    def disconnected(self, charger_id: str, reason: str) -> None:
        now = self._clock()
        prev = self._chargers.get(charger_id)
        if prev is None or not prev.online:
            return
        self._chargers[charger_id] = replace(prev, online=False)
        self._store.record_disconnect(charger_id, now)
        self._bus.publish(ChargerDisconnected(at=now, charger_id=charger_id, reason=reason))

    def _seen(self, charger_id: str) -> datetime:
        now = self._clock()
        prev = self._chargers.get(charger_id, ChargerState(id=charger_id, online=True))
        self._chargers[charger_id] = replace(prev, last_seen=now)
        self._store.record_seen(charger_id, now)
        return now
