"""Subscribers' link keys: every link binds to a random key instead of the row id (issue 11).

Existing rows get a random key each, and are marked as having had links that carry their id:
those links, already in inboxes, keep working for that row only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_LENGTH = 32  # secrets.token_urlsafe(24), as newsletter.store.models.new_link_key
_CHUNK = 1000


def upgrade() -> None:
    # NOT NULL from the start, with a placeholder default that the loop below replaces: making
    # the column NOT NULL afterwards would rebuild the table on SQLite, and dropping the old
    # table there, with foreign keys on, deletes every history entry and delivery with it.
    op.add_column(
        "subscribers",
        sa.Column("link_key", sa.String(_KEY_LENGTH), server_default="", nullable=False),
    )
    op.add_column(
        "subscribers",
        sa.Column("legacy_id_links", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    subscribers = sa.table(
        "subscribers",
        sa.column("id", sa.Integer()),
        sa.column("link_key", sa.String()),
        sa.column("legacy_id_links", sa.Boolean()),
    )
    connection = op.get_bind()
    ids = list(connection.scalars(sa.select(subscribers.c.id).order_by(subscribers.c.id)))
    fill = (
        sa.update(subscribers)
        .where(subscribers.c.id == sa.bindparam("row_id"))
        .values(link_key=sa.bindparam("key"), legacy_id_links=sa.true())
    )
    for start in range(0, len(ids), _CHUNK):
        connection.execute(
            fill,
            [
                {"row_id": row_id, "key": secrets.token_urlsafe(24)}
                for row_id in ids[start : start + _CHUNK]
            ],
        )
    if connection.dialect.name != "sqlite":
        # The application always supplies a key; SQLite keeps the unused default (see above),
        # and the unique index refuses a second row without a key.
        op.alter_column("subscribers", "link_key", server_default=None)
    op.create_index(op.f("ix_subscribers_link_key"), "subscribers", ["link_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_subscribers_link_key"), table_name="subscribers")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch rebuild would drop the old
    # table, and with foreign keys on that deletes every history entry and delivery.
    for name in ("legacy_id_links", "link_key"):
        op.execute(f"ALTER TABLE subscribers DROP COLUMN {name}")
