"""Billing and enforcement: tariffs, bills, payments, bill adjustments, violations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.db.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", UtcDateTime, nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tariffs"),
    )
    op.create_index("ix_tariffs_tariff_version", "tariffs", ["tariff_id", "version"],
                    unique=True)
    op.create_table(
        "bills",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("parking_session_id", sa.Integer),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", sa.Integer, nullable=False),
        sa.Column("vat", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("paid", sa.Integer, nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("tariff_versions", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bills"),
    )
    op.create_index("ix_bills_session", "bills", ["parking_session_id"], unique=True)
    op.create_index("ix_bills_closed", "bills", ["closed_at"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("bill_id", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name="fk_payments_bill_id_bills"),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
    )
    op.create_index("ix_payments_bill", "payments", ["bill_id"])
    op.create_table(
        "bill_adjustments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("bill_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("percent", sa.Float),
        sa.Column("amount", sa.Integer),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"],
                                name="fk_bill_adjustments_bill_id_bills"),
        sa.PrimaryKeyConstraint("id", name="pk_bill_adjustments"),
    )
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer),
        sa.Column("bay_id", sa.String(64), nullable=False),
        sa.Column("parking_session_id", sa.Integer),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("resolved_by", sa.String(128), nullable=False),
        sa.Column("resolved_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_violations"),
    )
    op.create_index("ix_violations_plate", "violations", ["plate"])
    op.create_index("ix_violations_session", "violations", ["parking_session_id"])


def downgrade() -> None:
    for table in ("violations", "bill_adjustments", "payments", "bills", "tariffs"):
        op.drop_table(table)
