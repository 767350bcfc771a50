"""Transactions and meter samples: one model for 1.6 transactions and 2.0.1 TransactionEvents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A charger clock before this, or more than a day ahead of ours, is wrong.
EARLIEST_PLAUSIBLE = datetime.fromisoformat("2020-01-01T00:00:00+00:00")
CLOCK_SKEW_TOLERANCE = timedelta(days=1)


class Measurand(StrEnum):
    ENERGY_IMPORT = "Energy.Active.Import.Register"
    POWER_IMPORT = "Power.Active.Import"
    CURRENT_IMPORT = "Current.Import"
    VOLTAGE = "Voltage"
    SOC = "SoC"


def clock_is_plausible(charger_time: datetime | None, received_at: datetime) -> bool:
    if charger_time is None:
        return True
    return EARLIEST_PLAUSIBLE <= charger_time <= received_at + CLOCK_SKEW_TOLERANCE


@dataclass(frozen=True, slots=True)
class MeterSample:
    charger_id: str
    connector_id: int
    transaction_id: int | None  # the console's transaction id (DB), None when unknown
    at: datetime  # the charger's timestamp as sent (may be flagged)
    received_at: datetime
    energy_wh: float | None = None
    power_w: float | None = None
    current_a: float | None = None
    voltage_v: float | None = None
    soc_pct: float | None = None
    context: str = ""
    clock_flagged: bool = False


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int  # the console's id; for 1.6 it is the transactionId given to the charger
    charger_id: str
    connector_id: int
    charger_tx_id: str  # 2.0.1 transactionId; for 1.6 str(id)
    id_token: str
    started_at: datetime | None
    stopped_at: datetime | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    energy_wh: float | None = None
    stop_reason: str = ""
    orphan: bool = False  # a stop (or events) for a transaction we never saw start
    offline: bool = False  # delivered late, from the charger's offline queue
    clock_flagged: bool = False
    last_seq_no: int | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None and not self.orphan
