"""The access screens with real widgets (offscreen) on a real core: app.bootstrap.build_core
on a real SQLite file, on a qasync loop. Every change goes through the dialogs and buttons
an attendant uses, and is checked in the AccessService (which reloaded it from the DB)."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shiboken6
from PySide6.QtCore import QDateTime

from app.bootstrap import build_core
from app.domain.access import (
    Account,
    CredentialKind,
    CredentialStatus,
    Permit,
    PermitStatus,
    normalize_credential,
)
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for
from ui.bridge import CoreBridge
from ui.models.access import AccountTableModel, local_day
from ui.views.access_view import AccessView

ACTOR = "tester"


@contextlib.asynccontextmanager
async def console(data_dir):
    core = await build_core(loopback_settings(data_dir))
    await core.start()
    bridge = CoreBridge(core)
    view = AccessView(core, bridge, actor=ACTOR)
    view.resize(700, 800)  # not shown: a top-level window offscreen warns on size hints
    try:
        yield core, view
    finally:
        bridge.close()
        await core.stop()
        if shiboken6.isValid(view):
            view.close()
            shiboken6.delete(view)


def table_rows(table) -> list[list[str]]:
    m = table.model()
    return [[m.index(r, c).data() for c in range(m.columnCount())]
            for r in range(m.rowCount())]


async def saved(dialog, within: float = 5) -> None:
    """The dialog closed after its change was saved (it stays open on a refusal)."""
    await wait_for(lambda: not dialog.busy, within=within)
    assert dialog.error_text() == "", dialog.error_text()
    await wait_for(lambda: not dialog.isVisible(), within=within)


async def refused(dialog, within: float = 5) -> str:
    await wait_for(lambda: not dialog.busy and dialog.error_text(), within=within)
    assert dialog.isVisible()
    return dialog.error_text()


async def make_account(core, name, *creds, group="resident", email="", permit_days=None):
    access = core.access
    account_id = await access.save_account(ACTOR, Account(0, name, group_id=group,
                                                          email=email))
    for kind, value in creds:
        await access.add_credential(ACTOR, account_id, kind, value, "")
    if permit_days is not None:
        now = datetime.now(UTC)
        await access.save_permit(ACTOR, Permit(0, account_id, now - timedelta(days=10),
                                               now + timedelta(days=permit_days)))
    return account_id


# ---- search and the list ---------------------------------------------------------------

def test_search_by_plate_card_name_and_email_and_the_list_columns(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.accounts
            zid = await make_account(core, "Zora Quist", (CredentialKind.PLATE, "qx-731-m"),
                                     (CredentialKind.RFID, "04:7e:11:22"),
                                     email="zora@quist.example", permit_days=40)
            # the brief's example: "gx 512" finds whoever holds plate GX512K
            owner = next((c.account_id for c in core.access.data.credentials
                          if c.value == "GX512K"), None)
            if owner is None:
                owner = await make_account(core, "Gus Xander", (CredentialKind.PLATE, "GX512K"))
            await wait_for(lambda: page.model.rowCount() == len(core.access.data.accounts))

            page.search_edit.setText("gx 512")
            assert [page.model.account(r).id for r in range(page.model.rowCount())] == [owner]
            page.search_edit.returnPressed.emit()  # Enter shows the first hit
            assert page.selected_account_id() == owner
            assert page.detail.account_id == owner

            for text in ("qx 731", "QX731M", "zora@", "quist", "047E1122", "04:7E:11"):
                page.search_edit.setText(text)
                rows = table_rows(page.table)
                assert len(rows) == 1, (text, rows)
                until = core.access.permits_of(zid)[0].valid_until
                assert rows[0] == ["Zora Quist", "Residents", "2",
                                   f"active until {local_day(until)}", "yes"]
            assert page.count_label.text().startswith("1 of ")

            page.search_edit.setText("nobody-has-this")
            assert page.model.rowCount() == 0
            page.search_edit.clear()
            assert page.model.rowCount() == len(core.access.data.accounts)

    run_on_qasync(qapp, scenario())


def test_permit_state_in_the_list_expired_and_none(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            await make_account(core, "Old Timer", permit_days=-1)
            await make_account(core, "No Permit")
            page = view.accounts
            page.search_edit.setText("Old Timer")
            assert table_rows(page.table)[0][AccountTableModel.COL_PERMIT] == "expired"
            page.search_edit.setText("No Permit")
            assert table_rows(page.table)[0][AccountTableModel.COL_PERMIT] == "none"

    run_on_qasync(qapp, scenario())


# ---- accounts --------------------------------------------------------------------------

def test_create_edit_deactivate_and_delete_an_account(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.accounts
            dialog = page.new_account()
            assert dialog.isVisible()
            # a missing name is said in the dialog, nothing is saved
            dialog.ok_button.click()
            assert "needs a name" in dialog.error_text()
            assert dialog.isVisible()
            dialog.name_edit.setText("Yara Ngata")
            dialog.group_combo.setCurrentIndex(dialog.group_combo.findData("staff"))
            dialog.email_edit.setText("yara@example.org")
            dialog.ok_button.click()
            await saved(dialog)
            account = next(a for a in core.access.data.accounts if a.name == "Yara Ngata")
            assert (account.group_id, account.email, account.active) == (
                "staff", "yara@example.org", True)
            # the new account is selected and shown
            assert page.selected_account_id() == account.id
            assert page.detail.title_label.text() == "Yara Ngata"
            assert "Staff" in page.detail.meta_label.text()

            edit = page.detail.edit_account()
            assert edit.name_edit.text() == "Yara Ngata"
            edit.phone_edit.setText("+31 6 1234 5678")
            edit.ok_button.click()
            await saved(edit)
            assert core.access.account(account.id).phone == "+31 6 1234 5678"
            assert page.selected_account_id() == account.id

            page.detail.active_button.click()
            box = page.detail.confirm_box
            assert "Deactivate" in box.text() or "Yara" in box.text()
            box.yes_button.click()
            await wait_for(lambda: not core.access.account(account.id).active)
            await wait_for(lambda: "deactivated" in page.status.text())
            page.search_edit.setText("Yara")
            assert table_rows(page.table)[0][AccountTableModel.COL_ACTIVE] == "no"
            assert page.selected_account_id() == account.id
            assert page.detail.active_button.text() == "Reactivate"
            page.detail.active_button.click()  # reactivating asks nothing
            await wait_for(lambda: core.access.account(account.id).active)

            page.detail.delete_button.click()
            page.detail.confirm_box.cancel_button.click()
            assert core.access.account(account.id) is not None
            page.detail.delete_button.click()
            page.detail.confirm_box.yes_button.click()
            await wait_for(lambda: core.access.account(account.id) is None)
            await wait_for(lambda: page.detail.account_id is None)
            assert page.detail.hint_label.isVisibleTo(page.detail)

    run_on_qasync(qapp, scenario())


# ---- credentials -----------------------------------------------------------------------

SAMPLES = {
    CredentialKind.RFID: "04:a1:b2:c3:d4:e5:f6",
    CredentialKind.PLATE: "ab-12 cd",
    CredentialKind.APP: " app-token-77 ",
    CredentialKind.ISO14443: "04 9a 8b 7c",
    CredentialKind.ISO15693: "e0:04:01:00:12:34:56:78",
    CredentialKind.KEY_CODE: "4711",
    CredentialKind.EMAID: "nl-tnm-c12345678-x",
    CredentialKind.CENTRAL: "central-1",
    CredentialKind.LOCAL: "local-1",
    CredentialKind.MAC_ADDRESS: "00-1a-2b-3c-4d-5e",
}


def test_credentials_of_every_kind_normalized_and_their_status(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.accounts
            account_id = await make_account(core, "Kim Kinds")
            assert page.select_account(account_id)
            detail = page.detail
            assert set(SAMPLES) == set(CredentialKind)
            for kind, typed in SAMPLES.items():
                dialog = detail.add_credential()
                dialog.set_kind(kind)
                dialog.value_edit.setText(typed)
                stored = normalize_credential(kind, typed)
                assert stored in dialog.stored_label.text()  # shown before saving
                dialog.ok_button.click()
                await saved(dialog)
            rows = table_rows(detail.cred_table)
            assert [(r[0], r[1]) for r in rows] == [
                (k.value, normalize_credential(k, v)) for k, v in SAMPLES.items()]
            assert all(r[3] == "active" for r in rows)
            assert detail.tabs.tabText(0) == f"Credentials ({len(SAMPLES)})"

            # a value another account holds: the message names it, the input stays
            other = await make_account(core, "Other Owner", (CredentialKind.PLATE, "ZX99ZX"))
            dialog = detail.add_credential()
            dialog.set_kind(CredentialKind.PLATE)
            dialog.value_edit.setText("zx 99 zx")
            dialog.label_edit.setText("second car")
            dialog.ok_button.click()
            message = await refused(dialog)
            assert "Other Owner" in message and f"account {other}" in message
            assert dialog.value_edit.text() == "zx 99 zx"
            assert dialog.label_edit.text() == "second car"
            dialog.reject()

            # suspend with a reason; the dialog shows what the reason does
            plate = next(c for c in core.access.credentials_of(account_id)
                         if c.kind is CredentialKind.PLATE)
            assert plate.value == "AB12CD"
            assert _select_credential(detail, plate.id)
            assert detail.suspend_action.isEnabled()
            assert not detail.reactivate_action.isEnabled()
            dialog = detail.change_credential_status(CredentialStatus.SUSPENDED)
            assert not dialog.ok_button.isEnabled()  # no reason yet
            reasons = [dialog.reason_combo.itemData(i)
                       for i in range(dialog.reason_combo.count())]
            assert reasons == list(core.access.policy.revoke_policies)
            dialog.choose("lost")
            assert "Stops now" in dialog.policy_label.text()
            dialog.choose("unpaid")
            assert "Finishes" in dialog.policy_label.text()
            assert "completes" in dialog.policy_label.text()
            dialog.ok_button.click()
            await saved(dialog)
            cred = _cred(core, plate.id)
            assert (cred.status, cred.status_reason) == (CredentialStatus.SUSPENDED, "unpaid")
            assert _row_of(detail, plate.id)[3] == "suspended (unpaid)"
            assert detail.selected_credential().id == plate.id  # kept across the reload

            detail.reactivate_action.trigger()
            await wait_for(lambda: _cred(core, plate.id).status is CredentialStatus.ACTIVE)

            dialog = detail.change_credential_status(CredentialStatus.REVOKED)
            dialog.choose("stolen")
            dialog.ok_button.click()
            await saved(dialog)
            assert _cred(core, plate.id).status is CredentialStatus.REVOKED
            await wait_for(lambda: _row_of(detail, plate.id)[3] == "revoked (stolen)")

            detail.delete_cred_button.click()
            detail.confirm_box.yes_button.click()
            await wait_for(lambda: _cred(core, plate.id) is None)
            assert len(table_rows(detail.cred_table)) == len(SAMPLES) - 1

    run_on_qasync(qapp, scenario())


def _cred(core, cred_id):
    return next((c for c in core.access.data.credentials if c.id == cred_id), None)


def _select_credential(detail, cred_id) -> bool:
    from ui.views.access_actions import select_id

    return select_id(detail.cred_table, cred_id)


def _row_of(detail, cred_id):
    return table_rows(detail.cred_table)[detail.cred_model.row_of(cred_id)]


# ---- permits ---------------------------------------------------------------------------

def _local(y, mo, d, h=0, mi=0) -> QDateTime:
    return QDateTime.fromString(f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}",
                                "yyyy-MM-dd HH:mm")


def test_permits_in_local_time_stored_utc_zone_and_status(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.accounts
            account_id = await make_account(core, "Pia Permit")
            page.select_account(account_id)
            detail = page.detail
            dialog = detail.edit_permit(None)
            zones = [dialog.zone_combo.itemText(i) for i in range(dialog.zone_combo.count())]
            assert zones == ["All zones", *(z.name for z in core.site.zones)]
            dialog.from_edit.setDateTime(_local(2026, 3, 1, 8, 30))
            dialog.until_edit.setDateTime(_local(2026, 2, 1))
            dialog.ok_button.click()
            assert "end after it starts" in dialog.error_text()  # said, nothing saved
            dialog.until_edit.setDateTime(_local(2027, 3, 1, 8, 30))
            zone = core.site.zones[-1]
            dialog.zone_combo.setCurrentIndex(dialog.zone_combo.findData(zone.id))
            dialog.ok_button.click()
            await saved(dialog)
            (permit,) = core.access.permits_of(account_id)
            expected_from = datetime(2026, 3, 1, 8, 30).astimezone().astimezone(UTC)
            assert permit.valid_from == expected_from
            assert permit.valid_until == datetime(2027, 3, 1, 8, 30).astimezone()
            assert permit.zone_id == zone.id
            row = table_rows(detail.permit_table)[0]
            assert row[:3] == ["01 Mar 2026 08:30", "01 Mar 2027 08:30", zone.name]

            from ui.views.access_actions import select_id

            select_id(detail.permit_table, permit.id)
            dialog = detail.edit_permit(permit.id)
            assert dialog.from_edit.dateTime() == _local(2026, 3, 1, 8, 30)
            dialog.status_combo.setCurrentIndex(dialog.status_combo.findData("suspended"))
            dialog.open_check.setChecked(True)
            dialog.ok_button.click()
            await saved(dialog)
            (permit,) = core.access.permits_of(account_id)
            assert (permit.status, permit.valid_until) == (PermitStatus.SUSPENDED, None)
            assert table_rows(detail.permit_table)[0][1:] == ["open-ended", zone.name,
                                                              "suspended"]
            assert detail.delete_permit_button.isEnabled()
            detail.delete_permit_button.click()
            detail.confirm_box.yes_button.click()
            await wait_for(lambda: not core.access.permits_of(account_id))

    run_on_qasync(qapp, scenario())


# ---- groups, blocklist, settings ---------------------------------------------------------

def test_edit_group_rules_and_add_a_custom_group(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.groups
            assert "Residents" in [r[0] for r in table_rows(page.table)]
            dialog = page.edit_group("resident")
            zone = core.site.zones[0]
            dialog.set_zones([zone.id])
            dialog.stay_spin.setValue(120)
            dialog.charging_check.setChecked(False)
            dialog.vehicles_spin.setValue(3)
            dialog.tariff_combo.setCurrentText("resident-night")
            dialog.ok_button.click()
            await saved(dialog)
            group = core.access.index.groups["resident"]
            assert (group.zones, group.max_stay_min, group.charging_allowed,
                    group.max_vehicles, group.tariff) == (
                (zone.id,), 120, False, 3, "resident-night")
            row = next(r for r in table_rows(page.table) if r[0] == "Residents")
            assert row == ["Residents", zone.name, "2 h", "no", "3", "resident-night"]

            dialog = page.edit_group(None)
            dialog.name_edit.setText("Night Shift")
            dialog.name_edit.textEdited.emit("Night Shift")
            assert dialog.id_edit.text() == "night-shift"
            dialog.ok_button.click()
            await saved(dialog)
            assert core.access.index.groups["night-shift"].name == "Night Shift"
            # a taken id is refused in the dialog
            dialog = page.edit_group(None)
            dialog.name_edit.setText("Staff")
            dialog.id_edit.setText("staff")
            dialog.ok_button.click()
            assert "already a group" in dialog.error_text()
            dialog.reject()
            # the new group is offered for accounts
            acc = view.accounts.new_account()
            assert acc.group_combo.findData("night-shift") >= 0
            acc.reject()

    run_on_qasync(qapp, scenario())


def test_blocklist_add_with_until_and_remove(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.blocklist
            dialog = page.add_block()
            dialog.value_edit.setText("zz-999-z")
            dialog.ok_button.click()
            assert "why" in dialog.error_text()
            dialog.reason_combo.setCurrentText("Repeat offender")
            dialog.forever_check.setChecked(False)
            until = QDateTime.currentDateTime().addDays(7)
            dialog.until_edit.setDateTime(until)
            dialog.ok_button.click()
            await saved(dialog)
            (entry,) = core.access.blocklist()
            assert (entry.kind, entry.value, entry.reason, entry.created_by) == (
                CredentialKind.PLATE, "ZZ999Z", "Repeat offender", ACTOR)
            assert abs(entry.until.timestamp() - until.toSecsSinceEpoch()) < 1
            row = table_rows(page.table)[0]
            assert row[:3] == ["plate", "ZZ999Z", "Repeat offender"]
            assert page.remove_button.isEnabled()  # the new entry is selected

            dialog = page.add_block()
            dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("rfid"))
            dialog.value_edit.setText("04:aa:bb:cc")
            dialog.reason_combo.setCurrentText("Fraud")
            dialog.ok_button.click()
            await saved(dialog)
            assert {b.value for b in core.access.blocklist()} == {"ZZ999Z", "04AABBCC"}

            page.table.selectRow(page.model.row_of(entry.id))
            page.remove_button.click()
            page.confirm_box.yes_button.click()
            await wait_for(lambda: [b.value for b in core.access.blocklist()] == ["04AABBCC"])
            assert "no longer blocked" in page.status.text()

    run_on_qasync(qapp, scenario())


def test_site_access_settings(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.settings
            assert not page.save_button.isEnabled()
            assert "lost" in page.reasons_label.text()
            page.permit_check.setChecked(True)
            page.visitor_combo.setCurrentIndex(page.visitor_combo.findData("attendant"))
            page.passback_combo.setCurrentIndex(page.passback_combo.findData("soft"))
            assert page.save_button.isEnabled()
            page.save_button.click()
            await wait_for(lambda: core.access.policy.charging_requires_permit)
            policy = core.access.policy
            assert (policy.visitor_policy.value, policy.anti_passback.value) == (
                "attendant", "soft")
            await wait_for(lambda: "saved" in page.status.text())
            assert not page.save_button.isEnabled()
            page.passback_combo.setCurrentIndex(page.passback_combo.findData("off"))
            page.revert_button.click()
            assert page.passback_combo.currentData() == "soft"

            # The site's own plate formats: a broken one is refused, a good one applies.
            assert page.patterns_edit.text().startswith("NL=")
            page.patterns_edit.setText("CH=ZH[0-9]{1,6}; XX")
            page.save_button.click()
            assert "COUNTRY=regular expression" in page.status.text()
            page.patterns_edit.setText("CH=ZH[0-9]{1,6}")
            page.save_button.click()
            await wait_for(lambda: [p.country for p in core.access.policy.plate_patterns]
                           == ["CH"])
            await wait_for(lambda: page.patterns_edit.text() == "CH=ZH[0-9]{1,6}"
                           and not page.save_button.isEnabled())

    run_on_qasync(qapp, scenario())


# ---- another console or the CLI --------------------------------------------------------

def test_a_change_from_another_console_refreshes_and_keeps_the_selection(qapp, tmp_path):
    async def scenario():
        async with console(tmp_path) as (core, view):
            page = view.accounts
            account_id = await make_account(core, "Sam Shared",
                                            (CredentialKind.PLATE, "SH-001-A"),
                                            (CredentialKind.RFID, "04112233"))
            page.select_account(account_id)
            cred_ids = [c.id for c in core.access.credentials_of(account_id)]
            _select_credential(page.detail, cred_ids[1])
            other = await build_core(loopback_settings(tmp_path))  # a second console
            await other.start()
            try:
                acc = other.access.account(account_id)
                await other.access.save_account("other-console",
                                                replace(acc, name="Sam Shared-Renamed"))
                await other.access.add_credential("other-console", account_id,
                                                  CredentialKind.APP, "app-from-other")
            finally:
                await other.stop()
            # the poll (2 s) notices the new revision; the view follows
            await wait_for(lambda: page.detail.title_label.text() == "Sam Shared-Renamed",
                           within=10)
            assert page.selected_account_id() == account_id
            assert page.detail.selected_credential().id == cred_ids[1]
            assert len(table_rows(page.detail.cred_table)) == 3
            row = page.model.row_of(account_id)
            assert page.model.index(row, 0).data() == "Sam Shared-Renamed"

    run_on_qasync(qapp, scenario())


@pytest.mark.allow_error_log
def test_a_failing_change_is_said_in_the_dialog_and_logged(qapp, qtbot):
    from app.domain.access import DEFAULT_GROUPS
    from ui.dialogs.account_edit import AccountDialog
    from ui.views.access_actions import ChangeRunner, run_form

    async def scenario():
        owner = AccountDialog(None, DEFAULT_GROUPS)  # any QObject parent will do
        runner = ChangeRunner(owner)
        dialog = AccountDialog(None, DEFAULT_GROUPS, owner)

        async def broken(_account):
            raise RuntimeError("disk on fire")

        run_form(runner, None, dialog, broken, "saved")
        dialog.name_edit.setText("Keep Me")
        dialog.ok_button.click()
        message = await refused(dialog)
        assert message == "Internal error: RuntimeError: disk on fire"
        assert dialog.name_edit.text() == "Keep Me"
        assert runner.in_flight() == 0
        dialog.reject()
        shiboken6.delete(owner)

    run_on_qasync(qapp, scenario())
