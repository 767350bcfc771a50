"""The staff_users table. SqlStaffStore runs on the DbWriter; the functions take a Connection."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from app.adapters.db import tables as t
from app.adapters.db.writer import DbWriter
from app.services.staff import DuplicateUsername, Role, StaffUser


def _user(row) -> StaffUser:
    return StaffUser(username=row.username, display_name=row.display_name,
                     role=Role(row.role), created_at=row.created_at,
                     disabled=bool(row.disabled))


def add_user(conn: Connection, user: StaffUser, password_hash: str) -> None:
    exists = conn.execute(select(t.staff_users.c.id)
                          .where(t.staff_users.c.username == user.username)).first()
    if exists is not None:
        raise DuplicateUsername(f"a user named {user.username!r} exists already")
    try:
        conn.execute(insert(t.staff_users).values(
            username=user.username, display_name=user.display_name, role=str(user.role),
            password_hash=password_hash, created_at=user.created_at,
            disabled=int(user.disabled)))
    except IntegrityError as exc:  # another process won the race
        raise DuplicateUsername(f"a user named {user.username!r} exists already") from exc


def list_users(conn: Connection) -> list[StaffUser]:
    return [_user(r) for r in conn.execute(
        select(t.staff_users).order_by(t.staff_users.c.username))]


def find_user(conn: Connection, username: str) -> tuple[StaffUser, str] | None:
    row = conn.execute(select(t.staff_users)
                       .where(t.staff_users.c.username == username)).first()
    return None if row is None else (_user(row), row.password_hash)


class SqlStaffStore:
    """StaffStore on the writer thread (app.services.staff)."""

    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def add(self, user: StaffUser, password_hash: str) -> None:
        await self._writer.run(lambda conn: add_user(conn, user, password_hash))

    async def list(self) -> list[StaffUser]:
        return await self._writer.run(list_users)

    async def password_hash(self, username: str) -> tuple[StaffUser, str] | None:
        return await self._writer.run(lambda conn: find_user(conn, username))
