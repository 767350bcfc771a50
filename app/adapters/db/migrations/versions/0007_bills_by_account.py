"""Bills by account and entry: the permit allowance reads the account's bills of a month
on every recompute of a permit holder's stay.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bills_account_opened", "bills", ["account_id", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_bills_account_opened", table_name="bills")
