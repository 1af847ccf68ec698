"""Subscribers: state history, consent, preferences, suppression list (issue 6).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = ("pending", "active", "unsubscribed", "bounced", "complained")
_NEW_COLUMNS = ("confirmed_at", "unsubscribed_at", "confirmation_sent_at")


def _state() -> sa.Enum:
    return sa.Enum(*_STATES, name="subscriberstatus", native_enum=False, length=16)


def upgrade() -> None:
    for name in _NEW_COLUMNS:
        op.add_column("subscribers", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    # Existing subscribers chose nothing, which means everything.
    op.add_column(
        "subscribers", sa.Column("sections", sa.JSON(), server_default="[]", nullable=False)
    )

    op.create_table(
        "subscriber_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_status", _state(), nullable=True),
        sa.Column("new_status", _state(), nullable=False),
        sa.Column("cause", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"],
            name=op.f("fk_subscriber_events_subscriber_id_subscribers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_events")),
    )
    op.create_index(
        op.f("ix_subscriber_events_subscriber_id"), "subscriber_events", ["subscriber_id"]
    )

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_suppressions_address_hash")),
    )

    # Who is already on the list has a history that starts here, so none is without one.
    op.execute(
        "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, cause) "
        "SELECT id, created_at, NULL, status, 'on the list before history was kept' "
        "FROM subscribers"
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_subscriber_events_subscriber_id"), table_name="subscriber_events")
    op.drop_table("subscriber_events")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch rebuild would drop the old
    # table, and with foreign keys on that deletes every subscriber's deliveries.
    for name in (*_NEW_COLUMNS, "sections"):
        op.execute(f"ALTER TABLE subscribers DROP COLUMN {name}")
