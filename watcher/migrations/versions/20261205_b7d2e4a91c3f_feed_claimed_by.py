"""feeds: who claimed a feed's poll, so a dead daemon's claim is taken over at once

Revision ID: b7d2e4a91c3f
Revises: 4f9c2d7e1a03
Create Date: 2026-12-05 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b7d2e4a91c3f"
down_revision: str | Sequence[str] | None = "4f9c2d7e1a03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column: a plain ALTER TABLE ADD COLUMN on both databases (no batch copy on SQLite).
    op.add_column("feed", sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
