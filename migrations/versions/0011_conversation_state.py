"""Conversation state: the last topic, exercise, reply kind, open question and safety stance.

Revision ID: 0011
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_state",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(80), nullable=True),
        sa.Column("exercise", sa.String(80), nullable=True),
        sa.Column("reply_kind", sa.String(16), nullable=True),
        sa.Column("open_question", sa.String(80), nullable=True),
        sa.Column("safety", sa.String(80), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_conversation_state_user_id_users"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_conversation_state"),
    )


def downgrade() -> None:
    op.drop_table("conversation_state")
