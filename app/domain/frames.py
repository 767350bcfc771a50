"""A raw OCPP frame as the charger panel shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    IN = "in"  # charger -> console
    OUT = "out"  # console -> charger


@dataclass(frozen=True, slots=True)
class Frame:
    at: datetime
    charger_id: str
    direction: Direction
    text: str
