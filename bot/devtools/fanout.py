"""The reminder fan-out benchmark: N subscribers due in the same minute, sent through a Bot API.

`fan_out_benchmark` is what `kneebot bench` (or a test, with a few hundred) calls. The caller
provides the Bot (e.g. PTB's Bot pointed at the local Bot API stub) and a fresh database; the
clock is fixed just after the shared reminder time, so nothing waits for the minute to come.
"""

from __future__ import annotations

import resource
import time as timer
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta

from telegram import Bot

from bot.channels.telegram.reminders import make_sender
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.reminders.commands import Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher, SendFn
from bot.reminders.schedule import ALL_DAYS, next_fire
from bot.storage.database import Database
from bot.storage.records import Delivery

FIRE = datetime(2031, 1, 6, 7, 30, tzinfo=UTC)  # a Monday morning


@dataclass(frozen=True)
class FanOutResult:
    subscribers: int
    sent: int
    statuses: dict[str, int]
    plan_seconds: float  # due schedules → queued deliveries
    send_seconds: float  # claim, compose, send and record every delivery
    per_reminder_ms: float  # send_seconds / sent
    overhead_per_reminder_ms: float | None  # the same with a send that does nothing
    max_rss_mib: float
    chats_remembered: int  # per-chat pacing entries left after the run (must not grow with N)

    def as_dict(self) -> dict:
        return asdict(self)


async def subscribe_many(db: Database, user_ids: range, at: time = time(7, 30)) -> None:
    """`user_ids` subscribed for `at` UTC every day, with the next fire at FIRE."""
    fire_at, day = next_fire(at, ALL_DAYS, "UTC", FIRE - timedelta(minutes=1))
    for user_id in user_ids:
        await db.save_schedule(user_id, user_id, at.strftime("%H:%M"), ALL_DAYS, fire_at, day)


async def fan_out_benchmark(
    bot: Bot,
    db: Database,
    kb: KnowledgeBase,
    composer: Composer,
    user_ids: range,
    rate: float = 10_000.0,
    batch: int = 500,
    measure_overhead: bool = True,
) -> FanOutResult:
    """Deliver one reminder to each of `user_ids` (their chats must exist at the Bot API)."""
    await subscribe_many(db, user_ids)
    subs = Subscriptions(db, kb, composer, clock=lambda: FIRE + timedelta(seconds=5))
    dispatcher = _dispatcher(db, make_sender(bot, subs), rate, batch)
    started = timer.perf_counter()
    await dispatcher.plan_due()
    planned = timer.perf_counter()
    stats = await dispatcher.send_due()
    finished = timer.perf_counter()
    overhead = await _overhead(db, subs, user_ids, rate, batch) if measure_overhead else None
    return FanOutResult(
        subscribers=len(user_ids),
        sent=stats.sent,
        statuses=await db.delivery_counts(),
        plan_seconds=planned - started,
        send_seconds=finished - planned,
        per_reminder_ms=1000 * (finished - planned) / max(1, stats.sent),
        overhead_per_reminder_ms=overhead,
        max_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        chats_remembered=len(dispatcher.pacer._next),
    )


def _dispatcher(db: Database, send: SendFn, rate: float, batch: int) -> Dispatcher:
    clock = lambda: FIRE + timedelta(seconds=5)  # noqa: E731 - a fixed moment after the fire
    config = DispatchConfig(rate_overall=rate, rate_per_chat=rate, batch=batch)
    return Dispatcher(db, send, clock, config)


async def _overhead(
    db: Database, subs: Subscriptions, user_ids: range, rate: float, batch: int
) -> float:
    """Milliseconds per reminder for a second set of users, with a send that only composes."""
    others = range(user_ids.stop + 1, user_ids.stop + 1 + len(user_ids))
    await subscribe_many(db, others)

    class ComposeOnly:
        """Everything the real sender does except the HTTP call."""

        prepare = staticmethod(subs.reminders)

        async def __call__(self, delivery: Delivery) -> int | None:
            return None

    dispatcher = _dispatcher(db, ComposeOnly(), rate, batch)
    started = timer.perf_counter()
    await dispatcher.plan_due()
    stats = await dispatcher.send_due()
    elapsed = timer.perf_counter() - started
    assert stats.sent == len(others), f"no-op fan-out sent {stats.sent} of {len(others)}"
    return 1000 * elapsed / len(others)
