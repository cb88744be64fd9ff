"""history: an index of hits by score, for `summit-watch hits --sort score`

Revision ID: 167500a1e635
Revises: 8c581104f60a
Create Date: 2026-11-22 02:31:37.452920
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "167500a1e635"
down_revision: str | Sequence[str] | None = "8c581104f60a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hit_score_created_at"), ["score", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hit_score_created_at"))
