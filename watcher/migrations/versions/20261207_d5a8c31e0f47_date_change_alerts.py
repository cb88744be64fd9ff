"""alerts: a date-change alert's kind and what it says; a change alert waits to be given deliveries

Revision ID: d5a8c31e0f47
Revises: 69e4c7b923fb
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString, as autogenerate writes it
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "d5a8c31e0f47"
down_revision: str | Sequence[str] | None = "69e4c7b923fb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Columns with a server default or nullable: a plain ALTER TABLE ADD COLUMN on both databases.
    op.add_column(
        "alert",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="hits"),
    )
    op.add_column("alert", sa.Column("change", sa.JSON(), nullable=True))
    op.add_column("alert", sa.Column("unplanned", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("unplanned")
        batch_op.drop_column("change")
        batch_op.drop_column("kind")
