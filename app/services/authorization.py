"""What the OCPP handlers need from authorization, and the simple tag-list authorizer.

The site's real authorizer is app.services.access.AccessService (accounts, permits,
blocklist; the same decision at the gate). AuthorizationService remains for tests and
tools that need a charger-only answer without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class AuthMode(StrEnum):
    # Until accounts and permits exist (access issue): accept every tag, or only known ones.
    ACCEPT_ALL = "accept_all"
    KNOWN_TAGS = "known_tags"


class AuthStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class AuthDecision:
    status: AuthStatus
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is AuthStatus.ACCEPTED


class Authorizer(Protocol):
    def authorize(self, id_token: str, *, charger_id: str, connector_id: int | None = None,
                  token_type: str | None = None) -> AuthDecision: ...


def normalize_token(token: str) -> str:
    """RFID UIDs arrive as 04a1b2c3, 04:A1:B2:C3 or 04 a1 b2 c3: compare them as one."""
    text = str(token).strip()
    compact = text.replace(":", "").replace(" ", "").replace("-", "")
    if compact and all(c in "0123456789abcdefABCDEF" for c in compact):
        return compact.upper()
    return text


class AuthorizationService:
    def __init__(self, mode: AuthMode = AuthMode.ACCEPT_ALL,
                 known: dict[str, str] | None = None) -> None:
        self.mode = mode
        self._known = {normalize_token(k): v for k, v in (known or {}).items()}

    def set_known(self, known: dict[str, str]) -> None:
        self._known = {normalize_token(k): v for k, v in known.items()}

    def authorize(self, id_token: str, *, charger_id: str = "",
                  connector_id: int | None = None,
                  token_type: str | None = None) -> AuthDecision:
        token = normalize_token(id_token)
        if not token:
            return AuthDecision(AuthStatus.INVALID, "empty idToken")
        status = self._known.get(token)
        if status is not None and status != AuthStatus.ACCEPTED:
            try:
                return AuthDecision(AuthStatus(status), f"tag is {status.lower()}")
            except ValueError:
                return AuthDecision(AuthStatus.INVALID, f"tag status {status!r}")
        if status is not None:
            return AuthDecision(AuthStatus.ACCEPTED, "known tag")
        if self.mode is AuthMode.ACCEPT_ALL:
            return AuthDecision(AuthStatus.ACCEPTED, "site accepts every tag")
        return AuthDecision(AuthStatus.INVALID, "unknown tag")
