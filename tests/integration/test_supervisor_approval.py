"""Supervisor approval on a real SQLite file: who may approve, what is audited, the
lockout after wrong passwords, and the demo console's supervisor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.adapters.db import staff_repo
from app.adapters.db.audit_repo import SqlAuditLog, load_audit
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import upgrade
from app.adapters.db.writer import DbWriter
from app.demo_seed import DEMO_SUPERVISOR, seed_demo_supervisor
from app.services.staff import (
    ApprovalRefused,
    Role,
    StaffService,
    SupervisorRequired,
    require_supervisor,
)

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gatehouse.db'}")
    upgrade(engine)
    writer = DbWriter(engine)
    writer.start()
    yield engine, writer
    writer.stop()
    engine.dispose()


@pytest.fixture
async def staff(db):
    _engine, writer = db
    clock = Clock()
    service = StaffService(staff_repo.SqlStaffStore(writer),
                           SqlAuditLog(writer, clock).audit, clock)
    await service.create("installer", "sue", "supervisor pw", Role.SUPERVISOR, "Sue Park")
    await service.create("installer", "ann", "attendant pw", Role.ATTENDANT)
    await service.create("installer", "root", "admin password", Role.ADMIN)
    return service, clock


def audit_entries(db, prefix: str) -> list[dict]:
    engine, writer = db
    writer.flush()
    with engine.connect() as conn:
        return load_audit(conn, action_prefix=prefix)


async def test_a_supervisor_or_admin_approves_and_it_is_audited(db, staff):
    service, _ = staff
    approval = await service.approve("SUE", "supervisor pw", "Waive bill 12")
    assert (approval.username, approval.role, approval.label) == (
        "sue", Role.SUPERVISOR, "Sue Park (sue)")
    assert require_supervisor(approval, "Waive bill 12") is approval
    assert (await service.approve("root", "admin password", "Save tariff std")).role \
        is Role.ADMIN
    entries = audit_entries(db, "staff.approve")
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("root", "staff.approve", "Save tariff std"), ("sue", "staff.approve", "Waive bill 12")]


async def test_an_attendant_or_a_wrong_password_does_not_approve(db, staff):
    service, _ = staff
    with pytest.raises(ApprovalRefused, match="ann is an attendant"):
        await service.approve("ann", "attendant pw", "Waive bill 12")
    with pytest.raises(ApprovalRefused, match="wrong user name or password"):
        await service.approve("sue", "not it", "Waive bill 12")
    with pytest.raises(ApprovalRefused, match="wrong user name or password"):
        await service.approve("nobody", "supervisor pw", "Waive bill 12")
    with pytest.raises(ApprovalRefused, match="wrong user name or password"):
        await service.approve("?? bad name", "supervisor pw", "Waive bill 12")
    refused = audit_entries(db, "staff.approve_refused")
    assert len(refused) == 4
    assert {e["details"]["why"] for e in refused} == {
        "role attendant", "wrong user name or password"}


async def test_five_wrong_passwords_lock_the_name_for_a_minute(staff):
    service, clock = staff
    for _ in range(5):
        with pytest.raises(ApprovalRefused, match="wrong"):
            await service.approve("sue", "guess", "Waive bill 12")
    with pytest.raises(ApprovalRefused, match="try again in a minute"):
        await service.approve("sue", "supervisor pw", "Waive bill 12")
    clock.now += timedelta(minutes=1, seconds=1)
    assert (await service.approve("sue", "supervisor pw", "Waive bill 12")).username == "sue"


def test_services_refuse_supervisor_actions_without_an_approval():
    with pytest.raises(SupervisorRequired, match="Waive bill 12 needs a supervisor"):
        require_supervisor(None, "Waive bill 12")


async def test_the_demo_console_has_a_supervisor_once(db):
    _engine, writer = db
    clock = Clock()
    assert await writer.run(lambda conn: seed_demo_supervisor(conn, AT))
    assert not await writer.run(lambda conn: seed_demo_supervisor(conn, AT))
    service = StaffService(staff_repo.SqlStaffStore(writer),
                           SqlAuditLog(writer, clock).audit, clock)
    name, password = DEMO_SUPERVISOR
    assert (await service.approve(name, password, "Waive bill 1")).role is Role.SUPERVISOR
