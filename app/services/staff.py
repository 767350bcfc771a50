"""Staff accounts: who may use the console, with which role, and supervisor approval.

There is no login screen yet (a later issue); accounts are created by the installer's
first-run setup and by `gatehouse user add`. Passwords are kept only as salted hashes
(app.services.passwords); every creation is written to the audit log.

Supervisor actions (waiving or adjusting a bill or a fee, saving a tariff) need an
Approval: a supervisor or admin types their name and password at the booth, like a
manager override on a till (`StaffService.approve`). The services refuse those actions
without one (`require_supervisor`), and the audit entry names who approved. Five wrong
passwords for a name within five minutes lock that name's approvals for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
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


SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
MAX_FAILED_APPROVALS = 5
FAILED_WINDOW = timedelta(minutes=5)
LOCKOUT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Approval:
    """A supervisor's (or admin's) approval of one action, checked by StaffService.approve."""

    username: str
    display_name: str
    role: Role
    at: datetime

    @property
    def label(self) -> str:
        """For audit entries and screens: "Ann Smith (ann)"."""
        if self.display_name and self.display_name != self.username:
            return f"{self.display_name} ({self.username})"
        return self.username


class StaffError(ValueError):
    """A request the accounts cannot take; the message says why, in an installer's words."""


class ApprovalRefused(StaffError):
    """The name/password given for a supervisor approval does not approve."""


class SupervisorRequired(PermissionError):
    """A supervisor action was asked for without a supervisor's approval."""


def require_supervisor(approval: Approval | None, action: str) -> Approval:
    """The approval of a supervisor action, or SupervisorRequired saying what is missing."""
    if approval is None:
        raise SupervisorRequired(f"{action} needs a supervisor's approval")
    if approval.role not in SUPERVISOR_ROLES:
        raise SupervisorRequired(f"{action} needs a supervisor's approval; "
                                 f"{approval.username} is {approval.role.value}")
    return approval


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
        self._failures: dict[str, list[datetime]] = {}

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

    async def approve(self, username: str, password: str, action: str) -> Approval:
        """A supervisor's approval of `action` (audited either way), or ApprovalRefused
        with the reason to show at the booth. The password check (PBKDF2, ~0.1 s) runs on
        a worker thread so the chargers' loop does not wait for it."""
        name = username.strip().lower()
        now = self._clock()
        recent = [t for t in self._failures.get(name, []) if now - t < FAILED_WINDOW]
        self._failures[name] = recent
        if len(recent) >= MAX_FAILED_APPROVALS and now - recent[-1] < LOCKOUT:
            self._audit(name or "?", "staff.approve_refused", action,
                        {"why": "locked after wrong passwords"})
            raise ApprovalRefused("too many wrong passwords: try again in a minute")
        found = None
        with contextlib.suppress(StaffError):  # a malformed name: simply not found
            found = await self._store.password_hash(normalize_username(username))
        ok = found is not None and not found[0].disabled and await asyncio.to_thread(
            verify_password, password, found[1])
        if not ok or found is None:
            self._failures[name].append(now)
            self._audit(name or "?", "staff.approve_refused", action,
                        {"why": "wrong user name or password"})
            raise ApprovalRefused("wrong user name or password")
        user = found[0]
        self._failures.pop(name, None)
        if user.role not in SUPERVISOR_ROLES:
            self._audit(user.username, "staff.approve_refused", action,
                        {"why": f"role {user.role.value}"})
            raise ApprovalRefused(f"{user.username} is an {user.role.value}: "
                                  "a supervisor or admin must approve")
        approval = Approval(user.username, user.display_name, user.role, now)
        self._audit(user.username, "staff.approve", action, {"role": user.role.value})
        return approval
