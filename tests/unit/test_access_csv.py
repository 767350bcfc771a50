"""The accounts CSV without a database: reading, checking against a snapshot, planning,
writing (app.access_csv)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.access_csv import (
    COLUMNS,
    format_accounts_csv,
    format_moment,
    parse_moment,
    plan_import,
    read_csv,
)
from app.domain.access import (
    AccessData,
    Account,
    AccountKind,
    BlockEntry,
    Credential,
    CredentialKind,
    CredentialStatus,
    Permit,
    PermitStatus,
)

HEADER = ("account,name,kind,group,email,phone,credential_kind,credential_value,"
          "credential_label,credential_status,permit_from,permit_until,permit_zone\n")
GOOD = HEADER + (
    "A-1001,Jan Jansen,tenant,resident,jan@example.nl,+31 6 1234 5678,rfid,04:a1:b2:c3,"
    "blue card,,2026-01-01,2026-12-31,P1\n"
    "A-1001,,,,,,plate,ab-123-c,Tesla,,2026-01-01,2026-12-31,P1\n"
    "A-1002,Fleet BV,fleet,Fleet,ops@fleet.example,,app,APP-77,,suspended,,,\n"
    "A-1003,No Credentials,,,,,,,,,,,\n"
)
AT = datetime(2026, 1, 1, tzinfo=UTC)


def errors(plan) -> list[str]:
    return [str(p) for p in plan.errors]


def warnings(plan) -> list[str]:
    return [str(p) for p in plan.warnings]


def existing() -> AccessData:
    return AccessData(
        accounts=(Account(7, "Jan Jansen", AccountKind.TENANT, "resident", "jan@example.nl",
                          "+31 6 1234 5678"),
                  Account(8, "Other Person", AccountKind.DRIVER, "visitor", "o@example.nl"),
                  Account(9, "Twin", email="t@example.nl"),
                  Account(10, "Twin", email="t@example.nl")),
        credentials=(Credential(1, 7, CredentialKind.RFID, "04A1B2C3", "blue card"),
                     Credential(2, 8, CredentialKind.PLATE, "XY99ZZ", "van"),
                     Credential(3, 8, CredentialKind.RFID, "11223344")),
        permits=(Permit(1, 7, AT, datetime(2027, 1, 1, tzinfo=UTC), zone_id="P1"),),
        blocklist=(BlockEntry(1, CredentialKind.PLATE, "STOLEN1", "stolen car"),),
    )


# ---- reading ------------------------------------------------------------------------------

def test_header_any_order_any_case_bom_and_semicolons():
    text = "\ufeffE-Mail;NAME;Account;Credential Kind;credential-value\n" \
           "a@b.nl;Ann;X1;Plate;ab 12 cd\n"
    parsed = read_csv(text)
    assert parsed.problems == ()
    assert parsed.columns == ("email", "name", "account", "credential_kind",
                              "credential_value")
    assert parsed.rows[0].number == 2
    assert parsed.rows[0].cells["credential_value"] == "ab 12 cd"
    plan = plan_import(parsed)
    assert plan.ok and plan.accounts[0].credentials[0].value == "AB12CD"


def test_tab_delimited_and_blank_rows_keep_spreadsheet_row_numbers():
    text = "name\tcredential_kind\tcredential_value\n\nAnn\tbadge\t1\n"
    assert errors(plan_import(text)) == [
        "row 3, credential_kind: unknown kind 'badge' (one of rfid, plate, app, ISO14443, "
        "ISO15693, KeyCode, eMAID, Central, Local, MacAddress)"]


def test_header_problems_stop_before_the_rows():
    plan = plan_import("account,nmae,credential_value,permit_until\nA,Ann,04A1,\n")
    assert errors(plan) == [
        f"row 1, nmae: unknown column (the columns are {', '.join(COLUMNS)})",
        "row 1, name: the column is missing (it is required)",
        "row 1, credential_kind: the column is missing (credential_value needs it)",
        "row 1, permit_from: the column is missing (the other permit columns need it)",
    ]
    assert plan.accounts == []
    assert errors(plan_import("")) == ["row 1: the file is empty (no header row)"]


def test_a_row_with_more_cells_than_columns():
    assert errors(plan_import("name,email\nAnn,a@b.nl,extra\n")) == [
        "row 2: 3 cells but only 2 columns in the header"]


# ---- a good file --------------------------------------------------------------------------

def test_good_file_plans_accounts_credentials_and_permits():
    plan = plan_import(GOOD)
    assert plan.ok, errors(plan)
    assert plan.counts() == {"accounts_created": 3, "accounts_updated": 0,
                             "accounts_unchanged": 0, "credentials_added": 3,
                             "credentials_updated": 0, "permits_added": 1,
                             "permits_updated": 0}
    jan, fleet, bare = plan.accounts
    assert jan.fields == {"name": "Jan Jansen", "kind": "tenant", "group_id": "resident",
                          "email": "jan@example.nl", "phone": "+31 6 1234 5678"}
    assert [(c.kind, c.value, c.label) for c in jan.credentials] == [
        (CredentialKind.RFID, "04A1B2C3", "blue card"), (CredentialKind.PLATE, "AB123C", "Tesla")]
    (permit,) = jan.permits  # repeated on both rows: one permit
    assert (permit.valid_from, permit.valid_until, permit.zone_id) == (
        AT, datetime(2027, 1, 1, tzinfo=UTC), "P1")
    assert fleet.fields["group_id"] == "fleet"  # "Fleet" matches the group's id
    assert fleet.credentials[0].status is CredentialStatus.SUSPENDED
    assert bare.fields["kind"] == "driver" and bare.fields["group_id"] == "visitor"
    assert bare.credentials == [] and bare.permits == []
    assert all(a.created and a.new_id is None for a in plan.accounts)


def test_group_by_name_and_rows_without_an_account_column():
    text = "name,email,group,credential_kind,credential_value\n" \
           "Ann,ann@x.nl,Residents,rfid,0A0B\nAnn,ann@x.nl,,plate,AB12CD\nBob,,,,\n"
    plan = plan_import(text)
    assert plan.ok, errors(plan)
    assert [(a.fields["name"], a.fields["group_id"], len(a.credentials))
            for a in plan.accounts] == [("Ann", "resident", 2), ("Bob", "visitor", 0)]


# ---- bad rows -----------------------------------------------------------------------------

def test_every_bad_row_is_reported_with_row_and_column():
    text = HEADER + (
        "B-1,,driver,visitor,,,rfid,XYZ,,,,,\n"
        "B-2,Piet,boss,vip,piet@,,badge,123,,lost,2026-13-01,,\n"
        "B-3,Kees,driver,staff,kees@x.nl,,plate,AB-123-C,,,2026-05-01,2026-04-01,\n"
        "B-3,Kees,driver,staff,kees@x.nl,,plate,ab123c,,,,,\n"
        "B-4,Els,,,,,rfid,,,,,2026-01-01,\n"
        "B-5,Rik,,,,,,04A1B2C3,,revoked,,,P 1\n"
        "B-6,Rik,,,,,plate,,x,,,,\n"
        "B-7,Vera,tenant,resident,vera@x.nl,,,,,,2026-01-01T25:00,,\n"
    )
    assert errors(plan_import(text)) == [
        "row 2, name: empty (every account needs a name)",
        "row 2, credential_value: rfid 'XYZ' is not hexadecimal (a card UID is 0-9 and A-F, "
        "e.g. 04A1B2C3)",
        "row 3, kind: unknown kind 'boss' (one of driver, tenant, fleet)",
        "row 3, group: unknown group 'vip' (one of resident, staff, visitor, fleet)",
        "row 3, email: 'piet@' is not an e-mail address",
        "row 3, credential_kind: unknown kind 'badge' (one of rfid, plate, app, ISO14443, "
        "ISO15693, KeyCode, eMAID, Central, Local, MacAddress)",
        "row 3, credential_status: unknown credential status 'lost' (one of active, "
        "suspended, revoked)",
        "row 3, permit_from: '2026-13-01' is not a date",
        "row 4, permit_until: 2026-04-01 is before permit_from 2026-05-01",
        "row 5, credential_value: plate AB123C is listed already on row 4",
        "row 6, credential_value: empty (the row has a credential_kind)",
        "row 6, permit_from: empty (the row has a permit_until; a permit needs a start)",
        "row 7, credential_kind: empty (the row has a credential_value)",
        "row 7, permit_from: empty (the row has a permit_zone; a permit needs a start)",
        "row 8, credential_value: empty (the row has a credential_kind)",
        "row 9, permit_from: '2026-01-01T25:00' is not an ISO 8601 date or date-time "
        "(examples: 2026-01-31, 2026-01-31T08:00, 2026-01-31T08:00+01:00)",
    ]


def test_more_row_checks():
    text = HEADER + (
        "C-1,Ann,,,,,rfid,04A1B2C3,,,,,\n"
        "C-2,Bob,,,,,,,label only,,,2026-01-01,\n"
        "C-3,Cas,,,,,iso14443,C3B2A104,,,,,\n"  # the card of row 2 in the other byte order
        "C-4,Dan,,,,,plate,--,,,2026-02-01,,P 1\n"
        "C-5,Eva,,,,,MacAddress,00:1A:2B:3C:4D:5G,,,2026-02-30,2026-01-01T00:00:00+25:00,\n"
    )
    assert errors(plan_import(text)) == [
        "row 3, credential_label: given without a credential_kind and credential_value",
        "row 3, permit_from: empty (the row has a permit_until; a permit needs a start)",
        "row 4, credential_value: ISO14443 C3B2A104 is the same card as row 2",
        "row 5, credential_value: '--' has no letters or digits",
        "row 5, permit_zone: 'P 1' is not a zone id (1-64 characters, no spaces)",
        "row 6, credential_value: MacAddress '00:1A:2B:3C:4D:5G' is not hexadecimal (a card "
        "UID is 0-9 and A-F, e.g. 04A1B2C3)",
        "row 6, permit_from: '2026-02-30' is not a date",
        "row 6, permit_until: '2026-01-01T00:00:00+25:00' is not an ISO 8601 date or "
        "date-time (examples: 2026-01-31, 2026-01-31T08:00, 2026-01-31T08:00+01:00)",
    ]


def test_rows_of_one_account_must_agree():
    text = HEADER + (
        "D-1,Ann,driver,resident,ann@x.nl,,,,,,,,\n"
        "D-1,,tenant,,,,,,,,,,\n"
        "D-1,ANN,,resident,,,,,,,,,\n"  # case does not count
    )
    assert errors(plan_import(text)) == [
        "row 3, kind: 'tenant' differs from 'driver' on row 2 of the same account"]


def test_warnings_do_not_stop_the_import():
    text = HEADER + (
        "E-1,Ann,,,,,plate,QQQQQQQQQQ,,,,,\n"
        "E-1,Ann,,,,,rfid,ABC,,,,,\n"
        "E-1,Ann,,,,,plate,stolen-1,,,,,\n"
    )
    plan = plan_import(text, existing())
    assert plan.ok
    assert warnings(plan) == [
        "row 2, credential_value: plate QQQQQQQQQQ fits no known country pattern "
        "(NL, DE, BE, FR, GB)",
        "row 3, credential_value: rfid ABC has an odd number of hex digits (card UIDs are "
        "whole bytes)",
        "row 4, credential_value: plate STOLEN1 fits no known country pattern "
        "(NL, DE, BE, FR, GB)",
        "row 4, credential_value: plate STOLEN1 is on the blocklist (stolen car)",
    ]
    assert len(plan.accounts[0].credentials) == 3


# ---- against the database -----------------------------------------------------------------

def test_a_credential_of_another_account_is_an_error():
    text = HEADER + (
        "F-1,New Person,,,,,plate,xy-99-zz,,,,,\n"
        "F-1,New Person,,,,,rfid,44 33 22 11,,,,,\n"  # 11223344 of account 8, reversed
        "7,Jan Jansen,tenant,resident,jan@example.nl,+31 6 1234 5678,plate,XY99ZZ,,,,,\n"
    )
    assert errors(plan_import(text, existing())) == [
        "row 2, credential_value: plate XY99ZZ belongs to account 8 (Other Person)",
        "row 3, credential_value: rfid 44332211 is the same card as rfid 11223344 of "
        "account 8 (Other Person)",
        "row 4, credential_value: plate XY99ZZ is listed already on row 2",
    ]


def test_reimport_updates_instead_of_duplicating():
    text = HEADER + (
        # by number: a new label, a changed phone, the same card, the same permit
        "7,Jan Jansen,tenant,resident,jan@example.nl,+31 6 0000,rfid,04a1b2c3,lost card,"
        "suspended,2026-01-01,2026-12-31,P1\n"
        # by label: matched on name + e-mail (case-insensitive), nothing changes
        "X-8,Other Person,driver,visitor,o@example.nl,,plate,xy-99-zz,van,,,,\n"
    )
    plan = plan_import(text, existing())
    assert plan.ok, errors(plan)
    jan, other = plan.accounts
    assert (jan.account_id, jan.created, jan.changed, jan.fields) == (
        7, False, True, {"phone": "+31 6 0000"})
    (cred,) = jan.credentials
    assert (cred.existing_id, cred.label, cred.status) == (1, "lost card",
                                                           CredentialStatus.SUSPENDED)
    assert jan.permits == []  # the same permit is there already
    assert (other.account_id, other.changed, other.credentials, other.permits) == (
        8, False, [], [])
    assert plan.counts()["accounts_unchanged"] == 1
    assert plan.counts()["credentials_added"] == 0


def test_account_numbers_and_names():
    text = HEADER + (
        "7,Johannes Jansen,,,,,,,,,,,\n"  # renames account 7: a warning
        "42,New Number,,,,,,,,,,,\n"  # not in the database: created with that number
        "T,Twin,,,t@example.nl,,,,,,,,\n"  # two accounts fit: ambiguous
        "J,Johannes Jansen,,,,,,,,,,,\n"  # a label matching no one: new
    )
    plan = plan_import(text, existing())
    assert errors(plan) == [
        "row 4, account: 2 accounts are named 'Twin' with this e-mail (9, 10): put the "
        "account number in the account column"]
    assert warnings(plan) == [
        "row 2, name: renames account 7 from 'Jan Jansen' to 'Johannes Jansen'"]
    renamed, numbered, _twin, labelled = plan.accounts
    # the file has email and phone columns: its empty cells clear them
    assert renamed.fields == {"name": "Johannes Jansen", "email": "", "phone": ""}
    assert (numbered.created, numbered.new_id) == (True, 42)
    assert (labelled.created, labelled.new_id) == (True, None)


def test_one_account_named_twice_is_an_error():
    text = HEADER + ("7,Jan Jansen,,,,,,,,,,,\n"
                     "J,Jan Jansen,,,jan@example.nl,,,,,,,,\n")
    assert errors(plan_import(text, existing())) == [
        "row 3, account: 'J' is account 7, which row 2 names already"]


def test_permit_status_changes_an_existing_permit():
    text = ("account,name,permit_from,permit_until,permit_zone,permit_status\n"
            "7,Jan Jansen,2026-01-01,2026-12-31,P1,suspended\n"
            "7,Jan Jansen,2026-01-01T08:00+01:00,,,\n")
    plan = plan_import(text, existing())
    assert plan.ok, errors(plan)
    changed, added = plan.accounts[0].permits
    assert (changed.existing_id, changed.status) == (1, PermitStatus.SUSPENDED)
    assert (added.existing_id, added.valid_from, added.valid_until) == (
        None, datetime(2026, 1, 1, 7, 0, tzinfo=UTC), None)


# ---- dates --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "end", "expected"), [
    ("2026-03-14", False, datetime(2026, 3, 14, tzinfo=UTC)),
    ("2026-03-14", True, datetime(2026, 3, 15, tzinfo=UTC)),  # valid through that day
    ("2026-03-14T08:30", False, datetime(2026, 3, 14, 8, 30, tzinfo=UTC)),  # naive = UTC
    ("2026-03-14T08:30:00Z", True, datetime(2026, 3, 14, 8, 30, tzinfo=UTC)),
    ("2026-03-14 08:30+02:00", False, datetime(2026, 3, 14, 6, 30, tzinfo=UTC)),
])
def test_parse_and_format_moments(text, end, expected):
    moment = parse_moment(text, end=end)
    assert moment == expected
    assert parse_moment(format_moment(moment, end=end), end=end) == expected


def test_format_moment_writes_midnight_as_a_date():
    assert format_moment(datetime(2026, 3, 15, tzinfo=UTC), end=True) == "2026-03-14"
    assert format_moment(datetime(2026, 3, 15, 6, 30, tzinfo=UTC)) == "2026-03-15T06:30:00Z"
    assert format_moment(None) == ""


# ---- writing ------------------------------------------------------------------------------

def test_format_writes_one_row_per_credential_and_permits_alongside():
    data = AccessData(
        accounts=(Account(3, "=cmd|' /C calc'!A0", phone="+31 6 1"), Account(5, "Bare")),
        credentials=(Credential(1, 3, CredentialKind.RFID, "04A1B2C3", "card"),
                     Credential(2, 3, CredentialKind.PLATE, "AB123C",
                                status=CredentialStatus.REVOKED)),
        permits=(Permit(1, 3, AT), Permit(2, 3, AT, datetime(2026, 7, 1, tzinfo=UTC),
                                         PermitStatus.SUSPENDED, "P2"),
                 Permit(3, 3, datetime(2026, 8, 1, 9, tzinfo=UTC))),
    )
    text = format_accounts_csv(data, lineterminator="\n")
    assert text.splitlines() == [
        ",".join(COLUMNS),
        "3,'=cmd|' /C calc'!A0,driver,visitor,,'+31 6 1,rfid,04A1B2C3,card,active,"
        "2026-01-01,,,active",
        "3,'=cmd|' /C calc'!A0,driver,visitor,,'+31 6 1,plate,AB123C,,revoked,"
        "2026-01-01,2026-06-30,P2,suspended",
        "3,'=cmd|' /C calc'!A0,driver,visitor,,'+31 6 1,,,,,2026-08-01T09:00:00Z,,,active",
        "5,Bare,driver,visitor,,,,,,,,,,",
    ]
    # and it reads back as it was written: the quote guarding formulas comes off
    plan = plan_import(text)
    assert plan.ok, errors(plan)
    first, bare = plan.accounts
    assert (first.new_id, first.fields["name"], first.fields["phone"]) == (
        3, "=cmd|' /C calc'!A0", "+31 6 1")
    assert [(p.valid_from, p.valid_until, p.zone_id, p.status) for p in first.permits] == [
        (p.valid_from, p.valid_until, p.zone_id, p.status) for p in data.permits]
    assert [(c.kind, c.value, c.label or "", c.status or CredentialStatus.ACTIVE)
            for c in first.credentials] == [(c.kind, c.value, c.label, c.status)
                                            for c in data.credentials]
    assert bare.new_id == 5


def test_an_unchanged_export_plans_no_change():
    data = existing()
    plan = plan_import(format_accounts_csv(data), data)
    assert plan.ok, errors(plan)
    assert not plan.has_changes


def test_a_label_matches_name_and_email_ignoring_case():
    plan = plan_import("account,name,email\nX,OTHER  person,O@EXAMPLE.NL\n", existing())
    assert plan.ok, errors(plan)
    (other,) = plan.accounts
    assert (other.account_id, other.created) == (8, False)
    assert other.fields == {"name": "OTHER  person", "email": "O@EXAMPLE.NL"}  # as written
