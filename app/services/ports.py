"""Ports: what the services need from the outside world, as small Protocols."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from app.domain.charging import (
    ChargerIdentity,
    ChargerState,
    ConnectorStatus,
    RegistrationStatus,
    RegistryEntry,
)
from app.domain.commands import CommandResult
from app.domain.site import OcppVersion
from app.domain.transactions import MeterSample, Transaction

Clock = Callable[[], datetime]
# audit(actor, action, target, details): every manual action and security event.
Audit = Callable[[str, str, str, dict], None]


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

    def record_registry(self, charger_id: str, entry: RegistryEntry) -> None: ...


class KnownChargers(Protocol):
    def load_chargers(self) -> list[ChargerState]: ...


class Barrier(Protocol):
    """A boom barrier. Open is a pulse: the barrier closes by itself."""

    @property
    def state(self) -> str: ...

    async def open(self, reason: str) -> None: ...


class ChargerGateway(Protocol):
    """Commands to chargers, one interface for OCPP 1.6 and 2.0.1.

    Every method returns a CommandResult (app.domain.commands), never None and never
    raises for charger-side problems: offline, timeout, CALLERROR and refusals are statuses.
    Connector ids are the domain's (1.6 connector id; 2.0.1 EVSE id). `transaction_id` is
    the charger's transaction id as a string (1.6: the integer id we issued).
    """

    async def remote_start(self, charger_id: str, connector_id: int | None,
                           id_token: str) -> CommandResult: ...
    async def remote_stop(self, charger_id: str, transaction_id: str) -> CommandResult: ...
    async def unlock_connector(self, charger_id: str, connector_id: int) -> CommandResult: ...
    async def reset(self, charger_id: str, hard: bool = False) -> CommandResult: ...
    async def change_availability(self, charger_id: str, connector_id: int,
                                  available: bool) -> CommandResult: ...
    # 1.6 keys ("HeartbeatInterval"); on 2.0.1 a key is "Component.Variable" or a known
    # 1.6 name mapped to its 2.0.1 component/variable.
    async def get_configuration(self, charger_id: str,
                                keys: list[str] | None = None) -> CommandResult: ...
    async def change_configuration(self, charger_id: str, key: str,
                                   value: str) -> CommandResult: ...
    async def get_variables(self, charger_id: str,
                            variables: list[tuple[str, str]]) -> CommandResult: ...
    async def set_variables(self, charger_id: str,
                            values: list[tuple[str, str, str]]) -> CommandResult: ...
    async def get_base_report(self, charger_id: str,
                              report: str = "FullInventory") -> CommandResult: ...
    async def trigger_message(self, charger_id: str, message: str,
                              connector_id: int | None = None) -> CommandResult: ...
    async def clear_cache(self, charger_id: str) -> CommandResult: ...
    async def send_local_list(self, charger_id: str, version: int,
                              entries: list[tuple[str, str]], full: bool) -> CommandResult: ...
    async def get_local_list_version(self, charger_id: str) -> CommandResult: ...
    async def set_charging_profile(self, charger_id: str, connector_id: int,
                                   limit_w: float, profile_id: int = 1) -> CommandResult: ...
    async def clear_charging_profile(self, charger_id: str,
                                     profile_id: int | None = None) -> CommandResult: ...
    async def data_transfer(self, charger_id: str, vendor_id: str, message_id: str = "",
                            data: str = "") -> CommandResult: ...
    async def get_diagnostics(self, charger_id: str, location: str) -> CommandResult: ...
    async def update_firmware(self, charger_id: str, location: str) -> CommandResult: ...


class TransactionStore(Protocol):
    """Transactions and meter samples. `insert`/`get`/`find`/`load_open` are awaited (they
    give ids and answers); `update`, `add_samples`, `record_event` queue and return."""

    async def insert(self, tx: Transaction, received_at: datetime) -> int: ...
    def update(self, tx: Transaction, updated_at: datetime) -> None: ...
    def add_samples(self, samples: list[MeterSample]) -> None: ...
    async def get(self, transaction_id: int) -> Transaction | None: ...
    async def find(self, charger_id: str, charger_tx_id: str) -> Transaction | None: ...
    async def load_open(self) -> list[Transaction]: ...
    def record_event(self, charger_id: str, kind: str, at: datetime,
                     charger_time: datetime | None, payload: dict) -> None: ...
