"""Daily coaching (issue 13): how a session felt, self-checks, and reminder preferences.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
# Chained after issue 11's 0011 (merged into this branch); the lead re-chains at merge time.
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # A nullable column needs no table rebuild on SQLite.
    op.add_column("session_log", sa.Column("effort", sa.String(8), nullable=True))
    op.create_table(
        "self_checks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("left_caving", sa.String(8), nullable=False),
        sa.Column("right_caving", sa.String(8), nullable=False),
        sa.Column("pain", sa.SmallInteger(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_self_checks_user_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_self_checks"),
        sa.UniqueConstraint("user_id", "local_date", name="uq_self_checks_user_id_local_date"),
    )
    op.create_table(
        "coaching_prefs",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("rest_day_notes", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("timezone_chosen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_coaching_prefs_user_id_users"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_coaching_prefs"),
    )


def downgrade() -> None:
    op.drop_table("coaching_prefs")
    op.drop_table("self_checks")
    with op.batch_alter_table("session_log") as batch:
        batch.drop_column("effort")
