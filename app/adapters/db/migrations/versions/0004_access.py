"""Access: groups, accounts, credentials, permits, blocklist, decisions, parking sessions,
the access revision and each charger's local list version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.db.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULT_GROUPS = [
    # id, name, kind, max_stay_min, charging_allowed, max_vehicles, tariff
    ("resident", "Residents", "resident", None, 1, 2, "resident"),
    ("staff", "Staff", "staff", None, 1, None, "staff"),
    ("visitor", "Visitors", "visitor", 240, 1, 1, "visitor"),
    ("fleet", "Fleet", "fleet", None, 1, None, "fleet"),
]


def upgrade() -> None:
    groups = op.create_table(
        "access_groups",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("zones", sa.JSON, nullable=False),
        sa.Column("max_stay_min", sa.Integer),
        sa.Column("charging_allowed", sa.Integer, nullable=False),
        sa.Column("max_vehicles", sa.Integer),
        sa.Column("tariff", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_groups"),
    )
    op.bulk_insert(groups, [
        {"id": g[0], "name": g[1], "kind": g[2], "zones": [], "max_stay_min": g[3],
         "charging_allowed": g[4], "max_vehicles": g[5], "tariff": g[6]}
        for g in DEFAULT_GROUPS
    ])
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["access_groups.id"],
                                name="fk_accounts_group_id_access_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_index("ix_accounts_name", "accounts", ["name"])
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name="fk_credentials_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
    )
    op.create_index("ix_credentials_kind_value", "credentials", ["kind", "value"], unique=True)
    op.create_index("ix_credentials_account", "credentials", ["account_id"])
    op.create_table(
        "permits",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("valid_from", UtcDateTime, nullable=False),
        sa.Column("valid_until", UtcDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name="fk_permits_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_permits"),
    )
    op.create_index("ix_permits_account", "permits", ["account_id"])
    op.create_table(
        "blocklist",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("until", UtcDateTime),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blocklist"),
    )
    revision_table = op.create_table(
        "access_revision",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_revision"),
    )
    op.bulk_insert(revision_table, [{"id": 1, "revision": 1}])
    op.create_table(
        "access_decisions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("point", sa.String(8), nullable=False),
        sa.Column("place", sa.String(128), nullable=False),
        sa.Column("connector_id", sa.Integer),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("account_id", sa.Integer),
        sa.Column("credential_id", sa.Integer),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("violation", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_decisions"),
    )
    op.create_index("ix_access_decisions_at", "access_decisions", ["at"])
    op.create_table(
        "parking_sessions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer),
        sa.Column("credential_id", sa.Integer),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("visitor", sa.Integer, nullable=False),
        sa.Column("entry_lane", sa.String(64), nullable=False),
        sa.Column("entry_at", UtcDateTime, nullable=False),
        sa.Column("exit_lane", sa.String(64), nullable=False),
        sa.Column("exit_at", UtcDateTime),
        sa.Column("closed_by", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_parking_sessions"),
    )
    op.create_index("ix_parking_sessions_open", "parking_sessions", ["exit_at", "value"])
    op.create_table(
        "local_list_state",
        sa.Column("charger_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("synced_at", UtcDateTime),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("charger_id", name="pk_local_list_state"),
    )


def downgrade() -> None:
    for table in ("local_list_state", "parking_sessions", "access_decisions",
                  "access_revision", "blocklist", "permits", "credentials", "accounts",
                  "access_groups"):
        op.drop_table(table)
