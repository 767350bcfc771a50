"""The installer's first-run dialog (offscreen) and its wiring before the loop starts."""

from __future__ import annotations

import subprocess

import pytest
from PySide6.QtCore import Qt

from app import __version__
from app.config import Settings
from app.first_run import SetupChoices, SetupState, Start
from ui.dialogs.first_run import FirstRunDialog
from ui.main import first_run_setup

NEW = SetupState(needed=True, has_admin=False)


@pytest.fixture
def dialog(qtbot, themed):
    d = FirstRunDialog(NEW, ocpp_port=9000)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def fill(d: FirstRunDialog, name: str = "Harbour Street", password: str = "long enough") -> None:
    d.site_name.setText(name)
    d.admin_user.setText("Boss")
    d.admin_password.setText(password)
    d.admin_repeat.setText(password)


def press_ok(qtbot, d: FirstRunDialog) -> None:
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)


def test_shows_the_version_and_sane_defaults(dialog):
    assert __version__ in dialog.windowTitle()
    assert dialog.port.value() == 9000
    assert dialog.start() is Start.EMPTY
    assert not dialog.tls_cert.isEnabled() and not dialog.import_box.isEnabled()
    assert "ws://<this PC>:9000/ocpp/" in dialog.url_label.text()
    dialog.tls.setChecked(True)
    dialog.port.setValue(8443)
    assert dialog.tls_cert.isEnabled() and "wss://<this PC>:8443" in dialog.url_label.text()


def test_nothing_is_accepted_until_everything_is_right(qtbot, dialog):
    press_ok(qtbot, dialog)
    assert dialog.choices is None and dialog.isVisible()
    text = dialog.error_label.text()
    assert "Give the site a name." in text and "at least 8 characters" in text
    fill(dialog)
    dialog.admin_repeat.setText("something else")
    press_ok(qtbot, dialog)
    assert dialog.choices is None and "the two passwords differ" in dialog.error_label.text()
    dialog.admin_repeat.setText("long enough")
    dialog.tls.setChecked(True)
    press_ok(qtbot, dialog)
    assert dialog.choices is None and "TLS" in dialog.error_label.text()


def test_an_empty_site(qtbot, dialog):
    fill(dialog)
    dialog.admin_name.setText("The Boss")
    dialog.port.setValue(9100)
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        press_ok(qtbot, dialog)
    assert dialog.choices == SetupChoices(
        site_name="Harbour Street", ocpp_port=9100, start=Start.EMPTY, admin_username="Boss",
        admin_password="long enough", admin_display_name="The Boss")


def test_the_demo_layout_and_tls(qtbot, dialog, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=gatehouse", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    fill(dialog)
    dialog.start_demo.setChecked(True)
    dialog.tls.setChecked(True)
    dialog.tls_cert.edit.setText(str(key))  # swapped: refused with the reason
    dialog.tls_key.edit.setText(str(cert))
    press_ok(qtbot, dialog)
    assert dialog.choices is None and "cannot be used" in dialog.error_label.text()
    dialog.tls_cert.edit.setText(str(cert))
    dialog.tls_key.edit.setText(str(key))
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        press_ok(qtbot, dialog)
    assert dialog.choices.start is Start.DEMO
    assert (dialog.choices.tls_cert, dialog.choices.tls_key) == (cert, key)


def test_csv_import_lists_every_bad_row_and_imports_nothing(qtbot, dialog, tmp_path):
    chargers, bays = tmp_path / "chargers.csv", tmp_path / "bays.csv"
    chargers.write_text("id,connectors\nCP-01,2\nCP 02,2\n")
    bays.write_text("id,charger_id,connector_id\nB1,CP-01,1\nB2,CP-01,5\n")
    fill(dialog)
    dialog.start_import.setChecked(True)
    assert dialog.import_box.isEnabled()
    press_ok(qtbot, dialog)
    assert dialog.choices is None and "Choose the chargers file" in dialog.import_status.text()
    dialog.chargers_csv.edit.setText(str(chargers))
    dialog.bays_csv.edit.setText(str(bays))
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    rows = [dialog.import_errors.item(i).text() for i in range(dialog.import_errors.count())]
    assert [r.split(":")[0] for r in rows] == ["chargers.csv line 3", "bays.csv line 3"]
    press_ok(qtbot, dialog)
    assert dialog.choices is None and "2 problem(s)" in dialog.error_label.text()
    chargers.write_text("id,connectors\nCP-01,2\nCP-02,2\n")
    bays.write_text("id,charger_id,connector_id\nB1,CP-01,1\nB2,CP-02,2\n")
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    assert dialog.import_errors.count() == 0
    assert "Ready to import 2 charger(s), 2 bay(s)" in dialog.import_status.text()
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        press_ok(qtbot, dialog)
    assert dialog.choices.start is Start.IMPORT
    assert [c.id for c in dialog.choices.imported.site.chargers] == ["CP-01", "CP-02"]


def test_an_existing_administrator_is_not_asked_for(qtbot, themed):
    d = FirstRunDialog(SetupState(needed=True, has_admin=True))
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    assert d.admin_exists_label.isVisibleTo(d) and not d.admin_user.isVisibleTo(d)
    d.site_name.setText("S")
    with qtbot.waitSignal(d.accepted, timeout=2000):
        press_ok(qtbot, d)
    assert d.choices.admin_username is None and d.choices.admin_password is None


def test_quit_cancels(qtbot, dialog):
    with qtbot.waitSignal(dialog.rejected, timeout=2000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.choices is None


def test_wiring_asks_only_when_the_site_database_has_no_site(tmp_path):
    settings = Settings(data_dir=tmp_path, log_dir=None)
    asked: list[SetupState] = []
    choices = SetupChoices(site_name="S", ocpp_port=9000)

    def ask(_settings, state):
        asked.append(state)
        return choices

    assert first_run_setup(settings, ask) is choices
    assert first_run_setup(settings, lambda *_: None) is False  # the installer quit
    assert first_run_setup(Settings(demo=True, data_dir=tmp_path), ask) is None
    assert asked == [SetupState(needed=True, has_admin=False)]
