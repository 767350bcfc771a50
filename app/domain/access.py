"""Access: accounts, their credentials, user groups, permits and the blocklist.

Pure data and normalization. The decision rules are in app.domain.access_rules; the
service that keeps them current and records every decision is app.services.access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AccountKind(StrEnum):
    DRIVER = "driver"
    TENANT = "tenant"
    FLEET = "fleet"


class CredentialKind(StrEnum):
    """What a credential is. `rfid` is a card UID as a reader prints it (1.6 idTag);
    the OCPP 2.0.1 idToken types keep their protocol spelling."""

    RFID = "rfid"
    PLATE = "plate"
    APP = "app"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    EMAID = "eMAID"
    CENTRAL = "Central"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"

    @classmethod
    def parse(cls, text: str) -> CredentialKind:
        """Case-insensitive: CSV files and 2.0.1 chargers spell these loosely."""
        wanted = str(text).strip().lower()
        for kind in cls:
            if kind.value.lower() == wanted or kind.name.lower() == wanted:
                return kind
        raise ValueError(f"unknown credential kind {text!r} "
                         f"(one of {', '.join(k.value for k in cls)})")

    @property
    def is_uid(self) -> bool:
        """Card UIDs: hex, matched in both byte orders."""
        return self in (CredentialKind.RFID, CredentialKind.ISO14443, CredentialKind.ISO15693)

    @property
    def ocpp_token_type(self) -> str:
        """The 2.0.1 idToken type this credential is presented as."""
        return {CredentialKind.RFID: "ISO14443", CredentialKind.APP: "Central",
                CredentialKind.PLATE: "Local"}.get(self, self.value)


# Kinds a charger can present (everything but a plate; plates come from cameras).
TOKEN_KINDS = tuple(k for k in CredentialKind if k is not CredentialKind.PLATE)


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class PermitStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RevokePolicy(StrEnum):
    IMMEDIATE = "immediate"  # stop every running session of the credential now
    FINISH = "finish"  # let the running session finish, deny the next one


# Why a credential is suspended or revoked, and what that does to a running session.
DEFAULT_REVOKE_POLICIES: dict[str, RevokePolicy] = {
    "lost": RevokePolicy.IMMEDIATE,
    "stolen": RevokePolicy.IMMEDIATE,
    "fraud": RevokePolicy.IMMEDIATE,
    "unpaid": RevokePolicy.FINISH,
    "moved out": RevokePolicy.FINISH,
    "contract ended": RevokePolicy.FINISH,
    "other": RevokePolicy.FINISH,
}


class GroupKind(StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"
    VISITOR = "visitor"
    FLEET = "fleet"
    CUSTOM = "custom"


# ---- normalization ----------------------------------------------------------------------

_HEX = re.compile(r"^[0-9A-F]+$")
_SEPARATORS = re.compile(r"[\s:\-._]")


def normalize_uid(text: str) -> str:
    """04a1b2c3, 04:A1:B2:C3 and '04 a1 b2 c3' are one card: upper-case hex, no separators.
    Not hex (a token printed in another form): kept as typed, trimmed."""
    raw = str(text).strip()
    compact = _SEPARATORS.sub("", raw).upper()
    return compact if compact and _HEX.match(compact) else raw


def reversed_uid(uid: str) -> str:
    """The same UID in the other byte order (readers disagree on it). "" when not whole
    bytes of hex, so only real UIDs get a second form."""
    if len(uid) % 2 or len(uid) < 4 or not _HEX.match(uid):
        return ""
    return "".join(reversed([uid[i:i + 2] for i in range(0, len(uid), 2)]))


def normalize_plate(text: str) -> str:
    """Upper case, letters and digits only: 'ab-12 cd' and 'AB12CD' are one plate."""
    return "".join(ch for ch in str(text).upper() if ch.isalnum())


def normalize_credential(kind: CredentialKind, value: str) -> str:
    """The stored, compared form of a credential value."""
    if kind is CredentialKind.PLATE:
        return normalize_plate(value)
    if kind.is_uid or kind is CredentialKind.MAC_ADDRESS:
        return normalize_uid(value)
    if kind is CredentialKind.EMAID:  # ISO 15118: case-insensitive, dashes optional
        return str(value).strip().replace("-", "").upper()
    return str(value).strip()


def token_keys(value: str) -> tuple[str, ...]:
    """Every stored form an untyped token (a 1.6 idTag) may match: as given, as hex,
    and the hex in the other byte order."""
    raw = str(value).strip()
    uid = normalize_uid(raw)
    keys = [raw]
    for key in (uid, reversed_uid(uid), raw.replace("-", "").upper()):
        if key and key not in keys:
            keys.append(key)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class PlatePattern:
    country: str
    regex: str

    def matches(self, plate: str) -> bool:
        return re.fullmatch(self.regex, plate) is not None


# Normalized (letters and digits only) forms. A site configures its own; these are the
# common ones near the demo site.
DEFAULT_PLATE_PATTERNS: tuple[PlatePattern, ...] = (
    PlatePattern("NL", r"[A-Z0-9]{6}"),
    PlatePattern("DE", r"[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}[EH]?"),
    PlatePattern("BE", r"[0-9][A-Z]{3}[0-9]{3}"),
    PlatePattern("FR", r"[A-Z]{2}[0-9]{3}[A-Z]{2}"),
    PlatePattern("GB", r"[A-Z]{2}[0-9]{2}[A-Z]{3}"),
)


def plate_patterns_from(stored: object) -> tuple[PlatePattern, ...]:
    """A site's own patterns ({"NL": "[A-Z0-9]{6}", ...}, normalized plates); the defaults
    when none are set. ValueError names a pattern that is not a valid regular expression."""
    if not stored:
        return DEFAULT_PLATE_PATTERNS
    if not isinstance(stored, dict):
        raise ValueError("plate patterns must map a country to a regular expression")
    patterns = []
    for country, regex in stored.items():
        try:
            re.compile(str(regex))
        except re.error as exc:
            raise ValueError(f"plate pattern for {country}: {exc}") from exc
        patterns.append(PlatePattern(str(country).upper(), str(regex)))
    return tuple(patterns)


def plate_country(plate: str, patterns: tuple[PlatePattern, ...]) -> str:
    """The first country whose pattern the normalized plate fits; "" when none does."""
    norm = normalize_plate(plate)
    return next((p.country for p in patterns if p.matches(norm)), "")


# ---- entities ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    kind: GroupKind = GroupKind.CUSTOM
    zones: tuple[str, ...] = ()  # zones allowed; empty = every zone
    max_stay_min: int | None = None  # None = no limit
    charging_allowed: bool = True
    max_vehicles: int | None = None  # vehicles on site at once; None = no limit
    tariff: str = ""

    def allows_zone(self, zone_id: str) -> bool:
        return not self.zones or zone_id in self.zones


DEFAULT_GROUPS: tuple[Group, ...] = (
    Group("resident", "Residents", GroupKind.RESIDENT, max_vehicles=2, tariff="resident"),
    Group("staff", "Staff", GroupKind.STAFF, tariff="staff"),
    Group("visitor", "Visitors", GroupKind.VISITOR, max_stay_min=240, max_vehicles=1,
          tariff="visitor"),
    Group("fleet", "Fleet", GroupKind.FLEET, tariff="fleet"),
)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    kind: AccountKind = AccountKind.DRIVER
    group_id: str = "visitor"
    email: str = ""
    phone: str = ""
    notes: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class Credential:
    id: int
    account_id: int
    kind: CredentialKind
    value: str  # normalized (normalize_credential)
    label: str = ""
    status: CredentialStatus = CredentialStatus.ACTIVE
    status_reason: str = ""

    @property
    def active(self) -> bool:
        return self.status is CredentialStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Permit:
    id: int
    account_id: int
    valid_from: datetime
    valid_until: datetime | None = None  # None = open-ended
    status: PermitStatus = PermitStatus.ACTIVE
    zone_id: str = ""  # "" = every zone the group allows

    def status_at(self, now: datetime) -> PermitStatus | None:
        """The permit's status now; None while it is not valid yet."""
        if self.status is not PermitStatus.ACTIVE:
            return self.status
        if now < self.valid_from:
            return None
        if self.valid_until is not None and now >= self.valid_until:
            return PermitStatus.EXPIRED
        return PermitStatus.ACTIVE

    def covers_zone(self, zone_id: str) -> bool:
        return not self.zone_id or not zone_id or self.zone_id == zone_id


@dataclass(frozen=True, slots=True)
class BlockEntry:
    id: int
    kind: CredentialKind
    value: str  # normalized
    reason: str
    until: datetime | None = None  # None = until lifted
    created_by: str = ""

    def in_force(self, now: datetime) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class AccessData:
    """Everything the decisions read, loaded at once (and reloaded on any change)."""

    groups: tuple[Group, ...] = DEFAULT_GROUPS
    accounts: tuple[Account, ...] = ()
    credentials: tuple[Credential, ...] = ()
    permits: tuple[Permit, ...] = ()
    blocklist: tuple[BlockEntry, ...] = ()
    revision: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)
