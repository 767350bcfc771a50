"""Cameras and binding: camera settings, plate reads with their evidence, bindings of
plate <-> bay <-> charger <-> connector <-> transaction, and the attendant's queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.db.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("settings", sa.JSON, nullable=False, server_default="{}"))
    op.create_table(
        "plate_reads",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("raw", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("merged", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plate_reads"),
    )
    op.create_index("ix_plate_reads_at", "plate_reads", ["at"])
    op.create_index("ix_plate_reads_plate", "plate_reads", ["plate"])
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("bay_id", sa.String(64), nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("parking_session_id", sa.Integer),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("read_id", sa.Integer),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime),
        sa.Column("ended_by", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bindings"),
    )
    op.create_index("ix_bindings_tx", "bindings", ["transaction_id"])
    op.create_index("ix_bindings_plate", "bindings", ["plate"])
    op.create_table(
        "binding_issues",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("bay_id", sa.String(64), nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("plates", sa.JSON, nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("resolved_by", sa.String(128), nullable=False),
        sa.Column("resolution", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_binding_issues"),
    )
    op.create_index("ix_binding_issues_open", "binding_issues", ["resolved_at"])


def downgrade() -> None:
    for table in ("binding_issues", "bindings", "plate_reads"):
        op.drop_table(table)
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("settings")
