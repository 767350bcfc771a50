"""The installer's first run: site name, OCPP port and TLS, the first administrator, and
what the site starts with (empty, the demo layout, or chargers and bays from CSV).

ui.main shows it before the asyncio loop starts work, when the site database has no site
yet; app.first_run.apply_setup writes what it returns. File pickers are opened with
open(), never exec() (DESIGN.md).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.config import DEFAULT_OCPP_PORT
from app.first_run import SetupChoices, SetupState, Start, check_tls
from app.services.staff import StaffError, normalize_username, password_problems
from app.site_import import SiteImport, SiteImportError, read_site_csv
from ui.theme import app_icon

CSV_HELP = (
    "First row: column names; comma, semicolon or tab between values."
    "<br><b>Chargers</b>: id, ocpp_version (1.6 / 2.0.1), connectors, label,"
    "<br>&nbsp;&nbsp;&nbsp;&nbsp;max_power_w"
    "<br><b>Bays</b>: id, label, zone, charger_id, connector_id, x, y"
    "<br><b>RFID tags</b>: id_token, label, status"
    "<br>Nothing is imported unless every row is right."
)


class _FileField(QWidget):
    """A path line edit with a Browse button (a QFileDialog opened with open())."""

    def __init__(self, caption: str, name_filter: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = caption
        self._filter = name_filter
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("no file chosen")
        self.button = QPushButton("Browse…", self)
        self.button.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self._picker: QFileDialog | None = None

    def _browse(self) -> None:
        start = str(Path(self.edit.text()).parent) if self.edit.text() else str(Path.home())
        self._picker = QFileDialog(self.window(), self._caption, start, self._filter)
        self._picker.setFileMode(QFileDialog.FileMode.ExistingFile)
        self._picker.fileSelected.connect(self.edit.setText)
        self._picker.open()

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None


class FirstRunDialog(QDialog):
    def __init__(self, state: SetupState, *, ocpp_port: int = DEFAULT_OCPP_PORT,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunDialog")
        self.setWindowTitle(f"Gatehouse {__version__} — set up this site")
        self.setWindowIcon(app_icon())
        self._state = state
        self.choices: SetupChoices | None = None
        self._imported: SiteImport | None = None

        logo = QLabel(self)
        logo.setPixmap(app_icon().pixmap(48, 48))
        title = QLabel(f"<b>Welcome to Gatehouse {escape(__version__)}</b>", self)
        title.setObjectName("aboutTitle")
        intro = QLabel("Set up this site once. Everything can be changed later.", self)
        intro.setObjectName("muted")
        head_text = QVBoxLayout()
        head_text.setSpacing(2)
        head_text.addWidget(title)
        head_text.addWidget(intro)
        head = QHBoxLayout()
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        head.addSpacing(10)
        head.addLayout(head_text, 1)

        left = QVBoxLayout()
        left.setSpacing(12)
        left.addWidget(self._site_group())
        left.addWidget(self._ocpp_group(ocpp_port))
        left.addWidget(self._admin_group())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._start_group())
        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("dangerText")
        self.error_label.setStyleSheet("color: #d1242f;")  # theme.py's Faulted red
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Room for every problem from the start: a window that grows once shown is what
        # some platforms warn about (offscreen: propagateSizeHints).
        self.error_label.setFixedHeight(self.fontMetrics().lineSpacing() * 6 + 4)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        self.buttons = QDialogButtonBox(self)
        self.ok_button = self.buttons.addButton(
            "Set up site", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(
            "Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self._try_accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(14)
        layout.addLayout(head)
        layout.addLayout(columns, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._update_enabled()
        self._update_url()
        # Size now, before there is a native window (offscreen warns about later changes).
        self.adjustSize()

    # -- the groups ------------------------------------------------------------------

    def _site_group(self) -> QGroupBox:
        group = QGroupBox("Site", self)
        self.site_name = QLineEdit(group)
        self.site_name.setPlaceholderText("e.g. Harbour Street Car Park")
        self.site_name.setMaxLength(200)
        form = QFormLayout(group)
        form.addRow("Site name:", self.site_name)
        return group

    def _ocpp_group(self, port: int) -> QGroupBox:
        group = QGroupBox("Charger connections (OCPP)", self)
        self.port = QSpinBox(group)
        self.port.setRange(1, 65535)
        self.port.setMaximumWidth(110)
        self.port.setValue(port if 0 < port < 65536 else DEFAULT_OCPP_PORT)
        self.port.setToolTip("Chargers connect to this TCP port; open it in the firewall")
        self.tls = QCheckBox("Use TLS (wss://)", group)
        self.tls_cert = _FileField("TLS certificate (PEM)", "PEM files (*.pem *.crt *.cer);;"
                                   "All files (*)", group)
        self.tls_key = _FileField("TLS private key (PEM)", "PEM files (*.pem *.key);;"
                                  "All files (*)", group)
        self.url_label = QLabel(group)
        self.url_label.setObjectName("muted")
        form = QFormLayout(group)
        form.addRow("Port:", self.port)
        form.addRow("", self.tls)
        form.addRow("Certificate:", self.tls_cert)
        form.addRow("Private key:", self.tls_key)
        form.addRow(self.url_label)
        self.tls.toggled.connect(self._update_enabled)
        self.tls.toggled.connect(self._update_url)
        self.port.valueChanged.connect(self._update_url)
        return group

    def _admin_group(self) -> QGroupBox:
        group = QGroupBox("Administrator account", self)
        form = QFormLayout(group)
        self.admin_user = QLineEdit(group)
        self.admin_user.setText("admin")
        self.admin_name = QLineEdit(group)
        self.admin_name.setPlaceholderText("optional, shown in the console")
        self.admin_password = QLineEdit(group)
        self.admin_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.admin_password.setPlaceholderText("at least 8 characters")
        self.admin_repeat = QLineEdit(group)
        self.admin_repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.admin_exists_label = QLabel(
            "An administrator account exists already\n(made with gatehouse user add).", group)
        self.admin_exists_label.setObjectName("muted")
        if self._state.has_admin:
            form.addRow(self.admin_exists_label)
            for w in (self.admin_user, self.admin_name, self.admin_password, self.admin_repeat):
                w.hide()
        else:
            self.admin_exists_label.hide()
            form.addRow("Username:", self.admin_user)
            form.addRow("Full name:", self.admin_name)
            form.addRow("Password:", self.admin_password)
            form.addRow("Password again:", self.admin_repeat)
        return group

    def _start_group(self) -> QGroupBox:
        group = QGroupBox("Start with", self)
        self.start_empty = QRadioButton("An empty site: chargers appear as they connect", group)
        self.start_demo = QRadioButton(
            "The demo site's layout (6 chargers, 12 bays, 2 lanes), to edit later", group)
        self.start_import = QRadioButton("Chargers and bays from CSV files", group)
        self.start_empty.setChecked(True)
        self._start = QButtonGroup(group)
        for button in (self.start_empty, self.start_demo, self.start_import):
            self._start.addButton(button)
            button.toggled.connect(self._update_enabled)
        self.chargers_csv = _FileField("Chargers CSV", "CSV files (*.csv *.txt);;All files (*)",
                                       group)
        self.bays_csv = _FileField("Bays CSV", "CSV files (*.csv *.txt);;All files (*)", group)
        self.tags_csv = _FileField("RFID tags CSV", "CSV files (*.csv *.txt);;All files (*)",
                                   group)
        self.tags_csv.edit.setPlaceholderText("optional")
        for field in (self.chargers_csv, self.bays_csv, self.tags_csv):
            field.edit.textChanged.connect(self._forget_import)
        self.check_button = QPushButton("Check files", group)
        self.check_button.clicked.connect(self.check_import)
        self.import_status = QLabel(group)
        self.import_status.setSizePolicy(QSizePolicy.Policy.Ignored,
                                         QSizePolicy.Policy.Preferred)
        self.import_errors = QListWidget(group)
        self.import_errors.setObjectName("importErrors")
        self.import_errors.setMinimumHeight(90)
        self.import_errors.setWordWrap(True)
        self.import_errors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        help_label = QLabel(CSV_HELP, group)
        help_label.setObjectName("muted")
        files = QFormLayout()
        files.addRow("Chargers:", self.chargers_csv)
        files.addRow("Bays:", self.bays_csv)
        files.addRow("RFID tags:", self.tags_csv)
        check_row = QHBoxLayout()
        check_row.addWidget(self.check_button)
        check_row.addWidget(self.import_status, 1)
        self.import_box = QWidget(group)
        box = QVBoxLayout(self.import_box)
        box.setContentsMargins(22, 0, 0, 0)
        box.addLayout(files)
        box.addLayout(check_row)
        box.addWidget(self.import_errors, 1)
        box.addWidget(help_label)
        layout = QVBoxLayout(group)
        layout.addWidget(self.start_empty)
        layout.addWidget(self.start_demo)
        layout.addWidget(self.start_import)
        layout.addWidget(self.import_box, 1)
        return group

    # -- behaviour -------------------------------------------------------------------

    def _update_enabled(self) -> None:
        self.tls_cert.setEnabled(self.tls.isChecked())
        self.tls_key.setEnabled(self.tls.isChecked())
        self.import_box.setEnabled(self.start_import.isChecked())

    def _update_url(self) -> None:
        scheme = "wss" if self.tls.isChecked() else "ws"
        self.url_label.setText(
            f"Chargers connect to {scheme}://<this PC>:{self.port.value()}/ocpp/<id>")

    def _forget_import(self) -> None:
        self._imported = None
        self.import_status.clear()
        self.import_errors.clear()

    def start(self) -> Start:
        if self.start_demo.isChecked():
            return Start.DEMO
        if self.start_import.isChecked():
            return Start.IMPORT
        return Start.EMPTY

    def check_import(self) -> bool:
        """Read the CSV files; list every bad row. True when they can be imported."""
        self._forget_import()
        chargers, bays = self.chargers_csv.path(), self.bays_csv.path()
        if chargers is None or bays is None:
            self.import_status.setText("Choose the chargers file and the bays file.")
            return False
        try:
            self._imported = read_site_csv(chargers, bays, tags=self.tags_csv.path(),
                                           name=self.site_name.text().strip() or "New site")
        except SiteImportError as exc:
            self.import_status.setText(
                f"Nothing will be imported: {len(exc.errors)} problem(s) to fix.")
            self.import_errors.addItems([str(e) for e in exc.errors])
            return False
        self.import_status.setText(f"Ready to import {self._imported.summary()}.")
        return True

    def problems(self) -> list[str]:
        """Everything that stops the setup, in the order of the form."""
        problems: list[str] = []
        if not self.site_name.text().strip():
            problems.append("Give the site a name.")
        if self.tls.isChecked():
            problem = check_tls(self.tls_cert.path(), self.tls_key.path())
            if problem:
                problems.append(f"TLS: {problem}.")
        if not self._state.has_admin:
            try:
                normalize_username(self.admin_user.text())
            except StaffError as exc:
                problems.append(f"Administrator: {exc}.")
            problems += [f"Administrator: {p}." for p in password_problems(
                self.admin_password.text(), self.admin_repeat.text())]
        if self.start() is Start.IMPORT and not self.check_import():
            problems.append("CSV import: " + (
                f"{self.import_errors.count()} problem(s), listed above."
                if self.import_errors.count() else self.import_status.text()))
        return problems

    def _try_accept(self) -> None:
        problems = self.problems()
        self.error_label.setText("\n".join(problems))
        if problems:
            return
        has_admin = self._state.has_admin
        tls = self.tls.isChecked()
        self.choices = SetupChoices(
            site_name=self.site_name.text().strip(),
            ocpp_port=self.port.value(),
            start=self.start(),
            tls_cert=self.tls_cert.path() if tls else None,
            tls_key=self.tls_key.path() if tls else None,
            admin_username=None if has_admin else self.admin_user.text().strip(),
            admin_password=None if has_admin else self.admin_password.text(),
            admin_display_name="" if has_admin else self.admin_name.text().strip(),
            imported=self._imported if self.start() is Start.IMPORT else None,
        )
        self.accept()
