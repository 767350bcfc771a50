"""The one credential decision: the same rules answer the gate and the charger.

Pure functions over an AccessIndex (built once per change of the access data) and the
facts the caller knows (is the credential inside, how many sessions run, is the zone
full). Every answer carries a status and a reason a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.access import (
    DEFAULT_PLATE_PATTERNS,
    DEFAULT_REVOKE_POLICIES,
    AccessData,
    Account,
    BlockEntry,
    Credential,
    CredentialKind,
    CredentialStatus,
    Group,
    GroupKind,
    Permit,
    PermitStatus,
    PlatePattern,
    RevokePolicy,
    normalize_plate,
    token_keys,
)


class AccessStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT = "ConcurrentTx"
    NOT_HERE = "NotAtThisLocation"
    ANTI_PASSBACK = "AntiPassback"
    FULL = "Full"
    VEHICLE_LIMIT = "VehicleLimit"
    ASK_ATTENDANT = "AskAttendant"

    @property
    def ocpp16(self) -> str:
        """1.6 knows five statuses: the gate-only ones map onto the nearest."""
        if self in (AccessStatus.ACCEPTED, AccessStatus.BLOCKED, AccessStatus.EXPIRED,
                    AccessStatus.INVALID, AccessStatus.CONCURRENT):
            return self.value
        if self is AccessStatus.VEHICLE_LIMIT:
            return AccessStatus.CONCURRENT.value
        return AccessStatus.INVALID.value

    @property
    def ocpp201(self) -> str:
        if self is AccessStatus.NOT_HERE:
            return self.value
        return self.ocpp16


class VisitorPolicy(StrEnum):
    TICKETLESS = "ticketless"  # an unknown plate opens a visitor session; the plate is the ticket
    ATTENDANT = "attendant"  # the attendant is asked at the lane


class AntiPassback(StrEnum):
    HARD = "hard"  # a second entry (or an exit without entry) is refused
    SOFT = "soft"  # allowed, and recorded as a violation
    OFF = "off"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The site's access settings."""

    charging_requires_permit: bool = False
    accept_unknown_tokens: bool = False  # open charging: any card may charge (as a visitor)
    visitor_policy: VisitorPolicy = VisitorPolicy.TICKETLESS
    anti_passback: AntiPassback = AntiPassback.HARD
    revoke_policies: dict[str, RevokePolicy] = field(
        default_factory=lambda: dict(DEFAULT_REVOKE_POLICIES), hash=False, compare=False)
    plate_patterns: tuple[PlatePattern, ...] = DEFAULT_PLATE_PATTERNS

    def revoke_policy(self, reason: str) -> RevokePolicy:
        return self.revoke_policies.get(str(reason).strip().lower(), RevokePolicy.FINISH)


@dataclass(frozen=True, slots=True)
class Decision:
    status: AccessStatus
    reason: str
    credential: Credential | None = None
    account: Account | None = None
    group: Group | None = None
    visitor: bool = False  # no account (or no valid permit): a visitor
    violation: str = ""  # allowed, but recorded (soft anti-passback)

    @property
    def allowed(self) -> bool:
        return self.status is AccessStatus.ACCEPTED


class AccessIndex:
    """Lookups over AccessData: credentials by every key they match, plates, permits."""

    def __init__(self, data: AccessData) -> None:
        self.data = data
        self.groups = {g.id: g for g in data.groups}
        self.accounts = {a.id: a for a in data.accounts}
        self.tokens: dict[str, list[Credential]] = {}
        self.plates: dict[str, list[Credential]] = {}
        for cred in data.credentials:
            if cred.kind is CredentialKind.PLATE:
                self.plates.setdefault(cred.value, []).append(cred)
                continue
            for key in token_keys(cred.value):
                bucket = self.tokens.setdefault(key, [])
                if cred not in bucket:
                    bucket.append(cred)
        self.permits: dict[int, list[Permit]] = {}
        for permit in data.permits:
            self.permits.setdefault(permit.account_id, []).append(permit)
        self.blocked_tokens: dict[str, list[BlockEntry]] = {}
        self.blocked_plates: dict[str, list[BlockEntry]] = {}
        for entry in data.blocklist:
            if entry.kind is CredentialKind.PLATE:
                self.blocked_plates.setdefault(normalize_plate(entry.value), []).append(entry)
            else:
                for key in token_keys(entry.value):
                    self.blocked_tokens.setdefault(key, []).append(entry)

    # -- lookups -------------------------------------------------------------------------

    def find_token(self, value: str, token_type: str | None = None) -> Credential | None:
        """The credential a card/app token matches (in any byte order); an active one wins
        over a suspended or revoked copy, and a kind that fits `token_type` over others."""
        found: list[Credential] = []
        for key in token_keys(value):
            for cred in self.tokens.get(key, ()):
                if cred not in found:
                    found.append(cred)
        if not found:
            return None

        def rank(cred: Credential) -> tuple[int, int]:
            fits = token_type is None or cred.kind.ocpp_token_type.lower() == token_type.lower()
            return (0 if cred.active else 1, 0 if fits else 1)

        return min(found, key=rank)

    def find_plate(self, plate: str) -> Credential | None:
        found = self.plates.get(normalize_plate(plate), ())
        return min(found, key=lambda c: 0 if c.active else 1) if found else None

    def block_entry(self, kind: CredentialKind | None, value: str,
                    now: datetime) -> BlockEntry | None:
        if kind is CredentialKind.PLATE:
            entries = self.blocked_plates.get(normalize_plate(value), ())
        else:
            entries = [e for key in token_keys(value) for e in self.blocked_tokens.get(key, ())]
        return next((e for e in entries if e.in_force(now)), None)

    def group_of(self, account: Account) -> Group:
        return self.groups.get(account.group_id) or Group(account.group_id, account.group_id)

    def credentials_of(self, account_id: int) -> list[Credential]:
        return [c for c in self.data.credentials if c.account_id == account_id]

    def permit_state(self, account_id: int, zone_id: str,
                     now: datetime) -> tuple[PermitStatus | None, Permit | None]:
        """The best permit of an account for a zone: active beats suspended/revoked beats
        expired. (None, None) when the account has no permit for that zone at all."""
        order = {PermitStatus.ACTIVE: 0, PermitStatus.SUSPENDED: 1, PermitStatus.REVOKED: 2,
                 PermitStatus.EXPIRED: 3}
        best: tuple[int, PermitStatus, Permit] | None = None
        for permit in self.permits.get(account_id, ()):
            if not permit.covers_zone(zone_id):
                continue
            status = permit.status_at(now)
            if status is None:  # not valid yet
                continue
            rank = order[status]
            if best is None or rank < best[0]:
                best = (rank, status, permit)
        return (best[1], best[2]) if best else (None, None)


def _credential_refusal(index: AccessIndex, cred: Credential) -> Decision | None:
    """Suspended/revoked credential or disabled account: refused everywhere."""
    account = index.accounts.get(cred.account_id)
    if cred.status is not CredentialStatus.ACTIVE:
        why = f" ({cred.status_reason})" if cred.status_reason else ""
        return Decision(AccessStatus.BLOCKED, f"credential {cred.status.value}{why}",
                        credential=cred, account=account)
    if account is None or not account.active:
        return Decision(AccessStatus.BLOCKED, "account disabled", credential=cred,
                        account=account)
    return None


def _holder(index: AccessIndex, cred: Credential) -> tuple[Decision | None, dict]:
    """The refusal for a credential that cannot be used, or who holds it."""
    refusal = _credential_refusal(index, cred)
    if refusal is not None:
        return refusal, {}
    account = index.accounts[cred.account_id]
    return None, {"credential": cred, "account": account, "group": index.group_of(account)}


def decide_charger(index: AccessIndex, policy: AccessPolicy, token: str, *,
                   token_type: str | None = None, zone_id: str = "",
                   running_elsewhere: int = 0, now: datetime) -> Decision:
    """An idToken at a charger (Authorize, StartTransaction, TransactionEvent).

    `running_elsewhere`: transactions of this token running on other connectors.
    """
    if not str(token).strip():
        return Decision(AccessStatus.INVALID, "empty idToken")
    kind = CredentialKind.PLATE if (token_type or "").lower() == "plate" else None
    blocked = index.block_entry(kind, token, now)
    if blocked is not None:
        return Decision(AccessStatus.BLOCKED, f"blocklisted: {blocked.reason}")
    cred = index.find_token(token, token_type)
    if cred is None:
        if policy.accept_unknown_tokens:
            return Decision(AccessStatus.ACCEPTED, "unknown token; site accepts every token",
                            visitor=True)
        return Decision(AccessStatus.INVALID, "unknown credential")
    refusal, who = _holder(index, cred)
    if refusal is not None:
        return refusal
    account, group = who["account"], who["group"]
    if not group.charging_allowed:
        return Decision(AccessStatus.INVALID, f"group {group.name} may not charge", **who)
    if zone_id and not group.allows_zone(zone_id):
        return Decision(AccessStatus.NOT_HERE, f"group {group.name} not allowed in {zone_id}",
                        **who)
    permit_status, permit = index.permit_state(account.id, zone_id, now)
    if policy.charging_requires_permit and permit_status is not PermitStatus.ACTIVE:
        return _permit_refusal(permit_status, permit, who)
    if running_elsewhere > 0 and group.kind is not GroupKind.FLEET:
        return Decision(AccessStatus.CONCURRENT, "already charging on another connector", **who)
    reason = "permit holder" if permit_status is PermitStatus.ACTIVE else "known credential"
    return Decision(AccessStatus.ACCEPTED, reason, **who)


def _permit_refusal(status: PermitStatus | None, permit: Permit | None, who: dict) -> Decision:
    if status is PermitStatus.EXPIRED and permit is not None and permit.valid_until:
        return Decision(AccessStatus.EXPIRED,
                        f"permit expired {permit.valid_until:%Y-%m-%d %H:%M} UTC", **who)
    if status in (PermitStatus.SUSPENDED, PermitStatus.REVOKED):
        return Decision(AccessStatus.BLOCKED, f"permit {status.value}", **who)
    return Decision(AccessStatus.INVALID, "no active permit", **who)


@dataclass(frozen=True, slots=True)
class GateFacts:
    """What the gate knows besides the credential."""

    entry: bool  # entry lane (else exit)
    zone_id: str
    inside: bool = False  # this credential/plate has an open parking session
    account_inside: int = 0  # vehicles of the account on site now
    zone_full: bool = False


def decide_gate(index: AccessIndex, policy: AccessPolicy, kind: CredentialKind | None,
                value: str, facts: GateFacts, *, now: datetime) -> Decision:
    """A plate read or a card at an entry/exit lane."""
    plate = kind is CredentialKind.PLATE
    if not (normalize_plate(value) if plate else str(value).strip()):
        return Decision(AccessStatus.INVALID, "nothing read")
    blocked = index.block_entry(kind, value, now)
    if blocked is not None:
        return Decision(AccessStatus.BLOCKED, f"blocklisted: {blocked.reason}")
    cred = index.find_plate(value) if plate else index.find_token(value)
    if cred is None:
        return _visitor(policy, facts, "unknown " + ("plate" if plate else "card"))
    refusal, who = _holder(index, cred)
    if refusal is not None:
        return refusal
    account, group = who["account"], who["group"]
    if not group.allows_zone(facts.zone_id):
        return Decision(AccessStatus.NOT_HERE, f"group {group.name} not allowed in "
                        f"{facts.zone_id}", **who)
    violation = ""
    if facts.entry == facts.inside and policy.anti_passback is not AntiPassback.OFF:
        text = "already inside" if facts.entry else "no entry recorded"
        if policy.anti_passback is AntiPassback.HARD:
            return Decision(AccessStatus.ANTI_PASSBACK, f"anti-passback: {text}", **who)
        violation = f"anti-passback: {text}"
    if not facts.entry:
        return Decision(AccessStatus.ACCEPTED, "exit", violation=violation, **who)
    if group.max_vehicles is not None and facts.account_inside >= group.max_vehicles:
        return Decision(AccessStatus.VEHICLE_LIMIT,
                        f"vehicle limit {group.max_vehicles} reached", **who)
    permit_status, permit = index.permit_state(account.id, facts.zone_id, now)
    if permit_status is PermitStatus.ACTIVE:
        # Permit holders have their space: a full sign is for visitors.
        return Decision(AccessStatus.ACCEPTED, "permit holder", violation=violation, **who)
    if permit_status in (PermitStatus.SUSPENDED, PermitStatus.REVOKED):
        return _permit_refusal(permit_status, permit, who)
    why = "permit expired" if permit_status is PermitStatus.EXPIRED else "no permit"
    visitor = _visitor(policy, facts, f"{why}; as a visitor")
    return Decision(visitor.status, visitor.reason, visitor=True, violation=violation, **who)


def _visitor(policy: AccessPolicy, facts: GateFacts, why: str) -> Decision:
    if not facts.entry:
        if facts.inside:
            return Decision(AccessStatus.ACCEPTED, f"{why}: visitor exit", visitor=True)
        return Decision(AccessStatus.ASK_ATTENDANT, f"{why}: no entry recorded", visitor=True)
    if facts.zone_full:
        return Decision(AccessStatus.FULL, f"{why}: zone {facts.zone_id} full", visitor=True)
    if policy.visitor_policy is VisitorPolicy.ATTENDANT:
        return Decision(AccessStatus.ASK_ATTENDANT, f"{why}: attendant decides", visitor=True)
    return Decision(AccessStatus.ACCEPTED, f"{why}: ticketless visitor", visitor=True)
