"""Demo mode: the regular drivers of app.sim.demo_drivers as accounts, with their plate,
their card and a permit (or an expired one, or none), so the demo shows permit holders,
visitors and refusals from the first minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from app.adapters.db import access_repo
from app.adapters.db import tables as t
from app.domain.access import Account, AccountKind, CredentialKind, CredentialStatus, Permit
from app.sim.demo_drivers import DEMO_DRIVERS


def seed_demo_accounts(conn: Connection, now: datetime) -> int:
    """Once: only into a database without accounts. Returns how many accounts were made."""
    if conn.execute(select(t.accounts.c.id).limit(1)).first() is not None:
        return 0
    accounts: dict[str, int] = {}
    for driver in DEMO_DRIVERS:
        account_id = accounts.get(driver.name)
        if account_id is None:
            account_id, _ = access_repo.save_account(conn, Account(
                0, driver.name, AccountKind(driver.kind), driver.group), now)
            accounts[driver.name] = account_id
            if driver.permit == "active":
                access_repo.save_permit(conn, Permit(0, account_id, now - timedelta(days=40),
                                                     now + timedelta(days=325)), now)
            elif driver.permit == "expired":
                access_repo.save_permit(conn, Permit(0, account_id, now - timedelta(days=400),
                                                     now - timedelta(days=3)), now)
        access_repo.add_credential(conn, account_id, CredentialKind.PLATE, driver.plate,
                                   "car", now)
        card_id, _ = access_repo.add_credential(conn, account_id, CredentialKind.RFID,
                                                driver.card, "charge card", now)
        if driver.card_status == "suspended":
            access_repo.set_credential_status(conn, card_id, CredentialStatus.SUSPENDED,
                                              "unpaid", now)
    return len(accounts)


# Demo mode: a supervisor to approve waivers, adjustments and tariff changes. The console
# shows these demo credentials in its approval dialog (training); a real site's staff
# accounts come from the first-run setup and `gatehouse user add`.
DEMO_SUPERVISOR = ("supervisor", "supervisor")


def seed_demo_supervisor(conn: Connection, now: datetime) -> bool:
    """Once: only when the database has no supervisor or admin account."""
    from app.adapters.db import staff_repo
    from app.services.passwords import hash_password
    from app.services.staff import SUPERVISOR_ROLES, Role, StaffUser

    if any(u.role in SUPERVISOR_ROLES for u in staff_repo.list_users(conn)):
        return False
    name, password = DEMO_SUPERVISOR
    staff_repo.add_user(conn, StaffUser(name, "Demo supervisor", Role.SUPERVISOR, now),
                        hash_password(password))
    return True
