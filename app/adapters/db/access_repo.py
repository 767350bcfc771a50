"""Access data in the database: groups, accounts, credentials, permits, blocklist.

Every change bumps `access_revision` in the same transaction, so each console sharing the
database (and the CLI) sees one number move and reloads. Functions take a Connection and
run on the writer thread (DbWriter.run); reads are plain selects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.adapters.db import tables as t
from app.domain.access import (
    AccessData,
    Account,
    AccountKind,
    BlockEntry,
    Credential,
    CredentialKind,
    CredentialStatus,
    Group,
    GroupKind,
    Permit,
    PermitStatus,
    normalize_credential,
)


class AccessConflict(ValueError):
    """A change the data does not allow (a credential another account holds, ...)."""


# ---- reading ----------------------------------------------------------------------------

def read_revision(conn: Connection) -> int:
    value = conn.execute(select(t.access_revision.c.revision)
                         .where(t.access_revision.c.id == 1)).scalar()
    return int(value or 0)


def bump_revision(conn: Connection) -> int:
    if conn.execute(update(t.access_revision).where(t.access_revision.c.id == 1)
                    .values(revision=t.access_revision.c.revision + 1)).rowcount == 0:
        conn.execute(insert(t.access_revision).values(id=1, revision=1))
    return read_revision(conn)


def _group(r: Any) -> Group:
    return Group(id=r.id, name=r.name, kind=GroupKind(r.kind), zones=tuple(r.zones or ()),
                 max_stay_min=r.max_stay_min, charging_allowed=bool(r.charging_allowed),
                 max_vehicles=r.max_vehicles, tariff=r.tariff or "")


def _account(r: Any) -> Account:
    return Account(id=r.id, name=r.name, kind=AccountKind(r.kind), group_id=r.group_id,
                   email=r.email or "", phone=r.phone or "", notes=r.notes or "",
                   active=bool(r.active))


def _credential(r: Any) -> Credential:
    return Credential(id=r.id, account_id=r.account_id, kind=CredentialKind(r.kind),
                      value=r.value, label=r.label or "", status=CredentialStatus(r.status),
                      status_reason=r.status_reason or "")


def _permit(r: Any) -> Permit:
    return Permit(id=r.id, account_id=r.account_id, valid_from=r.valid_from,
                  valid_until=r.valid_until, status=PermitStatus(r.status),
                  zone_id=r.zone_id or "")


def _block(r: Any) -> BlockEntry:
    return BlockEntry(id=r.id, kind=CredentialKind(r.kind), value=r.value, reason=r.reason,
                      until=r.until, created_by=r.created_by or "")


def load_access(conn: Connection) -> AccessData:
    return AccessData(
        groups=tuple(_group(r) for r in conn.execute(
            select(t.access_groups).order_by(t.access_groups.c.id))),
        accounts=tuple(_account(r) for r in conn.execute(
            select(t.accounts).order_by(t.accounts.c.id))),
        credentials=tuple(_credential(r) for r in conn.execute(
            select(t.credentials).order_by(t.credentials.c.id))),
        permits=tuple(_permit(r) for r in conn.execute(
            select(t.permits).order_by(t.permits.c.id))),
        blocklist=tuple(_block(r) for r in conn.execute(
            select(t.blocklist).order_by(t.blocklist.c.id))),
        revision=read_revision(conn),
        extra={"policy": load_policy(conn)},
    )


# ---- changes (each bumps the revision) -------------------------------------------------

def save_group(conn: Connection, group: Group) -> int:
    values = {"name": group.name, "kind": group.kind.value, "zones": list(group.zones),
              "max_stay_min": group.max_stay_min,
              "charging_allowed": int(group.charging_allowed),
              "max_vehicles": group.max_vehicles, "tariff": group.tariff}
    if conn.execute(update(t.access_groups).where(t.access_groups.c.id == group.id)
                    .values(**values)).rowcount == 0:
        conn.execute(insert(t.access_groups).values(id=group.id, **values))
    return bump_revision(conn)


def delete_group(conn: Connection, group_id: str) -> int:
    used = conn.execute(select(t.accounts.c.id).where(t.accounts.c.group_id == group_id)
                        .limit(1)).first()
    if used is not None:
        raise AccessConflict(f"group {group_id!r} still has accounts")
    conn.execute(delete(t.access_groups).where(t.access_groups.c.id == group_id))
    return bump_revision(conn)


def _check_group(conn: Connection, group_id: str) -> None:
    if conn.execute(select(t.access_groups.c.id)
                    .where(t.access_groups.c.id == group_id)).first() is None:
        raise AccessConflict(f"no group {group_id!r}")


def save_account(conn: Connection, account: Account, now: datetime) -> tuple[int, int]:
    """Insert (account.id == 0) or update. Returns (account id, revision)."""
    _check_group(conn, account.group_id)
    values = {"name": account.name.strip(), "kind": account.kind.value,
              "group_id": account.group_id, "email": account.email.strip(),
              "phone": account.phone.strip(), "notes": account.notes,
              "active": int(account.active), "updated_at": now}
    if not values["name"]:
        raise AccessConflict("an account needs a name")
    if account.id:
        if conn.execute(update(t.accounts).where(t.accounts.c.id == account.id)
                        .values(**values)).rowcount == 0:
            raise AccessConflict(f"no account {account.id}")
        account_id = account.id
    else:
        account_id = conn.execute(insert(t.accounts).values(created_at=now, **values)
                                  ).inserted_primary_key[0]
    return int(account_id), bump_revision(conn)


def delete_account(conn: Connection, account_id: int) -> int:
    conn.execute(delete(t.credentials).where(t.credentials.c.account_id == account_id))
    conn.execute(delete(t.permits).where(t.permits.c.account_id == account_id))
    conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))
    return bump_revision(conn)


def owner_of(conn: Connection, kind: CredentialKind, value: str) -> int | None:
    row = conn.execute(select(t.credentials.c.account_id).where(
        t.credentials.c.kind == kind.value,
        t.credentials.c.value == normalize_credential(kind, value))).first()
    return None if row is None else int(row.account_id)


def add_credential(conn: Connection, account_id: int, kind: CredentialKind, value: str,
                   label: str, now: datetime) -> tuple[int, int]:
    norm = normalize_credential(kind, value)
    if not norm:
        raise AccessConflict(f"empty {kind.value} value")
    owner = owner_of(conn, kind, norm)
    if owner is not None:
        name = conn.execute(select(t.accounts.c.name).where(t.accounts.c.id == owner)).scalar()
        raise AccessConflict(f"{kind.value} {norm} already belongs to account {owner}"
                             + (f" ({name})" if name else ""))
    try:
        cred_id = conn.execute(insert(t.credentials).values(
            account_id=account_id, kind=kind.value, value=norm, label=label.strip(),
            status=CredentialStatus.ACTIVE.value, status_reason="", updated_at=now,
        )).inserted_primary_key[0]
    except IntegrityError as exc:  # no such account (foreign key) or a race
        raise AccessConflict(f"{kind.value} {norm} not added: {exc.orig}") from exc
    return int(cred_id), bump_revision(conn)


def set_credential_status(conn: Connection, credential_id: int, status: CredentialStatus,
                          reason: str, now: datetime) -> int:
    if conn.execute(update(t.credentials).where(t.credentials.c.id == credential_id).values(
            status=status.value, status_reason=reason.strip(), updated_at=now)).rowcount == 0:
        raise AccessConflict(f"no credential {credential_id}")
    return bump_revision(conn)


def delete_credential(conn: Connection, credential_id: int) -> int:
    conn.execute(delete(t.credentials).where(t.credentials.c.id == credential_id))
    return bump_revision(conn)


def save_permit(conn: Connection, permit: Permit, now: datetime) -> tuple[int, int]:
    if permit.valid_until is not None and permit.valid_until <= permit.valid_from:
        raise AccessConflict("a permit must end after it starts")
    values = {"account_id": permit.account_id, "zone_id": permit.zone_id,
              "valid_from": permit.valid_from, "valid_until": permit.valid_until,
              "status": permit.status.value, "updated_at": now}
    if permit.id:
        if conn.execute(update(t.permits).where(t.permits.c.id == permit.id)
                        .values(**values)).rowcount == 0:
            raise AccessConflict(f"no permit {permit.id}")
        permit_id = permit.id
    else:
        try:
            permit_id = conn.execute(insert(t.permits).values(**values)).inserted_primary_key[0]
        except IntegrityError as exc:
            raise AccessConflict(f"permit not added: {exc.orig}") from exc
    return int(permit_id), bump_revision(conn)


def delete_permit(conn: Connection, permit_id: int) -> int:
    conn.execute(delete(t.permits).where(t.permits.c.id == permit_id))
    return bump_revision(conn)


def add_block(conn: Connection, kind: CredentialKind, value: str, reason: str,
              until: datetime | None, actor: str, now: datetime) -> tuple[int, int]:
    norm = normalize_credential(kind, value)
    if not norm:
        raise AccessConflict("nothing to block: empty value")
    if not reason.strip():
        raise AccessConflict("a blocklist entry needs a reason")
    block_id = conn.execute(insert(t.blocklist).values(
        kind=kind.value, value=norm, reason=reason.strip(), until=until, created_by=actor,
        created_at=now)).inserted_primary_key[0]
    return int(block_id), bump_revision(conn)


def remove_block(conn: Connection, block_id: int) -> int:
    conn.execute(delete(t.blocklist).where(t.blocklist.c.id == block_id))
    return bump_revision(conn)


# ---- decisions --------------------------------------------------------------------------

def record_decisions(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        conn.execute(insert(t.access_decisions), rows)


def load_decisions(conn: Connection, *, limit: int = 200, place: str | None = None,
                   since: datetime | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(t.access_decisions).order_by(t.access_decisions.c.id.desc()).limit(limit)
    if place:
        query = query.where(t.access_decisions.c.place == place)
    if since is not None:
        query = query.where(t.access_decisions.c.at >= since)
    return [dict(r._mapping) for r in conn.execute(query)]


# ---- the site's access settings (settings table, key "access_policy") -----------------

POLICY_KEY = "access_policy"


def load_policy(conn: Connection) -> dict[str, Any]:
    value = conn.execute(select(t.settings.c.value).where(t.settings.c.key == POLICY_KEY)
                         ).scalar()
    return dict(value) if isinstance(value, dict) else {}


def save_policy(conn: Connection, changes: dict[str, Any]) -> int:
    merged = {**load_policy(conn), **changes}
    conn.execute(delete(t.settings).where(t.settings.c.key == POLICY_KEY))
    conn.execute(insert(t.settings).values(key=POLICY_KEY, value=merged))
    return bump_revision(conn)


# ---- tags from before accounts (id_tags: site import, version 0.x) --------------------

_TAG_STATUS = {"Accepted": CredentialStatus.ACTIVE, "Blocked": CredentialStatus.SUSPENDED}


def adopt_legacy_tags(conn: Connection, now: datetime) -> int:
    """Each row of the old id_tags list becomes an account (group staff) with that card,
    then leaves the list, so an account deleted later does not come back. Returns how many."""
    rows = conn.execute(select(t.id_tags)).all()
    adopted = 0
    for row in rows:
        kind = CredentialKind.RFID
        if owner_of(conn, kind, row.id_token) is None:
            account_id = conn.execute(insert(t.accounts).values(
                name=(row.label or row.id_token).strip()[:200], kind="driver",
                group_id="staff", email="", phone="", notes="imported tag", active=1,
                created_at=now, updated_at=now)).inserted_primary_key[0]
            status = _TAG_STATUS.get(row.status, CredentialStatus.REVOKED)
            conn.execute(insert(t.credentials).values(
                account_id=account_id, kind=kind.value,
                value=normalize_credential(kind, row.id_token), label=row.label or "",
                status=status.value,
                status_reason="" if status is CredentialStatus.ACTIVE else
                f"imported as {row.status}", updated_at=now))
            adopted += 1
        conn.execute(delete(t.id_tags).where(t.id_tags.c.id_token == row.id_token))
    if rows:
        bump_revision(conn)
    return adopted
