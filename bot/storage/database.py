"""All database access: users, profiles, drafts, reminder schedules, deliveries and the session log.

SQLAlchemy 2 Core over an async engine; portable types only (SQLite file by default, PostgreSQL via
KNEEBOT_DATABASE_URL). Times are stored as UTC. The schema is created by Alembic (migrations/).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


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
)

# Children first: forget_user deletes in this order so foreign keys never object.
USER_TABLES = (session_log, deliveries, reminder_schedules, assessment_drafts, profiles, users)

PENDING, CLAIMED, SENDING = "pending", "claimed", "sending"
SENT, BLOCKED, FAILED, MISSED, UNKNOWN = "sent", "blocked", "failed", "missed", "unknown"
CANCELLED = "cancelled"
DONE, SKIPPED = "done", "skipped"


CONSOLE_USER_ID = 0  # the one local user of `kneebot chat`; Telegram ids are never 0


@dataclass(frozen=True)
class Scope:
    """Which users a dispatcher serves: only one (the console), all but one, or everyone."""

    only: int | None = None
    skip: int | None = None

    def clause(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        if self.only is not None:
            return column == self.only
        if self.skip is not None:
            return column != self.skip
        return sa.true()


EVERYONE = Scope()


@dataclass(frozen=True)
class User:
    user_id: int
    chat_id: int
    timezone: str
    created_at: datetime


@dataclass(frozen=True)
class Schedule:
    user_id: int
    chat_id: int
    local_time: str
    days: int
    enabled: bool
    next_fire_at: datetime | None
    next_local_date: date | None
    disabled_reason: str | None
    timezone: str = "UTC"


@dataclass(frozen=True)
class ReminderContext:
    """A user's reminder days (None without a schedule), stored routine (None before one), and
    when they subscribed (the starter routine's week 1 begins that day) in their timezone."""

    days: int | None
    routine: dict | None
    subscribed_at: datetime | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Delivery:
    id: int
    user_id: int
    chat_id: int
    local_date: date
    slot: str
    fire_at: datetime
    due_at: datetime
    status: str
    attempts: int


@dataclass(frozen=True)
class PlannedDelivery:
    """A reminder the planner owes (status pending) or decided to skip (status missed)."""

    user_id: int
    chat_id: int
    local_date: date
    slot: str
    fire_at: datetime
    status: str = PENDING


@dataclass(frozen=True)
class ScheduleMove:
    """Advance one schedule, but only if it still fires at `expected_fire_at` (nobody moved it)."""

    user_id: int
    expected_fire_at: datetime
    next_fire_at: datetime | None
    next_local_date: date | None


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery; `due_at` set means try again then."""

    delivery_id: int
    status: str
    message_id: int | None = None
    error: str | None = None
    due_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Database:
    """The one door to the database; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The configured database; creates KNEEBOT_DATA_DIR for the default SQLite file."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.resolved_database_url)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (runs on every start-up)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade_head)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT support: both SQLite and PostgreSQL spell it the same way."""
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    # -- users -----------------------------------------------------------------------------

    async def ensure_user(self, user_id: int, chat_id: int | None = None) -> User:
        """The user's row, created on first contact (timezone UTC); chat_id kept current."""
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id, chat_id)
            row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).one()
        return User(**row._mapping)

    async def _ensure_user(
        self, conn: AsyncConnection, user_id: int, chat_id: int | None = None
    ) -> None:
        # In a private chat the chat id is the user id; a known chat id replaces the guess.
        insert = self._insert(users).values(
            user_id=user_id, chat_id=chat_id or user_id, timezone="UTC", created_at=_now()
        )
        if chat_id:
            insert = insert.on_conflict_do_update(
                index_elements=[users.c.user_id], set_={"chat_id": chat_id}
            )
        else:
            insert = insert.on_conflict_do_nothing(index_elements=[users.c.user_id])
        await conn.execute(insert)

    async def get_user(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).first()
        return User(**row._mapping) if row else None

    async def set_timezone(self, user_id: int, timezone: str, chat_id: int | None = None) -> None:
        """Store a validated timezone name (IANA or "UTC+HH:MM")."""
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id, chat_id)
            await conn.execute(
                sa.update(users).where(users.c.user_id == user_id).values(timezone=timezone)
            )

    # -- assessment profile and draft ------------------------------------------------------

    async def save_profile(self, user_id: int, answers: dict, routine: dict) -> None:
        """Store (replace) the user's assessment answers and built routine."""
        values = {"answers": answers, "routine": routine, "updated_at": _now()}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(profiles).values(user_id=user_id, **values)
            await conn.execute(
                insert.on_conflict_do_update(index_elements=[profiles.c.user_id], set_=values)
            )

    async def load_profile(self, user_id: int) -> tuple[dict, dict] | None:
        """(answers, routine), or None before the first assessment."""
        query = sa.select(profiles.c.answers, profiles.c.routine).where(
            profiles.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.answers, row.routine) if row else None

    async def save_draft(self, user_id: int, state: str, answers: dict) -> None:
        """Remember where the user is in the assessment, so a restart resumes it."""
        values = {"state": state, "answers": answers, "updated_at": _now()}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(assessment_drafts).values(user_id=user_id, **values)
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[assessment_drafts.c.user_id], set_=values
                )
            )

    async def load_draft(self, user_id: int) -> tuple[str, dict] | None:
        """(state, answers) of an unfinished assessment, or None."""
        query = sa.select(assessment_drafts.c.state, assessment_drafts.c.answers).where(
            assessment_drafts.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.state, row.answers) if row else None

    async def clear_draft(self, user_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(assessment_drafts).where(assessment_drafts.c.user_id == user_id)
            )

    # -- forgetting ------------------------------------------------------------------------

    async def forget_user(self, user_id: int) -> int:
        """Delete every row about the user in every table; returns how many rows went."""
        removed = 0
        async with self.engine.begin() as conn:
            for table in USER_TABLES:
                result = await conn.execute(sa.delete(table).where(table.c.user_id == user_id))
                removed += result.rowcount or 0
        return removed

    async def rows_about(self, user_id: int) -> dict[str, int]:
        """How many rows each table holds about the user (for /forget checks and tests)."""
        counts: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for table in USER_TABLES:
                query = sa.select(sa.func.count()).where(table.c.user_id == user_id)
                counts[table.name] = (await conn.execute(query)).scalar_one()
        return counts

    # -- reminder schedules ----------------------------------------------------------------

    async def save_schedule(
        self,
        user_id: int,
        chat_id: int,
        local_time: str,
        days: int,
        next_fire_at: datetime,
        next_local_date: date,
        now: datetime | None = None,
    ) -> None:
        """Subscribe (or change the time/days of) the user's daily reminder; `now` from the
        caller's clock dates the subscription (kept on later changes)."""
        now = now or _now()
        values = {
            "chat_id": chat_id,
            "local_time": local_time,
            "days": days,
            "enabled": True,
            "next_fire_at": next_fire_at,
            "next_local_date": next_local_date,
            "disabled_reason": None,
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id, chat_id)
            insert = self._insert(reminder_schedules).values(
                user_id=user_id, created_at=now, **values
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[reminder_schedules.c.user_id], set_=values
                )
            )

    async def reminder_context(self, user_ids: Sequence[int]) -> dict[int, ReminderContext]:
        """What composing reminders needs, for many users in one query: days, routine, since."""
        # Without a schedule, first contact stands in for the subscription date.
        since = sa.func.coalesce(reminder_schedules.c.created_at, users.c.created_at)
        query = (
            sa.select(
                users.c.user_id,
                users.c.timezone,
                reminder_schedules.c.days,
                profiles.c.routine,
                sa.type_coerce(since, UTCDateTime).label("since"),
            )
            .select_from(users)
            .outerjoin(reminder_schedules, reminder_schedules.c.user_id == users.c.user_id)
            .outerjoin(profiles, profiles.c.user_id == users.c.user_id)
            .where(users.c.user_id.in_(sorted(set(user_ids))))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            row.user_id: ReminderContext(row.days, row.routine, row.since, row.timezone)
            for row in rows
        }

    async def get_schedule(self, user_id: int) -> Schedule | None:
        query = _schedule_query().where(reminder_schedules.c.user_id == user_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return Schedule(**row._mapping) if row else None

    async def move_schedule(
        self, user_id: int, next_fire_at: datetime | None, next_local_date: date | None
    ) -> None:
        """Point an existing schedule at a new next fire (after a timezone change)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(reminder_schedules)
                .where(reminder_schedules.c.user_id == user_id)
                .values(
                    next_fire_at=next_fire_at, next_local_date=next_local_date, updated_at=_now()
                )
            )

    async def disable_schedule(self, user_id: int, reason: str) -> bool:
        """Stop the user's reminders ("stopped" by them, "blocked" by Telegram); True if it ran."""
        query = (
            sa.update(reminder_schedules)
            .where(reminder_schedules.c.user_id == user_id, reminder_schedules.c.enabled)
            .values(enabled=False, disabled_reason=reason, updated_at=_now())
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(query)
            # Whatever was still queued for the user must not go out either.
            await conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.user_id == user_id, deliveries.c.status == PENDING)
                .values(status=CANCELLED, last_error=reason, finished_at=_now())
            )
        return bool(result.rowcount)

    async def due_schedules(
        self, now: datetime, limit: int, scope: Scope = EVERYONE
    ) -> list[Schedule]:
        """Enabled schedules whose next fire is at or before `now`, oldest first."""
        query = (
            _schedule_query()
            .where(reminder_schedules.c.enabled, reminder_schedules.c.next_fire_at <= now)
            .where(scope.clause(reminder_schedules.c.user_id))
            .order_by(reminder_schedules.c.next_fire_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Schedule(**row._mapping) for row in rows]

    async def plan(self, steps: Sequence[tuple[PlannedDelivery, ScheduleMove]]) -> int:
        """Queue each delivery and advance its schedule, in one transaction; returns rows queued.

        Idempotent and race-safe: a delivery is only queued while its schedule still fires at
        the expected instant (nobody moved, stopped or forgot it meanwhile), and a (user, date,
        slot) already queued is left alone.
        """
        if not steps:
            return 0
        now = _now()
        async with self.engine.begin() as conn:
            params = [_plan_params(planned, move, now) for planned, move in steps]
            queued = (await conn.execute(self._plan_statement(), params)).rowcount or 0
            await conn.execute(_move_statement(), [_move_params(m, now) for _, m in steps])
        return max(queued, 0)

    def _plan_statement(self) -> Any:
        """INSERT … SELECT the delivery only if the schedule is still as the planner read it."""
        schedule = reminder_schedules
        still_due = sa.exists().where(
            schedule.c.user_id == sa.bindparam("user_id", type_=sa.BigInteger),
            schedule.c.enabled,
            schedule.c.next_fire_at == sa.bindparam("expected", type_=UTCDateTime),
        )
        columns = {
            "user_id": sa.BigInteger,
            "chat_id": sa.BigInteger,
            "local_date": sa.Date,
            "slot": sa.String,
            "fire_at": UTCDateTime,
            "due_at": UTCDateTime,
            "status": sa.String,
            "attempts": sa.Integer,
            "finished_at": UTCDateTime,
        }
        row = sa.select(*(sa.bindparam(name, type_=kind) for name, kind in columns.items()))
        insert = self._insert(deliveries).from_select(list(columns), row.where(still_due))
        return insert.on_conflict_do_nothing(index_elements=["user_id", "local_date", "slot"])

    # -- deliveries ------------------------------------------------------------------------

    async def add_delivery(self, planned: PlannedDelivery) -> bool:
        """Queue one extra delivery (a snooze); False if that slot was already queued."""
        async with self.engine.begin() as conn:
            insert = self._insert(deliveries).on_conflict_do_nothing(
                index_elements=["user_id", "local_date", "slot"]
            )
            try:
                result = await conn.execute(insert, [_planned_row(planned, _now())])
            except sa.exc.IntegrityError:
                return False  # the user was forgotten meanwhile
        return bool(result.rowcount)

    async def has_delivery(self, user_id: int, local_date: date, slot: str = "daily") -> bool:
        """Whether a delivery for that local date and slot was already queued (or sent)."""
        query = sa.select(deliveries.c.id).where(
            deliveries.c.user_id == user_id,
            deliveries.c.local_date == local_date,
            deliveries.c.slot == slot,
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        query = sa.select(*_delivery_columns()).where(deliveries.c.id == delivery_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return Delivery(**row._mapping) if row else None

    async def claim_deliveries(
        self,
        owner: str,
        now: datetime,
        limit: int,
        stale_before: datetime,
        scope: Scope = EVERYONE,
    ) -> list[Delivery]:
        """Atomically take up to `limit` due deliveries (a conditional UPDATE … RETURNING).

        Pending rows are due when due_at <= now; rows another process claimed but never started
        (claimed before `stale_before`) are taken over. Two processes never get the same row.
        """
        claimable = sa.and_(
            sa.or_(
                sa.and_(deliveries.c.status == PENDING, deliveries.c.due_at <= now),
                sa.and_(deliveries.c.status == CLAIMED, deliveries.c.claimed_at < stale_before),
            ),
            scope.clause(deliveries.c.user_id),
        )
        candidates = (
            sa.select(deliveries.c.id)
            .where(claimable)
            .order_by(deliveries.c.due_at, deliveries.c.id)
            .limit(limit)
        )
        # The outer WHERE repeats the condition so a row taken meanwhile is skipped (PostgreSQL
        # re-checks it on the locked row; SQLite serialises writers).
        query = (
            sa.update(deliveries)
            .where(deliveries.c.id.in_(candidates.scalar_subquery()), claimable)
            .values(status=CLAIMED, claimed_by=owner, claimed_at=now)
            .returning(*_delivery_columns())
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return sorted((Delivery(**row._mapping) for row in rows), key=lambda d: (d.due_at, d.id))

    async def mark_sending(self, delivery_ids: Sequence[int], owner: str) -> set[int]:
        """Record that these sends are starting; returns the ids still ours (send only those)."""
        if not delivery_ids:
            return set()
        query = (
            sa.update(deliveries)
            .where(
                deliveries.c.id.in_(list(delivery_ids)),
                deliveries.c.status == CLAIMED,
                deliveries.c.claimed_by == owner,
            )
            .values(status=SENDING, attempts=deliveries.c.attempts + 1)
            .returning(deliveries.c.id)
        )
        async with self.engine.begin() as conn:
            return set((await conn.execute(query)).scalars())

    async def finish(self, outcomes: Iterable[Outcome], owner: str) -> None:
        """Record the outcome of sends; a retry puts the row back in the queue at its due_at."""
        params = [_outcome_params(outcome, _now()) for outcome in outcomes]
        if not params:
            return
        query = (
            sa.update(deliveries)
            .where(
                deliveries.c.id == sa.bindparam("b_id"),
                deliveries.c.claimed_by == owner,
            )
            .values(
                status=sa.bindparam("b_status"),
                message_id=sa.bindparam("b_message_id"),
                last_error=sa.bindparam("b_error"),
                due_at=sa.func.coalesce(
                    sa.bindparam("b_due_at", type_=UTCDateTime), deliveries.c.due_at
                ),
                finished_at=sa.bindparam("b_finished_at", type_=UTCDateTime),
            )
        )
        async with self.engine.begin() as conn:
            await conn.execute(query, params)

    async def release(self, delivery_ids: Sequence[int], owner: str) -> None:
        """Hand claimed-but-unsent rows back to the queue (on a clean shutdown)."""
        if not delivery_ids:
            return
        query = (
            sa.update(deliveries)
            .where(
                deliveries.c.id.in_(list(delivery_ids)),
                deliveries.c.claimed_by == owner,
                deliveries.c.status == CLAIMED,
            )
            .values(status=PENDING, claimed_by=None, claimed_at=None)
        )
        async with self.engine.begin() as conn:
            await conn.execute(query)

    async def abandon_stale_sends(
        self, stale_before: datetime, scope: Scope = EVERYONE
    ) -> list[Delivery]:
        """Rows left 'sending' by a crashed process: maybe sent, so never resent; marked unknown."""
        query = (
            sa.update(deliveries)
            .where(deliveries.c.status == SENDING, deliveries.c.claimed_at < stale_before)
            .where(scope.clause(deliveries.c.user_id))
            .values(status=UNKNOWN, finished_at=_now())
            .returning(*_delivery_columns())
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return [Delivery(**row._mapping) for row in rows]

    async def next_due(self, scope: Scope = EVERYONE) -> datetime | None:
        """The earliest moment anything is due: a schedule's next fire or a queued delivery."""
        fire = sa.select(sa.func.min(reminder_schedules.c.next_fire_at)).where(
            reminder_schedules.c.enabled, scope.clause(reminder_schedules.c.user_id)
        )
        queued = sa.select(sa.func.min(deliveries.c.due_at)).where(
            deliveries.c.status == PENDING, scope.clause(deliveries.c.user_id)
        )
        async with self.engine.connect() as conn:
            times = [(await conn.execute(q)).scalar_one_or_none() for q in (fire, queued)]
        # min() over the column loses the column type on some backends: read it back as UTC.
        found = [_as_utc(value) for value in times if value is not None]
        return min(found) if found else None

    async def delivery_counts(self) -> dict[str, int]:
        """Rows per status (for the benchmark and operators)."""
        query = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
        async with self.engine.connect() as conn:
            return {status: n for status, n in (await conn.execute(query)).all()}

    # -- session log -----------------------------------------------------------------------

    async def record_session(self, user_id: int, local_date: date, status: str) -> bool:
        """Mark a local day done or skipped; a day counts once and a Done is never undone.

        Skip after Done changes nothing; Done after Skip upgrades the day. Returns True when
        this changed something (a repeated or overruled tap returns False).
        """
        if status not in (DONE, SKIPPED):
            raise ValueError(f"unknown session status {status!r}")
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(session_log).values(
                user_id=user_id, local_date=local_date, status=status, recorded_at=_now()
            )
            keys = [session_log.c.user_id, session_log.c.local_date]
            # A session done that day stays done even if an older reminder's Skip is tapped later.
            statement = (
                insert.on_conflict_do_update(
                    index_elements=keys,
                    set_={"status": DONE, "recorded_at": insert.excluded.recorded_at},
                    where=session_log.c.status != DONE,
                )
                if status == DONE
                else insert.on_conflict_do_nothing(index_elements=keys)
            )
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def session_history(self, user_id: int, since: date) -> dict[date, str]:
        """{local date: "done" | "skipped"} from `since` on."""
        query = sa.select(session_log.c.local_date, session_log.c.status).where(
            session_log.c.user_id == user_id, session_log.c.local_date >= since
        )
        async with self.engine.connect() as conn:
            return {day: status for day, status in (await conn.execute(query)).all()}


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _schedule_query() -> sa.Select:
    return sa.select(
        reminder_schedules.c.user_id,
        reminder_schedules.c.chat_id,
        reminder_schedules.c.local_time,
        reminder_schedules.c.days,
        reminder_schedules.c.enabled,
        reminder_schedules.c.next_fire_at,
        reminder_schedules.c.next_local_date,
        reminder_schedules.c.disabled_reason,
        users.c.timezone,
    ).join(users, users.c.user_id == reminder_schedules.c.user_id)


def _delivery_columns() -> list[sa.Column]:
    names = ("id", "user_id", "chat_id", "local_date", "slot", "fire_at", "due_at", "status")
    return [deliveries.c[name] for name in names] + [deliveries.c.attempts]


def _planned_row(item: PlannedDelivery, now: datetime) -> dict[str, Any]:
    finished = item.status != PENDING
    return {
        "user_id": item.user_id,
        "chat_id": item.chat_id,
        "local_date": item.local_date,
        "slot": item.slot,
        "fire_at": item.fire_at,
        "due_at": item.fire_at,
        "status": item.status,
        "attempts": 0,
        "finished_at": now if finished else None,
    }


def _plan_params(planned: PlannedDelivery, move: ScheduleMove, now: datetime) -> dict[str, Any]:
    return {**_planned_row(planned, now), "expected": move.expected_fire_at}


def _move_statement() -> sa.Update:
    table = reminder_schedules
    return (
        sa.update(table)
        .where(
            table.c.user_id == sa.bindparam("b_user_id"),
            table.c.enabled,
            table.c.next_fire_at == sa.bindparam("b_expected", type_=UTCDateTime),
        )
        .values(
            next_fire_at=sa.bindparam("b_next", type_=UTCDateTime),
            next_local_date=sa.bindparam("b_next_date", type_=sa.Date),
            updated_at=sa.bindparam("b_now", type_=UTCDateTime),
        )
    )


def _move_params(move: ScheduleMove, now: datetime) -> dict[str, Any]:
    return {
        "b_user_id": move.user_id,
        "b_expected": move.expected_fire_at,
        "b_next": move.next_fire_at,
        "b_next_date": move.next_local_date,
        "b_now": now,
    }


def _outcome_params(outcome: Outcome, now: datetime) -> dict[str, Any]:
    retry = outcome.due_at is not None
    return {
        "b_id": outcome.delivery_id,
        "b_status": PENDING if retry else outcome.status,
        "b_message_id": outcome.message_id,
        "b_error": (outcome.error or "")[:200] or None,
        "b_due_at": outcome.due_at,
        "b_finished_at": None if retry else now,
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; wait for a busy writer instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """The Alembic config for migrations/, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_head(connection: sa.Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def new_owner_token() -> str:
    """A random id for one dispatcher process, written into the rows it claims."""
    return secrets.token_hex(8)


def data_file(settings: Settings, name: str) -> Path:
    """A file under KNEEBOT_DATA_DIR (created), e.g. the console's progress chart."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir / name
