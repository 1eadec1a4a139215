"""Deliveries: claiming due reminders atomically and recording each outcome."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.storage.base import QueryFamily, runs_to_completion
from bot.storage.base import utc_now as _now
from bot.storage.records import (
    CLAIMED,
    EVERYONE,
    PENDING,
    SENDING,
    UNKNOWN,
    Delivery,
    Outcome,
    PlannedDelivery,
    Scope,
)
from bot.storage.schedules import _planned_row
from bot.storage.tables import _as_utc, deliveries, processes, reminder_schedules


class DeliveryQueries(QueryFamily):
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

    @runs_to_completion
    async def claim_deliveries(
        self, owner: str, now: datetime, limit: int, scope: Scope = EVERYONE
    ) -> list[Delivery]:
        """Atomically take up to `limit` due deliveries (a conditional UPDATE … RETURNING).

        Pending rows are due when due_at <= now; rows claimed by a process that is no longer
        alive (its heartbeat lapsed) are taken over at once. Two processes never get the same row.
        """
        claimable = sa.and_(
            sa.or_(
                sa.and_(deliveries.c.status == PENDING, deliveries.c.due_at <= now),
                sa.and_(deliveries.c.status == CLAIMED, deliveries.c.claimed_by.not_in(live(now))),
            ),
            scope.clause(deliveries.c.user_id),
        )
        candidates = (
            sa.select(deliveries.c.id)
            .where(claimable)
            .order_by(deliveries.c.due_at, deliveries.c.id)
            .limit(limit)
        )
        chosen: sa.ColumnElement = candidates.scalar_subquery()
        if self.dialect == "postgresql":
            # Replicas claiming at once skip each other's rows instead of queueing on them. As a
            # CTE the locked pick runs once: inside IN (…) PostgreSQL may re-run a LIMIT
            # subquery and update more rows than the limit.
            picked = candidates.with_for_update(skip_locked=True).cte("picked")
            chosen = sa.select(picked.c.id)
        # The outer WHERE repeats the condition so a row taken meanwhile is skipped (PostgreSQL
        # re-checks it on the locked row; SQLite serialises writers).
        query = (
            sa.update(deliveries)
            .where(deliveries.c.id.in_(chosen), claimable)
            .values(status=CLAIMED, claimed_by=owner, claimed_at=now)
            .returning(*_delivery_columns())
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return sorted((Delivery(**row._mapping) for row in rows), key=lambda d: (d.due_at, d.id))

    @runs_to_completion
    async def mark_sending(self, delivery_ids: Sequence[int], owner: str) -> set[int]:
        """Record that these sends are starting; returns the ids still ours (send only those).

        A row cancelled meanwhile (/stop, /forget, a 403) or taken over is not returned.
        """
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

    @runs_to_completion
    async def finish(self, outcomes: Iterable[Outcome], owner: str) -> None:
        """Record the outcome of sends; a retry puts the row back in the queue at its due_at."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        now = _now()
        async with self.engine.begin() as conn:
            for outcome in outcomes:  # usually one: each send records its own outcome at once
                await conn.execute(_finish_statement(outcome, owner, now))

    @runs_to_completion
    async def release(self, delivery_ids: Sequence[int], owner: str) -> None:
        """Hand claimed-but-unsent rows back to the queue (flood control, shutdown)."""
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

    @runs_to_completion
    async def release_all(self, owner: str) -> None:
        """Hand back every row this owner holds claimed but has not started (on a stop)."""
        query = (
            sa.update(deliveries)
            .where(deliveries.c.claimed_by == owner, deliveries.c.status == CLAIMED)
            .values(status=PENDING, claimed_by=None, claimed_at=None)
        )
        async with self.engine.begin() as conn:
            await conn.execute(query)

    async def abandon_dead_sends(self, now: datetime, scope: Scope = EVERYONE) -> list[Delivery]:
        """Rows left 'sending' by a process no longer alive: maybe sent, so never resent."""
        query = (
            sa.update(deliveries)
            .where(deliveries.c.status == SENDING, deliveries.c.claimed_by.not_in(live(now)))
            .where(scope.clause(deliveries.c.user_id))
            .values(status=UNKNOWN, finished_at=_now(), last_error="owner died mid-send")
            .returning(*_delivery_columns())
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return [Delivery(**row._mapping) for row in rows]

    async def users_with_status(self, status: str) -> set[int]:
        """Users with a delivery in that status (the benchmark's judge reads `unknown`)."""
        query = sa.select(deliveries.c.user_id).where(deliveries.c.status == status).distinct()
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

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


def live(now: datetime) -> sa.Select:
    """Owners whose heartbeat is still current."""
    return sa.select(processes.c.owner).where(processes.c.alive_until >= now)


def _delivery_columns() -> list[sa.Column]:
    names = ("id", "user_id", "chat_id", "local_date", "slot", "fire_at", "due_at", "status")
    return [deliveries.c[name] for name in names] + [deliveries.c.attempts, deliveries.c.parts_sent]


def _finish_statement(outcome: Outcome, owner: str, now: datetime) -> sa.Update:
    """One outcome; a retry goes back to pending (unclaimed) at its new due time."""
    retry = outcome.due_at is not None
    values: dict[str, Any] = {
        "status": PENDING if retry else outcome.status,
        "message_id": outcome.message_id,
        "last_error": (outcome.error or "")[:200] or None,
        "finished_at": None if retry else now,
    }
    if retry:
        values.update(due_at=outcome.due_at, claimed_by=None, claimed_at=None)
    if outcome.parts_sent is not None:
        values["parts_sent"] = outcome.parts_sent
    # Only the claim's owner settles it; a row cancelled meanwhile stays cancelled on a retry.
    where = [deliveries.c.id == outcome.delivery_id, deliveries.c.claimed_by == owner]
    if retry:
        where.append(deliveries.c.status == SENDING)
    return sa.update(deliveries).where(*where).values(**values)
