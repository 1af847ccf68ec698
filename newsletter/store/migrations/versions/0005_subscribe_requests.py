"""The queue of subscribe requests that `newsletter serve` mails confirmations from (issue 11).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscribe_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("cause", sa.String(300), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"],
            name=op.f("fk_subscribe_requests_subscriber_id_subscribers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribe_requests")),
    )
    op.create_index(
        op.f("ix_subscribe_requests_subscriber_id"), "subscribe_requests", ["subscriber_id"]
    )
    op.create_index(
        op.f("ix_subscribe_requests_next_attempt_at"), "subscribe_requests", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_subscribe_requests_next_attempt_at"), table_name="subscribe_requests")
    op.drop_index(op.f("ix_subscribe_requests_subscriber_id"), table_name="subscribe_requests")
    op.drop_table("subscribe_requests")
