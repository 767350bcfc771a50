"""AccessService on an in-memory SQLite store: changes are audited and reach the next
decision at once; the local list follows; bad settings are refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, insert

from app.adapters.db import access_repo
from app.adapters.db import tables as t
from app.adapters.db.access_store import CHANGES
from app.domain.access import Account, CredentialKind, CredentialStatus, Permit
from app.domain.access_rules import GateFacts
from app.domain.events import AccessChanged, AccessDecided
from app.domain.site import Bay, Site, Zone
from app.services.access import AccessService
from app.services.bus import EventBus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class MemoryStore:
    """The SqlAccessStore contract on a synchronous in-memory engine."""

    def __init__(self) -> None:
        self.engine = create_engine("sqlite://")
        t.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            for group in ("resident", "staff", "visitor", "fleet"):
                conn.execute(insert(t.access_groups).values(
                    id=group, name=group.title(), kind=group, zones=[], charging_allowed=1,
                    tariff=""))
            conn.execute(insert(t.access_revision).values(id=1, revision=1))
        self.decisions: list[dict[str, Any]] = []

    async def load(self):
        with self.engine.begin() as conn:
            return access_repo.load_access(conn), access_repo.load_policy(conn)

    async def revision(self) -> int:
        with self.engine.begin() as conn:
            return access_repo.read_revision(conn)

    async def change(self, name: str, *args: Any) -> Any:
        with self.engine.begin() as conn:
            return CHANGES[name](conn, *args)

    def record_decision(self, row: dict[str, Any]) -> None:
        self.decisions.append(row)


@pytest.fixture
async def service():
    site = Site(name="T", zones=(Zone("P1", "P1", 10), Zone("EV", "EV", 2)),
                bays=(Bay("B1", "B1", "EV", charger_id="CP-1", connector_id=1),))
    audit: list[tuple] = []
    bus = EventBus()
    events: list[Any] = []
    bus.subscribe(events.append)
    svc = AccessService(site, MemoryStore(), bus, lambda: NOW,
                        lambda *a: audit.append(a))
    await svc.reload(enforce=False)
    svc.audit_rows, svc.events = audit, events  # type: ignore[attr-defined]
    return svc


async def test_a_new_card_decides_at_once_and_every_change_is_audited(service):
    assert service.authorize("04A1B2C3", charger_id="CP-1").status.value == "Invalid"
    account_id = await service.save_account("anna", Account(0, "Anna", group_id="resident"))
    cred = await service.add_credential("anna", account_id, CredentialKind.RFID, "04:a1:b2:c3")
    assert service.authorize("C3B2A104", charger_id="CP-1").status.value == "Accepted"
    assert service.local_list_entries() == {"04A1B2C3": "Accepted"}
    await service.set_credential_status("boss", cred, CredentialStatus.SUSPENDED, "unpaid")
    assert service.local_list_entries() == {"04A1B2C3": "Blocked"}
    actions = [a[1] for a in service.audit_rows]
    assert actions == ["access_account_saved", "access_credential_added",
                       "access_credential_suspended"]
    assert service.audit_rows[-1][3]["policy"] == "finish"
    assert any(isinstance(e, AccessChanged) for e in service.events)
    decided = [e for e in service.events if isinstance(e, AccessDecided)]
    assert [d.status for d in decided] == ["Invalid", "Accepted"]
    assert service._store.decisions[1]["account_id"] == account_id


async def test_suspending_needs_a_reason(service):
    account_id = await service.save_account("a", Account(0, "A", group_id="resident"))
    cred = await service.add_credential("a", account_id, CredentialKind.RFID, "AABBCCDD")
    with pytest.raises(ValueError, match="say why"):
        await service.set_credential_status("a", cred, CredentialStatus.REVOKED, " ")


async def test_a_card_of_another_account_is_refused_with_its_owner(service):
    first = await service.save_account("a", Account(0, "A", group_id="resident"))
    second = await service.save_account("a", Account(0, "B", group_id="resident"))
    await service.add_credential("a", first, CredentialKind.RFID, "AABBCCDD")
    with pytest.raises(ValueError, match=f"already belongs to account {first}"):
        await service.add_credential("a", second, CredentialKind.RFID, "aa:bb:cc:dd")


async def test_site_settings_apply_to_the_next_decision(service):
    account_id = await service.save_account("a", Account(0, "A", group_id="resident"))
    await service.add_credential("a", account_id, CredentialKind.RFID, "AABBCCDD")
    await service.save_policy("boss", charging_requires_permit=True)
    refused = service.decide_charger("AABBCCDD", charger_id="CP-1", connector_id=1)
    assert refused.reason == "no active permit"
    await service.save_permit("boss", Permit(0, account_id, NOW - timedelta(days=1),
                                             NOW + timedelta(days=1), zone_id="EV"))
    assert service.decide_charger("AABBCCDD", charger_id="CP-1", connector_id=1).allowed
    with pytest.raises(ValueError, match="unknown access settings: colour"):
        await service.save_policy("boss", colour="red")
    with pytest.raises(ValueError, match="plate pattern"):
        await service.save_policy("boss", plate_patterns={"NL": "(("})


async def test_search_finds_plates_typed_loosely_and_gate_decisions_are_recorded(service):
    account_id = await service.save_account("a", Account(0, "Anna", email="anna@x.nl",
                                                         group_id="resident"))
    await service.add_credential("a", account_id, CredentialKind.PLATE, "GX-512-K")
    assert [a.name for a in service.search("gx 512")] == ["Anna"]
    assert [a.name for a in service.search("ANNA@")] == ["Anna"]
    decision = service.decide_gate(CredentialKind.PLATE, "gx512k",
                                   GateFacts(entry=True, zone_id="P1"), lane_id="IN-1")
    assert decision.allowed and decision.visitor  # no permit: a visitor, ticketless
    assert service._store.decisions[-1]["place"] == "IN-1"
