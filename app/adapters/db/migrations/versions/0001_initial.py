"""Initial schema: site, zones, chargers, connectors, bays, lanes, cameras, barriers, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.db.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_site"),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_zones"),
    )
    op.create_table(
        "chargers",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("configured", sa.Integer, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("ocpp_version", sa.String(8)),
        sa.Column("connector_count", sa.Integer, nullable=False),
        sa.Column("max_power_w", sa.Integer, nullable=False),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("firmware", sa.String(64), nullable=False),
        sa.Column("registration", sa.String(16)),
        sa.Column("remote", sa.String(128), nullable=False),
        sa.Column("last_seen", UtcDateTime),
        sa.Column("last_boot", UtcDateTime),
        sa.Column("online", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chargers"),
    )
    op.create_table(
        "connectors",
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("since", UtcDateTime),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE",
                                name="fk_connectors_charger_id_chargers"),
        sa.PrimaryKeyConstraint("charger_id", "connector_id", name="pk_connectors"),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("charger_time", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_status_changes"),
    )
    op.create_index("ix_status_changes_charger_at", "status_changes", ["charger_id", "at"])
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
    )
    op.create_table(
        "barriers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("driver", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_barriers"),
    )
    op.create_table(
        "bays",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("charger_id", sa.String(128)),
        sa.Column("connector_id", sa.Integer),
        sa.Column("camera_id", sa.String(64)),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name="fk_bays_zone_id_zones"),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], name="fk_bays_charger_id_chargers"),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name="fk_bays_camera_id_cameras"),
        sa.PrimaryKeyConstraint("id", name="pk_bays"),
    )
    op.create_table(
        "lanes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("camera_id", sa.String(64)),
        sa.Column("barrier_id", sa.String(64)),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name="fk_lanes_zone_id_zones"),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name="fk_lanes_camera_id_cameras"),
        sa.ForeignKeyConstraint(["barrier_id"], ["barriers.id"],
                                name="fk_lanes_barrier_id_barriers"),
        sa.PrimaryKeyConstraint("id", name="pk_lanes"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )


def downgrade() -> None:
    for name in ("audit_log", "lanes", "bays", "barriers", "cameras", "status_changes",
                 "connectors", "chargers", "zones", "site"):
        op.drop_table(name)
