"""Charger registry and protocol-neutral handling of what chargers report."""

from __future__ import annotations

import hashlib
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
    RegistryEntry,
    is_occupied,
)
from app.domain.events import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargerNotice,
    ConnectorStatusChanged,
    HeartbeatReceived,
)
from app.domain.site import OcppVersion, Site
from app.services.bus import EventBus
from app.services.passwords import hash_password, verify_password
from app.services.ports import Audit, ChargerStore, Clock

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
        registry: dict[str, RegistryEntry] | None = None,
        require_password: bool = False,
        audit: Audit | None = None,
    ) -> None:
        self._site = site
        self._store = store
        self._bus = bus
        self._clock = clock
        self.unknown_policy = unknown_policy
        self.heartbeat_interval_s = heartbeat_interval_s
        # Security profile 1/2: every charger must present its password.
        self.require_password = require_password
        self._registry: dict[str, RegistryEntry] = dict(registry or {})
        self._audit = audit
        # sha256 of the last password that verified, per charger: a reconnect storm must
        # not cost a PBKDF2 each.
        self._verified: dict[str, bytes] = {}
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
        """Configured in the site, or approved by an installer (or by the accept policy)."""
        entry = self._registry.get(charger_id)
        return self._site.charger(charger_id) is not None or bool(entry and entry.approved)

    def is_lenient(self, charger_id: str) -> bool:
        entry = self._registry.get(charger_id)
        return bool(entry and entry.lenient)

    def admits(self, charger_id: str) -> bool:
        """May this id open a connection at all? (reject policy: only known ids)."""
        return self.is_known(charger_id) or self.unknown_policy is not UnknownChargerPolicy.REJECT

    def password_required(self, charger_id: str) -> bool:
        entry = self._registry.get(charger_id)
        return self.require_password or bool(entry and entry.password_hash)

    def check_password(self, charger_id: str, password: str | None, remote: str) -> bool:
        entry = self._registry.get(charger_id)
        stored = entry.password_hash if entry else None
        fingerprint = hashlib.sha256((password or "").encode()).digest()
        ok = False
        if stored and password is not None:
            ok = self._verified.get(charger_id) == fingerprint or verify_password(password,
                                                                                   stored)
        if ok:
            self._verified[charger_id] = fingerprint
            return True
        reason = "no password sent" if password is None else (
            "no password set for this charger" if not stored else "wrong password")
        log.warning("%s: connection refused from %s: %s", charger_id, remote, reason,
                    extra={"event": "charger_auth_failed", "charger_id": charger_id,
                           "remote": remote, "reason": reason})
        if self._audit is not None:
            self._audit("charger:" + charger_id, "charger_login_failed", charger_id,
                        {"remote": remote, "reason": reason})
        self.notice(charger_id, "login_failed", f"{reason} (from {remote})")
        return False

    def set_password(self, charger_id: str, password: str | None, actor: str) -> None:
        entry = self._registry.get(charger_id, RegistryEntry())
        hashed = hash_password(password) if password else None
        self._registry[charger_id] = replace(entry, password_hash=hashed)
        self._verified.pop(charger_id, None)
        self._store.record_registry(charger_id, self._registry[charger_id])
        if self._audit is not None:
            self._audit(actor, "charger_password_set" if password else "charger_password_cleared",
                        charger_id, {})

    def set_lenient(self, charger_id: str, lenient: bool, actor: str) -> None:
        entry = self._registry.get(charger_id, RegistryEntry())
        self._registry[charger_id] = replace(entry, lenient=lenient)
        self._store.record_registry(charger_id, self._registry[charger_id])
        if self._audit is not None:
            self._audit(actor, "charger_lenient", charger_id, {"lenient": lenient})

    def approve(self, charger_id: str, actor: str) -> None:
        """An installer accepts a charger that connected on its own (Pending policy)."""
        entry = self._registry.get(charger_id, RegistryEntry())
        self._registry[charger_id] = replace(entry, approved=True)
        self._store.record_registry(charger_id, self._registry[charger_id])
        if self._audit is not None:
            self._audit(actor, "charger_approved", charger_id, {})
        log.info("charger %s approved by %s", charger_id, actor,
                 extra={"event": "charger_approved", "charger_id": charger_id, "actor": actor})
        state = self._chargers.get(charger_id)
        if state is not None:
            # Effective at its next BootNotification; the console triggers one.
            self._bus.publish(ChargerNotice(at=self._clock(), charger_id=charger_id,
                                            kind="approved", detail=f"approved by {actor}"))

    # -- what chargers report ----------------------------------------------------

    def connected(self, charger_id: str, version: OcppVersion, remote: str) -> None:
        now = self._clock()
        prev = self._chargers.get(charger_id, ChargerState(id=charger_id))
        self._chargers[charger_id] = replace(
            prev, online=True, silent=False, ocpp_version=version, last_seen=now, remote=remote,
            connected_at=now,
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
        if self.is_known(charger_id):
            status, reason = RegistrationStatus.ACCEPTED, ""
        elif self.unknown_policy is UnknownChargerPolicy.ACCEPT:
            status, reason = RegistrationStatus.ACCEPTED, "unknown charger accepted by policy"
            entry = self._registry.get(charger_id, RegistryEntry())
            self._registry[charger_id] = replace(entry, approved=True)
            self._store.record_registry(charger_id, self._registry[charger_id])
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
        # A state last reported before this connection opened is history: reported again,
        # it starts a new "since" (the charger was offline in between).
        current = previous.since is not None and (
            state.connected_at is None or previous.since >= state.connected_at)
        if previous.status == status and previous.error_code == error_code and current:
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

    def touch(self, charger_id: str) -> None:
        """Any message from a charger proves it is alive."""
        self._seen(charger_id)

    def notice(self, charger_id: str, kind: str, detail: str) -> None:
        self._bus.publish(ChargerNotice(at=self._clock(), charger_id=charger_id, kind=kind,
                                        detail=detail))

    def check_silence(self) -> list[str]:
        """Connected chargers silent for more than two heartbeat intervals go offline.

        The link may still be open (a hung charger keeps answering pings); what the
        attendant needs to know is that it stopped talking. A message brings it back.
        """
        now = self._clock()
        silent = []
        for state in list(self._chargers.values()):
            if not state.online or state.last_seen is None:
                continue
            if (now - state.last_seen).total_seconds() > 2 * state.heartbeat_interval_s:
                silent.append(state.id)
                self._chargers[state.id] = replace(state, online=False, silent=True)
                self._store.record_disconnect(state.id, now)
                self._bus.publish(ChargerDisconnected(
                    at=now, charger_id=state.id,
                    reason=f"silent for {int((now - state.last_seen).total_seconds())} s"))
        return silent

    def _seen(self, charger_id: str) -> datetime:
        now = self._clock()
        prev = self._chargers.get(charger_id, ChargerState(id=charger_id, online=True))
        self._chargers[charger_id] = replace(prev, last_seen=now, online=True, silent=False)
        self._store.record_seen(charger_id, now)
        if prev.silent:
            self._bus.publish(ChargerConnected(
                at=now, charger_id=charger_id, ocpp_version=prev.ocpp_version or OcppVersion.V16,
                remote=prev.remote, known=self.is_known(charger_id)))
        return now
