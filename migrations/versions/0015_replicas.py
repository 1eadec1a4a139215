"""Replicas: process heartbeats, named leases, parts of a split reminder sent, draft versions.

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # One row per running dispatcher: its claims are taken over once alive_until has passed.
    op.create_table(
        "processes",
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("alive_until", _utc(), nullable=False),
        sa.Column("last_ok_at", _utc(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("owner", name="pk_processes"),
    )
    # A named job only one process may do at a time (e.g. long polling), held until `until`.
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("until", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("assessment_drafts") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("assessment_drafts") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("parts_sent")
    op.drop_table("leases")
    op.drop_table("processes")
