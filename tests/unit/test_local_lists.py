"""LocalListSync against fake chargers that keep their lists by the simulator's rules
(app.sim.local_list.LocalList): differential = version + 1, items per message, 0 while
empty. No database, no network."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from app.domain.charging import ChargerIdentity, RegistrationStatus
from app.domain.commands import CommandResult, CommandStatus
from app.domain.events import AccessChanged, ChargerBooted, ChargerConnected, ChargerDisconnected
from app.domain.site import OcppVersion
from app.services.bus import EventBus
from app.services.local_lists import (
    LocalListSync,
    changes,
    differential_plan,
    full_plan,
)
from app.sim.local_list import LocalList
from tests.helpers.fakes import FakeClock

S = CommandStatus
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class FakeChargers:
    """The two ChargerGateway methods, answered by a LocalList per charger."""

    def __init__(self) -> None:
        self.lists: dict[str, LocalList] = {}
        self.calls: list[tuple] = []
        self.answer: dict[str, CommandStatus] = {}  # charger -> forced status
        self.hold: asyncio.Event | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    def add(self, cid: str, per_message: int = 250) -> LocalList:
        self.lists[cid] = LocalList(max_per_message=per_message)
        return self.lists[cid]

    async def _enter(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.hold is not None:
            await self.hold.wait()
        self.in_flight -= 1

    async def send_local_list(self, cid, version, entries, full) -> CommandResult:
        self.calls.append(("send", cid, version, full, list(entries)))
        await self._enter()
        forced = self.answer.get(cid)
        if forced is not None:
            return CommandResult("send_local_list", cid, forced)
        word = self.lists[cid].update(version, full, [(t, s or None) for t, s in entries])
        return CommandResult("send_local_list", cid,
                             S.ACCEPTED if word == "Accepted" else S.REJECTED,
                             charger_status=word)

    async def get_local_list_version(self, cid) -> CommandResult:
        self.calls.append(("version", cid))
        await self._enter()
        forced = self.answer.get(cid)
        if forced is not None:
            return CommandResult("get_local_list_version", cid, forced)
        return CommandResult("get_local_list_version", cid, S.ACCEPTED,
                             payload={"list_version": self.lists[cid].reported_version})

    def sends(self, cid: str | None = None) -> list[tuple]:
        return [c[2:] for c in self.calls if c[0] == "send" and cid in (None, c[1])]


class FakeStore:
    def __init__(self, states: dict | None = None) -> None:
        self.states = dict(states or {})
        self.saved: list[tuple] = []

    async def load_states(self):
        return dict(self.states)

    def save_state(self, charger_id, version, synced_at, entries) -> None:
        self.saved.append((charger_id, version, entries))
        self.states[charger_id] = (version, synced_at, entries)


class Desired:
    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = dict(entries)

    def __call__(self) -> dict[str, str]:
        return dict(self.entries)


LIST = {"AA11": "Accepted", "BB22": "Blocked", "CC33": "Accepted"}


def make(*cids: str, per_message: int = 250, desired: dict | None = None,
         store: FakeStore | None = None, **kw):
    gw = FakeChargers()
    for cid in cids:
        gw.add(cid, per_message)
    want = Desired(LIST if desired is None else desired)
    online = list(cids)
    sync = LocalListSync(gw, store or FakeStore(), want, FakeClock(T0),
                         chargers=lambda: online, max_per_message=per_message, **kw)
    return sync, gw, want, online


# -- the plans ----------------------------------------------------------------------------

def test_changes_adds_changes_and_removes() -> None:
    old = {"A": "Accepted", "B": "Accepted", "C": "Accepted"}
    new = {"A": "Accepted", "B": "Blocked", "D": "Accepted"}
    assert changes(old, new) == [("B", "Blocked"), ("D", "Accepted"), ("C", None)]


def test_full_plan_chunks_end_on_the_version() -> None:
    entries = {f"T{i}": "Accepted" for i in range(7)}
    plan = full_plan(entries, 10, 3)
    assert [(v, full, len(items)) for v, full, items in plan] == [
        (8, True, 3), (9, False, 3), (10, False, 1)]
    assert full_plan({}, 4, 3) == [(4, True, [])]
    with pytest.raises(ValueError):
        full_plan(entries, 2, 3)


def test_differential_plan_uses_each_version_once() -> None:
    delta = [(f"T{i}", "Accepted") for i in range(5)]
    assert differential_plan(delta, 3, 4, 250) == [(4, False, delta)]
    two = differential_plan(delta, 3, 5, 3)
    assert [(v, len(items)) for v, _, items in two] == [(4, 3), (5, 2)]
    assert differential_plan(delta, 3, 4, 3) is None  # needs two messages, one version
    assert differential_plan(delta, 4, 4, 250) is None


# -- publish ------------------------------------------------------------------------------

async def test_first_publish_sends_the_full_list_to_every_charger() -> None:
    sync, gw, _, _ = make("CP-1", "CP-2")
    outcomes = await sync.publish()
    assert outcomes == {"CP-1": "full", "CP-2": "full"}
    assert sync.version == 1
    for cid in ("CP-1", "CP-2"):
        assert gw.lists[cid].entries == LIST and gw.lists[cid].version == 1
        assert sync.status(cid)["in_sync"] and sync.status(cid)["entries"] == 3
    assert sync._store.saved == [("CP-1", 1, 3), ("CP-2", 1, 3)]


async def test_a_change_goes_out_as_a_differential_one_version_up() -> None:
    sync, gw, want, _ = make("CP-1")
    await sync.publish()
    gw.calls.clear()
    want.entries.pop("AA11")
    want.entries["BB22"] = "Accepted"
    want.entries["DD44"] = "Expired"
    assert await sync.publish() == {"CP-1": "differential"}
    assert gw.sends() == [(2, False, [("BB22", "Accepted"), ("DD44", "Expired"),
                                      ("AA11", "")])]
    assert gw.lists["CP-1"].entries == want.entries and gw.lists["CP-1"].version == 2


async def test_nothing_changed_nothing_sent() -> None:
    sync, gw, _, _ = make("CP-1")
    await sync.publish()
    gw.calls.clear()
    assert await sync.publish() == {}
    assert gw.calls == [] and sync.version == 1


async def test_version_mismatch_falls_back_to_the_full_list(caplog) -> None:
    sync, gw, want, _ = make("CP-1")
    await sync.publish()
    gw.lists["CP-1"].version = 9  # someone else sent it a list
    gw.calls.clear()
    want.entries["EE55"] = "Accepted"
    assert await sync.publish() == {"CP-1": "full"}
    assert [(v, full) for v, full, _ in gw.sends()] == [(2, False), (2, True)]
    assert gw.lists["CP-1"].entries == want.entries and gw.lists["CP-1"].version == 2
    assert any("VersionMismatch" in r.getMessage() for r in caplog.records)


async def test_a_charger_behind_gets_the_full_list_others_the_differential() -> None:
    sync, gw, want, _ = make("CP-1", "CP-2")
    await sync.publish()
    gw.lists["CP-2"].update(1, True, [("XX", "Accepted")])  # same version, other content
    sync._records["CP-2"].version = None  # e.g. an update that timed out
    gw.calls.clear()
    want.entries["EE55"] = "Accepted"
    assert await sync.publish() == {"CP-1": "differential", "CP-2": "full"}
    assert gw.lists["CP-2"].entries == want.entries


async def test_sends_to_chargers_run_concurrently() -> None:
    sync, gw, _, _ = make("CP-1", "CP-2", "CP-3")
    gw.hold = asyncio.Event()
    task = asyncio.create_task(sync.publish())
    for _ in range(20):
        await asyncio.sleep(0)
    assert gw.in_flight == 3
    gw.hold.set()
    assert set((await task).values()) == {"full"}
    assert gw.most_in_flight == 3


async def test_chunked_full_list_and_chunked_differential() -> None:
    entries = {f"T{i:02}": "Accepted" for i in range(7)}
    sync, gw, want, online = make("CP-1", per_message=3, desired=entries)
    await sync.publish()
    # 7 entries, 3 a message: Full v1, then differentials v2, v3.
    assert [(v, full, len(items)) for v, full, items in gw.sends()] == [
        (1, True, 3), (2, False, 3), (3, False, 1)]
    assert sync.version == 3 and gw.lists["CP-1"].entries == entries
    gw.calls.clear()
    for i in range(5):
        want.entries[f"T{i:02}"] = "Blocked"
    gw.add("CP-2", 3)  # a new charger with an empty list
    online.append("CP-2")
    assert await sync.publish() == {"CP-1": "differential", "CP-2": "full"}
    assert [(v, full, len(items)) for v, full, items in gw.sends("CP-1")] == [
        (4, False, 3), (5, False, 2)]
    assert [(v, full, len(items)) for v, full, items in gw.sends("CP-2")] == [
        (3, True, 3), (4, False, 3), (5, False, 1)]
    for cid in ("CP-1", "CP-2"):
        assert gw.lists[cid].entries == want.entries and gw.lists[cid].version == 5


async def test_a_failed_chunk_leaves_the_charger_untrusted(caplog) -> None:
    entries = {f"T{i:02}": "Accepted" for i in range(5)}
    sync, gw, _, _ = make("CP-1", per_message=3, desired=entries)
    gw.lists["CP-1"].max_length = 4  # the second chunk overflows the charger
    assert await sync.publish() == {"CP-1": "failed"}
    assert sync.status("CP-1")["version"] is None
    warnings = [r for r in caplog.records if r.name == "app.services.local_lists"
                and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Failed" in warnings[0].getMessage()
    gw.lists["CP-1"].max_length = 1000
    assert await sync.check("CP-1") == "full"
    assert gw.lists["CP-1"].entries == entries


async def test_timeout_on_a_full_list_means_full_again_next_time() -> None:
    sync, gw, want, _ = make("CP-1")
    gw.answer["CP-1"] = S.TIMEOUT
    assert await sync.publish() == {"CP-1": "failed"}
    del gw.answer["CP-1"]
    want.entries["EE55"] = "Accepted"
    assert await sync.publish() == {"CP-1": "full"}


async def test_offline_during_a_change_keeps_the_record_for_the_reconnect() -> None:
    sync, gw, want, _ = make("CP-1")
    await sync.publish()
    gw.answer["CP-1"] = S.OFFLINE
    want.entries["EE55"] = "Accepted"
    assert await sync.publish() == {"CP-1": "offline"}
    assert sync.status("CP-1")["version"] == 1
    del gw.answer["CP-1"]
    gw.calls.clear()
    # It reports the version we recorded, and we still have that list: a differential.
    assert await sync.check("CP-1") == "differential"
    assert gw.sends() == [(2, False, [("EE55", "Accepted")])]


async def test_a_charger_two_versions_behind_gets_one_message_per_version() -> None:
    sync, gw, want, _ = make("CP-1")
    await sync.publish()
    gw.answer["CP-1"] = S.OFFLINE
    want.entries["EE55"] = "Accepted"
    await sync.publish()
    want.entries.pop("EE55")
    want.entries["AA11"] = "Blocked"
    await sync.publish()
    del gw.answer["CP-1"]
    gw.calls.clear()
    assert await sync.check("CP-1") == "differential"
    # Versions 2 and 3 from 1: the net change is one item; the other message is empty.
    assert gw.sends() == [(2, False, [("AA11", "Blocked")]), (3, False, [])]
    assert gw.lists["CP-1"].entries == want.entries and gw.lists["CP-1"].version == 3


async def test_check_resyncs_a_charger_whose_version_is_not_ours() -> None:
    sync, gw, _, _ = make("CP-1")
    await sync.publish()
    assert await sync.check("CP-1") == "in sync"
    gw.lists["CP-1"].update(7, True, [("ZZ", "Accepted")])  # changed behind our back
    assert await sync.check("CP-1") == "full"
    assert gw.lists["CP-1"].entries == LIST and gw.lists["CP-1"].version == 1


async def test_check_before_any_publish_makes_the_first_version() -> None:
    sync, gw, _, _ = make("CP-1")
    assert await sync.check("CP-1") == "full"
    assert sync.version == 1 and gw.lists["CP-1"].entries == LIST


async def test_an_empty_list_reports_version_zero_and_is_in_sync() -> None:
    sync, gw, want, _ = make("CP-1", desired={})
    await sync.publish()
    assert gw.lists["CP-1"].reported_version == 0
    assert await sync.check("CP-1") == "in sync"
    want.entries["AA11"] = "Accepted"
    assert await sync.publish() == {"CP-1": "differential"}
    want.entries.clear()
    assert await sync.publish() == {"CP-1": "differential"}
    assert gw.lists["CP-1"].entries == {}
    assert await sync.check("CP-1") == "in sync"


@pytest.mark.parametrize("status", [S.OFFLINE, S.TIMEOUT, S.CALL_ERROR])
async def test_check_that_gets_no_answer_changes_nothing(status, caplog) -> None:
    sync, gw, _, _ = make("CP-1")
    await sync.publish()
    gw.answer["CP-1"] = status
    gw.calls.clear()
    assert await sync.check("CP-1") in ("offline", "failed")
    assert gw.sends() == []
    assert sync.status("CP-1")["version"] == 1
    assert [r.levelno for r in caplog.records if r.name == "app.services.local_lists"
            and r.levelno >= logging.WARNING] == [logging.WARNING]


async def test_not_supported_is_remembered_and_skipped() -> None:
    store = FakeStore()
    sync, gw, want, _ = make("CP-1", "CP-2", store=store)
    gw.answer["CP-2"] = S.NOT_SUPPORTED
    # The first check of the run makes version 1; CP-1, connected, gets it too.
    assert await sync.check("CP-2") == "unsupported"
    assert gw.lists["CP-1"].entries == LIST
    assert store.states["CP-2"][0] == -1
    assert sync.status("CP-2")["supported"] is False
    gw.calls.clear()
    want.entries["EE55"] = "Accepted"
    assert await sync.publish() == {"CP-1": "differential"}
    assert await sync.check("CP-2") == "unsupported"
    assert all(c[1] == "CP-1" for c in gw.calls)
    # After a firmware update, the attendant may ask again.
    del gw.answer["CP-2"]
    assert await sync.check("CP-2", force=True) == "full"
    assert sync.status("CP-2")["supported"] is True


async def test_send_local_list_not_supported_marks_the_charger() -> None:
    sync, gw, _, _ = make("CP-1")
    gw.answer["CP-1"] = S.NOT_SUPPORTED
    assert await sync.publish() == {"CP-1": "unsupported"}
    assert sync.status("CP-1")["supported"] is False


async def test_restart_goes_on_from_the_highest_stored_version() -> None:
    store = FakeStore({"CP-1": (12, T0, 3), "CP-9": (-1, T0, 0)})
    sync, gw, _, online = make("CP-1", store=store)
    gw.lists["CP-1"].update(12, True, list(LIST.items()))
    online.append("CP-9")
    await sync.load()
    assert sync.status("CP-9")["supported"] is False
    # The list of version 12 is not known after a restart: Full once, as version 13.
    assert await sync.publish() == {"CP-1": "full"}
    assert sync.version == 13 and gw.sends() == [(13, True, list(LIST.items()))]


async def test_tokens_too_long_for_the_protocol_are_left_out() -> None:
    desired = {**LIST, "X" * 30: "Accepted", "Y" * 40: "Accepted"}
    sync, gw, _, _ = make("CP-16", "CP-201", desired=desired)
    sync._protocols.update({"CP-16": OcppVersion.V16, "CP-201": OcppVersion.V201})
    await sync.publish()
    assert set(gw.lists["CP-16"].entries) == set(LIST)
    assert set(gw.lists["CP-201"].entries) == {*LIST, "X" * 30}
    assert sync.status("CP-16")["left_out"] == 2


# -- the bus ------------------------------------------------------------------------------

def _booted(cid: str, status=RegistrationStatus.ACCEPTED) -> ChargerBooted:
    return ChargerBooted(at=T0, charger_id=cid, identity=ChargerIdentity(),
                         registration=status)


async def _idle(sync: LocalListSync) -> None:
    for _ in range(100):
        busy = [t for t in [*sync._checks.values(), sync._publishing] if t and not t.done()]
        if not busy:
            return
        await asyncio.gather(*busy, return_exceptions=True)


async def test_bus_boot_check_disconnect_and_access_changes() -> None:
    gw = FakeChargers()
    gw.add("CP-1")
    gw.add("CP-2")
    want = Desired(LIST)
    bus = EventBus()
    sync = LocalListSync(gw, FakeStore(), want, FakeClock(T0), bus=bus, settle_s=0,
                         reconnect_check_s=0)
    try:
        bus.publish(ChargerConnected(at=T0, charger_id="CP-1", ocpp_version=OcppVersion.V16,
                                     remote="127.0.0.1", known=True))
        bus.publish(_booted("CP-1"))
        bus.publish(_booted("CP-2", RegistrationStatus.PENDING))
        await _idle(sync)
        assert gw.lists["CP-1"].entries == LIST
        assert ("version", "CP-2") not in gw.calls  # not accepted: left alone
        # A burst of access changes: one publish for the lot (or two, never five).
        want.entries["EE55"] = "Accepted"
        for revision in range(5):
            bus.publish(AccessChanged(at=T0, revision=revision))
        await _idle(sync)
        assert gw.lists["CP-1"].entries == want.entries
        assert len(gw.sends("CP-1")) == 2
        # Gone: not sent to; back (no boot): checked and brought up to date.
        bus.publish(ChargerDisconnected(at=T0, charger_id="CP-1", reason="gone"))
        want.entries["FF66"] = "Blocked"
        assert await sync.publish() == {}
        bus.publish(ChargerConnected(at=T0, charger_id="CP-1", ocpp_version=OcppVersion.V16,
                                     remote="127.0.0.1", known=True))
        await _idle(sync)
        assert gw.lists["CP-1"].entries == want.entries
    finally:
        await sync.stop()
    bus.publish(_booted("CP-2"))  # detached: nothing scheduled
    assert not sync._checks


async def test_stop_cancels_pending_checks() -> None:
    gw = FakeChargers()
    gw.add("CP-1")
    bus = EventBus()
    sync = LocalListSync(gw, FakeStore(), Desired(LIST), FakeClock(T0), bus=bus,
                         settle_s=60)
    bus.publish(_booted("CP-1"))
    task = sync._checks["CP-1"]
    await sync.stop()
    assert task.cancelled() and gw.calls == []
