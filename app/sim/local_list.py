"""The local authorization list of a simulated charger (SendLocalList, GetLocalListVersion)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class LocalList:
    max_length: int = 1000  # LocalAuthListMaxLength
    max_per_message: int = 250  # SendLocalListMaxLength / ItemsPerMessage
    version: int = 0
    entries: dict[str, str] = field(default_factory=dict)  # idToken -> status

    @property
    def reported_version(self) -> int:
        """What GetLocalListVersion says: 0 while the list is empty (both versions)."""
        return self.version if self.entries else 0

    def update(self, version: int, full: bool, items: list[tuple[str, str | None]]) -> str:
        """Accepted, Failed or VersionMismatch. `items`: (idToken, status); a status of
        None removes the token (differential update only).

        A differential update must be the next version: one not newer than the list (a
        replay) or one that skips versions (an update was lost) does not fit; the central
        system then sends the whole list again.
        """
        if len(items) > self.max_per_message:
            return "Failed"
        if full:
            if any(status is None for _, status in items) or len(items) > self.max_length:
                return "Failed"
            self.entries = {token: str(status) for token, status in items}
            self.version = version
            return "Accepted"
        if version != self.version + 1:
            return "VersionMismatch"
        entries = dict(self.entries)
        for token, status in items:
            if status is None:
                entries.pop(token, None)
            else:
                entries[token] = status
        if len(entries) > self.max_length:
            return "Failed"
        self.entries, self.version = entries, version
        return "Accepted"

    def status_of(self, token: str) -> str | None:
        return self.entries.get(token)
