"""New custom group / edit a group's rules: zones, max stay, charging, vehicles, tariff."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QWidget,
)

from app.domain.access import Group, GroupKind
from app.domain.site import Zone
from ui.dialogs.access_form import AccessFormDialog

NO_LIMIT = "No limit"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")[:40]


class GroupDialog(AccessFormDialog):
    def __init__(self, group: Group | None, zones: Sequence[Zone], taken_ids: Iterable[str],
                 tariffs: Iterable[str] = (), parent: QWidget | None = None) -> None:
        new = group is None
        super().__init__("New group" if new else f"Edit group — {group.name}",
                         "Create group" if new else "Save", parent)
        self.setObjectName("groupDialog")
        self.new = new
        self.group = group or Group("", "", GroupKind.CUSTOM)
        self.taken = set(taken_ids)
        self.zone_names = {z.id: z.name for z in zones}

        self.name_edit = QLineEdit(self.group.name, self)
        self.name_edit.setObjectName("groupName")
        self.name_edit.setMaxLength(100)
        self.id_edit = QLineEdit(self.group.id, self)
        self.id_edit.setObjectName("groupId")
        self.id_edit.setEnabled(new)
        self.id_edit.setToolTip("The group's short id (CSV files and the CLI use it)")
        if new:
            self.name_edit.textEdited.connect(lambda t: self.id_edit.setText(slug(t)))

        self.all_zones = QCheckBox("All zones", self)
        self.all_zones.setObjectName("allZones")
        self.all_zones.setChecked(not self.group.zones)
        self.zone_list = QListWidget(self)
        self.zone_list.setObjectName("zoneList")
        for zone_id in [*self.zone_names, *(z for z in self.group.zones
                                            if z not in self.zone_names)]:
            item = QListWidgetItem(self.zone_names.get(zone_id, zone_id), self.zone_list)
            item.setData(Qt.ItemDataRole.UserRole, zone_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if zone_id in self.group.zones
                               else Qt.CheckState.Unchecked)
        self.zone_list.setFixedHeight(min(6, max(2, self.zone_list.count())) * 24 + 6)
        self.zone_list.setEnabled(bool(self.group.zones))
        self.all_zones.toggled.connect(lambda on: self.zone_list.setEnabled(not on))

        self.stay_spin = QSpinBox(self)
        self.stay_spin.setObjectName("maxStay")
        self.stay_spin.setRange(0, 60 * 24 * 31)
        self.stay_spin.setSingleStep(15)
        self.stay_spin.setSuffix(" min")
        self.stay_spin.setSpecialValueText(NO_LIMIT)
        self.stay_spin.setValue(self.group.max_stay_min or 0)
        self.charging_check = QCheckBox("May charge", self)
        self.charging_check.setObjectName("chargingAllowed")
        self.charging_check.setChecked(self.group.charging_allowed)
        self.vehicles_spin = QSpinBox(self)
        self.vehicles_spin.setObjectName("maxVehicles")
        self.vehicles_spin.setRange(0, 999)
        self.vehicles_spin.setSpecialValueText(NO_LIMIT)
        self.vehicles_spin.setValue(self.group.max_vehicles or 0)
        self.tariff_combo = QComboBox(self)
        self.tariff_combo.setObjectName("groupTariff")
        self.tariff_combo.setEditable(True)
        self.tariff_combo.addItems(sorted({t for t in tariffs if t}))
        self.tariff_combo.setCurrentText(self.group.tariff)

        self.form.addRow("Name:", self.name_edit)
        self.form.addRow("Id:", self.id_edit)
        self.form.addRow("Zones allowed:", self.all_zones)
        self.form.addRow("", self.zone_list)
        self.form.addRow("Max stay:", self.stay_spin)
        self.form.addRow("Charging:", self.charging_check)
        self.form.addRow("Max vehicles:", self.vehicles_spin)
        self.form.addRow("Tariff:", self.tariff_combo)
        self.finish_layout()
        self.name_edit.setFocus()

    def checked_zones(self) -> tuple[str, ...]:
        items = (self.zone_list.item(i) for i in range(self.zone_list.count()))
        return tuple(i.data(Qt.ItemDataRole.UserRole) for i in items
                     if i.checkState() == Qt.CheckState.Checked)

    def set_zones(self, zone_ids: Iterable[str]) -> None:
        wanted = set(zone_ids)
        self.all_zones.setChecked(not wanted)
        for i in range(self.zone_list.count()):
            item = self.zone_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole)
                               in wanted else Qt.CheckState.Unchecked)

    def value(self) -> Group:
        name = self.name_edit.text().strip()
        if not name:
            raise ValueError("a group needs a name")
        group_id = self.id_edit.text().strip() if self.new else self.group.id
        if not group_id:
            raise ValueError("a group needs an id")
        if self.new and group_id in self.taken:
            raise ValueError(f"there is already a group with id {group_id!r}")
        zones = () if self.all_zones.isChecked() else self.checked_zones()
        if not self.all_zones.isChecked() and not zones:
            raise ValueError("tick the zones this group may use (or All zones)")
        return Group(id=group_id, name=name, kind=self.group.kind, zones=zones,
                     max_stay_min=self.stay_spin.value() or None,
                     charging_allowed=self.charging_check.isChecked(),
                     max_vehicles=self.vehicles_spin.value() or None,
                     tariff=self.tariff_combo.currentText().strip())
