"""Ports: what the services need from the outside world, as small Protocols."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from app.domain.charging import ChargerIdentity, ChargerState, ConnectorStatus, RegistrationStatus
from app.domain.site import OcppVersion

Clock = Callable[[], datetime]


class ChargerStore(Protocol):
    """Persistence of charger facts. Methods queue the write and return at once."""

    def record_connection(
        self, charger_id: str, version: OcppVersion, remote: str, at: datetime
    ) -> None: ...

    def record_boot(
        self,
        charger_id: str,
        identity: ChargerIdentity,
        registration: RegistrationStatus,
        at: datetime,
    ) -> None: ...

    def record_seen(self, charger_id: str, at: datetime) -> None: ...

    def record_status(
        self,
        charger_id: str,
        connector_id: int,
        status: ConnectorStatus,
        error_code: str,
        at: datetime,
        charger_time: datetime | None,
    ) -> None: ...

    def record_disconnect(self, charger_id: str, at: datetime) -> None: ...


class KnownChargers(Protocol):
    def load_chargers(self) -> list[ChargerState]: ...


class Barrier(Protocol):
    """A boom barrier. Open is a pulse: the barrier closes by itself."""

    @property
    def state(self) -> str: ...

    async def open(self, reason: str) -> None: ...
