"""events: the dates each hit's item states (date_claim) and each rule's last estimate (event_state)

Revision ID: 69e4c7b923fb
Revises: 3c1e8f5a7b20
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString and UTCDateTime, as autogenerate writes them
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "69e4c7b923fb"
down_revision: str | Sequence[str] | None = "3c1e8f5a7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New tables only: plain CREATE TABLE on both databases (no batch copy on SQLite). The hits stored
    # before this revision have no date claims until `summit-watch event rebuild`.
    op.create_table(
        "date_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("precision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tense", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hedged", sa.Boolean(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hit_id"], ["hit.id"], name=op.f("fk_date_claim_hit_id_hit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_date_claim")),
    )
    op.create_index(op.f("ix_date_claim_hit_id"), "date_claim", ["hit_id"], unique=False)
    op.create_table(
        "event_state",
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("precision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_event_state")),
    )


def downgrade() -> None:
    op.drop_table("event_state")
    op.drop_index(op.f("ix_date_claim_hit_id"), table_name="date_claim")
    op.drop_table("date_claim")
