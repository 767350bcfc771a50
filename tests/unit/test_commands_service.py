"""CommandService: every manual command goes to the gateway and into the audit trail."""

import asyncio
import inspect

import pytest

from app.domain.commands import CommandResult, CommandStatus
from app.services.audit import mask_secrets
from app.services.commands import MAX_AUDITED_ENTRIES, CommandService
from app.services.ports import ChargerGateway
from tests.helpers.fakes import FakeClock


class FakeGateway:
    """Answers every ChargerGateway method with a scripted result and records the call."""

    def __init__(self):
        self.calls = []
        self.status = CommandStatus.ACCEPTED
        self.block: asyncio.Event | None = None
        self.payload: dict = {}

    def __getattr__(self, name):
        if name.startswith("_") or not hasattr(ChargerGateway, name):
            raise AttributeError(name)

        async def command(charger_id, *args):
            self.calls.append((name, charger_id, *args))
            if self.block is not None:
                await self.block.wait()
            return CommandResult(name, charger_id, self.status, charger_status="Accepted",
                                 payload=self.payload)
        return command


class AuditList:
    def __init__(self):
        self.entries = []

    def audit(self, actor, action, target, details):
        self.entries.append((actor, action, target, details))


@pytest.fixture
def world():
    gateway, audit = FakeGateway(), AuditList()
    return CommandService(gateway, audit, FakeClock()), gateway, audit


# Every gateway method, with arguments, through the service.
ALL = [
    ("remote_start", ("CP", 1, "TAG"), {"connector_id": 1, "id_token": "TAG"}),
    ("remote_stop", ("CP", "42"), {"transaction_id": "42"}),
    ("unlock_connector", ("CP", 2), {"connector_id": 2}),
    ("reset", ("CP", True), {"hard": True}),
    ("change_availability", ("CP", 1, False), {"connector_id": 1, "available": False}),
    ("get_configuration", ("CP", ["A"]), {"keys": ["A"]}),
    ("change_configuration", ("CP", "HeartbeatInterval", "60"),
     {"key": "HeartbeatInterval", "value": "60"}),
    ("get_variables", ("CP", [("C", "V")]), {"variables": [["C", "V"]]}),
    ("set_variables", ("CP", [("C", "V", "1")]), {"values": [{"key": "C.V", "value": "1"}]}),
    ("get_base_report", ("CP", "SummaryInventory"), {"report": "SummaryInventory"}),
    ("trigger_message", ("CP", "Heartbeat", None), {"message": "Heartbeat", "connector_id": None}),
    ("clear_cache", ("CP",), {}),
    ("send_local_list", ("CP", 2, [("T", "Accepted")], True),
     {"version": 2, "full": True, "count": 1, "entries": [["T", "Accepted"]]}),
    ("get_local_list_version", ("CP",), {}),
    ("set_charging_profile", ("CP", 1, 7400.0, 2),
     {"connector_id": 1, "limit_w": 7400.0, "profile_id": 2}),
    ("clear_charging_profile", ("CP", None), {"profile_id": None}),
    ("data_transfer", ("CP", "Acme", "m", "d"), {"vendor_id": "Acme", "message_id": "m",
                                                  "data": "d"}),
    ("get_diagnostics", ("CP", "ftp://x"), {"location": "ftp://x"}),
    ("update_firmware", ("CP", "https://x"), {"location": "https://x"}),
]


def test_the_service_covers_every_gateway_command():
    port = {n for n, f in inspect.getmembers(ChargerGateway) if not n.startswith("_")
            and inspect.isfunction(f)}
    assert port == {name for name, _, _ in ALL}
    assert all(hasattr(CommandService, n) for n in port)


@pytest.mark.parametrize(("name", "args", "audited"), ALL, ids=[a[0] for a in ALL])
async def test_each_command_is_sent_and_audited(world, name, args, audited):
    service, gateway, audit = world
    result = await getattr(service, name)("alice", *args)
    assert result.status is CommandStatus.ACCEPTED
    assert gateway.calls == [(name, *args)]
    [(actor, action, target, details)] = audit.entries
    assert (actor, action, target) == ("alice", f"charger_{name}", "CP")
    assert details["args"] == audited
    assert details["status"] == "Accepted" and details["charger_status"] == "Accepted"
    assert details["requested_at"] == "2026-11-21T09:00:00+00:00"
    assert isinstance(details["duration_ms"], int)


async def test_a_refusal_is_audited_with_the_chargers_answer(world):
    service, gateway, audit = world
    gateway.status = CommandStatus.REJECTED
    result = await service.reset("bob", "CP-9")
    assert result.status is CommandStatus.REJECTED
    assert audit.entries[0][3]["status"] == "Rejected"


async def test_no_actor_no_command(world):
    service, gateway, audit = world
    with pytest.raises(ValueError, match="actor"):
        await service.clear_cache("  ", "CP")
    assert gateway.calls == [] and audit.entries == []


async def test_a_cancelled_command_is_still_audited(world):
    service, gateway, audit = world
    gateway.block = asyncio.Event()
    task = asyncio.create_task(service.reset("alice", "CP"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert audit.entries[0][3]["status"] == "Cancelled"


async def test_secrets_never_reach_the_audit(world):
    service, gateway, audit = world
    # what the real gateway returns for a change (no read-back of a secret)
    gateway.payload = {"key": "AuthorizationKey", "value": "0123abcd"}
    await service.change_configuration("alice", "CP", "AuthorizationKey", "0123abcd")
    gateway.payload = {"results": {"SecurityCtrlr.BasicAuthPassword": "Accepted"}}
    await service.set_variables("alice", "CP", [("SecurityCtrlr", "BasicAuthPassword", "pw")])
    assert "0123abcd" not in str(audit.entries) and "'pw'" not in str(audit.entries)


async def test_a_huge_local_list_is_audited_by_count(world):
    service, _, audit = world
    entries = [(f"T{i}", "Accepted") for i in range(MAX_AUDITED_ENTRIES + 50)]
    await service.send_local_list("alice", "CP", 9, entries, True)
    args = audit.entries[0][3]["args"]
    assert args["count"] == MAX_AUDITED_ENTRIES + 50
    assert len(args["entries"]) == MAX_AUDITED_ENTRIES


def test_a_plain_audit_callable_works_too():
    seen = []
    service = CommandService(FakeGateway(), lambda *a: seen.append(a), FakeClock())
    asyncio.run(service.clear_cache("cli", "CP"))
    assert seen[0][:3] == ("cli", "charger_clear_cache", "CP")


def test_mask_secrets():
    assert mask_secrets({"key": "AuthorizationKey", "value": "x"}) == {
        "key": "AuthorizationKey", "value": "***"}
    assert mask_secrets({"payload": {"read_back": {"AuthorizationKey": "x"}}}) == {
        "payload": {"read_back": {"AuthorizationKey": "***"}}}
    assert mask_secrets({"key": "HeartbeatInterval", "value": "60", "id_token": "T"}) == {
        "key": "HeartbeatInterval", "value": "60", "id_token": "T"}
    assert mask_secrets({"password": ""}) == {"password": ""}
