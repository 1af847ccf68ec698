"""Editors' desk: accounts, editors' choices kept apart from built items, the audit log, and the
edition snapshot's subjects and note (issue 16).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("editions", sa.Column("subjects", sa.JSON(), server_default="{}", nullable=False))
    op.add_column("editions", sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "editors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editors")),
    )
    op.create_index("uq_editors_email_lower", "editors", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "item_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_date", sa.Date(), nullable=False),
        sa.Column("item_url", sa.String(2048), nullable=False),
        sa.Column("pin", sa.Integer(), nullable=True),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("move", sa.Integer(), nullable=False),
        sa.Column("sentences", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_overrides")),
        sa.UniqueConstraint(
            "edition_date", "item_url", name=op.f("uq_item_overrides_edition_date")
        ),
    )
    op.create_table(
        "edition_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_date", sa.Date(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_choices")),
        sa.UniqueConstraint("edition_date", name=op.f("uq_edition_choices_edition_date")),
    )
    op.create_table(
        "editor_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("editor", sa.String(320), nullable=False),
        sa.Column("edition_date", sa.Date(), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("item_url", sa.String(2048), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_actions")),
    )
    op.create_index(
        "ix_editor_actions_edition_date_id", "editor_actions", ["edition_date", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_editor_actions_edition_date_id", table_name="editor_actions")
    op.drop_table("editor_actions")
    op.drop_table("edition_choices")
    op.drop_table("item_overrides")
    op.drop_index("uq_editors_email_lower", table_name="editors")
    op.drop_table("editors")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch rebuild would drop the old
    # table, and with foreign keys on that deletes every edition's items and deliveries.
    op.execute("ALTER TABLE editions DROP COLUMN note")
    op.execute("ALTER TABLE editions DROP COLUMN subjects")
