"""Qt item models over the core's state, refreshed by CoreBridge signals."""

from ui.models.bays import BayTableModel
from ui.models.chargers import ChargerTableModel
from ui.models.common import Roles, format_local

__all__ = ["BayTableModel", "ChargerTableModel", "Roles", "format_local"]
