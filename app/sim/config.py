"""A simulated charger's configuration: the 1.6 keys (GetConfiguration /
ChangeConfiguration) and the 2.0.1 device model (GetVariables / SetVariables /
GetBaseReport), one store for both.

A `Setting` may carry a 1.6 key, a 2.0.1 component and variable, or both (the common keys
map the way app.adapters.ocpp.gateway201.V16_KEYS maps them). Values are strings, as on
the wire; booleans are kept as "true"/"false". Changes are checked like a real charger
checks them (type, range, list members); some take effect only after a reboot
(RebootRequired) and wait in `pending` until then. The charger hears every change that
took effect through `on_change`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

READ_ONLY, WRITE_ONLY, READ_WRITE = "ReadOnly", "WriteOnly", "ReadWrite"

# What the simulated meter can measure (an AC charger: no SoC).
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage", "Current.Offered", "Power.Offered")
FEATURE_PROFILES = "Core,FirmwareManagement,LocalAuthListManagement,SmartCharging,RemoteTrigger"


@dataclass(slots=True)
class Setting:
    name: str  # the 1.6 key, or "Component.Variable" for a 2.0.1-only variable
    kind: str  # 2.0.1 DataEnumType: integer, decimal, boolean, string, MemberList, ...
    value: str = ""
    mutability: str = READ_WRITE
    key16: str | None = None
    component: str | None = None
    variable: str | None = None
    evse: int | None = None
    connector: int | None = None
    reboot: bool = False  # a change takes effect after the next reboot
    minimum: float | None = None
    maximum: float | None = None
    members: tuple[str, ...] = ()  # the values allowed in a list / option
    unit: str | None = None
    read: Callable[[], str] | None = None  # a live value (availability, clock, counts)
    pending: str | None = None

    @property
    def current(self) -> str:
        return self.read() if self.read is not None else self.value

    @property
    def readonly(self) -> bool:
        return self.mutability == READ_ONLY


def problem(setting: Setting, value: str) -> str | None:
    """Why a charger would refuse this value (a 2.0.1 reason code), None if it fits."""
    text = str(value).strip()
    if setting.kind == "integer":
        try:
            number: float = int(text)
        except ValueError:
            return "InvalidValue"
    elif setting.kind == "decimal":
        try:
            number = float(text)
        except ValueError:
            return "InvalidValue"
    elif setting.kind == "boolean":
        return None if text.lower() in ("true", "false") else "InvalidValue"
    elif setting.kind in ("MemberList", "SequenceList"):
        items = [x.strip() for x in text.split(",") if x.strip()]
        if setting.members and any(x not in setting.members for x in items):
            return "ValueNotSupported"
        if setting.maximum is not None and len(items) > setting.maximum:
            return "TooManyValues"
        return None
    elif setting.kind == "OptionList":
        return None if not setting.members or text in setting.members else "ValueNotSupported"
    elif setting.kind == "passwordString":
        # OCPP: a Basic Auth password / AuthorizationKey of 16 to 40 characters.
        return None if 16 <= len(text) <= 40 else "InvalidValue"
    else:
        return None if len(text) <= 500 else "ValueTooLarge"
    if setting.minimum is not None and number < setting.minimum:
        return "ValueTooLow"
    if setting.maximum is not None and number > setting.maximum:
        return "ValueTooHigh"
    return None


def normalized(setting: Setting, value: str) -> str:
    text = str(value).strip()
    if setting.kind == "boolean":
        return text.lower()
    if setting.kind in ("MemberList", "SequenceList"):
        return ",".join(x.strip() for x in text.split(",") if x.strip())
    return text


@dataclass(slots=True)
class SettingStore:
    settings: list[Setting]
    on_change: Callable[[Setting], None] = lambda _s: None
    _by_name: dict[str, Setting] = field(default_factory=dict)
    _by_key16: dict[str, Setting] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {s.name: s for s in self.settings}
        # 1.6 keys are CiString: case-insensitive.
        self._by_key16 = {s.key16.casefold(): s for s in self.settings if s.key16}

    # -- the charger's own use ----------------------------------------------------------

    def value(self, name: str) -> str:
        return self._by_name[name].current

    def flag(self, name: str) -> bool:
        setting = self._by_name.get(name)
        return setting is not None and setting.current.strip().lower() == "true"

    def put(self, name: str, value: str) -> None:
        """Set a value the charger learned itself (the boot's heartbeat interval)."""
        if name in self._by_name:
            self._by_name[name].value = str(value)

    def reboot(self) -> None:
        """Changes that waited for a reboot take effect."""
        for setting in self.settings:
            if setting.pending is not None:
                setting.value, setting.pending = setting.pending, None
                self.on_change(setting)

    def change(self, setting: Setting, value: str) -> tuple[str, str | None]:
        """(Accepted | RebootRequired | Rejected, reason)."""
        if setting.readonly:
            return "Rejected", "ReadOnly"
        why = problem(setting, value)
        if why is not None:
            return "Rejected", why
        if setting.reboot:
            setting.pending = normalized(setting, value)
            return "RebootRequired", None
        setting.value = normalized(setting, value)
        self.on_change(setting)
        return "Accepted", None

    # -- OCPP 1.6 ------------------------------------------------------------------------

    def get16(self, keys: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        """GetConfiguration: (configurationKey items, unknownKey)."""
        if not keys:
            chosen, unknown = [s for s in self.settings if s.key16], []
        else:
            chosen, unknown = [], []
            for key in keys:
                setting = self._by_key16.get(str(key).casefold())
                if setting is None:
                    unknown.append(str(key))
                elif setting not in chosen:
                    chosen.append(setting)
        items = []
        for s in chosen:
            item: dict[str, Any] = {"key": s.key16, "readonly": s.readonly}
            if s.mutability != WRITE_ONLY:  # a secret is never shown again
                item["value"] = s.current[:500]
            items.append(item)
        return items, unknown

    def change16(self, key: str, value: str) -> str:
        """ChangeConfiguration: Accepted, Rejected, RebootRequired or NotSupported."""
        setting = self._by_key16.get(str(key).casefold())
        if setting is None:
            return "NotSupported"
        return self.change(setting, value)[0]

    # -- OCPP 2.0.1 ----------------------------------------------------------------------

    def get201(self, request: dict[str, Any]) -> dict[str, Any]:
        """One GetVariableData -> one GetVariableResult."""
        component, variable = request.get("component") or {}, request.get("variable") or {}
        result: dict[str, Any] = {"component": component, "variable": variable}
        attribute = request.get("attribute_type")
        if attribute:
            result["attribute_type"] = attribute
        status, setting = self._find(component, variable)
        if setting is None:
            result["attribute_status"] = status
        elif attribute not in (None, "Actual"):
            result["attribute_status"] = "NotSupportedAttributeType"
        elif setting.mutability == WRITE_ONLY:
            result["attribute_status"] = "Rejected"
            result["attribute_status_info"] = {"reason_code": "WriteOnly"}
        else:
            result["attribute_status"] = "Accepted"
            result["attribute_value"] = setting.current[:2500]
        return result

    def set201(self, request: dict[str, Any]) -> dict[str, Any]:
        """One SetVariableData -> one SetVariableResult."""
        component, variable = request.get("component") or {}, request.get("variable") or {}
        result: dict[str, Any] = {"component": component, "variable": variable}
        attribute = request.get("attribute_type")
        if attribute:
            result["attribute_type"] = attribute
        status, setting = self._find(component, variable)
        if setting is None:
            result["attribute_status"] = status
            return result
        if attribute not in (None, "Actual"):
            result["attribute_status"] = "NotSupportedAttributeType"
            return result
        word, why = self.change(setting, str(request.get("attribute_value", "")))
        result["attribute_status"] = word
        if why:
            result["attribute_status_info"] = {"reason_code": why}
        return result

    def report(self, base: str) -> list[dict[str, Any]]:
        """GetBaseReport: the ReportData items of FullInventory, ConfigurationInventory
        (what can be set) or SummaryInventory (availability)."""
        chosen: Iterable[Setting] = [s for s in self.settings if s.component]
        if base == "ConfigurationInventory":
            chosen = [s for s in chosen if not s.readonly]
        elif base == "SummaryInventory":
            chosen = [s for s in chosen if s.variable == "AvailabilityState"]
        return [_report_item(s) for s in chosen]

    def _find(self, component: dict[str, Any],
              variable: dict[str, Any]) -> tuple[str, Setting | None]:
        name = str(component.get("name", ""))
        evse = component.get("evse") or {}
        same = [s for s in self.settings if s.component and s.component.casefold() ==
                name.casefold()]
        same = [s for s in same if s.evse == evse.get("id")
                and (evse.get("connector_id") is None or s.connector == evse["connector_id"])]
        if not same:
            return "UnknownComponent", None
        wanted = str(variable.get("name", "")).casefold()
        for s in same:
            if s.variable and s.variable.casefold() == wanted:
                return "Accepted", s
        return "UnknownVariable", None


def _report_item(s: Setting) -> dict[str, Any]:
    component: dict[str, Any] = {"name": s.component}
    if s.evse is not None:
        component["evse"] = {"id": s.evse}
        if s.connector is not None:
            component["evse"]["connector_id"] = s.connector
    attribute: dict[str, Any] = {"type": "Actual", "mutability": s.mutability,
                                 "persistent": True, "constant": False}
    if s.mutability != WRITE_ONLY:
        attribute["value"] = s.current[:2500]
    # passwordString is a later edition's word: 2.0.1 reports a password as a string.
    kind = "string" if s.kind == "passwordString" else s.kind
    characteristics: dict[str, Any] = {"data_type": kind, "supports_monitoring": False}
    if s.unit:
        characteristics["unit"] = s.unit
    if s.kind in ("integer", "decimal"):
        if s.minimum is not None:
            characteristics["min_limit"] = s.minimum
        if s.maximum is not None:
            characteristics["max_limit"] = s.maximum
    if s.members:
        characteristics["values_list"] = ",".join(s.members)[:1000]
    return {"component": component, "variable": {"name": s.variable},
            "variable_attribute": [attribute], "variable_characteristics": characteristics}


# -- what a charger of each version holds -------------------------------------------------

def _both(key16: str, component: str, variable: str, kind: str, value: str,
          **kw: Any) -> Setting:
    return Setting(key16, kind, value, key16=key16, component=component, variable=variable,
                   **kw)


def _v16(key16: str, kind: str, value: str, **kw: Any) -> Setting:
    return Setting(key16, kind, value, key16=key16, **kw)


def _v201(component: str, variable: str, kind: str, value: str, **kw: Any) -> Setting:
    return Setting(f"{component}.{variable}", kind, value, component=component,
                   variable=variable, **kw)


def common_settings(*, heartbeat_s: int, meter_interval_s: int, connectors: int,
                    password: str | None, list_max: int, list_per_message: int,
                    max_stack_level: int, max_periods: int, max_profiles: int,
                    ping_s: int) -> list[Setting]:
    """Keys both versions share (named the 1.6 way), and the 1.6-only ones."""
    sampled = "Energy.Active.Import.Register,Power.Active.Import"
    return [
        _v16("AllowOfflineTxForUnknownId", "boolean", "false"),
        _both("AuthorizationCacheEnabled", "AuthCacheCtrlr", "Enabled", "boolean", "true"),
        _both("AuthorizeRemoteTxRequests", "AuthCtrlr", "AuthorizeRemoteStart", "boolean",
              "false"),
        _both("ClockAlignedDataInterval", "AlignedDataCtrlr", "Interval", "integer", "0",
              minimum=0, maximum=86_400, unit="s"),
        _both("ConnectionTimeOut", "TxCtrlr", "EVConnectionTimeOut", "integer", "60",
              minimum=1, maximum=3600, unit="s"),
        _v16("GetConfigurationMaxKeys", "integer", "50", mutability=READ_ONLY),
        _both("HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", "integer",
              str(heartbeat_s), minimum=1, maximum=86_400, unit="s"),
        _both("LocalAuthorizeOffline", "AuthCtrlr", "LocalAuthorizeOffline", "boolean",
              "true"),
        _both("LocalAuthListEnabled", "LocalAuthListCtrlr", "Enabled", "boolean", "true"),
        _v16("LocalAuthListMaxLength", "integer", str(list_max), mutability=READ_ONLY),
        _both("LocalPreAuthorize", "AuthCtrlr", "LocalPreAuthorize", "boolean", "false"),
        _both("MeterValuesAlignedData", "AlignedDataCtrlr", "Measurands", "MemberList",
              "Energy.Active.Import.Register", members=MEASURANDS, maximum=4),
        _both("MeterValuesSampledData", "SampledDataCtrlr", "TxUpdatedMeasurands",
              "MemberList", sampled, members=MEASURANDS, maximum=4),
        _v16("MeterValuesSampledDataMaxLength", "integer", "4", mutability=READ_ONLY),
        _both("MeterValueSampleInterval", "SampledDataCtrlr", "TxUpdatedInterval", "integer",
              str(meter_interval_s), minimum=0, maximum=86_400, unit="s"),
        _v16("NumberOfConnectors", "integer", str(connectors), mutability=READ_ONLY),
        _both("ResetRetries", "OCPPCommCtrlr", "ResetRetries", "integer", "1", minimum=0,
              maximum=10),
        _both("StopTransactionOnEVSideDisconnect", "TxCtrlr", "StopTxOnEVSideDisconnect",
              "boolean", "true"),
        _both("StopTransactionOnInvalidId", "TxCtrlr", "StopTxOnInvalidId", "boolean", "true"),
        _both("StopTxnSampledData", "SampledDataCtrlr", "TxEndedMeasurands", "MemberList",
              "Energy.Active.Import.Register", members=MEASURANDS, maximum=4),
        _v16("SupportedFeatureProfiles", "string", FEATURE_PROFILES, mutability=READ_ONLY),
        _v16("TransactionMessageAttempts", "integer", "3", minimum=0, maximum=10),
        _v16("TransactionMessageRetryInterval", "integer", "60", minimum=0, maximum=3600),
        _v16("UnlockConnectorOnEVSideDisconnect", "boolean", "true"),
        _both("WebSocketPingInterval", "OCPPCommCtrlr", "WebSocketPingInterval", "integer",
              str(ping_s), minimum=0, maximum=3600, unit="s", reboot=True),
        _v16("SendLocalListMaxLength", "integer", str(list_per_message), mutability=READ_ONLY),
        _v16("ChargeProfileMaxStackLevel", "integer", str(max_stack_level),
             mutability=READ_ONLY),
        _v16("ChargingScheduleAllowedChargingRateUnit", "string", "Current,Power",
             mutability=READ_ONLY),
        _v16("ChargingScheduleMaxPeriods", "integer", str(max_periods), mutability=READ_ONLY),
        _v16("MaxChargingProfilesInstalled", "integer", str(max_profiles),
             mutability=READ_ONLY),
        # 1.6 security whitepaper: the Basic Auth password, never read back.
        _v16("AuthorizationKey", "passwordString", password or "", mutability=WRITE_ONLY),
        _v16("SecurityProfile", "integer", "1" if password else "0", mutability=READ_ONLY),
    ]


def settings_16(**kw: Any) -> list[Setting]:
    return [s for s in common_settings(**kw) if s.key16]


def settings_201(*, charger_id: str, vendor: str, model: str, evses: int, max_power_w: float,
                 password: str | None, station_state: Callable[[], str],
                 evse_state: Callable[[int], str], evse_power: Callable[[int], str],
                 entries: Callable[[], str], now: Callable[[], str],
                 **kw: Any) -> list[Setting]:
    """The device model: the shared keys as variables, and what only 2.0.1 knows."""
    model_vars = [s for s in common_settings(password=password, **kw) if s.component]
    for s in model_vars:  # reached by component and variable only (`name` stays the 1.6 key)
        s.key16 = None
    ro = {"mutability": READ_ONLY}
    model_vars += [
        _v201("ChargingStation", "AvailabilityState", "OptionList", "", read=station_state,
              members=("Available", "Occupied", "Reserved", "Unavailable", "Faulted"), **ro),
        _v201("ChargingStation", "Model", "string", model, **ro),
        _v201("ChargingStation", "VendorName", "string", vendor, **ro),
        _v201("ChargingStation", "SupplyPhases", "integer", "3", **ro),
        _v201("TxCtrlr", "TxStartPoint", "MemberList", "EVConnected", **ro),
        _v201("TxCtrlr", "TxStopPoint", "MemberList", "EVConnected,Authorized", **ro),
        _v201("AuthCtrlr", "Enabled", "boolean", "true"),
        _v201("SampledDataCtrlr", "TxEndedInterval", "integer", "0", minimum=0,
              maximum=86_400, unit="s"),
        _v201("LocalAuthListCtrlr", "Entries", "integer", "", read=entries, **ro),
        _v201("LocalAuthListCtrlr", "ItemsPerMessage", "integer",
              str(kw["list_per_message"]), **ro),
        _v201("SmartChargingCtrlr", "Enabled", "boolean", "true", **ro),
        _v201("SmartChargingCtrlr", "ProfileStackLevel", "integer",
              str(kw["max_stack_level"]), **ro),
        _v201("SmartChargingCtrlr", "PeriodsPerSchedule", "integer", str(kw["max_periods"]),
              **ro),
        _v201("SmartChargingCtrlr", "RateUnit", "MemberList", "A,W", **ro),
        _v201("SecurityCtrlr", "Identity", "string", charger_id, **ro),
        _v201("SecurityCtrlr", "SecurityProfile", "integer", "1" if password else "0", **ro),
        _v201("SecurityCtrlr", "BasicAuthPassword", "passwordString", password or "",
              mutability=WRITE_ONLY),
        _v201("SecurityCtrlr", "OrganizationName", "string", "Gatehouse demo"),
        _v201("ClockCtrlr", "DateTime", "dateTime", "", read=now, **ro),
        _v201("ClockCtrlr", "TimeSource", "SequenceList", "Heartbeat",
              members=("Heartbeat", "NTP", "GPS", "RealTimeClock", "MobileNetwork")),
    ]
    for n in range(1, evses + 1):
        model_vars += [
            _v201("EVSE", "AvailabilityState", "OptionList", "", evse=n,
                  read=lambda n=n: evse_state(n), **ro),
            _v201("EVSE", "Power", "decimal", "", evse=n, read=lambda n=n: evse_power(n),
                  unit="W", minimum=0, maximum=max_power_w, **ro),
            _v201("Connector", "AvailabilityState", "OptionList", "", evse=n, connector=1,
                  read=lambda n=n: evse_state(n), **ro),
            _v201("Connector", "ConnectorType", "string", "cType2", evse=n, connector=1, **ro),
        ]
    return model_vars
