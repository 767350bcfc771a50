"""Table definitions (SQLAlchemy Core). Migrations in migrations/versions mirror them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from app.adapters.db.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

site = Table(
    "site", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False, default="EUR"),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("updated_at", UtcDateTime, nullable=False),
)

zones = Table(
    "zones", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("capacity", Integer, nullable=False, default=0),
)

chargers = Table(
    "chargers", metadata,
    Column("id", String(128), primary_key=True),
    # False for chargers that connected on their own and are not configured in the site.
    Column("configured", Integer, nullable=False, default=0),
    Column("label", String(200), nullable=False, default=""),
    Column("ocpp_version", String(8)),
    Column("connector_count", Integer, nullable=False, default=0),
    Column("max_power_w", Integer, nullable=False, default=22000),
    Column("vendor", String(64), nullable=False, default=""),
    Column("model", String(64), nullable=False, default=""),
    Column("serial", String(64), nullable=False, default=""),
    Column("firmware", String(64), nullable=False, default=""),
    Column("registration", String(16)),
    Column("remote", String(128), nullable=False, default=""),
    Column("last_seen", UtcDateTime),
    Column("last_boot", UtcDateTime),
    Column("online", Integer, nullable=False, default=0),
    # Registry (0002): installer approval for chargers that connected on their own,
    # HTTP Basic password (security profiles 1 and 2), tolerance for schema deviations.
    Column("approved", Integer, nullable=False, default=0),
    Column("password_hash", String(255)),
    Column("lenient", Integer, nullable=False, default=0),
)

connectors = Table(
    "connectors", metadata,
    Column("charger_id", String(128), ForeignKey("chargers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("connector_id", Integer, primary_key=True),
    Column("status", String(16), nullable=False, default="Unknown"),
    Column("error_code", String(64), nullable=False, default="NoError"),
    Column("since", UtcDateTime),
)

status_changes = Table(
    "status_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("charger_id", String(128), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("charger_time", UtcDateTime),
    Index("ix_status_changes_charger_at", "charger_id", "at"),
)

cameras = Table(
    "cameras", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("settings", JSON, nullable=False, default=dict),  # 0005
)

barriers = Table(
    "barriers", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("driver", String(32), nullable=False, default="sim"),
    Column("settings", JSON, nullable=False, default=dict),
)

bays = Table(
    "bays", metadata,
    Column("id", String(64), primary_key=True),
    Column("label", String(64), nullable=False),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=False),
    Column("charger_id", String(128), ForeignKey("chargers.id")),
    Column("connector_id", Integer),
    Column("camera_id", String(64), ForeignKey("cameras.id")),
    Column("x", Float, nullable=False, default=0.0),
    Column("y", Float, nullable=False, default=0.0),
)

lanes = Table(
    "lanes", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("camera_id", String(64), ForeignKey("cameras.id")),
    Column("barrier_id", String(64), ForeignKey("barriers.id")),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
)


transactions = Table(
    "transactions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("charger_id", String(128), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("charger_tx_id", String(64)),
    Column("id_token", String(64), nullable=False, default=""),
    Column("started_at", UtcDateTime),
    Column("stopped_at", UtcDateTime),
    Column("meter_start_wh", Float),
    Column("meter_stop_wh", Float),
    Column("energy_wh", Float),
    Column("stop_reason", String(64), nullable=False, default=""),
    Column("orphan", Integer, nullable=False, default=0),
    Column("offline", Integer, nullable=False, default=0),
    Column("clock_flagged", Integer, nullable=False, default=0),
    Column("last_seq_no", Integer),
    Column("received_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_transactions_charger_tx", "charger_id", "charger_tx_id", unique=True),
    Index("ix_transactions_started", "started_at"),
)

meter_samples = Table(
    "meter_samples", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("charger_id", String(128), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("transaction_id", Integer),
    Column("at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("energy_wh", Float),
    Column("power_w", Float),
    Column("current_a", Float),
    Column("voltage_v", Float),
    Column("soc_pct", Float),
    Column("context", String(32), nullable=False, default=""),
    Column("clock_flagged", Integer, nullable=False, default=0),
    Index("ix_meter_samples_tx", "transaction_id"),
    Index("ix_meter_samples_charger_at", "charger_id", "at"),
)

# Charger messages that are facts for review, not state: DataTransfer, diagnostics and
# firmware status, NotifyEvent, SecurityEventNotification, NotifyReport, protocol quirks.
charger_events = Table(
    "charger_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("charger_id", String(128), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("charger_time", UtcDateTime),
    Column("payload", JSON, nullable=False, default=dict),
    Index("ix_charger_events_charger_at", "charger_id", "at"),
)

# Known RFID/app tags until the access issue brings accounts and credentials.
id_tags = Table(
    "id_tags", metadata,
    Column("id_token", String(64), primary_key=True),
    Column("label", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="Accepted"),
)

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON),
)

# Staff accounts (0003): who may use the console. Roles: admin | supervisor | attendant.
# Usernames are stored lower-case; passwords only as app.services.passwords hashes.
staff_users = Table(
    "staff_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
)


# ---- Access (0004): accounts, credentials, groups, permits, blocklist, decisions ----------
access_groups = Table(
    "access_groups", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False, default="custom"),
    Column("zones", JSON, nullable=False, default=list),
    Column("max_stay_min", Integer),
    Column("charging_allowed", Integer, nullable=False, default=1),
    Column("max_vehicles", Integer),
    Column("tariff", String(64), nullable=False, default=""),
)

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False, default="driver"),
    Column("group_id", String(64), ForeignKey("access_groups.id"), nullable=False),
    Column("email", String(200), nullable=False, default=""),
    Column("phone", String(64), nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    Column("active", Integer, nullable=False, default=1),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_accounts_name", "name"),
)

credentials = Table(
    "credentials", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(128), nullable=False),  # normalized
    Column("label", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),
    Column("status_reason", String(200), nullable=False, default=""),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_credentials_kind_value", "kind", "value", unique=True),
    Index("ix_credentials_account", "account_id"),
)

permits = Table(
    "permits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           nullable=False),
    Column("zone_id", String(64), nullable=False, default=""),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_until", UtcDateTime),
    Column("status", String(16), nullable=False, default="active"),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_permits_account", "account_id"),
)

blocklist = Table(
    "blocklist", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(128), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("until", UtcDateTime),
    Column("created_by", String(128), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
)

# One row: bumped by every change of the access data, from any console or the CLI, so
# each running console notices a change by reading one number.
access_revision = Table(
    "access_revision", metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False, default=0),
)

access_decisions = Table(
    "access_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("point", String(8), nullable=False),  # gate | charger
    Column("place", String(128), nullable=False, default=""),  # lane id or charger id
    Column("connector_id", Integer),
    Column("kind", String(16), nullable=False, default=""),
    Column("value", String(128), nullable=False, default=""),
    Column("account_id", Integer),
    Column("credential_id", Integer),
    Column("status", String(24), nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("violation", String(200), nullable=False, default=""),
    Index("ix_access_decisions_at", "at"),
)

parking_sessions = Table(
    "parking_sessions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # plate or a card kind
    Column("value", String(128), nullable=False),
    Column("plate", String(32), nullable=False, default=""),
    Column("account_id", Integer),
    Column("credential_id", Integer),
    Column("zone_id", String(64), nullable=False),
    Column("visitor", Integer, nullable=False, default=0),
    Column("entry_lane", String(64), nullable=False, default=""),
    Column("entry_at", UtcDateTime, nullable=False),
    Column("exit_lane", String(64), nullable=False, default=""),
    Column("exit_at", UtcDateTime),
    Column("closed_by", String(32), nullable=False, default=""),  # exit | attendant | apb_reset
    Index("ix_parking_sessions_open", "exit_at", "value"),
)

# The local authorization list each charger holds (SendLocalList), as last confirmed.
local_list_state = Table(
    "local_list_state", metadata,
    Column("charger_id", String(128), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    Column("synced_at", UtcDateTime),
    Column("entries", Integer, nullable=False, default=0),
)


# ---- Cameras and binding (0005): plate reads with evidence, bindings, the attendant queue -
plate_reads = Table(
    "plate_reads", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("camera_id", String(64), nullable=False),
    Column("plate", String(32), nullable=False),  # normalized
    Column("raw", String(64), nullable=False, default=""),  # as read
    Column("confidence", Float, nullable=False, default=0.0),
    Column("source", String(32), nullable=False, default=""),  # isapi | itsapi | webhook |
    # recognizer | sim | attendant
    Column("snapshot", Text, nullable=False, default=""),  # JPEG path under the data folder
    Column("merged", Integer, nullable=False, default=1),  # reads of one passage merged
    Index("ix_plate_reads_at", "at"),
    Index("ix_plate_reads_plate", "plate"),
)

bindings = Table(
    "bindings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plate", String(32), nullable=False, default=""),
    Column("bay_id", String(64), nullable=False),
    Column("charger_id", String(128), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("transaction_id", Integer),
    Column("parking_session_id", Integer),
    Column("method", String(16), nullable=False),  # bay_anpr | credential | attendant
    Column("confidence", Float, nullable=False, default=0.0),
    Column("read_id", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(32), nullable=False, default=""),  # session_end | rebind | unbind
    Column("actor", String(128), nullable=False, default=""),
    Index("ix_bindings_tx", "transaction_id"),
    Index("ix_bindings_plate", "plate"),
)

binding_issues = Table(
    "binding_issues", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # conflict | no_plate | wrong_bay | ice
    Column("bay_id", String(64), nullable=False, default=""),
    Column("charger_id", String(128), nullable=False, default=""),
    Column("connector_id", Integer),
    Column("transaction_id", Integer),
    Column("plates", JSON, nullable=False, default=list),
    Column("detail", String(200), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(128), nullable=False, default=""),
    Column("resolution", String(200), nullable=False, default=""),
    Index("ix_binding_issues_open", "resolved_at"),
)


# ---- Billing and enforcement (0006) -----------------------------------------------------
# Tariff documents as saved by supervisors (app.domain.tariffs.tariff_from_dict reads them).
tariffs = Table(
    "tariffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tariff_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("doc", JSON, nullable=False),
    Column("created_by", String(128), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_tariffs_tariff_version", "tariff_id", "version", unique=True),
)

# One bill per parking session (or per charging session of a car that never passed a
# lane), recomputed from its timeline whenever something changes; money in minor units.
bills = Table(
    "bills", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("parking_session_id", Integer),
    Column("transaction_id", Integer),
    Column("plate", String(32), nullable=False, default=""),
    Column("account_id", Integer),
    Column("zone_id", String(64), nullable=False, default=""),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("currency", String(3), nullable=False),
    Column("subtotal", Integer, nullable=False, default=0),
    Column("vat", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("paid", Integer, nullable=False, default=0),
    Column("lines", JSON, nullable=False, default=list),
    Column("tariff_versions", JSON, nullable=False, default=list),
    Column("status", String(16), nullable=False, default="open"),  # open|due|paid|void
    Column("computed_at", UtcDateTime, nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Index("ix_bills_session", "parking_session_id", unique=True),
    Index("ix_bills_closed", "closed_at"),
    Index("ix_bills_account_opened", "account_id", "opened_at"),  # the month's allowance
)

payments = Table(
    "payments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bill_id", Integer, ForeignKey("bills.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("method", String(16), nullable=False),  # cash | card | invoice | permit | override
    Column("reference", String(128), nullable=False, default=""),
    Column("amount", Integer, nullable=False),
    Column("actor", String(128), nullable=False, default=""),
    Index("ix_payments_bill", "bill_id"),
)

# Waivers and validations on a bill (supervisor or attendant, with a reason).
bill_adjustments = Table(
    "bill_adjustments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bill_id", Integer, ForeignKey("bills.id"), nullable=False),
    Column("type", String(16), nullable=False),  # waiver | validation
    Column("components", JSON, nullable=False, default=list),
    Column("percent", Float),
    Column("amount", Integer),
    Column("reason", String(200), nullable=False, default=""),
    Column("actor", String(128), nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
)

# ICE-ing, overstay, idle: what happened, the ladder step, the fee, the evidence.
violations = Table(
    "violations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # ice | overstay | idle | fee
    Column("plate", String(32), nullable=False, default=""),
    Column("account_id", Integer),
    Column("bay_id", String(64), nullable=False, default=""),
    Column("parking_session_id", Integer),
    Column("transaction_id", Integer),
    Column("at", UtcDateTime, nullable=False),
    Column("step", String(16), nullable=False, default="warning"),  # warning | fee | ban
    Column("amount", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="open"),  # open|issued|waived|adjusted
    Column("evidence", JSON, nullable=False, default=dict),
    Column("actor", String(128), nullable=False, default=""),
    Column("reason", String(200), nullable=False, default=""),
    Column("resolved_by", String(128), nullable=False, default=""),
    Column("resolved_at", UtcDateTime),
    Index("ix_violations_plate", "plate"),
    Index("ix_violations_session", "parking_session_id"),
)
