"""OCPP local authorization lists: the access decisions, copied onto every charger.

A charger with a local list lets known cards charge while the link to the console is
down. This service keeps each connected charger's list equal to the desired one
(SendLocalList / GetLocalListVersion, OCPP 1.6 and 2.0.1 alike, through the gateway).

Wiring (app.bootstrap; `access` is whatever gives token -> OCPP status)::

    sync = LocalListSync(core.gateway, SqlLocalListStore(writer), access.local_list,
                         utc_now, bus=bus)          # bus=...: attach(bus) at once
    await sync.load()           # confirmed versions from local_list_state
    core.add_part("local-lists", sync.publish, sync.stop)   # after "ocpp-server"
    # then `await sync.publish()` after every access change; with a bus that is done
    # for you on AccessChanged (a burst of changes makes one publish).

attach(bus) follows ChargerConnected / ChargerBooted / ChargerDisconnected: a charger
accepted at boot (or an accepted charger reconnecting) gets `check()` a moment later.

Versions (kept consistent with the chargers' own rule, app.sim.local_list):

- The service keeps the lists it distributed, by version (the last few). `publish()`
  makes version N+1 (see chunking) from `entries()` if it differs from version N.
- A charger whose confirmed version is a list we still have gets a Differential update:
  changed and added tokens with their status, removed tokens without one. Anything else
  (unknown version, too old, a refused differential) gets the Full list.
- Chunking (at most `max_per_message` items per SendLocalList): a differential from
  version v to N is split into exactly N - v messages with versions v+1 .. N (a
  differential must be the charger's version + 1). A Full list of k chunks is sent as a
  Full message with version N-k+1 followed by k-1 Differential messages (only additions)
  with versions N-k+2 .. N, so every charger ends on version N whichever way it got
  there. Hence a publish may advance the version by more than 1: by as many messages as
  its differential needs, and never below the chunk count of the full list.
- A charger's list is trusted only when the charger reports the version we recorded for
  it (0 is what a charger with an empty list reports). A partial or uncertain update
  (timeout, failure after the first chunk) forgets the charger's version: the next sync
  sends the Full list.
- Restart: the distributed lists are in memory only. `load()` starts at the highest
  stored version with no list, so the first publish (or check) makes version max+k and
  every charger gets a Full list once. Simplest correct; one Full per charger per start.
- NotSupported (GetLocalListVersion -1 / NotImplemented, SendLocalList NotSupported):
  stored as version -1 and the charger is skipped from then on (`check(force=True)`
  asks again, e.g. after a firmware update).

Tokens longer than the protocol allows (1.6 idTag 20, 2.0.1 idToken 36 characters) are
left out of that charger's list (one such token would make every message invalid);
the count shows in the log line and in `status()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.domain.charging import RegistrationStatus
from app.domain.commands import CommandResult, CommandStatus
from app.domain.events import AccessChanged, ChargerBooted, ChargerConnected, ChargerDisconnected
from app.domain.site import OcppVersion
from app.services.ports import ChargerGateway, Clock

log = logging.getLogger(__name__)

MAX_PER_MESSAGE = 250  # SendLocalListMaxLength (1.6) / ItemsPerMessageSendLocalList (2.0.1)
NO_LOCAL_LIST = -1  # the stored version of a charger without a local list
_TOKEN_MAX = {OcppVersion.V16: 20, OcppVersion.V201: 36}

Entries = dict[str, str]
# (version, full, [(token, status or None to remove)])
Message = tuple[int, bool, list[tuple[str, str | None]]]


class LocalListStore(Protocol):
    """Per-charger confirmed versions (app.adapters.db.local_list_repo)."""

    async def load_states(self) -> dict[str, tuple[int, datetime | None, int]]: ...

    def save_state(self, charger_id: str, version: int, synced_at: datetime | None,
                   entries: int) -> None: ...


class Bus(Protocol):
    def subscribe(self, handler: Callable[[Any], None],
                  event_type: type | None = None) -> Callable[[], None]: ...


@dataclass(slots=True)
class _Charger:
    version: int | None = None  # the version it confirmed; None: not known (Full next)
    entries: int = 0  # entries of that list
    synced_at: datetime | None = None
    supported: bool = True
    left_out: int = 0  # tokens too long for the charger's protocol


# -- pure helpers (unit tested) -------------------------------------------------------------

def changes(old: Entries, new: Entries) -> list[tuple[str, str | None]]:
    """What turns `old` into `new`: (token, status) added or changed, (token, None) removed."""
    out: list[tuple[str, str | None]] = [(t, s) for t, s in new.items() if old.get(t) != s]
    out += [(t, None) for t in old if t not in new]
    return out


def _split(items: list, parts: int) -> list[list]:
    """`items` in `parts` consecutive chunks as even as possible (some may be empty)."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def full_plan(entries: Entries, version: int, per_message: int) -> list[Message]:
    """The whole list ending on `version`: a Full message, then Differential additions."""
    items: list[tuple[str, str | None]] = list(entries.items())
    chunks = [items[i:i + per_message] for i in range(0, len(items), per_message)] or [[]]
    first = version - len(chunks) + 1
    if first < 1:
        raise ValueError(f"version {version} too low for {len(chunks)} messages")
    return [(first + i, i == 0, chunk) for i, chunk in enumerate(chunks)]


def differential_plan(delta: list[tuple[str, str | None]], from_version: int,
                      to_version: int, per_message: int) -> list[Message] | None:
    """Differential messages from_version+1 .. to_version; None if the delta does not fit."""
    gap = to_version - from_version
    if gap < 1 or math.ceil(len(delta) / per_message) > gap:
        return None
    return [(from_version + 1 + i, False, chunk) for i, chunk in enumerate(_split(delta, gap))]


def _fit(entries: Entries, version: OcppVersion | None) -> tuple[Entries, int]:
    """The entries a charger of this protocol can hold; and how many were left out."""
    limit = _TOKEN_MAX.get(version) if version is not None else None
    if limit is None:
        return entries, 0
    kept = {t: s for t, s in entries.items() if len(t) <= limit}
    return kept, len(entries) - len(kept)


# -- the service ----------------------------------------------------------------------------

class LocalListSync:
    def __init__(
        self,
        gateway: ChargerGateway,
        store: LocalListStore,
        entries: Callable[[], dict[str, str]],
        clock: Clock,
        *,
        bus: Bus | None = None,
        chargers: Callable[[], Iterable[str]] | None = None,
        max_per_message: int = MAX_PER_MESSAGE,
        history: int = 8,
        settle_s: float = 0.5,
        reconnect_check_s: float = 5.0,
    ) -> None:
        """`entries()`: the desired list, normalized token -> "Accepted" / "Blocked" /
        "Expired" / "Invalid". `chargers()`: the connected, accepted chargers to publish
        to; without it, those the bus reported (attach). `settle_s`: the wait between an
        accepted boot and its check (the BootNotification answer goes out first);
        `reconnect_check_s`: the same for a reconnect, long enough for a boot to come."""
        if max_per_message < 1:
            raise ValueError("max_per_message must be at least 1")
        self._gateway = gateway
        self._store = store
        self._entries = entries
        self._clock = clock
        self._chargers = chargers
        self._per = max_per_message
        self._history = max(1, history)
        self._settle_s = settle_s
        self._reconnect_s = reconnect_check_s
        self._version = 0
        self._lists: dict[int, Entries] = {}  # distributed lists by version, oldest first
        self._records: dict[str, _Charger] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loaded = False
        self._load_lock = asyncio.Lock()
        # From the bus: chargers connected now and accepted, ever accepted, their protocol.
        self._online: set[str] = set()
        self._accepted: set[str] = set()
        self._protocols: dict[str, OcppVersion] = {}
        self._checks: dict[str, asyncio.Task] = {}
        self._publishing: asyncio.Task | None = None
        self._publish_again = False
        self._unsubscribe: list[Callable[[], None]] = []
        if bus is not None:
            self.attach(bus)

    # -- state -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version of the list last distributed (0: none yet)."""
        return self._version

    def distributed(self) -> Entries:
        """The list last distributed (empty before the first publish)."""
        return dict(self._lists.get(self._version, {}))

    def status(self, charger_id: str) -> dict[str, Any]:
        """For the charger panel: what the charger confirmed, and whether that is current."""
        rec = self._records.get(charger_id, _Charger())
        return {"version": rec.version, "entries": rec.entries, "synced_at": rec.synced_at,
                "supported": rec.supported, "left_out": rec.left_out,
                "current_version": self._version,
                "in_sync": bool(self._lists) and rec.supported and rec.version == self._version}

    async def load(self) -> None:
        """Confirmed versions from the store; versions go on from the highest one."""
        async with self._load_lock:
            if self._loaded:
                return
            states = await self._store.load_states()
            for charger_id, (version, synced_at, entries) in states.items():
                if charger_id in self._records:  # learned meanwhile: newer
                    continue
                if version == NO_LOCAL_LIST:
                    self._records[charger_id] = _Charger(supported=False)
                else:
                    self._records[charger_id] = _Charger(int(version), int(entries), synced_at)
            stored = [v for v, _, _ in states.values()]
            self._version = max([self._version, *stored])
            self._loaded = True
            log.info("local lists: %d charger(s) on record, next version after %d",
                     len(states), self._version,
                     extra={"event": "local_list_loaded", "chargers": len(states),
                            "version": self._version})

    # -- publish ---------------------------------------------------------------------------

    async def publish(self) -> dict[str, str]:
        """Distribute the current `entries()` to every connected, accepted charger.

        Nothing happens if the list equals the one last distributed. Returns charger id ->
        outcome ("differential", "full", "in sync", "offline", "failed", ...).
        """
        await self.load()
        if not await self._advance():
            return {}
        targets = [c for c in dict.fromkeys(self._targets())
                   if self._records.get(c, _Charger()).supported]
        outcomes = await asyncio.gather(*(self._sync(c, "publish") for c in targets))
        return dict(zip(targets, outcomes, strict=True))

    def _targets(self) -> Iterable[str]:
        if self._chargers is not None:
            return list(self._chargers())
        return sorted(self._online)

    async def _advance(self) -> bool:
        """Make the desired list the next version; False if it is the current one.

        The list is worked out on a worker thread: one decision per credential, a few
        hundred ms for 20,000 cards, which the chargers' loop must not wait for."""
        desired = await asyncio.to_thread(
            lambda: {str(t): str(s) for t, s in self._entries().items()})
        latest = self._lists.get(self._version)
        if latest is not None and desired == latest:
            return False
        full_messages = max(1, math.ceil(len(desired) / self._per))
        delta = changes(latest, desired) if latest is not None else []
        diff_messages = max(1, math.ceil(len(delta) / self._per))
        self._version = max(self._version + diff_messages, full_messages)
        self._lists[self._version] = desired
        while len(self._lists) > self._history:
            del self._lists[next(iter(self._lists))]
        what = (f"{len(delta)} change(s)" if latest is not None else "first list since start")
        log.info("local list version %d: %d entries (%s)", self._version, len(desired), what,
                 extra={"event": "local_list_version", "version": self._version,
                        "entries": len(desired), "changes": len(delta)})
        return True

    # -- check -------------------------------------------------------------------------

    async def check(self, charger_id: str, *, force: bool = False) -> str:
        """After a boot or reconnect: ask the charger's version; resync if it is not ours.

        Never raises. Offline / Timeout leave the charger for its next reconnect.
        """
        try:
            await self.load()
            if not self._lists:
                # Nothing distributed in this run yet: this makes the first version, which
                # the other connected chargers get as well, side by side with this check.
                await self._advance()
                others = [c for c in dict.fromkeys(self._targets()) if c != charger_id
                          and self._records.get(c, _Charger()).supported]
                outcomes = await asyncio.gather(self._check(charger_id, force),
                                                *(self._sync(c, "publish") for c in others))
                return outcomes[0]
            return await self._check(charger_id, force)
        except Exception:  # a bug of ours: loud, but never the caller's problem
            log.exception("local list check of %s failed", charger_id)
            return "error"

    async def _check(self, charger_id: str, force: bool) -> str:
        try:
            async with self._lock(charger_id):
                rec = self._record(charger_id)
                if not rec.supported and not force:
                    return "unsupported"
                result = await self._gateway.get_local_list_version(charger_id)
                if result.status is CommandStatus.NOT_SUPPORTED:
                    return self._unsupported(charger_id, result, "check")
                if result.status is not CommandStatus.ACCEPTED:
                    self._outcome(charger_id, "check failed", logging.WARNING,
                                  result=result, why="check")
                    return "offline" if result.status is CommandStatus.OFFLINE else "failed"
                rec.supported = True
                reported = _int(result.payload.get("list_version"))
                if not _holds(rec, reported):
                    if rec.version is not None:
                        log.info("charger %s reports local list version %s, we recorded %s",
                                 charger_id, reported, rec.version,
                                 extra={"event": "local_list_differs", "charger_id": charger_id,
                                        "reported": reported, "recorded": rec.version})
                    rec.version = None
                return await self._sync_locked(charger_id, "check")
        except Exception:  # a bug of ours: loud, but never the caller's problem
            log.exception("local list check of %s failed", charger_id)
            return "error"

    # -- one charger ----------------------------------------------------------------------

    def _record(self, charger_id: str) -> _Charger:
        return self._records.setdefault(charger_id, _Charger())

    def _lock(self, charger_id: str) -> asyncio.Lock:
        return self._locks.setdefault(charger_id, asyncio.Lock())

    async def _sync(self, charger_id: str, why: str) -> str:
        try:
            async with self._lock(charger_id):
                return await self._sync_locked(charger_id, why)
        except Exception:
            log.exception("local list sync of %s failed", charger_id)
            return "error"

    async def _sync_locked(self, charger_id: str, why: str) -> str:
        """Bring one charger to the current version: differential if we can, else full.
        Reads the current version when it runs: a later publish queued behind this one
        finds the charger in sync or one step behind."""
        rec = self._record(charger_id)
        if not rec.supported:
            return "unsupported"
        version = self._version
        target = self._lists.get(version)
        if target is None:
            return "no list"
        if rec.version == version:
            return "in sync"
        protocol = self._protocols.get(charger_id)
        wanted, left_out = _fit(target, protocol)
        base = self._lists.get(rec.version) if rec.version is not None else None
        if base is not None and rec.version is not None and rec.version < version:
            plan = differential_plan(changes(_fit(base, protocol)[0], wanted), rec.version,
                                     version, self._per)
            if plan is not None:
                result, sent = await self._send(charger_id, plan)
                if result.status is CommandStatus.ACCEPTED:
                    return self._confirmed(charger_id, version, wanted, left_out,
                                           "differential", why, plan)
                if result.status is CommandStatus.NOT_SUPPORTED:
                    return self._unsupported(charger_id, result, why)
                if result.status in (CommandStatus.OFFLINE, CommandStatus.TIMEOUT):
                    return self._failed(charger_id, result, sent, why, "differential")
                # VersionMismatch, Failed, CALLERROR: its list is not what we think.
                self._outcome(charger_id, "differential refused; sending the full list",
                              logging.INFO, result=result, why=why)
                rec.version = None
        plan = full_plan(wanted, version, self._per)
        result, sent = await self._send(charger_id, plan)
        if result.status is CommandStatus.ACCEPTED:
            return self._confirmed(charger_id, version, wanted, left_out, "full", why, plan)
        if result.status is CommandStatus.NOT_SUPPORTED:
            return self._unsupported(charger_id, result, why)
        return self._failed(charger_id, result, sent, why, "full")

    async def _send(self, charger_id: str, plan: list[Message]) -> tuple[CommandResult, int]:
        """The messages in order until one is not accepted: (last result, messages taken)."""
        result: CommandResult | None = None
        for taken, (version, full, items) in enumerate(plan):
            result = await self._gateway.send_local_list(
                charger_id, version, [(t, s or "") for t, s in items], full)
            if result.status is not CommandStatus.ACCEPTED:
                return result, taken
        assert result is not None  # a plan has one message at least
        return result, len(plan)

    def _confirmed(self, charger_id: str, version: int, entries: Entries, left_out: int,
                   kind: str, why: str, plan: list[Message]) -> str:
        rec = self._record(charger_id)
        rec.version, rec.entries, rec.synced_at = version, len(entries), self._clock()
        rec.supported, rec.left_out = True, left_out
        self._store.save_state(charger_id, version, rec.synced_at, len(entries))
        items = sum(len(m[2]) for m in plan)
        text = (f"{kind} update to version {version} ({items} item(s) in {len(plan)} "
                f"message(s), {len(entries)} entries)")
        if left_out:
            text += f"; {left_out} token(s) too long for its protocol left out"
        self._outcome(charger_id, text, logging.INFO, why=why, kind=kind, version=version)
        return kind

    def _failed(self, charger_id: str, result: CommandResult, taken: int, why: str,
                kind: str) -> str:
        rec = self._record(charger_id)
        if taken > 0 or result.status is not CommandStatus.OFFLINE:
            rec.version = None  # partly applied, or maybe applied: not trusted any more
        self._outcome(charger_id, f"{kind} update failed", logging.WARNING, result=result,
                      why=why, kind=kind)
        return "offline" if result.status is CommandStatus.OFFLINE else "failed"

    def _unsupported(self, charger_id: str, result: CommandResult, why: str) -> str:
        rec = self._record(charger_id)
        rec.supported, rec.version, rec.entries, rec.synced_at = False, None, 0, self._clock()
        self._store.save_state(charger_id, NO_LOCAL_LIST, rec.synced_at, 0)
        self._outcome(charger_id, "no local list on this charger; skipped from now on",
                      logging.INFO, result=result, why=why)
        return "unsupported"

    def _outcome(self, charger_id: str, text: str, level: int, *,
                 result: CommandResult | None = None, why: str = "", **extra: Any) -> None:
        if result is not None:
            text = f"{text}: {result.describe()}"
        log.log(level, "local list of %s: %s", charger_id, text, extra={
            "event": "local_list_sync", "charger_id": charger_id, "trigger": why,
            "status": str(result.status) if result is not None else "Accepted",
            "charger_status": result.charger_status if result is not None else "", **extra})

    # -- the bus -----------------------------------------------------------------------

    def attach(self, bus: Bus) -> None:
        """Check chargers as they boot (accepted) or reconnect; publish on AccessChanged."""
        if self._unsubscribe:
            return
        self._unsubscribe = [
            bus.subscribe(self._on_connected, ChargerConnected),
            bus.subscribe(self._on_booted, ChargerBooted),
            bus.subscribe(self._on_disconnected, ChargerDisconnected),
            bus.subscribe(self._on_access_changed, AccessChanged),
        ]

    def _on_connected(self, event: ChargerConnected) -> None:
        self._protocols[event.charger_id] = event.ocpp_version
        if event.charger_id in self._accepted:
            # Registration holds across reconnects; a charger need not boot again. If it
            # does boot, that boot's check replaces this one.
            self._online.add(event.charger_id)
            self._schedule_check(event.charger_id, self._reconnect_s)

    def _on_booted(self, event: ChargerBooted) -> None:
        if event.registration is RegistrationStatus.ACCEPTED:
            self._accepted.add(event.charger_id)
            self._online.add(event.charger_id)
            self._schedule_check(event.charger_id, self._settle_s)
        else:
            self._accepted.discard(event.charger_id)
            self._online.discard(event.charger_id)

    def _on_disconnected(self, event: ChargerDisconnected) -> None:
        self._online.discard(event.charger_id)
        task = self._checks.pop(event.charger_id, None)
        if task is not None:
            task.cancel()

    def _on_access_changed(self, event: AccessChanged) -> None:
        # Coalesced: changes during a publish make one more publish after it.
        if self._publishing is not None and not self._publishing.done():
            self._publish_again = True
            return
        self._publishing = asyncio.get_running_loop().create_task(
            self._publish_loop(), name="local-list-publish")

    async def _publish_loop(self) -> None:
        while True:
            self._publish_again = False
            try:
                await self.publish()
            except Exception:
                log.exception("local list publish failed")
            if not self._publish_again:
                return

    def _schedule_check(self, charger_id: str, delay_s: float) -> None:
        old = self._checks.pop(charger_id, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            await asyncio.sleep(delay_s)
            await self.check(charger_id)

        task = asyncio.get_running_loop().create_task(later(),
                                                       name=f"local-list-check-{charger_id}")
        self._checks[charger_id] = task
        task.add_done_callback(lambda t: self._checks.pop(charger_id, None)
                               if self._checks.get(charger_id) is t else None)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        tasks = list(self._checks.values())
        if self._publishing is not None:
            tasks.append(self._publishing)
        self._checks.clear()
        self._publishing = None
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


def _holds(rec: _Charger, reported: int | None) -> bool:
    """Does the charger hold the list we recorded for it? (0: an empty list, any version)"""
    if rec.version is None or reported is None:
        return False
    return reported == rec.version or (reported == 0 and rec.entries == 0)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
