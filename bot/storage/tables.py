"""The schema as SQLAlchemy Core tables (portable types; Alembic in migrations/ creates it)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on every backend (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text: store them all naive-UTC in one format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("routine", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

assessment_drafts = sa.Table(
    "assessment_drafts",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One schedule per user. next_fire_at is the UTC instant of the next reminder and next_local_date
# the local date it belongs to; both are recomputed by bot.reminders.schedule whenever they move.
reminder_schedules = sa.Table(
    "reminder_schedules",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("local_time", sa.String(5), nullable=False),  # "HH:MM", 24 h, user's local time
    sa.Column("days", sa.SmallInteger, nullable=False),  # bit 0 = Monday … bit 6 = Sunday
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("next_fire_at", UTCDateTime, nullable=True),
    sa.Column("next_local_date", sa.Date, nullable=True),
    sa.Column("disabled_reason", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_reminder_schedules_due", "enabled", "next_fire_at"),
)

# One row per message the dispatcher owes a user; (user, local date, slot) is unique, so a
# reminder for a day can be planned by any number of processes and still exists once.
# status: pending -> claimed -> sending -> sent | blocked | failed | missed | unknown | cancelled
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("slot", sa.String(32), nullable=False),  # "daily" or "snooze-<delivery id>"
    sa.Column("fire_at", UTCDateTime, nullable=False),  # when it was meant to go out
    sa.Column("due_at", UTCDateTime, nullable=False),  # next attempt (later after a retry)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.String(32), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("message_id", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.UniqueConstraint("user_id", "local_date", "slot"),
    sa.Index("ix_deliveries_queue", "status", "due_at"),
)

session_log = sa.Table(
    "session_log",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("local_date", sa.Date, primary_key=True),
    sa.Column("status", sa.String(8), nullable=False),  # "done" | "skipped"
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("effort", sa.String(8), nullable=True),  # "easy" | "hard" | None: how it felt
)

# The one-minute self-check, one per user and local date (a retake that day replaces it).
self_checks = sa.Table(
    "self_checks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("left_caving", sa.String(8), nullable=False),  # "none" | "slight" | "clear"
    sa.Column("right_caving", sa.String(8), nullable=False),
    sa.Column("pain", sa.SmallInteger, nullable=False),  # 0-10
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "local_date"),
)

# Small per-user choices of the daily coaching.
coaching_prefs = sa.Table(
    "coaching_prefs",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("rest_day_notes", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("timezone_chosen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# What the conversation is about right now, so a follow-up ("harder?") has its context on any
# replica and after a restart. `version` grows on every write (optimistic concurrency).
conversation_state = sa.Table(
    "conversation_state",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("topic", sa.String(80), nullable=True),  # chunk id of the last answer
    sa.Column("exercise", sa.String(80), nullable=True),  # chunk id of the last exercise shown
    sa.Column("reply_kind", sa.String(16), nullable=True),
    sa.Column("open_question", sa.String(80), nullable=True),  # what a "yes" would accept
    sa.Column("safety", sa.String(80), nullable=True),  # the warning sign the user described
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Children first: forget_user deletes in this order so foreign keys never object.
USER_TABLES = (
    coaching_prefs,
    self_checks,
    conversation_state,
    session_log,
    deliveries,
    reminder_schedules,
    assessment_drafts,
    profiles,
    users,
)


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
