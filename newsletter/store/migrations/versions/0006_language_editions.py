"""Language editions: the other language's headlines on request, comment counts per ingest
(issue 14).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Off for everyone on the list: each reader gets their own language unless they ask.
    op.add_column(
        "subscribers",
        sa.Column("other_languages", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "thread_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"],
            name=op.f("fk_thread_counts_thread_id_threads"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_counts")),
    )
    op.create_index("ix_thread_counts_thread_id_id", "thread_counts", ["thread_id", "id"])
    # What the store holds now is the first count seen of each thread.
    op.execute(
        "INSERT INTO thread_counts (thread_id, comments, seen_at) "
        "SELECT id, comments, updated_at FROM threads"
    )


def downgrade() -> None:
    op.drop_index("ix_thread_counts_thread_id_id", table_name="thread_counts")
    op.drop_table("thread_counts")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch rebuild would drop the old
    # table, and with foreign keys on that deletes every history entry and delivery.
    op.execute("ALTER TABLE subscribers DROP COLUMN other_languages")
