"""The reminder dispatcher: due schedules → queued deliveries → rate-limited sends, all DB-driven.

The database is the source of truth. Each poll plans due schedules into delivery rows (unique per
user, local date and slot), claims due rows atomically, sends them through an injected `send`
callable and records each outcome right after its own send. Delivery semantics (README,
"Delivery semantics"): a failure before the request left is retried; an ambiguous one (the
request may have arrived) is recorded `unknown` and never resent; rows are marked `sending` only
when their turn has come, never while flood control makes us wait; a process that stops
heartbeating loses its claims to the others within seconds. The clock is injectable.
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
    UNKNOWN,
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
    AMBIGUOUS = "ambiguous"  # it may have got through (timeout, reset after sending): no resend
    GONE = "gone"  # the user blocked the bot or the chat is gone: stop their reminders
    PERMANENT = "permanent"  # our request was wrong: retrying would not help


class SendFailure(Exception):
    """A channel's send failure, channel-neutral (see bot/channels/telegram/reminders.py)."""

    def __init__(
        self,
        kind: FailureKind,
        detail: str = "",
        retry_after: timedelta | None = None,
        parts_sent: int | None = None,
    ) -> None:
        super().__init__(detail or kind.value)
        self.kind = kind
        self.detail = detail or kind.value
        self.retry_after = retry_after
        self.parts_sent = parts_sent  # messages of a split reminder delivered before the failure


PrepareFn = Callable[[list[Delivery]], Awaitable[None]]
PLAN_BATCH = 500
MAX_BACKOFF_SECONDS = 300
MAX_LOOP_BACKOFF_SECONDS = 60.0  # the loop's wait after repeated database failures
SHUTDOWN_WAIT_SECONDS = 30.0  # sends already started get this long to finish on a stop


@dataclass
class DispatchStats:
    """What one tick did; the benchmark and tests read it."""

    planned: int = 0
    sent: int = 0
    retried: int = 0
    blocked: int = 0
    failed: int = 0
    missed: int = 0
    unknown: int = 0  # ambiguous sends and crash leftovers: maybe delivered, never resent
    cancelled: int = 0

    def add(self, outcome: Outcome) -> None:
        name = "retried" if outcome.due_at else outcome.status
        setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: DispatchStats) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Health:
    """Whether the loop's last pass worked; logged, heartbeated and shown by `kneebot status`."""

    last_ok_at: datetime | None = None
    failures: int = 0  # in a row
    last_error: str | None = None


@dataclass
class DispatchConfig:
    grace: timedelta = timedelta(hours=2)
    rate_overall: float = 30.0  # messages per second, all chats together (Telegram: 30)
    rate_per_chat: float = 1.0  # messages per second to one chat (Telegram: 1)
    batch: int = 30  # rows claimed at once: about a second of sending
    in_flight: int = 100  # sends awaiting an answer at once (below the HTTP pool, 256 in PTB)
    # A process is alive while its heartbeat (every lease/3) is younger than this; after that
    # its claims are taken over and its mid-send rows settled as unknown.
    lease: timedelta = timedelta(seconds=15)
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
    expected, day = schedule.next_fire_at, schedule.next_local_date
    assert expected is not None and day is not None  # due schedules always have both
    at = parse_time(schedule.local_time)
    fire_at, status = expected, PENDING if now - expected <= grace else MISSED
    if status == MISSED:
        # Down for longer than the grace: the stored fire is stale, but the latest fire may
        # still be inside the window (down a day, back an hour after today's time): send that.
        latest, latest_day = next_fire(at, schedule.days, schedule.timezone, now - grace)
        if latest <= now:
            fire_at, day, status = latest, latest_day, PENDING
    planned = PlannedDelivery(
        schedule.user_id, schedule.chat_id, day, "daily", fire_at, status=status
    )
    next_at, next_day = next_fire(at, schedule.days, schedule.timezone, max(now, fire_at))
    return planned, ScheduleMove(schedule.user_id, expected, next_at, next_day)


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
        self.health = Health()
        self.totals = DispatchStats()  # since start: the metrics (unknown counts ambiguous sends)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look again now (a schedule changed or a snooze was queued)."""
        self._wake.set()

    async def heartbeat(self) -> None:
        """Tell the other processes this one is alive (its claims stay its own)."""
        health = self.health
        await self.db.heartbeat(
            self.config.owner,
            self.clock(),
            self.config.lease,
            ok=health.failures == 0,
            error=health.last_error,
        )

    async def recover(self) -> int:
        """Settle rows a dead process left mid-send: maybe sent, so never resent (unknown)."""
        stale = await self.db.abandon_dead_sends(self.clock(), self.config.scope)
        for delivery in stale:
            log.warning(
                "reminder delivery=%s %s outcome unknown: its process died mid-send; not resent",
                delivery.id,
                user_ref(delivery.user_id),
            )
        self.totals.unknown += len(stale)
        return len(stale)

    async def tick(self) -> DispatchStats:
        """One pass: say we are alive, settle dead leftovers, plan what is due, send it."""
        stats = DispatchStats()
        await self.heartbeat()
        stats.unknown += await self.recover()
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
        """Claim and send due deliveries in batches until none are due (or flood control).

        The next batch is claimed while the last one's sends are still in flight (bounded by
        `in_flight`), so one slow answer does not hold up the fan-out.
        """
        stats = stats or DispatchStats()
        tasks: list[asyncio.Task] = []
        try:
            while not self._paused():
                batch = await self.db.claim_deliveries(
                    self.config.owner, self.clock(), self.config.batch, self.config.scope
                )
                if not batch:
                    break
                for outcome in await self._send_batch(batch, tasks):
                    stats.add(outcome)
                self.pacer.prune()
            if tasks:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            if tasks:  # sends already started finish and record themselves
                await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_SECONDS)
            # Whatever is claimed but unstarted (even a claim the cancel cut short) goes back.
            await self.db.release_all(self.config.owner)
            raise
        for outcome in _results(tasks):
            stats.add(outcome)
        return stats

    def _paused(self) -> bool:
        return self.paused_until is not None and self.clock() < self.paused_until

    async def _send_batch(self, batch: list[Delivery], tasks: list[asyncio.Task]) -> list[Outcome]:
        """Launch a claimed batch's sends within the limits (into `tasks`); what flood control
        or a stop leaves unsent goes straight back to the queue, never waiting as `sending`."""
        if self.prepare is not None:
            await self.prepare(batch)
        outcomes: list[Outcome] = []
        launched = await self._launch_all(batch, outcomes, tasks)
        await self.db.release([d.id for d in batch[launched:]], self.config.owner)
        await self._record(outcomes)  # the grace-window misses; each send records its own
        return outcomes

    async def _launch_all(
        self, batch: list[Delivery], outcomes: list[Outcome], tasks: list[asyncio.Task]
    ) -> int:
        """Take turns under the limits, launching rows as their turn comes; returns how many
        rows were dealt with (the rest stay claimed and are released by the caller)."""
        group: list[Delivery] = []
        for index, delivery in enumerate(batch):
            if self._paused():
                await self._launch(group, tasks)
                return index
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
        return len(batch)

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
        # A row not marked was cancelled (/stop, /forget, a 403) or taken over: not ours to send.
        for _ in range(len(group) - len(ours)):
            self.slots.release()
        return [asyncio.create_task(self._send_one(d)) for d in group if d.id in ours]

    async def _record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        await self.db.finish(outcomes, self.config.owner)
        for outcome in outcomes:
            self.totals.add(outcome)
            if outcome.status == BLOCKED:
                await self._blocked(outcome)

    async def _blocked(self, outcome: Outcome) -> None:
        delivery = await self.db.get_delivery(outcome.delivery_id)
        if delivery is None:
            return
        await self.db.disable_schedule(delivery.user_id, BLOCKED)
        log.info("reminders disabled user=%s: %s", user_ref(delivery.user_id), outcome.error)

    async def _send_one(self, delivery: Delivery) -> Outcome:
        """Send one marked row and record what happened at once (not at the end of a batch)."""
        try:
            message_id = await self.send(delivery)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded outcome
            outcome = self._failure(delivery, exc)
        else:
            log.info("reminder sent delivery=%s user=%s", delivery.id, user_ref(delivery.user_id))
            outcome = Outcome(delivery.id, SENT, message_id=message_id)
        finally:
            self.slots.release()
        # Shielded: a stop arriving now must not lose the record of a send that happened.
        await asyncio.shield(self._record([outcome]))
        return outcome

    def _failure(self, delivery: Delivery, exc: Exception) -> Outcome:
        """Map a send error to an outcome: retry later, give up, or stop the user's reminders."""
        who = f"delivery={delivery.id} user={user_ref(delivery.user_id)}"
        kind = exc.kind if isinstance(exc, SendFailure) else FailureKind.PERMANENT
        parts = exc.parts_sent if isinstance(exc, SendFailure) else None
        if kind is FailureKind.RATE_LIMITED:
            wait = getattr(exc, "retry_after", None) or timedelta(seconds=1)
            self.paused_until = max(self.paused_until or self.clock(), self.clock() + wait)
            log.warning("flood control: pausing %.0f s (%s)", wait.total_seconds(), who)
            due = self.clock() + wait
            return Outcome(delivery.id, PENDING, error="429", due_at=due, parts_sent=parts)
        if kind is FailureKind.GONE:
            return Outcome(delivery.id, BLOCKED, error=str(exc), parts_sent=parts)
        if kind is FailureKind.RETRYABLE:
            return self._retry(delivery, exc, parts)
        if kind is FailureKind.AMBIGUOUS:
            log.warning("reminder outcome unknown %s (not resent): %s", who, exc)
            return Outcome(delivery.id, UNKNOWN, error=f"ambiguous: {exc}", parts_sent=parts)
        log.error("reminder failed %s: %r", who, exc)
        return Outcome(delivery.id, FAILED, error=repr(exc), parts_sent=parts)

    def _retry(self, delivery: Delivery, exc: Exception, parts: int | None) -> Outcome:
        """Back off exponentially; past the grace window the reminder is given up, loudly."""
        attempts = delivery.attempts + 1
        delay = timedelta(seconds=min(MAX_BACKOFF_SECONDS, 5 * 2 ** (attempts - 1)))
        due = self.clock() + delay
        who = f"delivery={delivery.id} user={user_ref(delivery.user_id)}"
        if due - delivery.fire_at > self.config.grace:
            log.warning("reminder given up after %d attempts %s: %r", attempts, who, exc)
            return Outcome(delivery.id, FAILED, error=f"network: {exc}", parts_sent=parts)
        log.warning("reminder retry in %s %s: %r", delay, who, exc)
        return Outcome(delivery.id, PENDING, error=f"network: {exc}", due_at=due, parts_sent=parts)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick until cancelled (or `stop` is set). Never dies of a database error: each failed
        pass (start-up included) is logged and retried with backoff, and health is heartbeated."""
        beats = asyncio.create_task(self._beat_forever(), name="kneebot-heartbeat")
        try:
            while stop is None or not stop.is_set():
                try:
                    await self.tick()
                    self._healthy()
                    await self._sleep()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                    await self._wait(self._unhealthy(exc), stop)
        finally:
            beats.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self.db.retire(self.config.owner))

    def _healthy(self) -> None:
        if self.health.failures:
            log.warning("reminder loop healthy again after %d failures", self.health.failures)
        self.health = Health(last_ok_at=self.clock())

    def _unhealthy(self, exc: Exception) -> float:
        """Record and log one failed pass; returns how long to wait before the next."""
        failures = self.health.failures + 1
        error = f"{type(exc).__name__}: {exc}"[:200]
        self.health = Health(self.health.last_ok_at, failures, error)
        delay = min(MAX_LOOP_BACKOFF_SECONDS, 2.0 ** (failures - 1))
        log.error(
            "reminder loop failed (%d in a row), retrying in %.0f s: %s",
            failures,
            delay,
            error,
            exc_info=failures == 1,
        )
        return delay

    async def _beat_forever(self) -> None:
        """Heartbeat every lease/3 while the loop runs, even during a long batch."""
        while True:
            await asyncio.sleep(self.config.lease.total_seconds() / 3)
            try:
                await self.heartbeat()
            except Exception as exc:  # noqa: BLE001 - the loop itself reports database trouble
                log.warning("reminder heartbeat failed: %s: %s", type(exc).__name__, exc)

    async def _wait(self, seconds: float, stop: asyncio.Event | None) -> None:
        waiter = stop.wait() if stop is not None else asyncio.sleep(seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout=seconds)

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
