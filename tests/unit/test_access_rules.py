"""The one credential decision, as the gate and the charger see it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import (
    DEFAULT_PLATE_PATTERNS,
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
    normalize_credential,
    normalize_plate,
    normalize_uid,
    plate_country,
    token_keys,
)
from app.domain.access_rules import (
    AccessIndex,
    AccessPolicy,
    AccessStatus,
    AntiPassback,
    GateFacts,
    VisitorPolicy,
    decide_charger,
    decide_gate,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
RFID = CredentialKind.RFID
PLATE = CredentialKind.PLATE


def data(**over) -> AccessData:
    base = AccessData(
        groups=(Group("resident", "Residents", GroupKind.RESIDENT, max_vehicles=1),
                Group("visitor", "Visitors", GroupKind.VISITOR, charging_allowed=False),
                Group("fleet", "Fleet", GroupKind.FLEET, zones=("P1-EV",))),
        accounts=(Account(1, "Anna", group_id="resident"),
                  Account(2, "Bob", group_id="visitor"),
                  Account(3, "Fleet Co", group_id="fleet"),
                  Account(4, "Gone", group_id="resident", active=False)),
        credentials=(Credential(10, 1, RFID, "04A1B2C3"),
                     Credential(11, 1, PLATE, "GX512K"),
                     Credential(12, 2, RFID, "AABBCCDD"),
                     Credential(13, 3, CredentialKind.EMAID, "NLGHSA123456"),
                     Credential(14, 4, RFID, "DEADBEEF")),
        permits=(Permit(100, 1, NOW - timedelta(days=30), NOW + timedelta(days=30)),),
    )
    return replace(base, **over)


def idx(**over) -> AccessIndex:
    return AccessIndex(data(**over))


def test_uids_match_in_any_form_and_either_byte_order():
    assert normalize_uid("04:a1:b2:c3") == normalize_uid("04 A1 B2 C3") == "04A1B2C3"
    index = idx()
    for presented in ("04a1b2c3", "04:A1:B2:C3", "C3B2A104", "c3-b2-a1-04"):
        assert index.find_token(presented).id == 10, presented
    assert "C3B2A104" in token_keys("04A1B2C3")


def test_plates_and_emaids_are_normalized():
    assert normalize_plate(" gx-512 k ") == "GX512K"
    assert normalize_credential(CredentialKind.EMAID, "nl-ghs-a123456") == "NLGHSA123456"
    assert plate_country("GX-512-K", DEFAULT_PLATE_PATTERNS) == "NL"
    assert plate_country("AB12CDE", DEFAULT_PLATE_PATTERNS) == "GB"
    assert CredentialKind.parse("iso14443") is CredentialKind.ISO14443
    with pytest.raises(ValueError, match="unknown credential kind"):
        CredentialKind.parse("badge")


def test_charger_accepts_a_permit_holder_and_refuses_what_it_should():
    index, policy = idx(), AccessPolicy()
    assert decide_charger(index, policy, "04a1b2c3", now=NOW).status is AccessStatus.ACCEPTED
    assert decide_charger(index, policy, "FFFFFFFF", now=NOW).status is AccessStatus.INVALID
    visitor = decide_charger(index, policy, "AABBCCDD", now=NOW)
    assert visitor.status is AccessStatus.INVALID and "may not charge" in visitor.reason
    assert decide_charger(index, policy, "DEADBEEF", now=NOW).reason == "account disabled"
    open_site = AccessPolicy(accept_unknown_tokens=True)
    assert decide_charger(index, open_site, "FFFFFFFF", now=NOW).allowed


def test_charging_requires_an_active_permit_when_the_site_says_so():
    policy = AccessPolicy(charging_requires_permit=True)
    expired = idx(permits=(Permit(100, 1, NOW - timedelta(days=60), NOW - timedelta(days=1)),))
    d = decide_charger(expired, policy, "04A1B2C3", now=NOW)
    assert d.status is AccessStatus.EXPIRED and "expired" in d.reason
    none = decide_charger(idx(), policy, "NLGHSA123456", now=NOW)
    assert none.status is AccessStatus.INVALID and none.reason == "no active permit"
    suspended = idx(permits=(Permit(100, 1, NOW - timedelta(days=1),
                                    status=PermitStatus.SUSPENDED),))
    assert decide_charger(suspended, policy, "04A1B2C3", now=NOW).status is AccessStatus.BLOCKED


def test_revoked_credential_and_blocklist_refuse_everywhere():
    revoked = idx(credentials=(Credential(10, 1, RFID, "04A1B2C3",
                                          status=CredentialStatus.REVOKED,
                                          status_reason="lost"),
                               Credential(11, 1, PLATE, "GX512K")))
    d = decide_charger(revoked, AccessPolicy(), "04A1B2C3", now=NOW)
    assert d.status is AccessStatus.BLOCKED and d.reason == "credential revoked (lost)"
    blocked = idx(blocklist=(BlockEntry(1, PLATE, "GX512K", "unpaid fees"),
                             BlockEntry(2, RFID, "04A1B2C3", "fraud",
                                        until=NOW - timedelta(minutes=1))))
    gate = decide_gate(blocked, AccessPolicy(), PLATE, "gx 512 k",
                       GateFacts(entry=True, zone_id="P1"), now=NOW)
    assert gate.status is AccessStatus.BLOCKED and "unpaid fees" in gate.reason
    # An entry past its expiry no longer blocks.
    assert decide_charger(blocked, AccessPolicy(), "04A1B2C3", now=NOW).allowed


def test_concurrent_sessions_refused_except_for_fleet_cards():
    index = idx()
    d = decide_charger(index, AccessPolicy(), "04A1B2C3", running_elsewhere=1, now=NOW)
    assert d.status is AccessStatus.CONCURRENT and d.status.ocpp16 == "ConcurrentTx"
    fleet = decide_charger(index, AccessPolicy(), "NL-GHS-A123456", zone_id="P1-EV",
                           running_elsewhere=3, now=NOW)
    assert fleet.allowed
    elsewhere = decide_charger(index, AccessPolicy(), "NLGHSA123456", zone_id="P1", now=NOW)
    assert elsewhere.status is AccessStatus.NOT_HERE and elsewhere.status.ocpp16 == "Invalid"


def test_gate_entry_exit_and_anti_passback():
    index, policy = idx(), AccessPolicy()
    entry = GateFacts(entry=True, zone_id="P1")
    assert decide_gate(index, policy, PLATE, "GX512K", entry, now=NOW).reason == "permit holder"
    again = decide_gate(index, policy, PLATE, "GX512K", replace(entry, inside=True), now=NOW)
    assert again.status is AccessStatus.ANTI_PASSBACK
    soft = decide_gate(index, AccessPolicy(anti_passback=AntiPassback.SOFT), PLATE, "GX512K",
                       replace(entry, inside=True), now=NOW)
    assert soft.allowed and soft.violation == "anti-passback: already inside"
    leave = decide_gate(index, policy, None, "04A1B2C3",
                        GateFacts(entry=False, zone_id="P1", inside=True), now=NOW)
    assert leave.allowed and leave.reason == "exit"
    limit = decide_gate(index, policy, RFID, "04A1B2C3", replace(entry, account_inside=1),
                        now=NOW)
    assert limit.status is AccessStatus.VEHICLE_LIMIT


def test_visitors_follow_the_visitor_policy_and_the_full_sign():
    index = idx()
    entry = GateFacts(entry=True, zone_id="P1")
    ticketless = decide_gate(index, AccessPolicy(), PLATE, "ZZ999Z", entry, now=NOW)
    assert ticketless.allowed and ticketless.visitor
    ask = decide_gate(index, AccessPolicy(visitor_policy=VisitorPolicy.ATTENDANT), PLATE,
                      "ZZ999Z", entry, now=NOW)
    assert ask.status is AccessStatus.ASK_ATTENDANT
    full = replace(entry, zone_full=True)
    assert decide_gate(index, AccessPolicy(), PLATE, "ZZ999Z", full, now=NOW).status \
        is AccessStatus.FULL
    # A permit holder has a space even when the sign says full.
    assert decide_gate(index, AccessPolicy(), PLATE, "GX512K", full, now=NOW).allowed
    no_entry = decide_gate(index, AccessPolicy(), PLATE, "ZZ999Z",
                           GateFacts(entry=False, zone_id="P1"), now=NOW)
    assert no_entry.status is AccessStatus.ASK_ATTENDANT


def test_permits_not_valid_yet_or_for_another_zone_do_not_count():
    later = idx(permits=(Permit(100, 1, NOW + timedelta(days=1)),))
    d = decide_gate(later, AccessPolicy(), PLATE, "GX512K",
                    GateFacts(entry=True, zone_id="P1"), now=NOW)
    assert d.allowed and d.visitor and d.reason.startswith("no permit")
    zoned = idx(permits=(Permit(100, 1, NOW - timedelta(days=1), zone_id="P1-EV"),))
    assert decide_gate(zoned, AccessPolicy(), PLATE, "GX512K",
                       GateFacts(entry=True, zone_id="P1"), now=NOW).visitor


def test_a_site_sets_its_own_plate_patterns():
    from app.domain.access import plate_patterns_from

    assert plate_patterns_from(None) == DEFAULT_PLATE_PATTERNS
    own = plate_patterns_from({"ch": "[A-Z]{2}[0-9]{1,6}"})
    assert plate_country("ZH 123456", own) == "CH" and plate_country("GX-512-K", own) == ""
    with pytest.raises(ValueError, match="plate pattern for XX"):
        plate_patterns_from({"XX": "[A-Z"})
