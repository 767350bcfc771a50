"""Staff accounts: who may use the console, with which role.

There is no login screen yet (a later issue); accounts are created by the installer's
first-run setup and by `gatehouse user add`. Passwords are kept only as salted hashes
(app.services.passwords); every creation is written to the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from app.services.passwords import hash_password, verify_password
from app.services.ports import Audit, Clock

MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    ATTENDANT = "attendant"


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    display_name: str
    role: Role
    created_at: datetime
    disabled: bool = False


class StaffError(ValueError):
    """A request the accounts cannot take; the message says why, in an installer's words."""


class DuplicateUsername(StaffError):
    pass


class StaffStore(Protocol):
    """Persistence of staff accounts (app.adapters.db.staff_repo.SqlStaffStore)."""

    async def add(self, user: StaffUser, password_hash: str) -> None:
        """Raises DuplicateUsername when the username is taken."""
        ...

    async def list(self) -> list[StaffUser]: ...

    async def password_hash(self, username: str) -> tuple[StaffUser, str] | None: ...


def normalize_username(text: str) -> str:
    """Usernames are case-insensitive: stored lower-case, without surrounding blanks."""
    name = text.strip().lower()
    if not _USERNAME.match(name):
        raise StaffError(
            "a username is 2 to 64 characters: letters, digits and . _ - @, "
            "starting with a letter or digit")
    return name


def password_problems(password: str, repeat: str | None = None) -> list[str]:
    """What is wrong with a new password (empty list: it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    elif not password.strip():
        problems.append("the password cannot be only spaces")
    if repeat is not None and repeat != password:
        problems.append("the two passwords differ")
    return problems


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise StaffError(f"unknown role {text!r} (use one of: "
                         f"{', '.join(r.value for r in Role)})") from None


class StaffService:
    def __init__(self, store: StaffStore, audit: Audit, clock: Clock,
                 hasher: Callable[[str], str] = hash_password) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._hash = hasher

    async def create(self, actor: str, username: str, password: str, role: Role | str,
                     display_name: str = "") -> StaffUser:
        name = normalize_username(username)
        problems = password_problems(password)
        if problems:
            raise StaffError("; ".join(problems))
        user = StaffUser(username=name, display_name=display_name.strip()[:200] or name,
                         role=parse_role(str(role)), created_at=self._clock())
        await self._store.add(user, self._hash(password))
        self._audit(actor, "staff.create", name,
                    {"role": str(user.role), "display_name": user.display_name})
        return user

    async def list(self) -> list[StaffUser]:
        return await self._store.list()

    async def has_admin(self) -> bool:
        return any(u.role is Role.ADMIN and not u.disabled for u in await self._store.list())

    async def verify(self, username: str, password: str) -> StaffUser | None:
        """The account, if the password is right and the account is enabled."""
        try:
            name = normalize_username(username)
        except StaffError:
            return None
        found = await self._store.password_hash(name)
        if found is None:
            return None
        user, stored = found
        if user.disabled or not verify_password(password, stored):
            return None
        return user
