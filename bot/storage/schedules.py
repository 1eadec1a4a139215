"""Reminder schedules and the planner that turns them into deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.storage.base import QueryFamily, runs_to_completion
from bot.storage.base import utc_now as _now
from bot.storage.records import (
    CANCELLED,
    CLAIMED,
    EVERYONE,
    PENDING,
    PlannedDelivery,
    ReminderContext,
    Schedule,
    ScheduleMove,
    Scope,
)
from bot.storage.tables import UTCDateTime, deliveries, profiles, reminder_schedules, users


class ScheduleQueries(QueryFamily):
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
            # Whatever was still queued or claimed for the user must not go out either (a claimed
            # row is only sent after its owner marks it sending, which checks the status).
            await conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.user_id == user_id, deliveries.c.status.in_([PENDING, CLAIMED]))
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
            # A total order: two replicas planning the same minute lock rows in one order
            # (ties broken by user id), so they queue on each other instead of deadlocking.
            .order_by(reminder_schedules.c.next_fire_at, reminder_schedules.c.user_id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Schedule(**row._mapping) for row in rows]

    @runs_to_completion
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
            queued = 0
            statement = self._plan_statement()
            # One execute per row: asyncpg reports no row count for an executemany.
            for planned, move in steps:
                result = await conn.execute(statement, _plan_params(planned, move, now))
                queued += max(result.rowcount or 0, 0)
            await conn.execute(_move_statement(), [_move_params(m, now) for _, m in steps])
        return queued

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
