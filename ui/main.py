"""QApplication + qasync: one process, one loop, one shutdown event."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.bootstrap import build_core
from app.config import Settings
from app.first_run import SetupChoices, apply_setup
from ui.theme import apply_theme

log = logging.getLogger("gatehouse.ui")


def _install_signal_handlers(stop: asyncio.Event) -> QTimer:
    """Ctrl+C and SIGTERM end the app cleanly.

    Python runs signal handlers only when the interpreter gets control; while Qt waits
    in C++ that can take a while, so a short timer hands control back regularly.
    """
    loop = asyncio.get_running_loop()

    def handler(signum, _frame) -> None:
        log.info("received signal %s", signal.Signals(signum).name,
                 extra={"event": "signal", "signal": signal.Signals(signum).name})
        loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    timer = QTimer()
    timer.setInterval(200)
    timer.timeout.connect(lambda: None)
    timer.start()
    return timer


def first_run_setup(settings: Settings, ask=None) -> SetupChoices | bool | None:
    """The installer's first run: when the site database has no site yet, ask for the site
    name, OCPP port and TLS, the first administrator and what to start from.

    Runs before the asyncio loop starts work, so the dialog's exec() nests no event loop
    inside qasync's. Returns the choices, None when no setup is needed, False when the
    installer quit the dialog.
    """
    from app.first_run import setup_state

    try:
        state = setup_state(settings)
    except Exception:  # _amain reports a database that cannot be opened
        log.exception("cannot check whether this site is set up")
        return None
    if not state.needed:
        return None
    log.info("no site configured yet: first-run setup", extra={"event": "setup_needed"})
    choices = (ask or _ask_first_run)(settings, state)
    return choices if choices is not None else False


def _ask_first_run(settings: Settings, state) -> SetupChoices | None:
    from ui.dialogs.first_run import FirstRunDialog

    dialog = FirstRunDialog(state, ocpp_port=settings.ocpp_port)
    dialog.exec()  # the loop has not started: nothing else runs yet
    return dialog.choices


async def _amain(app: QApplication, settings: Settings,
                 setup: SetupChoices | None = None) -> int:
    from ui.bridge import CoreBridge
    from ui.views.main_window import MainWindow

    stop = asyncio.Event()
    ticker = _install_signal_handlers(stop)
    try:
        if setup is not None:
            await apply_setup(settings, setup)
        core = await build_core(settings)
    except Exception as exc:
        log.exception("cannot open the site database")
        QMessageBox.critical(None, "Gatehouse", f"Cannot open the site database:\n{exc}")
        return 1
    try:
        await core.start()
    except OSError as exc:
        log.error("cannot start: %s", exc, extra={"event": "start_failed"})
        await core.stop()
        QMessageBox.critical(None, "Gatehouse",
                             f"Cannot start the OCPP server on port {settings.ocpp_port}:\n{exc}")
        return 2
    bridge = CoreBridge(core)
    window = MainWindow(core, bridge)
    window.closing.connect(stop.set)
    window.show()
    log.info("gatehouse %s console ready, OCPP at %s", __version__, core.ocpp_url,
             extra={"event": "ready", "ocpp_url": core.ocpp_url,
                    "ocpp_port": core.ocpp_server.port})
    try:
        await stop.wait()
    finally:
        log.info("shutting down", extra={"event": "shutdown"})
        ticker.stop()
        bridge.close()
        window.hide()
        await core.stop()
        window.deleteLater()
    return 0


def run_gui(settings: Settings) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Gatehouse")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Gatehouse")
    app.setDesktopFileName("gatehouse")
    # The loop ends on our shutdown event, not when Qt thinks the last window closed.
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)  # also sets the window icon
    setup = first_run_setup(settings)
    if setup is False:
        log.info("first-run setup cancelled", extra={"event": "setup_cancelled"})
        return 0
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        return runner.run(_amain(app, settings, setup or None))
