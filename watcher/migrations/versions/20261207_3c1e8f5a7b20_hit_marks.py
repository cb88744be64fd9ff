"""hits: the user's judgement of each hit (good or bad), for rules backtest's precision

Revision ID: 3c1e8f5a7b20
Revises: b7d2e4a91c3f
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString and UTCDateTime, as autogenerate writes them
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3c1e8f5a7b20"
down_revision: str | Sequence[str] | None = "b7d2e4a91c3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on both databases (no batch copy on SQLite).
    op.add_column("hit", sa.Column("mark", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True))
    op.add_column("hit", sa.Column("marked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hit", schema=None) as batch_op:
        batch_op.drop_column("marked_at")
        batch_op.drop_column("mark")
