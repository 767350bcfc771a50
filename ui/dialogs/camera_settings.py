"""One camera's settings: name, source, role, RTSP transport, login, snapshot mode, region
of interest, recognizer and country, and a Test button that probes the source.

Shown with open() (never exec(): it would nest an event loop inside qasync's). Test runs
the probe on a worker thread (asyncio.to_thread on the qasync loop), so a camera that does
not answer never freezes the console. Save calls `save(actor, camera)` (a coroutine
function of the Core) when the console offers one; without it the dialog only tests.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.access import DEFAULT_PLATE_PATTERNS
from app.domain.site import Camera, CameraRole
from ui.views.access_actions import FAIL_COLOR, OK_COLOR

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5
PENDING_COLOR = "#59636e"
_KNOWN = ("rtsp_transport", "username", "password", "mode", "roi", "recognizer", "country")


def default_probe() -> Callable[..., Any]:
    """The capture adapter's probe, imported only when a test is asked for (ImportError
    when this build has no capture module)."""
    from app.adapters.camera.capture import probe

    return probe


class CameraSettingsDialog(QDialog):
    tested = Signal(bool, str)  # ok, the line shown: a test finished

    def __init__(self, camera: Camera, *, probe: Callable[..., Any] | None = None,
                 save: Callable[..., Any] | None = None, actor: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera = camera
        self.saved_camera: Camera | None = None
        self._probe = probe
        self._save = save
        self._actor = actor
        self._task: asyncio.Task | None = None
        self._save_task: asyncio.Task | None = None
        self.setObjectName("cameraSettingsDialog")
        self.setWindowTitle(f"Camera settings — {camera.name}")
        self.setMinimumWidth(480)
        s = camera.settings or {}

        self.name_edit = QLineEdit(camera.name, self)
        self.name_edit.setObjectName("cameraName")
        self.name_edit.setMaxLength(80)
        self.source_edit = QLineEdit(camera.source, self)
        self.source_edit.setObjectName("cameraSource")
        self.source_edit.setPlaceholderText("rtsp://host/stream, http://…, usb:0, a file, sim:")
        self.source_edit.setToolTip(
            "rtsp://… or http(s)://… (MJPEG stream, or a snapshot URL with snapshot mode), "
            "usb:N or /dev/videoN, a video file, or sim: for a simulated camera")
        self.role_combo = QComboBox(self)
        self.role_combo.setObjectName("cameraRole")
        for role, words in ((CameraRole.LANE, "Lane (entry/exit)"), (CameraRole.BAY, "EV bays")):
            self.role_combo.addItem(words, role)
        self.role_combo.setCurrentIndex(max(0, self.role_combo.findData(camera.role)))
        self.transport_combo = QComboBox(self)
        self.transport_combo.setObjectName("rtspTransport")
        self.transport_combo.addItem("TCP (reliable, default)", "tcp")
        self.transport_combo.addItem("UDP (lower latency, may lose packets)", "udp")
        self.transport_combo.setCurrentIndex(
            max(0, self.transport_combo.findData(str(s.get("rtsp_transport", "tcp")))))
        self.user_edit = QLineEdit(str(s.get("username", "")), self)
        self.user_edit.setObjectName("cameraUser")
        self.password_edit = QLineEdit(str(s.get("password", "")), self)
        self.password_edit.setObjectName("cameraPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.snapshot_check = QCheckBox("Snapshot URL (fetch single pictures, not a stream)", self)
        self.snapshot_check.setObjectName("snapshotMode")
        self.snapshot_check.setChecked(s.get("mode") == "snapshot")

        roi = s.get("roi") or [0.0, 0.0, 1.0, 1.0]
        self.roi_spins: list[QDoubleSpinBox] = []
        roi_row = QHBoxLayout()
        roi_row.setSpacing(6)
        for label, value in zip(("x", "y", "w", "h"), roi, strict=False):
            spin = QDoubleSpinBox(self)
            spin.setObjectName(f"roi_{label}")
            spin.setRange(0.0, 1.0)
            spin.setDecimals(2)
            spin.setSingleStep(0.05)
            spin.setValue(float(value))
            spin.setToolTip(f"Region of interest {label}, as a fraction of the frame (0..1)")
            roi_row.addWidget(QLabel(label, self))
            roi_row.addWidget(spin, 1)
            spin.valueChanged.connect(self._check)
            self.roi_spins.append(spin)

        self.recognizer_check = QCheckBox("Read plates from this camera's picture", self)
        self.recognizer_check.setObjectName("recognizerOn")
        self.recognizer_check.setChecked(str(s.get("recognizer", "on")) != "off")
        self.country_combo = QComboBox(self)
        self.country_combo.setObjectName("cameraCountry")
        self.country_combo.setEditable(True)
        self.country_combo.addItem("")
        self.country_combo.addItems([p.country for p in DEFAULT_PLATE_PATTERNS])
        self.country_combo.setCurrentText(str(s.get("country", "")))
        self.country_combo.setToolTip("The plates' usual country (helps the recognizer); "
                                      "empty: any")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Name:", self.name_edit)
        form.addRow("Source:", self.source_edit)
        form.addRow("Role:", self.role_combo)
        form.addRow("RTSP transport:", self.transport_combo)
        form.addRow("User name:", self.user_edit)
        form.addRow("Password:", self.password_edit)
        form.addRow("", self.snapshot_check)
        form.addRow("Region of interest:", roi_row)
        form.addRow("Recognizer:", self.recognizer_check)
        form.addRow("Country:", self.country_combo)

        self.test_button = QPushButton("Test", self)
        self.test_button.setObjectName("cameraTest")
        self.test_button.setToolTip(f"Connect to the source and read a frame "
                                    f"(gives up after {PROBE_TIMEOUT_S} s)")
        self.test_button.clicked.connect(self.start_test)
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("cameraTestResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.result_label, 1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close, self)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("cameraSave")
        close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        for button in (self.save_button, close_button):
            button.setIcon(QIcon())  # the stock icons are faint on the blue button
        self.note_label: QLabel | None = None
        if save is None:
            # No dead Save button (the theme paints the default button blue even when it
            # is disabled, which reads as "press me"): a note says why instead.
            self.save_button.setVisible(False)
            self.note_label = QLabel("This console cannot save camera settings yet: change "
                                     "them in the site configuration. Test tries the "
                                     "settings as typed here.", self)
            self.note_label.setObjectName("muted")
            self.note_label.setWordWrap(True)
        self.buttons.accepted.connect(self.start_save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        title = QLabel(f"<b>{camera.id}</b>", self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addLayout(test_row)
        if self.note_label is not None:
            layout.addWidget(self.note_label)
        layout.addWidget(self.buttons)
        for edit in (self.name_edit, self.source_edit):
            edit.textChanged.connect(self._check)
        self._check()
        # Sized before it has a native window (offscreen warns about later size hints).
        self.adjustSize()

    # -- the form ---------------------------------------------------------------------------

    def roi(self) -> list[float]:
        return [round(s.value(), 2) for s in self.roi_spins]

    def problem(self) -> str:
        """Why the form cannot be saved ("" when it can)."""
        if not self.name_edit.text().strip():
            return "The camera needs a name."
        if not self.source_edit.text().strip():
            return "The camera needs a source."
        x, y, w, h = self.roi()
        if w <= 0 or h <= 0 or x + w > 1.0001 or y + h > 1.0001:
            return "The region of interest must lie inside the frame (x + w ≤ 1, y + h ≤ 1)."
        return ""

    def settings(self) -> dict[str, Any]:
        """The camera's settings as edited; keys this form does not show are kept."""
        out = {k: v for k, v in (self.camera.settings or {}).items() if k not in _KNOWN}
        out["rtsp_transport"] = self.transport_combo.currentData()
        if self.user_edit.text().strip():
            out["username"] = self.user_edit.text().strip()
        if self.password_edit.text():
            out["password"] = self.password_edit.text()
        if self.snapshot_check.isChecked():
            out["mode"] = "snapshot"
        roi = self.roi()
        if roi != [0.0, 0.0, 1.0, 1.0]:
            out["roi"] = roi
        out["recognizer"] = "on" if self.recognizer_check.isChecked() else "off"
        country = self.country_combo.currentText().strip().upper()
        if country:
            out["country"] = country
        return out

    def edited_camera(self) -> Camera:
        return replace(self.camera, name=self.name_edit.text().strip(),
                       source=self.source_edit.text().strip(),
                       role=CameraRole(self.role_combo.currentData()),
                       settings=self.settings())

    def _check(self, *_args: object) -> None:
        problem = self.problem()
        self.save_button.setEnabled(self._save is not None and not problem)
        source = self.source_edit.text().strip()
        self.test_button.setEnabled(self._task is None and bool(source))
        self.transport_combo.setEnabled(source.lower().startswith("rtsp"))
        if problem and self._task is None:
            self._show(problem, FAIL_COLOR)

    def _show(self, text: str, color: str) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet(f"color: {color};")

    # -- Test -------------------------------------------------------------------------------

    def start_test(self) -> asyncio.Task | None:
        """Probe the source as typed, on a worker thread; the result shows under the form."""
        if self._task is not None:
            return self._task
        if self.source_edit.text().strip().lower().startswith("sim:"):
            line = "Simulated camera (demo): there is no device to test."
            self._show(line, PENDING_COLOR)
            self.tested.emit(True, line)
            return None
        probe = self._probe
        if probe is None:
            try:
                probe = default_probe()
            except ImportError as exc:
                line = ("Cannot test: this console has no camera capture module "
                        f"(app.adapters.camera.capture: {exc}).")
                self._show(line, FAIL_COLOR)
                self.tested.emit(False, line)
                return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            line = "Cannot test: the console's event loop is not running."
            self._show(line, FAIL_COLOR)
            self.tested.emit(False, line)
            return None
        source, settings = self.source_edit.text().strip(), self.settings()
        self._show(f"Testing {source} …", PENDING_COLOR)
        self._task = loop.create_task(self._test(probe, source, settings))
        self._check()
        return self._task

    async def _test(self, probe: Callable[..., Any], source: str,
                    settings: dict[str, Any]) -> None:
        try:
            if inspect.iscoroutinefunction(probe):
                result = await probe(source, settings, timeout_s=PROBE_TIMEOUT_S)
            else:
                result = await asyncio.to_thread(probe, source, settings,
                                                 timeout_s=PROBE_TIMEOUT_S)
            ok, line = describe_probe(result)
        except Exception as exc:  # a probe bug still gives the installer a line
            log.warning("camera probe of %s failed: %s: %s", source, type(exc).__name__, exc)
            ok, line = False, f"✗ Test failed: {type(exc).__name__}: {exc}"
        if not shiboken6.isValid(self):
            return  # the dialog was closed and deleted meanwhile
        self._task = None
        self._show(line, OK_COLOR if ok else FAIL_COLOR)
        self._check()
        self.tested.emit(ok, line)

    # -- Save -------------------------------------------------------------------------------

    def start_save(self) -> None:
        if self._save is None or self.problem() or self._save_task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show("Not saved: the console's event loop is not running.", FAIL_COLOR)
            return
        self.save_button.setEnabled(False)
        self._show("Saving…", PENDING_COLOR)
        self._save_task = loop.create_task(self._do_save(self.edited_camera()))

    async def _do_save(self, camera: Camera) -> None:
        try:
            result = self._save(self._actor, camera)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            if shiboken6.isValid(self):
                self._save_task = None
                self._show(f"✗ Not saved: {exc}", FAIL_COLOR)
                self._check()
            return
        if not shiboken6.isValid(self):
            return
        self._save_task = None
        self.saved_camera = result if isinstance(result, Camera) else camera
        self.accept()


def describe_probe(result: Any) -> tuple[bool, str]:
    """ProbeResult(ok, width, height, fps, detail) -> (ok, one line for the installer)."""
    ok = bool(getattr(result, "ok", False))
    detail = str(getattr(result, "detail", "") or "")
    if not ok:
        return False, f"✗ No picture: {detail or 'the source did not answer'}"
    w, h = getattr(result, "width", 0) or 0, getattr(result, "height", 0) or 0
    fps = getattr(result, "fps", 0) or 0
    line = f"✓ Picture received: {w}x{h}"
    if fps:
        line += f" at {fps:.0f} fps"
    if detail:
        line += f" ({detail})"
    return True, line
