"""The reminder dispatcher: due schedules → queued deliveries → rate-limited sends, all DB-driven.

The database is the source of truth. Each poll plans due schedules into delivery rows (unique per
user, local date and slot), claims due rows atomically, sends them through an injected `send`
callable and records the outcome. Nothing lives only in memory, so a restart loses nothing, and
a claimed row is never sent by anyone else, so nothing is doubled. The clock is injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time as monotonic
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from aiolimiter import AsyncLimiter

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.privacy import user_ref
from bot.reminders.schedule import next_fire, parse_time
from bot.storage.database import Database, new_owner_token
from bot.storage.records import (
    BLOCKED,
    EVERYONE,
    FAILED,
    MISSED,
    PENDING,
    SENT,
    Delivery,
    Outcome,
    PlannedDelivery,
    Schedule,
    ScheduleMove,
    Scope,
)

log = logging.getLogger(__name__)

SendFn = Callable[[Delivery], Awaitable[int | None]]  # returns the sent message id, if any


class FailureKind(StrEnum):
    """Why a send failed, in the dispatcher's terms; each channel maps its own errors to these."""

    RATE_LIMITED = "rate-limited"  # wait retry_after, then send again
    RETRYABLE = "retryable"  # the request did not get through (network): back off and retry
    GONE = "gone"  # the user blocked the bot or the chat is gone: stop their reminders
    PERMANENT = "permanent"  # our request was wrong: retrying would not help


class SendFailure(Exception):
    """A channel's send failure, channel-neutral (see bot/channels/telegram/reminders.py)."""

    def __init__(
        self, kind: FailureKind, detail: str = "", retry_after: timedelta | None = None
    ) -> None:
        super().__init__(detail or kind.value)
        self.kind = kind
        self.detail = detail or kind.value
        self.retry_after = retry_after


PrepareFn = Callable[[list[Delivery]], Awaitable[None]]
PLAN_BATCH = 500
MAX_BACKOFF_SECONDS = 300


@dataclass
class DispatchStats:
    """What one tick did; the benchmark and tests read it."""

    planned: int = 0
    sent: int = 0
    retried: int = 0
    blocked: int = 0
    failed: int = 0
    missed: int = 0

    def add(self, outcome: Outcome) -> None:
        name = "retried" if outcome.due_at else outcome.status
        setattr(self, name, getattr(self, name) + 1)


@dataclass
class DispatchConfig:
    grace: timedelta = timedelta(hours=2)
    rate_overall: float = 30.0  # messages per second, all chats together (Telegram: 30)
    rate_per_chat: float = 1.0  # messages per second to one chat (Telegram: 1)
    batch: int = 30  # rows claimed at once: about a second of sending
    in_flight: int = 100  # sends awaiting an answer at once (below the HTTP pool, 256 in PTB)
    lease: timedelta = timedelta(minutes=5)  # a claim older than this, never started, is taken over
    poll_seconds: float = 20.0
    scope: Scope = EVERYONE  # which users this dispatcher serves (console vs Telegram)
    owner: str = field(default_factory=new_owner_token)

    @classmethod
    def from_settings(cls, settings: Settings, scope: Scope = EVERYONE) -> DispatchConfig:
        rate = settings.rate_overall_per_second
        return cls(
            scope=scope,
            grace=timedelta(minutes=settings.reminder_grace_minutes),
            rate_overall=rate,
            rate_per_chat=settings.rate_per_chat_per_second,
            batch=max(1, min(500, int(rate))),
            poll_seconds=settings.reminder_poll_seconds,
        )


def plan_schedule(
    schedule: Schedule, now: datetime, grace: timedelta
) -> tuple[PlannedDelivery, ScheduleMove]:
    """The delivery a due schedule owes (or a missed one past the grace) and its next fire."""
    fire_at, day = schedule.next_fire_at, schedule.next_local_date
    assert fire_at is not None and day is not None  # due schedules always have both
    status = PENDING if now - fire_at <= grace else MISSED
    planned = PlannedDelivery(
        schedule.user_id, schedule.chat_id, day, "daily", fire_at, status=status
    )
    at = parse_time(schedule.local_time)
    next_at, next_day = next_fire(at, schedule.days, schedule.timezone, max(now, fire_at))
    return planned, ScheduleMove(schedule.user_id, fire_at, next_at, next_day)


class ChatPacer:
    """At most `rate` sends per second to one chat; remembers only chats sent to recently."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next: dict[int, float] = {}

    async def wait_turn(self, chat_id: int) -> None:
        now = monotonic.monotonic()
        start = max(now, self._next.get(chat_id, now))
        self._next[chat_id] = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)

    def prune(self) -> None:
        """Drop chats whose turn has passed, so memory does not grow with users."""
        now = monotonic.monotonic()
        self._next = {chat: at for chat, at in self._next.items() if at > now}


class Dispatcher:
    """Plans, claims and sends reminders; safe to run in several processes at once."""

    def __init__(
        self,
        db: Database,
        send: SendFn,
        clock: Clock = utc_now,
        config: DispatchConfig | None = None,
    ) -> None:
        self.db = db
        self.send = send
        # A sender may load what a whole batch needs in one go before its sends start.
        self.prepare: PrepareFn | None = getattr(send, "prepare", None)
        self.clock = clock
        self.config = config or DispatchConfig()
        self.limiter = AsyncLimiter(max(1.0, self.config.rate_overall), 1.0)
        self.pacer = ChatPacer(self.config.rate_per_chat)
        self.slots = asyncio.Semaphore(self.config.in_flight)
        self.paused_until: datetime | None = None  # set by Telegram's flood control (429)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look again now (a schedule changed or a snooze was queued)."""
        self._wake.set()

    async def recover(self) -> int:
        """At start-up: rows a crashed process left mid-send may have gone out, so never resend."""
        stale = await self.db.abandon_stale_sends(
            self.clock() - self.config.lease, self.config.scope
        )
        for delivery in stale:
            log.warning(
                "reminder delivery=%s %s outcome unknown after a crash; not resent",
                delivery.id,
                user_ref(delivery.user_id),
            )
        return len(stale)

    async def tick(self) -> DispatchStats:
        """One pass: plan what is due, then send everything due now."""
        stats = DispatchStats()
        stats.planned = await self.plan_due()
        await self.send_due(stats)
        return stats

    async def plan_due(self) -> int:
        """Turn due schedules into queued deliveries and move each schedule to its next fire."""
        now = self.clock()
        queued = 0
        for _ in range(1000):  # bounded: each round moves every schedule it read
            due = await self.db.due_schedules(now, PLAN_BATCH, self.config.scope)
            if not due:
                break
            steps = [plan_schedule(schedule, now, self.config.grace) for schedule in due]
            for planned, _ in steps:
                if planned.status == MISSED:
                    log.info("reminder missed user=%s (bot was down)", user_ref(planned.user_id))
            queued += await self.db.plan(steps)
            if len(due) < PLAN_BATCH:
                break
        return queued

    async def send_due(self, stats: DispatchStats | None = None) -> DispatchStats:
        """Claim and send due deliveries in batches until none are due (or flood control)."""
        stats = stats or DispatchStats()
        while not self._paused():
            now = self.clock()
            stale = now - self.config.lease
            batch = await self.db.claim_deliveries(
                self.config.owner, now, self.config.batch, stale, self.config.scope
            )
            if not batch:
                break
            for outcome in await self._send_batch(batch):
                stats.add(outcome)
            self.pacer.prune()
        return stats

    def _paused(self) -> bool:
        return self.paused_until is not None and self.clock() < self.paused_until

    async def _send_batch(self, batch: list[Delivery]) -> list[Outcome]:
        """Send a claimed batch within the limits; on a cancel, sent ones finish, the rest wait."""
        if self.prepare is not None:
            await self.prepare(batch)
        outcomes: list[Outcome] = []
        tasks: list[asyncio.Task] = []
        try:
            await self._launch_all(batch, outcomes, tasks)
            if tasks:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            if tasks:
                await asyncio.wait(tasks, timeout=30)
            await self._record(outcomes + _results(tasks))
            await self.db.release([d.id for d in batch], self.config.owner)
            raise
        outcomes += _results(tasks)
        await self._record(outcomes)
        return outcomes

    async def _launch_all(
        self, batch: list[Delivery], outcomes: list[Outcome], tasks: list[asyncio.Task]
    ) -> None:
        """Take turns under the limits; rows that got a turn together are marked in one write."""
        group: list[Delivery] = []
        for delivery in batch:
            if self.clock() - delivery.fire_at > self.config.grace:
                outcomes.append(Outcome(delivery.id, MISSED, error="past the grace window"))
                continue
            if group and not (self.limiter.has_capacity() and _free(self.slots)):
                await self._launch(group, tasks)
                group = []
            await self.slots.acquire()  # released when the send has its answer
            await self.limiter.acquire()
            await self.pacer.wait_turn(delivery.chat_id)
            group.append(delivery)
        await self._launch(group, tasks)

    async def _launch(self, group: list[Delivery], tasks: list[asyncio.Task]) -> None:
        """Mark a group 'sending', then start its sends; a cancel waits until they started."""
        if not group:
            return
        marking = asyncio.ensure_future(
            self.db.mark_sending([d.id for d in group], self.config.owner)
        )
        try:
            ours = await asyncio.shield(marking)
        except asyncio.CancelledError:
            ours = await marking  # rows marked 'sending' must really be sent
            tasks += self._start_sends(group, ours)
            raise
        tasks += self._start_sends(group, ours)

    def _start_sends(self, group: list[Delivery], ours: set[int]) -> list[asyncio.Task]:
        # A row not marked was taken over by another process, which sends it.
        for _ in range(len(group) - len(ours)):
            self.slots.release()
        return [asyncio.create_task(self._send_one(d)) for d in group if d.id in ours]

    async def _record(self, outcomes: list[Outcome]) -> None:
        await self.db.finish(outcomes, self.config.owner)
        for outcome in outcomes:
            if outcome.status == BLOCKED:
                await self._blocked(outcome)

    async def _blocked(self, outcome: Outcome) -> None:
        delivery = await self.db.get_delivery(outcome.delivery_id)
        if delivery is None:
            return
        await self.db.disable_schedule(delivery.user_id, BLOCKED)
        log.info("reminders disabled user=%s: %s", user_ref(delivery.user_id), outcome.error)

    async def _send_one(self, delivery: Delivery) -> Outcome:
        """Send one marked row and say what happened."""
        try:
            message_id = await self.send(delivery)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded outcome
            return self._failure(delivery, exc)
        finally:
            self.slots.release()
        log.info("reminder sent delivery=%s user=%s", delivery.id, user_ref(delivery.user_id))
        return Outcome(delivery.id, SENT, message_id=message_id)

    def _failure(self, delivery: Delivery, exc: Exception) -> Outcome:
        """Map a send error to an outcome: retry later, give up, or stop the user's reminders."""
        who = f"delivery={delivery.id} user={user_ref(delivery.user_id)}"
        kind = exc.kind if isinstance(exc, SendFailure) else FailureKind.PERMANENT
        if kind is FailureKind.RATE_LIMITED:
            wait = getattr(exc, "retry_after", None) or timedelta(seconds=1)
            self.paused_until = max(self.paused_until or self.clock(), self.clock() + wait)
            log.warning("flood control: pausing %.0f s (%s)", wait.total_seconds(), who)
            return Outcome(delivery.id, PENDING, error="429", due_at=self.clock() + wait)
        if kind is FailureKind.GONE:
            return Outcome(delivery.id, BLOCKED, error=str(exc))
        if kind is FailureKind.RETRYABLE:
            return self._retry(delivery, exc)
        log.error("reminder failed %s: %r", who, exc)
        return Outcome(delivery.id, FAILED, error=repr(exc))

    def _retry(self, delivery: Delivery, exc: Exception) -> Outcome:
        """Back off exponentially; past the grace window the reminder is given up, loudly."""
        attempts = delivery.attempts + 1
        delay = timedelta(seconds=min(MAX_BACKOFF_SECONDS, 5 * 2 ** (attempts - 1)))
        due = self.clock() + delay
        who = f"delivery={delivery.id} user={user_ref(delivery.user_id)}"
        if due - delivery.fire_at > self.config.grace:
            log.warning("reminder given up after %d attempts %s: %r", attempts, who, exc)
            return Outcome(delivery.id, FAILED, error=f"network: {exc}")
        log.warning("reminder retry in %s %s: %r", delay, who, exc)
        return Outcome(delivery.id, PENDING, error=f"network: {exc}", due_at=due)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick until cancelled (or `stop` is set); sleep until the next due row or the poll."""
        await self.recover()
        while stop is None or not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bad tick must not end the reminders
                log.exception("reminder tick failed; trying again next poll")
            await self._sleep()

    async def _sleep(self) -> None:
        """Until the next thing is due, at most one poll (other processes may add work)."""
        self._wake.clear()
        delay = self.config.poll_seconds
        wake_at = [await self.db.next_due(self.config.scope), self.paused_until]
        for moment in filter(None, wake_at):
            delay = min(delay, (moment - self.clock()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, delay))


def _free(slots: asyncio.Semaphore) -> bool:
    return not slots.locked()


def _results(tasks: list[asyncio.Task]) -> list[Outcome]:
    """Outcomes of the send tasks that finished."""
    return [task.result() for task in tasks if task.done() and not task.cancelled()]
