"""The charger panel's command buttons: what each command asks, and how it is sent.

Commands go through `core.commands` (the audited CommandService: `actor` first) when the
core has it, else straight to `core.gateway` (the ChargerGateway port). Either way a
command is one coroutine returning a CommandResult.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QPushButton, QSizePolicy, QWidget

from app.domain.commands import CommandResult, CommandStatus
from ui.dialogs.charger_command import Field, Form

log = logging.getLogger("gatehouse.ui.commands")

WHOLE_CHARGER = 0


def actor_name() -> str:
    """Who the audit trail names until the console has logins: the OS user."""
    try:
        return getpass.getuser() or "console"
    except Exception:  # no USER variable and no passwd entry (some service accounts)
        return "console"


@dataclass(frozen=True, slots=True)
class Session:
    connector_id: int
    transaction_id: str  # the charger's id for it
    id_token: str


@dataclass(frozen=True, slots=True)
class ChargerContext:
    """What a command form may offer: the charger's connectors and running sessions."""

    charger_id: str
    ocpp_version: str  # "1.6", "2.0.1" or "" when not known yet
    connectors: tuple[int, ...]
    sessions: tuple[Session, ...] = ()

    def free_connector(self) -> int | None:
        busy = {s.connector_id for s in self.sessions}
        return next((n for n in self.connectors if n not in busy), None)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    key: str
    label: str  # on the button
    title: str  # in the result line and the dialog title
    method: str  # ChargerGateway method
    tip: str
    form: Callable[[ChargerContext], Form] | None = None
    # Form values -> the method's arguments after charger_id.
    args: Callable[[dict[str, Any]], tuple] = lambda _v: ()
    # Answers worth reading (a version, a file name, vendor data): shown on the result line.
    show_payload: bool = False
    # It interrupts charging or replaces software: the button text is red.
    danger: bool = False


def _connector_field(ctx: ChargerContext, *, whole: str = "", name: str = "connector",
                     default: int | None = None) -> Field:
    choices: list[tuple[str, Any]] = [(whole, WHOLE_CHARGER)] if whole else []
    choices += [(f"Connector {n}", n) for n in ctx.connectors]
    if not choices:
        choices = [("Connector 1", 1)]
    return Field(name, "Connector", "choice", tuple(choices), default=default)


def _remote_start(ctx: ChargerContext) -> Form:
    choices = (("Any free connector (charger decides)", None),
               *((f"Connector {n}", n) for n in ctx.connectors))
    return Form(
        f"Remote start on {ctx.charger_id}",
        "The charger starts a session for this idToken as if it had been presented.",
        (Field("connector", "Connector", "choice", choices, default=ctx.free_connector()),
         Field("id_token", "idToken", required=True, placeholder="RFID UID or app token",
               max_length=36 if ctx.ocpp_version == "2.0.1" else 20)),
        ok_text="Start charging")


def _remote_stop(ctx: ChargerContext) -> Form:
    choices = tuple(
        (f"Connector {s.connector_id} · {s.transaction_id} · {s.id_token or 'no idToken'}",
         s.transaction_id) for s in ctx.sessions)
    message = ("Charging stops and the driver may unplug." if ctx.sessions else
               "No running session is known on this charger; type the charger's "
               "transaction id to stop one anyway.")
    return Form(
        f"Remote stop on {ctx.charger_id}", message,
        (Field("transaction_id", "Session", "choice", choices, required=True, editable=True,
               placeholder="transaction id"),),
        ok_text="Stop charging", danger=True)


def _unlock(ctx: ChargerContext) -> Form:
    return Form(f"Unlock a connector of {ctx.charger_id}",
                "Releases the cable lock: for a driver who cannot unplug. A running "
                "session on that connector may stop.",
                (_connector_field(ctx),), ok_text="Unlock")


def _reset(ctx: ChargerContext) -> Form:
    return Form(f"Reset {ctx.charger_id}",
                "A reset interrupts every session on this charger.",
                (Field("hard", "Kind", "choice",
                       (("Soft — restart the charger's software", False),
                        ("Hard — reboot the whole charger", True))),),
                ok_text="Reset", danger=True)


def _availability(ctx: ChargerContext) -> Form:
    return Form(f"Change availability of {ctx.charger_id}",
                "Unavailable connectors refuse new sessions; a running one finishes first.",
                (_connector_field(ctx, whole="Whole charger"),
                 Field("available", "Set to", "choice",
                       (("Available (Operative)", True),
                        ("Unavailable (Inoperative)", False)))),
                ok_text="Apply")


_COMMON_KEYS = ("HeartbeatInterval", "MeterValueSampleInterval", "MeterValuesSampledData",
                "ClockAlignedDataInterval", "ConnectionTimeOut", "AuthorizeRemoteTxRequests",
                "LocalAuthorizeOffline", "LocalPreAuthorize", "AllowOfflineTxForUnknownId",
                "StopTransactionOnEVSideDisconnect", "WebSocketPingInterval")


def _change_config(ctx: ChargerContext) -> Form:
    return Form(f"Change configuration of {ctx.charger_id}",
                "Some keys take effect only after a reset." + (
                    " On 2.0.1 use Component.Variable or a 1.6 key name."
                    if ctx.ocpp_version == "2.0.1" else ""),
                (Field("key", "Key", "choice", tuple((k, k) for k in _COMMON_KEYS),
                       required=True, editable=True, placeholder="configuration key"),
                 Field("value", "Value", required=True, max_length=500)),
                ok_text="Change")


_TRIGGERS_16 = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
                "DiagnosticsStatusNotification", "FirmwareStatusNotification")
_TRIGGERS_201 = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
                 "TransactionEvent", "LogStatusNotification", "FirmwareStatusNotification")


def _trigger(ctx: ChargerContext) -> Form:
    names = _TRIGGERS_201 if ctx.ocpp_version == "2.0.1" else _TRIGGERS_16
    connectors = (("Whole charger", None), *((f"Connector {n}", n) for n in ctx.connectors))
    return Form(f"Trigger a message from {ctx.charger_id}",
                "Asks the charger to send this message now (e.g. BootNotification after an "
                "approval, StatusNotification to refresh the map).",
                (Field("message", "Message", "choice", tuple((n, n) for n in names)),
                 Field("connector", "Connector", "choice", connectors)),
                ok_text="Trigger")


def _data_transfer(ctx: ChargerContext) -> Form:
    return Form(f"Data transfer to {ctx.charger_id}",
                "A vendor-specific message; the charger's answer is shown in the results.",
                (Field("vendor_id", "Vendor id", required=True, max_length=255),
                 Field("message_id", "Message id", max_length=50),
                 Field("data", "Data")),
                ok_text="Send")


def _diagnostics(ctx: ChargerContext) -> Form:
    return Form(f"Get diagnostics from {ctx.charger_id}",
                "The charger uploads its log file to this address.",
                (Field("location", "Upload to", required=True,
                       placeholder="ftp://user:password@host/path/"),),
                ok_text="Request")


def _firmware(ctx: ChargerContext) -> Form:
    return Form(f"Update the firmware of {ctx.charger_id}",
                "The charger downloads and installs the firmware, then reboots: sessions "
                "stop. Its progress appears in the messages.",
                (Field("location", "Firmware URL", required=True,
                       placeholder="https://host/firmware.bin"),),
                ok_text="Update firmware", danger=True)


def _set_limit(ctx: ChargerContext) -> Form:
    return Form(f"Set a power limit on {ctx.charger_id}",
                "Caps the charging power until the limit is cleared.",
                (_connector_field(ctx, whole="Whole charger"),
                 Field("limit_kw", "Limit", "number", default=11.0, minimum=0.0,
                       maximum=400.0, decimals=1, suffix="kW")),
                ok_text="Set limit")


def _clear_limit(ctx: ChargerContext) -> Form:
    return Form(f"Clear the power limits of {ctx.charger_id}",
                "Removes the charging limits set on this charger; it charges at full "
                "power again.", ok_text="Clear limits")


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("remote_start", "Remote start…", "Remote start", "remote_start",
                "RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1)",
                _remote_start, lambda v: (v["connector"], v["id_token"])),
    CommandSpec("remote_stop", "Remote stop…", "Remote stop", "remote_stop",
                "RemoteStopTransaction (1.6) / RequestStopTransaction (2.0.1)",
                _remote_stop, lambda v: (str(v["transaction_id"]),), danger=True),
    CommandSpec("unlock", "Unlock…", "Unlock", "unlock_connector", "UnlockConnector",
                _unlock, lambda v: (v["connector"],)),
    CommandSpec("reset", "Reset…", "Reset", "reset", "Reset (soft or hard)",
                _reset, lambda v: (bool(v["hard"]),), danger=True),
    CommandSpec("availability", "Availability…", "Change availability",
                "change_availability", "ChangeAvailability",
                _availability, lambda v: (v["connector"], bool(v["available"]))),
    CommandSpec("trigger", "Trigger…", "Trigger message", "trigger_message",
                "TriggerMessage", _trigger, lambda v: (v["message"], v["connector"])),
    CommandSpec("clear_cache", "Clear cache", "Clear cache", "clear_cache",
                "ClearCache: the charger forgets the idTokens it cached"),
    CommandSpec("get_config", "Get config", "Get configuration", "get_configuration",
                "GetConfiguration (1.6) / GetVariables (2.0.1): every key, in a table",
                args=lambda _v: (None,)),
    CommandSpec("change_config", "Change config…", "Change configuration",
                "change_configuration", "ChangeConfiguration (1.6) / SetVariables (2.0.1)",
                _change_config, lambda v: (str(v["key"]), v["value"])),
    CommandSpec("local_list", "List version", "Local list version",
                "get_local_list_version", "GetLocalListVersion", show_payload=True),
    CommandSpec("set_limit", "Set limit…", "Set power limit", "set_charging_profile",
                "SetChargingProfile: a power cap in kW",
                _set_limit, lambda v: (v["connector"], float(v["limit_kw"]) * 1000.0)),
    CommandSpec("clear_limit", "Clear limit…", "Clear power limit",
                "clear_charging_profile", "ClearChargingProfile",
                _clear_limit, lambda _v: (None,)),
    CommandSpec("data_transfer", "Data transfer…", "Data transfer", "data_transfer",
                "DataTransfer: a vendor-specific message", _data_transfer,
                lambda v: (v["vendor_id"], v["message_id"], v["data"]), show_payload=True),
    CommandSpec("diagnostics", "Diagnostics…", "Get diagnostics", "get_diagnostics",
                "GetDiagnostics (1.6) / GetLog (2.0.1)", _diagnostics,
                lambda v: (v["location"],), show_payload=True),
    CommandSpec("firmware", "Firmware…", "Update firmware", "update_firmware",
                "UpdateFirmware", _firmware, lambda v: (v["location"],), danger=True),
)
COMMANDS_BY_KEY = {c.key: c for c in COMMANDS}

# Four to a row, most used first: sessions and reset, charger state, settings, service.
# Buttons say it short; each tooltip names the OCPP message.
_ORDER = ("remote_start", "remote_stop", "unlock", "reset",
          "availability", "trigger", "clear_cache", "local_list",
          "get_config", "change_config", "set_limit", "clear_limit",
          "data_transfer", "diagnostics", "firmware")
COLUMNS = 4


class CommandBar(QWidget):
    """A grid of equal buttons; `triggered(key)` when one is clicked."""

    triggered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commandBar")
        # Compact: fifteen buttons share a 560 px side panel on a 1366x768 booth screen.
        self.setStyleSheet("QPushButton { padding: 5px 6px; min-width: 0px; }"
                           "QPushButton[danger=\"true\"] { color: #b42318; }"
                           "QPushButton[danger=\"true\"]:disabled { color: #d0a3a0; }")
        self._buttons: dict[str, QPushButton] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(6)
        for i, key in enumerate(_ORDER):
            spec = COMMANDS_BY_KEY[key]
            button = QPushButton(spec.label, self)
            button.setObjectName(f"cmd_{key}")
            button.setToolTip(spec.tip)
            button.setProperty("danger", spec.danger)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, k=key: self.triggered.emit(k))
            self._buttons[key] = button
            grid.addWidget(button, i // COLUMNS, i % COLUMNS)
        for col in range(COLUMNS):
            grid.setColumnStretch(col, 1)

    def button(self, key: str) -> QPushButton:
        return self._buttons[key]

    def buttons(self) -> dict[str, QPushButton]:
        return dict(self._buttons)

    def sync(self, *, usable: bool, busy: set[str], why_not: str = "") -> None:
        """Enable what can be sent now; a command in flight stays disabled until it ends."""
        for key, button in self._buttons.items():
            button.setEnabled(usable and key not in busy)
            tip = COMMANDS_BY_KEY[key].tip
            if key in busy:
                tip += "\n(waiting for the charger's answer)"
            elif not usable and why_not:
                tip += f"\n({why_not})"
            button.setToolTip(tip)


class CommandRunner:
    """Sends one command and always comes back with a CommandResult."""

    def __init__(self, core: Any, actor: str) -> None:
        self._core = core
        self.actor = actor

    @property
    def available(self) -> bool:
        return (getattr(self._core, "commands", None) is not None
                or getattr(self._core, "gateway", None) is not None)

    async def run(self, method: str, charger_id: str, *args: Any) -> CommandResult:
        commands = getattr(self._core, "commands", None)
        gateway = getattr(self._core, "gateway", None)
        try:
            if commands is not None:
                return await getattr(commands, method)(self.actor, charger_id, *args)
            if gateway is not None:
                return await getattr(gateway, method)(charger_id, *args)
        except Exception as exc:  # a bug behind the port; the attendant still gets a line
            log.exception("command %s on %s failed", method, charger_id)
            return CommandResult(method, charger_id, CommandStatus.CALL_ERROR,
                                 detail=f"internal error: {type(exc).__name__}: {exc}")
        return CommandResult(method, charger_id, CommandStatus.CALL_ERROR,
                             detail="commands are not available (no OCPP gateway)")
