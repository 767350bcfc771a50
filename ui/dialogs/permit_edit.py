"""New permit / edit permit: valid from/until in local time (stored UTC), zone, status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QWidget

from app.domain.access import Permit, PermitStatus
from app.domain.site import Zone
from ui.dialogs.access_form import AccessFormDialog, datetime_edit, from_qdatetime

ALL_ZONES = "All zones"


def _today_local_midnight() -> datetime:
    local = datetime.now().astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class PermitDialog(AccessFormDialog):
    def __init__(self, permit: Permit | None, account_id: int, account_name: str,
                 zones: Sequence[Zone], parent: QWidget | None = None) -> None:
        new = permit is None
        super().__init__(f"{'New' if new else 'Edit'} permit — {account_name}",
                         "Add permit" if new else "Save", parent)
        self.setObjectName("permitDialog")
        start = _today_local_midnight()
        self.permit = permit or Permit(0, account_id, start, start + timedelta(days=365))
        zone_name = datetime.now().astimezone().tzname() or "local"
        self.set_intro(f"Dates and times are in this PC's local time ({zone_name}).")

        self.from_edit = datetime_edit(self, self.permit.valid_from, "validFrom")
        until = self.permit.valid_until or (self.permit.valid_from + timedelta(days=365))
        self.until_edit = datetime_edit(self, until, "validUntil")
        self.open_check = QCheckBox("Open-ended", self)
        self.open_check.setObjectName("openEnded")
        self.open_check.setChecked(self.permit.valid_until is None)
        self.until_edit.setEnabled(not self.open_check.isChecked())
        self.open_check.toggled.connect(lambda on: self.until_edit.setEnabled(not on))
        until_row = QHBoxLayout()
        until_row.addWidget(self.until_edit, 1)
        until_row.addWidget(self.open_check)

        self.zone_combo = QComboBox(self)
        self.zone_combo.setObjectName("permitZone")
        self.zone_combo.addItem(ALL_ZONES, "")
        for zone in zones:
            self.zone_combo.addItem(zone.name, zone.id)
        pos = self.zone_combo.findData(self.permit.zone_id)
        if pos < 0:  # a zone no longer on the site: shown, not silently changed
            self.zone_combo.addItem(self.permit.zone_id, self.permit.zone_id)
            pos = self.zone_combo.count() - 1
        self.zone_combo.setCurrentIndex(pos)
        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("permitStatus")
        for status in PermitStatus:
            self.status_combo.addItem(status.value.capitalize(), status.value)
        self.status_combo.setCurrentIndex(self.status_combo.findData(self.permit.status.value))

        self.form.addRow("Valid from:", self.from_edit)
        self.form.addRow("Valid until:", until_row)
        self.form.addRow("Zone:", self.zone_combo)
        self.form.addRow("Status:", self.status_combo)
        self.finish_layout()

    def value(self) -> Permit:
        valid_from = from_qdatetime(self.from_edit.dateTime())
        valid_until = (None if self.open_check.isChecked()
                       else from_qdatetime(self.until_edit.dateTime()))
        if valid_until is not None and valid_until <= valid_from:
            raise ValueError("the permit must end after it starts")
        return Permit(id=self.permit.id, account_id=self.permit.account_id,
                      valid_from=valid_from, valid_until=valid_until,
                      status=PermitStatus(self.status_combo.currentData()),
                      zone_id=self.zone_combo.currentData())
