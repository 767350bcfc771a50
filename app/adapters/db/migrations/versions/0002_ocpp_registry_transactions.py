"""OCPP central system: charger registry fields, transactions, meter samples, events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.db.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("approved", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("password_hash", sa.String(255)))
        batch.add_column(sa.Column("lenient", sa.Integer, nullable=False, server_default="0"))
    # Chargers configured or already accepted before this revision stay accepted.
    op.execute("UPDATE chargers SET approved = 1 WHERE configured = 1 "
               "OR registration = 'Accepted'")
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("charger_tx_id", sa.String(64)),
        sa.Column("id_token", sa.String(64), nullable=False),
        sa.Column("started_at", UtcDateTime),
        sa.Column("stopped_at", UtcDateTime),
        sa.Column("meter_start_wh", sa.Float),
        sa.Column("meter_stop_wh", sa.Float),
        sa.Column("energy_wh", sa.Float),
        sa.Column("stop_reason", sa.String(64), nullable=False),
        sa.Column("orphan", sa.Integer, nullable=False),
        sa.Column("offline", sa.Integer, nullable=False),
        sa.Column("clock_flagged", sa.Integer, nullable=False),
        sa.Column("last_seq_no", sa.Integer),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
    )
    op.create_index("ix_transactions_charger_tx", "transactions",
                    ["charger_id", "charger_tx_id"], unique=True)
    op.create_index("ix_transactions_started", "transactions", ["started_at"])
    op.create_table(
        "meter_samples",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("energy_wh", sa.Float),
        sa.Column("power_w", sa.Float),
        sa.Column("current_a", sa.Float),
        sa.Column("voltage_v", sa.Float),
        sa.Column("soc_pct", sa.Float),
        sa.Column("context", sa.String(32), nullable=False),
        sa.Column("clock_flagged", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meter_samples"),
    )
    op.create_index("ix_meter_samples_tx", "meter_samples", ["transaction_id"])
    op.create_index("ix_meter_samples_charger_at", "meter_samples", ["charger_id", "at"])
    op.create_table(
        "charger_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("charger_time", UtcDateTime),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charger_events"),
    )
    op.create_index("ix_charger_events_charger_at", "charger_events", ["charger_id", "at"])
    op.create_table(
        "id_tags",
        sa.Column("id_token", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id_token", name="pk_id_tags"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )


def downgrade() -> None:
    for name in ("settings", "id_tags", "charger_events", "meter_samples", "transactions"):
        op.drop_table(name)
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("lenient")
        batch.drop_column("password_hash")
        batch.drop_column("approved")
