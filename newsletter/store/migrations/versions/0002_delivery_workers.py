"""Delivery at scale: attempts, back-off, leases for workers, reply codes (issue 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ("next_attempt_at", "lease_until")


def upgrade() -> None:
    # The status column is a plain VARCHAR(16) without a CHECK: the new "deferred" state needs
    # no change to it.
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("reply_code", sa.Integer(), nullable=True))
        for name in _WHEN:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(100), nullable=True))
    op.drop_index("ix_deliveries_edition_status", table_name="deliveries")
    op.create_index(
        "ix_deliveries_edition_status_id", "deliveries", ["edition_id", "status", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_edition_status_id", table_name="deliveries")
    op.create_index("ix_deliveries_edition_status", "deliveries", ["edition_id", "status"])
    # Deferred deliveries are waiting to be sent: the old schema calls that pending.
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'deferred'")
    with op.batch_alter_table("deliveries") as batch:
        for name in ("lease_owner", *_WHEN, "reply_code"):
            batch.drop_column(name)
