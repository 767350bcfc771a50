"""The one authorization service: gate and charger ask it, and get the same answer.

It keeps the access data in memory (an AccessIndex, rebuilt on every change) so a decision
is a few dict lookups on the loop thread, records every decision (queued to the writer),
and reloads when the access revision in the database moves: a change made here, in the
CLI or in another console reaches the decisions within one poll interval.

Revocation: after every reload, running charging sessions whose credential was just
suspended, revoked or blocklisted are checked. The reason decides (AccessPolicy): an
"immediate" reason (lost, stolen, fraud; every blocklisting) stops the session at once
with a RemoteStop; a "finish" reason lets it run and the next Authorize is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from app.domain.access import (
    AccessData,
    Account,
    BlockEntry,
    Credential,
    CredentialKind,
    CredentialStatus,
    Group,
    Permit,
    PermitStatus,
    RevokePolicy,
    plate_patterns_from,
    token_keys,
)
from app.domain.access_rules import (
    AccessIndex,
    AccessPolicy,
    AccessStatus,
    Decision,
    GateFacts,
    decide_charger,
    decide_gate,
)
from app.domain.events import AccessChanged, AccessDecided
from app.domain.site import Site
from app.domain.transactions import Transaction
from app.services.authorization import AuthDecision, AuthStatus
from app.services.bus import EventBus
from app.services.ports import Audit, Clock

log = logging.getLogger(__name__)

POLL_S = 2.0


class AccessStore(Protocol):
    """app.adapters.db.access_store.SqlAccessStore; a dict-backed fake in unit tests."""

    async def load(self) -> tuple[AccessData, dict[str, Any]]: ...  # data, stored policy
    async def revision(self) -> int: ...
    async def change(self, name: str, *args: Any) -> Any: ...  # an access_repo function
    def record_decision(self, row: dict[str, Any]) -> None: ...
    async def decisions(self, **query: Any) -> list[dict[str, Any]]: ...  # newest first


Stopper = Callable[[str, str, str], Awaitable[Any]]  # (actor, charger_id, charger tx id)


class AccessService:
    def __init__(self, site: Site, store: AccessStore, bus: EventBus, clock: Clock,
                 audit: Audit | Any, *, accept_unknown_tokens: bool = False) -> None:
        self._site = site
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit: Audit = getattr(audit, "audit", audit)
        self._accept_unknown = accept_unknown_tokens
        self.policy = AccessPolicy(accept_unknown_tokens=accept_unknown_tokens)
        self.index = AccessIndex(AccessData())
        self._running: Callable[[], Sequence[Transaction]] = list
        self._stopper: Stopper | None = None
        self._listeners: list[Callable[[], Awaitable[Any]]] = []
        self._poller: asyncio.Task | None = None
        self._stops: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()
        self._zone_of: dict[tuple[str, int], str] = {
            (b.charger_id, b.connector_id or 0): b.zone_id for b in site.bays if b.charger_id}

    # -- wiring -------------------------------------------------------------------------

    def attach_transactions(self, running: Callable[[], Sequence[Transaction]],
                            stopper: Stopper | None) -> None:
        """Running charging sessions (TransactionService.active) and how to stop one."""
        self._running = running
        self._stopper = stopper

    def on_change(self, listener: Callable[[], Awaitable[Any]]) -> None:
        """Called (awaited) after every reload, e.g. the local-list sync."""
        self._listeners.append(listener)

    @property
    def revision(self) -> int:
        return self.index.data.revision

    @property
    def data(self) -> AccessData:
        return self.index.data

    async def start(self, poll_s: float = POLL_S) -> None:
        await self.reload(enforce=False)
        self._poller = asyncio.create_task(self._poll(poll_s), name="access-revision-poll")

    async def stop(self) -> None:
        tasks = [*self._stops, *([self._poller] if self._poller is not None else [])]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None

    async def _poll(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if await self._store.revision() != self.revision:
                    await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be busy or gone for a moment
                log.warning("access revision check failed: %s", exc,
                            extra={"event": "access_poll_failed"})

    async def reload(self, *, enforce: bool = True) -> None:
        async with self._lock:
            old = self.index
            data, stored_policy = await self._store.load()
            self.policy = self._policy_from(stored_policy)
            # Indexing thousands of credentials takes a while: not on the loop thread.
            self.index = await asyncio.to_thread(AccessIndex, data)
            if data.revision != old.data.revision:
                log.info("access data revision %d: %d accounts, %d credentials",
                         data.revision, len(data.accounts), len(data.credentials),
                         extra={"event": "access_reloaded", "revision": data.revision})
            self._bus.publish(AccessChanged(at=self._clock(), revision=data.revision))
            if enforce:
                await self._enforce(old)
        for listener in list(self._listeners):
            try:
                await listener()
            except Exception:
                log.exception("access change listener failed")

    def _policy_from(self, stored: dict[str, Any]) -> AccessPolicy:
        from app.domain.access_rules import AntiPassback, VisitorPolicy

        policy = AccessPolicy(accept_unknown_tokens=self._accept_unknown)
        try:
            return replace(
                policy,
                charging_requires_permit=bool(stored.get("charging_requires_permit",
                                                         policy.charging_requires_permit)),
                visitor_policy=VisitorPolicy(stored.get("visitor_policy",
                                                        policy.visitor_policy)),
                anti_passback=AntiPassback(stored.get("anti_passback", policy.anti_passback)),
                revoke_policies={**policy.revoke_policies, **{
                    str(k).lower(): RevokePolicy(v)
                    for k, v in (stored.get("revoke_policies") or {}).items()}},
                plate_patterns=plate_patterns_from(stored.get("plate_patterns")),
            )
        except (ValueError, TypeError) as exc:
            log.warning("stored access policy ignored: %s", exc,
                        extra={"event": "access_policy_invalid"})
            return policy

    # -- decisions ------------------------------------------------------------------------

    def authorize(self, id_token: str, *, charger_id: str, connector_id: int | None = None,
                  token_type: str | None = None) -> AuthDecision:
        """For the OCPP handlers (Authorize, StartTransaction, TransactionEvent)."""
        decision = self.decide_charger(id_token, charger_id=charger_id,
                                       connector_id=connector_id, token_type=token_type)
        return AuthDecision(AuthStatus(decision.status.ocpp16), decision.reason)

    def decide_charger(self, token: str, *, charger_id: str, connector_id: int | None = None,
                       token_type: str | None = None, record: bool = True) -> Decision:
        now = self._clock()
        zone = self._zone_of.get((charger_id, connector_id or 0), "")
        if not zone and connector_id is None:
            zone = next((z for (c, _), z in self._zone_of.items() if c == charger_id), "")
        keys = set(token_keys(token))
        elsewhere = sum(
            1 for tx in self._running()
            if tx.charger_id != charger_id and keys.intersection(token_keys(tx.id_token)))
        decision = decide_charger(self.index, self.policy, token, token_type=token_type,
                                  zone_id=zone, running_elsewhere=elsewhere, now=now)
        if record:
            self._record("charger", charger_id, token_type or "", token, decision, now,
                         connector_id)
        return decision

    def decide_gate(self, kind: CredentialKind | None, value: str, facts: GateFacts, *,
                    lane_id: str) -> Decision:
        now = self._clock()
        decision = decide_gate(self.index, self.policy, kind, value, facts, now=now)
        self._record("gate", lane_id, kind.value if kind else "", value, decision, now, None)
        return decision

    def max_stay_min(self, account_id: int | None) -> int | None:
        account = self.index.accounts.get(account_id) if account_id is not None else None
        if account is None:
            group = self.index.groups.get("visitor")
            return group.max_stay_min if group else None
        return self.index.group_of(account).max_stay_min

    def _record(self, point: str, place: str, kind: str, value: str, decision: Decision,
                now: datetime, connector_id: int | None) -> None:
        cred, account = decision.credential, decision.account
        row = {"at": now, "point": point, "place": str(place)[:128],
               "connector_id": connector_id, "kind": (cred.kind.value if cred else kind)[:16],
               "value": str(value).strip()[:128],
               "account_id": account.id if account else None,
               "credential_id": cred.id if cred else None,
               "status": decision.status.value, "reason": decision.reason[:200],
               "violation": decision.violation[:200]}
        try:
            self._store.record_decision(row)
        except Exception:  # the decision stands even if its record could not be queued
            log.exception("decision not recorded")
        self._bus.publish(AccessDecided(
            at=now, point=point, place=place, kind=row["kind"], value=row["value"],
            status=decision.status.value, reason=decision.reason,
            account_id=row["account_id"], account_name=account.name if account else "",
            violation=decision.violation, connector_id=connector_id))

    def local_list_entries(self) -> dict[str, str]:
        """What every charger's local list should hold: each card/app credential with the
        status a charger would get from us now (1.6 statuses), blocklisted tokens Blocked.
        Runs on a worker thread (LocalListSync): it reads one snapshot of the index, which a
        reload replaces rather than changes."""
        now = self._clock()
        index, policy = self.index, self.policy
        entries: dict[str, str] = {}
        for cred in index.data.credentials:
            if cred.kind is CredentialKind.PLATE:
                continue
            decision = decide_charger(index, policy, cred.value, now=now)
            entries[cred.value] = decision.status.ocpp16
        for entry in index.data.blocklist:
            if entry.kind is not CredentialKind.PLATE and entry.in_force(now):
                entries[entry.value] = AccessStatus.BLOCKED.value
        return entries

    def token_type_of(self, token: str) -> str:
        """The 2.0.1 idToken type a local-list entry is sent with."""
        cred = self.index.find_token(token)
        return cred.kind.ocpp_token_type if cred is not None else "ISO14443"

    # -- revocation ---------------------------------------------------------------------

    async def _enforce(self, old: AccessIndex) -> None:
        """Stop running sessions that the change refuses, when its reason says immediate."""
        now = self._clock()
        for tx in list(self._running()):
            if not tx.id_token:
                continue
            zone = self._zone_of.get((tx.charger_id, tx.connector_id), "")
            before = decide_charger(old, self.policy, tx.id_token, zone_id=zone, now=now)
            after = decide_charger(self.index, self.policy, tx.id_token, zone_id=zone, now=now)
            if after.allowed or not before.allowed:
                continue
            policy, why = self._policy_for(tx.id_token, after, now)
            log.info("session %s on %s/%s: %s (%s)", tx.id, tx.charger_id, tx.connector_id,
                     after.reason, policy.value,
                     extra={"event": "access_revoked_session", "transaction_id": tx.id,
                            "charger_id": tx.charger_id, "policy": policy.value})
            if policy is RevokePolicy.IMMEDIATE and self._stopper is not None:
                # Not awaited here: a charger slow to answer must not hold up the reload.
                task = asyncio.get_running_loop().create_task(
                    self._stop_session(tx, why), name=f"revocation-stop-{tx.id}")
                self._stops.add(task)
                task.add_done_callback(self._stops.discard)

    async def _stop_session(self, tx: Transaction, why: str) -> None:
        assert self._stopper is not None
        try:
            result = await self._stopper(f"system:revocation ({why})", tx.charger_id,
                                         tx.charger_tx_id or str(tx.id))
        except Exception as exc:  # CommandService returns results; this is a safety net
            log.warning("remote stop of session %s after revocation failed: %s", tx.id, exc,
                        extra={"event": "access_revocation_stop_failed"})
            return
        log.info("remote stop of session %s after revocation: %s", tx.id, result,
                 extra={"event": "access_revocation_stop", "transaction_id": tx.id})

    def _policy_for(self, token: str, decision: Decision,
                    now: datetime) -> tuple[RevokePolicy, str]:
        if self.index.block_entry(None, token, now) is not None:
            return RevokePolicy.IMMEDIATE, "blocklisted"
        cred = decision.credential
        if cred is not None and cred.status is not CredentialStatus.ACTIVE:
            return self.policy.revoke_policy(cred.status_reason), cred.status_reason or "revoked"
        return RevokePolicy.FINISH, decision.reason

    # -- changes by staff (each audited, then reloaded) ----------------------------------

    async def _change(self, actor: str, action: str, target: str, details: dict,
                      name: str, *args: Any) -> Any:
        result = await self._store.change(name, *args)
        self._audit(actor, action, target, details)
        await self.reload()
        return result

    async def save_account(self, actor: str, account: Account) -> int:
        account_id, _ = await self._change(
            actor, "access_account_saved", f"account:{account.id or 'new'}",
            {"name": account.name, "group": account.group_id, "active": account.active,
             "kind": account.kind.value},
            "save_account", account, self._clock())
        return account_id

    async def delete_account(self, actor: str, account_id: int) -> None:
        await self._change(actor, "access_account_deleted", f"account:{account_id}", {},
                           "delete_account", account_id)

    async def add_credential(self, actor: str, account_id: int, kind: CredentialKind,
                             value: str, label: str = "") -> int:
        cred_id, _ = await self._change(
            actor, "access_credential_added", f"account:{account_id}",
            {"kind": kind.value, "value": value, "label": label},
            "add_credential", account_id, kind, value, label, self._clock())
        return cred_id

    async def set_credential_status(self, actor: str, credential_id: int,
                                    status: CredentialStatus, reason: str = "") -> None:
        if status is not CredentialStatus.ACTIVE and not reason.strip():
            raise ValueError(f"say why the credential is {status.value} "
                             f"(e.g. {', '.join(self.policy.revoke_policies)})")
        cred = next((c for c in self.index.data.credentials if c.id == credential_id), None)
        await self._change(
            actor, f"access_credential_{status.value}", f"credential:{credential_id}",
            {"reason": reason, "value": cred.value if cred else "",
             "policy": self.policy.revoke_policy(reason).value},
            "set_credential_status", credential_id, status, reason, self._clock())

    async def delete_credential(self, actor: str, credential_id: int) -> None:
        await self._change(actor, "access_credential_deleted", f"credential:{credential_id}",
                           {}, "delete_credential", credential_id)

    async def save_permit(self, actor: str, permit: Permit) -> int:
        permit_id, _ = await self._change(
            actor, "access_permit_saved", f"account:{permit.account_id}",
            {"permit": permit.id or "new", "from": permit.valid_from,
             "until": permit.valid_until, "status": permit.status.value,
             "zone": permit.zone_id},
            "save_permit", permit, self._clock())
        return permit_id

    async def set_permit_status(self, actor: str, permit_id: int,
                                status: PermitStatus) -> None:
        permit = next(p for p in self.index.data.permits if p.id == permit_id)
        await self.save_permit(actor, replace(permit, status=status))

    async def delete_permit(self, actor: str, permit_id: int) -> None:
        await self._change(actor, "access_permit_deleted", f"permit:{permit_id}", {},
                           "delete_permit", permit_id)

    async def add_block(self, actor: str, kind: CredentialKind, value: str, reason: str,
                        until: datetime | None = None) -> int:
        block_id, _ = await self._change(
            actor, "access_blocklisted", f"{kind.value}:{value}",
            {"reason": reason, "until": until},
            "add_block", kind, value, reason, until, actor, self._clock())
        return block_id

    async def remove_block(self, actor: str, block_id: int) -> None:
        entry = next((b for b in self.index.data.blocklist if b.id == block_id), None)
        await self._change(actor, "access_unblocked", f"block:{block_id}",
                           {"value": entry.value if entry else ""}, "remove_block", block_id)

    async def save_group(self, actor: str, group: Group) -> None:
        await self._change(actor, "access_group_saved", f"group:{group.id}",
                           {"name": group.name, "zones": list(group.zones),
                            "max_stay_min": group.max_stay_min,
                            "charging_allowed": group.charging_allowed,
                            "max_vehicles": group.max_vehicles, "tariff": group.tariff},
                           "save_group", group)

    async def save_policy(self, actor: str, **changes: Any) -> None:
        """Site access settings: charging_requires_permit, visitor_policy, anti_passback,
        revoke_policies, plate_patterns ({country: regex})."""
        allowed = {"charging_requires_permit", "visitor_policy", "anti_passback",
                   "revoke_policies", "plate_patterns"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown access settings: {', '.join(sorted(unknown))}")
        if "plate_patterns" in changes:
            plate_patterns_from(changes["plate_patterns"])  # refuse a bad regex now
        await self._change(actor, "access_policy_saved", "site", dict(changes),
                           "save_policy", changes)

    # -- lookups for the screens ---------------------------------------------------------

    async def recent_decisions(self, limit: int = 500) -> list[AccessDecided]:
        """The last decisions from the database (newest first), as the live events are:
        a console opened later shows what happened before it."""
        rows = await self._store.decisions(limit=limit)
        out = []
        for r in rows:
            account = self.index.accounts.get(r["account_id"]) if r["account_id"] else None
            out.append(AccessDecided(
                at=r["at"], point=r["point"], place=r["place"], kind=r["kind"],
                value=r["value"], status=r["status"], reason=r["reason"],
                account_id=r["account_id"], account_name=account.name if account else "",
                violation=r["violation"], connector_id=r["connector_id"]))
        return out

    def account(self, account_id: int) -> Account | None:
        return self.index.accounts.get(account_id)

    def credentials_of(self, account_id: int) -> list[Credential]:
        return self.index.credentials_of(account_id)

    def permits_of(self, account_id: int) -> list[Permit]:
        return list(self.index.permits.get(account_id, ()))

    def blocklist(self) -> tuple[BlockEntry, ...]:
        return self.index.data.blocklist

    def search(self, text: str) -> list[Account]:
        """Accounts whose name, e-mail, phone or any credential contains the text
        (credentials compared normalized, so 'gx 512' finds GX512K)."""
        needle = text.strip().lower()
        if not needle:
            return list(self.index.data.accounts)
        compact = "".join(ch for ch in needle if ch.isalnum())
        hits: set[int] = set()
        for cred in self.index.data.credentials:
            if compact and compact in cred.value.lower():
                hits.add(cred.account_id)
        return [a for a in self.index.data.accounts
                if a.id in hits or needle in a.name.lower() or needle in a.email.lower()
                or (needle in a.phone.lower())]
