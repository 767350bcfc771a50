"""Table models of the access screens: accounts, credentials, permits, groups, blocklist
and the live decisions log.

They read the AccessService (`core.access`) and are refreshed by the views on the bridge's
accessChanged; every row carries its id under Roles.ITEM_ID so a view can keep the
selection across a reload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.domain.access import (
    Account,
    BlockEntry,
    Credential,
    CredentialStatus,
    Group,
    Permit,
    PermitStatus,
)
from ui.models.common import DISPLAY, NO_VALUE, Index, RowTableModel, format_local

ITEM_ID = Qt.ItemDataRole.UserRole + 40  # the row's account/credential/permit/block/group id
RESULT = Qt.ItemDataRole.UserRole + 41  # decisions: the AccessStatus value

Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_date(at: datetime | None) -> str:
    """A date (and time when not midnight) in the PC's local time: permits, blocklist."""
    if at is None:
        return NO_VALUE
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone()
    if (local.hour, local.minute) == (0, 0):
        return local.strftime("%d %b %Y")
    return local.strftime("%d %b %Y %H:%M")


def local_day(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone().strftime("%d %b %Y")


def permit_summary(permits: Sequence[Permit], now: datetime) -> str:
    """One line for the accounts list: active until <local date> / expired / none."""
    if not permits:
        return "none"
    states = [(p.status_at(now), p) for p in permits]
    active = [p for s, p in states if s is PermitStatus.ACTIVE]
    if active:
        if any(p.valid_until is None for p in active):
            return "active, open-ended"
        return f"active until {local_day(max(p.valid_until for p in active))}"
    future = [p for s, p in states if s is None]
    if future:
        return f"starts {local_day(min(p.valid_from for p in future))}"
    for status in (PermitStatus.SUSPENDED, PermitStatus.REVOKED):
        if any(s is status for s, _ in states):
            return status.value
    return "expired"


class _ItemsModel(RowTableModel):
    """Rows are a list of items; `set_items` replaces them in one reset."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[Any] = []

    def _row_count(self) -> int:
        return len(self._items)

    def set_items(self, items: Sequence[Any]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def item(self, row: int) -> Any:
        return self._items[row] if 0 <= row < len(self._items) else None

    def items(self) -> list[Any]:
        return list(self._items)

    def row_of(self, item_id: Any) -> int:
        return next((i for i, it in enumerate(self._items) if it.id == item_id), -1)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role == ITEM_ID:
            return item.id
        if role == DISPLAY:
            return self._display(item, index.column())
        return self._other(item, index.column(), role)

    def _display(self, item: Any, col: int) -> Any:
        raise NotImplementedError

    def _other(self, item: Any, col: int, role: int) -> Any:
        return None


_GREY = QBrush(QColor("#6e7781"))
_RED = QBrush(QColor("#cf222e"))
_AMBER = QBrush(QColor("#9a6700"))
_GREEN = QBrush(QColor("#1a7f37"))


class AccountTableModel(_ItemsModel):
    COLUMNS = ("Name", "Group", "Credentials", "Permit", "Active")
    COL_NAME, COL_GROUP, COL_CREDS, COL_PERMIT, COL_ACTIVE = range(5)

    def __init__(self, access: Any, parent: QObject | None = None, *,
                 now: Now = utc_now) -> None:
        super().__init__(parent)
        self._access = access
        self._now = now
        self.query = ""
        self._creds: dict[int, int] = {}
        self.refresh()

    def search(self, text: str) -> None:
        self.query = text
        self.refresh()

    def refresh(self) -> None:
        accounts = self._access.search(self.query) if self._access is not None else []
        self._creds = {}
        for cred in self._access.data.credentials if self._access is not None else ():
            self._creds[cred.account_id] = self._creds.get(cred.account_id, 0) + 1
        self.set_items(sorted(accounts, key=lambda a: (a.name.lower(), a.id)))

    def account(self, row: int) -> Account | None:
        return self.item(row)

    def _display(self, a: Account, col: int) -> Any:
        if col == self.COL_NAME:
            return a.name
        if col == self.COL_GROUP:
            return self._access.index.group_of(a).name
        if col == self.COL_CREDS:
            return str(self._creds.get(a.id, 0))
        if col == self.COL_PERMIT:
            return permit_summary(self._access.permits_of(a.id), self._now())
        return "yes" if a.active else "no"

    def _other(self, a: Account, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if not a.active:
                return _GREY
            if col == self.COL_PERMIT:
                text = self._display(a, col)
                if text.startswith("active"):
                    return _GREEN
                if text in ("expired", "suspended", "revoked"):
                    return _AMBER
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [a.name, f"{a.kind.value}, group {self._access.index.group_of(a).name}"]
            parts += [x for x in (a.email, a.phone) if x]
            if not a.active:
                parts.append("deactivated: every credential is refused")
            return "\n".join(parts)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.COL_CREDS:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


class CredentialTableModel(_ItemsModel):
    COLUMNS = ("Kind", "Value", "Label", "Status")
    COL_KIND, COL_VALUE, COL_LABEL, COL_STATUS = range(4)

    def _display(self, c: Credential, col: int) -> Any:
        if col == self.COL_KIND:
            return c.kind.value
        if col == self.COL_VALUE:
            return c.value
        if col == self.COL_LABEL:
            return c.label or NO_VALUE
        if c.status is CredentialStatus.ACTIVE:
            return "active"
        return f"{c.status.value} ({c.status_reason})" if c.status_reason else c.status.value

    def _other(self, c: Credential, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and col == self.COL_STATUS:
            return _GREEN if c.active else _RED
        if role == Qt.ItemDataRole.FontRole and col == self.COL_VALUE:
            font = QFont("monospace")
            font.setStyleHint(QFont.StyleHint.TypeWriter)
            return font
        return None


class PermitTableModel(_ItemsModel):
    COLUMNS = ("Valid from", "Valid until", "Zone", "Status")
    COL_FROM, COL_UNTIL, COL_ZONE, COL_STATUS = range(4)

    def __init__(self, zones: dict[str, str], parent: QObject | None = None, *,
                 now: Now = utc_now) -> None:
        super().__init__(parent)
        self._zones = zones
        self._now = now

    def _display(self, p: Permit, col: int) -> Any:
        if col == self.COL_FROM:
            return local_date(p.valid_from)
        if col == self.COL_UNTIL:
            return local_date(p.valid_until) if p.valid_until else "open-ended"
        if col == self.COL_ZONE:
            return self._zones.get(p.zone_id, p.zone_id) if p.zone_id else "all zones"
        status = p.status_at(self._now())
        return "not yet valid" if status is None else status.value

    def _other(self, p: Permit, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and col == self.COL_STATUS:
            status = p.status_at(self._now())
            if status is PermitStatus.ACTIVE:
                return _GREEN
            return _GREY if status is None else _AMBER
        return None


def minutes_text(minutes: int | None) -> str:
    if minutes is None:
        return "no limit"
    hours, mins = divmod(minutes, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} h" if not mins else f"{hours} h {mins:02d}"


class GroupTableModel(_ItemsModel):
    COLUMNS = ("Group", "Zones", "Max stay", "Charging", "Max vehicles", "Tariff")

    def __init__(self, zones: dict[str, str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._zones = zones

    def _display(self, g: Group, col: int) -> Any:
        if col == 0:
            return g.name
        if col == 1:
            return ", ".join(self._zones.get(z, z) for z in g.zones) if g.zones else "all zones"
        if col == 2:
            return minutes_text(g.max_stay_min)
        if col == 3:
            return "yes" if g.charging_allowed else "no"
        if col == 4:
            return "no limit" if g.max_vehicles is None else str(g.max_vehicles)
        return g.tariff or NO_VALUE

    def _other(self, g: Group, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{g.name} ({g.kind.value}, id {g.id})"
        return None


class BlockTableModel(_ItemsModel):
    COLUMNS = ("Kind", "Value", "Reason", "Until", "By")

    def __init__(self, parent: QObject | None = None, *, now: Now = utc_now) -> None:
        super().__init__(parent)
        self._now = now

    def _display(self, b: BlockEntry, col: int) -> Any:
        if col == 0:
            return b.kind.value
        if col == 1:
            return b.value
        if col == 2:
            return b.reason
        if col == 3:
            if b.until is None:
                return "until lifted"
            return local_date(b.until) + ("" if b.in_force(self._now()) else " (ended)")
        return b.created_by or NO_VALUE

    def _other(self, b: BlockEntry, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and not b.in_force(self._now()):
            return _GREY
        return None


# ---- the decisions log ------------------------------------------------------------------

# AccessStatus value -> (row tint, result ink, words)
_RESULTS: dict[str, tuple[str, str, str]] = {
    "Accepted": ("#e6f4ea", "#1a7f37", "Accepted"),
    "Blocked": ("#fde7e9", "#a40e26", "Blocked"),
    "Expired": ("#fff1d6", "#7a4a00", "Expired"),
    "Invalid": ("#fde7e9", "#a40e26", "Refused"),
    "ConcurrentTx": ("#fff1d6", "#7a4a00", "Already charging"),
    "NotAtThisLocation": ("#fff1d6", "#7a4a00", "Not here"),
    "AntiPassback": ("#fff1d6", "#7a4a00", "Anti-passback"),
    "Full": ("#fff1d6", "#7a4a00", "Full"),
    "VehicleLimit": ("#fff1d6", "#7a4a00", "Vehicle limit"),
    "AskAttendant": ("#ddf4ff", "#0b5cad", "Ask attendant"),
}
_OTHER_RESULT = ("#f6f8fa", "#1f2328", "")


def result_words(status: str) -> str:
    return _RESULTS.get(status, _OTHER_RESULT)[2] or status


def result_colors(status: str) -> tuple[QColor, QColor]:
    tint, ink, _ = _RESULTS.get(status, _OTHER_RESULT)
    return QColor(tint), QColor(ink)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    at: datetime
    point: str
    place: str
    kind: str
    value: str
    status: str
    reason: str
    account: str
    violation: str = ""
    connector_id: int | None = None

    @classmethod
    def from_event(cls, ev: Any) -> DecisionRow:
        return cls(at=ev.at, point=ev.point, place=ev.place, kind=ev.kind, value=ev.value,
                   status=ev.status, reason=ev.reason, account=ev.account_name,
                   violation=ev.violation, connector_id=ev.connector_id)


class DecisionTableModel(RowTableModel):
    """The newest decision on top; at most `cap` rows (the oldest fall off the bottom)."""

    COLUMNS = ("Time", "Where", "Credential", "Account", "Result", "Reason")
    # The view shows the reason inside the Result column (ui.views.decisions_view).
    COL_TIME, COL_PLACE, COL_CRED, COL_ACCOUNT, COL_RESULT, COL_REASON = range(6)
    CAP = 500

    def __init__(self, place_names: dict[str, str] | None = None,
                 parent: QObject | None = None, *, cap: int = CAP) -> None:
        super().__init__(parent)
        self._rows: list[DecisionRow] = []
        self._places = place_names or {}
        self.cap = cap

    def _row_count(self) -> int:
        return len(self._rows)

    def row(self, row: int) -> DecisionRow:
        return self._rows[row]

    def add(self, row: DecisionRow) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, row)
        self.endInsertRows()
        if len(self._rows) > self.cap:
            self.beginRemoveRows(QModelIndex(), self.cap, len(self._rows) - 1)
            del self._rows[self.cap:]
            self.endRemoveRows()

    def add_older(self, rows: list[DecisionRow]) -> None:
        """Decisions from before the view opened (newest first), below the live ones."""
        # A decision made while the history loaded is in both: keep the live row.
        seen = {(r.at, r.place, r.value, r.status) for r in self._rows}
        rows = [r for r in rows if (r.at, r.place, r.value, r.status) not in seen]
        room = self.cap - len(self._rows)
        rows = rows[:max(room, 0)]
        if not rows:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    @staticmethod
    def point_text(r: DecisionRow) -> str:
        return {"gate": "Gate", "charger": "Charger"}.get(r.point, r.point)

    def place_text(self, r: DecisionRow) -> str:
        name = self._places.get(r.place, r.place)
        return f"{name} / {r.connector_id}" if r.connector_id else name

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == DISPLAY:
            return self._display(r, col)
        if role == RESULT:
            return r.status
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(result_colors(r.status)[0])
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(result_colors(r.status)[1] if col == self.COL_RESULT
                          else QColor("#1f2328"))
        if role == Qt.ItemDataRole.FontRole and col == self.COL_RESULT:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{r.at.astimezone():%Y-%m-%d %H:%M:%S}  {self.point_text(r)} "
                     f"{self.place_text(r)}",
                     f"{r.kind or 'credential'} {r.value}",
                     f"{r.status}: {r.reason}"]
            if r.violation:
                lines.append(f"violation: {r.violation}")
            return "\n".join(lines)
        return None

    def _display(self, r: DecisionRow, col: int) -> str:
        if col == self.COL_TIME:
            return format_local(r.at)
        if col == self.COL_PLACE:
            return self.place_text(r)
        if col == self.COL_CRED:
            return r.value or NO_VALUE
        if col == self.COL_ACCOUNT:
            return r.account or NO_VALUE
        if col == self.COL_RESULT:
            return result_words(r.status)
        return f"{r.reason} · {r.violation}" if r.violation else r.reason
