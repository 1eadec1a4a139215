"""The reminder dispatcher on a real SQLite file, sending with PTB's Bot to the HTTP Bot API stub.

The clock is injected: no test waits for a reminder time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot

from bot.channels.telegram.reminders import make_sender
from bot.compose import Composer
from bot.config import PROJECT_ROOT
from bot.devtools.botapi_stub import BotApiStub
from bot.devtools.fanout import fan_out_benchmark
from bot.knowledge import KnowledgeBase
from bot.reminders.commands import Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher
from bot.storage.database import Database
from bot.storage.records import BLOCKED, FAILED, MISSED, SENT, UNKNOWN
from tests.support.clock import FakeClock

BERLIN = "Europe/Berlin"


@pytest.fixture
def stub(botapi: BotApiStub) -> BotApiStub:
    """The conftest's HTTP Bot API stub on 127.0.0.1, under the name these tests use."""
    return botapi


@pytest.fixture
async def bot(stub: BotApiStub) -> AsyncIterator[Bot]:
    """PTB's Bot talking to the stub (no rate limiter: the dispatcher's own limits apply)."""
    client = Bot(stub.token, base_url=f"{stub.url}/bot", base_file_url=f"{stub.url}/file/bot")
    async with client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 28, 12, 0, tzinfo=UTC))


class Rig:
    """Database + subscriptions + dispatcher wired as in production, around one fake clock."""

    def __init__(
        self, db: Database, bot: Bot, stub: BotApiStub, kb: KnowledgeBase, clock: FakeClock
    ) -> None:
        self.db, self.bot, self.stub, self.clock = db, bot, stub, clock
        self.subs = Subscriptions(db, kb, Composer(PROJECT_ROOT / "prompts"), clock=clock)

    def dispatcher(self, **config: object) -> Dispatcher:
        settings = {"rate_overall": 10_000.0, "rate_per_chat": 10_000.0, "batch": 50, **config}
        return Dispatcher(
            self.db, make_sender(self.bot, self.subs), self.clock, DispatchConfig(**settings)
        )

    async def subscribe(self, user_id: int, at: str, tz: str = "UTC", days: str = "") -> None:
        """A user who talked to the bot (the stub knows the chat) and set a reminder."""
        self.stub.chats[user_id] = {"id": user_id, "type": "private", "first_name": "U"}
        if tz != "UTC":
            await self.subs.timezone(user_id, user_id, [tz])
        await self.subs.remind(user_id, user_id, [at, days] if days else [at])


@pytest.fixture
def rig(db: Database, bot: Bot, stub: BotApiStub, kb: KnowledgeBase, clock: FakeClock) -> Rig:
    return Rig(db, bot, stub, kb, clock)


def reminders(stub: BotApiStub, chat_id: int | None = None) -> list:
    return [call for call in stub.sent("sendMessage", chat_id=chat_id)]


def per_chat(stub: BotApiStub) -> Counter:
    return Counter(call.chat_id for call in reminders(stub))


def steps(clock: FakeClock, until: datetime, every: timedelta) -> Iterator[datetime]:
    while clock.now < until:
        clock.now = min(until, clock.now + every)
        yield clock.now


# -- timing and days --------------------------------------------------------------------------


async def test_each_subscriber_gets_one_reminder_per_local_day(rig: Rig, stub: BotApiStub) -> None:
    zones = [BERLIN, "America/New_York", "Asia/Kolkata", "UTC", "UTC+05:45"]
    for user_id in range(1, 41):
        await rig.subscribe(
            user_id, f"{user_id % 24:02d}:{user_id % 4 * 15:02d}", zones[user_id % 5]
        )
    dispatcher = rig.dispatcher()
    for _ in steps(rig.clock, rig.clock.now + timedelta(days=3), timedelta(minutes=20)):
        await dispatcher.tick()
    counts = await rig.db.delivery_counts()
    assert counts == {SENT: 40 * 3}
    assert set(per_chat(stub).values()) == {3}


async def test_berlin_0730_fires_at_0730_local_before_and_after_spring_forward(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "07:30", BERLIN)
    dispatcher = rig.dispatcher()
    fired: list[datetime] = []
    # Ticks every 15 minutes from 12:00 UTC: 07:30 in CET and in CEST both fall on a tick.
    for now in steps(rig.clock, datetime(2025, 4, 1, tzinfo=UTC), timedelta(minutes=15)):
        if (await dispatcher.tick()).sent:
            fired.append(now)
    walls = [moment.astimezone(ZoneInfo(BERLIN)) for moment in fired]
    # 29 March (CET), 30 March (the clocks go forward at 02:00) and 31 March (CEST).
    assert [(w.day, w.hour, w.minute) for w in walls] == [(29, 7, 30), (30, 7, 30), (31, 7, 30)]
    assert [w.utcoffset() for w in walls] == [timedelta(hours=h) for h in (1, 2, 2)]


async def test_a_reminder_missed_while_down_is_sent_at_startup_within_the_grace(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")  # today at 13:00 UTC
    await rig.subscribe(2, "13:00")
    rig.clock.advance(hours=1, minutes=30)  # the bot was down from 12:00 to 14:30
    stats = await rig.dispatcher().tick()
    assert (stats.planned, stats.sent) == (2, 2)


async def test_a_reminder_missed_beyond_the_grace_is_skipped_not_sent_late(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")
    rig.clock.advance(hours=3, minutes=30)  # 15:30: 2.5 h after the fire, grace is 2 h
    stats = await rig.dispatcher().tick()
    assert (stats.sent, reminders(stub)) == (0, [])
    assert await rig.db.delivery_counts() == {MISSED: 1}
    schedule = await rig.db.get_schedule(1)
    assert schedule.next_local_date == date(2025, 3, 29)  # tomorrow's still comes


async def test_a_stopped_schedule_sends_nothing(rig: Rig, stub: BotApiStub) -> None:
    await rig.subscribe(1, "13:00")
    await rig.subs.stop(1)
    rig.clock.advance(hours=2)
    assert (await rig.dispatcher().tick()).sent == 0


async def test_snooze_queues_the_reminder_again_once(rig: Rig, stub: BotApiStub) -> None:
    await rig.subscribe(1, "13:00", days="fri")  # 28 March 2025 is a Friday: a session day
    rig.clock.advance(hours=1)
    dispatcher = rig.dispatcher()
    await dispatcher.tick()
    (first,) = reminders(stub)
    snooze = next(data for data in first.callback_data if data.startswith("rem:snz:"))
    await rig.subs.button(1, 1, snooze)
    await rig.subs.button(1, 1, snooze)  # a second tap queues nothing more
    rig.clock.advance(minutes=29)
    assert (await dispatcher.tick()).sent == 0
    rig.clock.advance(minutes=1)
    assert (await dispatcher.tick()).sent == 1
    rig.clock.advance(hours=1)
    assert (await dispatcher.tick()).sent == 0
    assert "Reminder: today" in reminders(stub)[-1].text


async def test_a_skip_after_done_keeps_the_day_done_and_says_so(rig: Rig) -> None:
    await rig.subscribe(1, "13:00")
    done = await rig.subs.button(1, 1, "rem:done:2025-03-28")
    assert "Session logged" in done.text
    late_skip = await rig.subs.button(1, 1, "rem:skip:2025-03-28")
    assert "Already logged" in late_skip.text and "(done)" in late_skip.text
    assert await rig.db.session_history(1, date(2025, 3, 28)) == {date(2025, 3, 28): "done"}


@pytest.mark.parametrize(
    "data",
    [
        "rem:snz:99999999999999999999",
        "rem:snz:9223372036854775808",
        "rem:snz:0",
        "rem:snz:-1",
        "rem:snz:²",
        "rem:snz:",
        "rem:done:99999-01-01",
        "rem:skip:²",
    ],
)
async def test_forged_button_data_gets_a_polite_reply_not_an_error(rig: Rig, data: str) -> None:
    await rig.subscribe(1, "13:00")
    reply = await rig.subs.button(1, 1, data)
    assert "no longer available" in reply.text
    assert await rig.db.delivery_counts() == {}


# -- restarts and crashes ---------------------------------------------------------------------


async def test_restart_mid_fan_out_loses_nothing_and_doubles_nothing(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    for user_id in range(1, 201):
        await rig.subscribe(user_id, "13:00")
    rig.clock.advance(hours=1)
    first = rig.dispatcher(batch=20)
    running = asyncio.create_task(first.tick())
    await stub.wait_for("sendMessage", count=60, timeout=30)
    running.cancel()  # SIGTERM mid-fan-out: sends in flight finish, the rest go back
    with pytest.raises(asyncio.CancelledError):
        await running
    sent_before = len(reminders(stub))
    assert 60 <= sent_before < 200
    second = rig.dispatcher(batch=20)  # a new process: another owner token
    await second.recover()
    await second.tick()
    assert per_chat(stub) == Counter({user_id: 1 for user_id in range(1, 201)})
    assert await rig.db.delivery_counts() == {SENT: 200}


async def test_after_a_hard_crash_a_send_in_flight_is_never_resent(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    for user_id in (1, 2):
        await rig.subscribe(user_id, "13:00")
    rig.clock.advance(hours=1)
    crashed = rig.dispatcher()
    await crashed.plan_due()
    owner, now = crashed.config.owner, rig.clock()
    in_flight, not_started = await rig.db.claim_deliveries(owner, now, 10, now)
    await rig.db.mark_sending([in_flight.id], owner)  # then the process was killed
    rig.clock.advance(minutes=10)
    restarted = rig.dispatcher()
    assert await restarted.recover() == 1
    await restarted.tick()
    assert (await rig.db.get_delivery(in_flight.id)).status == UNKNOWN
    assert (await rig.db.get_delivery(not_started.id)).status == SENT
    assert per_chat(stub) == Counter({not_started.chat_id: 1})


async def test_two_dispatchers_at_once_send_each_reminder_once(
    rig: Rig,
    stub: BotApiStub,
    db: Database,
) -> None:
    for user_id in range(1, 121):
        await rig.subscribe(user_id, "13:00")
    rig.clock.advance(hours=1)
    other_db = Database(db.url)  # a second engine on the same file, as a second process has
    other = Dispatcher(
        other_db,
        make_sender(rig.bot, rig.subs),
        rig.clock,
        DispatchConfig(rate_overall=10_000, rate_per_chat=10_000, batch=10),
    )
    await asyncio.gather(rig.dispatcher(batch=10).tick(), other.tick())
    await other_db.close()
    assert per_chat(stub) == Counter({user_id: 1 for user_id in range(1, 121)})


# -- Telegram errors --------------------------------------------------------------------------


async def test_429_retry_after_pauses_sending_and_the_reminder_goes_out_once(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")
    rig.clock.advance(hours=1)
    stub.fail("sendMessage", times=1, status=429, retry_after=7)
    dispatcher = rig.dispatcher()
    stats = await dispatcher.tick()
    assert (stats.sent, stats.retried) == (0, 1)
    rig.clock.advance(seconds=6)
    assert (await dispatcher.tick()).sent == 0  # still inside retry_after
    rig.clock.advance(seconds=1)
    assert (await dispatcher.tick()).sent == 1
    assert len(reminders(stub)) == 1


async def test_403_blocked_disables_the_schedule_and_is_not_retried(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")
    await rig.subscribe(2, "13:00")
    stub.fail("sendMessage", times=5, status=403, chat_id=1)
    rig.clock.advance(hours=1)
    dispatcher = rig.dispatcher()
    stats = await dispatcher.tick()
    assert (stats.blocked, stats.sent) == (1, 1)
    schedule = await rig.db.get_schedule(1)
    assert (schedule.enabled, schedule.disabled_reason) == (False, BLOCKED)
    for _ in steps(rig.clock, rig.clock.now + timedelta(days=2), timedelta(hours=1)):
        await dispatcher.tick()
    attempts = [c for c in stub.calls if c.method == "sendMessage" and c.chat_id == 1]
    assert len(attempts) == 1
    assert len(reminders(stub, chat_id=2)) == 3
    assert "blocked" in (await rig.subs.show(1)).text


@pytest.mark.parametrize("failure", [{"drop": True}, {"status": 502}, {"status": 500}])
async def test_a_network_error_is_retried_with_backoff(
    rig: Rig,
    stub: BotApiStub,
    failure: dict,
) -> None:
    await rig.subscribe(1, "13:00")
    rig.clock.advance(hours=1)
    stub.fail("sendMessage", times=2, **failure)
    dispatcher = rig.dispatcher()
    assert (await dispatcher.tick()).retried == 1
    rig.clock.advance(seconds=5)  # first backoff
    assert (await dispatcher.tick()).retried == 1
    rig.clock.advance(seconds=9)
    assert (await dispatcher.tick()).sent == 0  # second backoff is 10 s
    rig.clock.advance(seconds=1)
    assert (await dispatcher.tick()).sent == 1
    delivery = next(iter(await rig.db.claim_deliveries("x", rig.clock(), 1, rig.clock())), None)
    assert delivery is None and len(reminders(stub)) == 1


async def test_a_network_outage_longer_than_the_grace_is_given_up_loudly(
    rig: Rig,
    stub: BotApiStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await rig.subscribe(1, "13:00")
    rig.clock.advance(hours=1)
    stub.fail("sendMessage", times=100, status=502)
    dispatcher = rig.dispatcher()
    with caplog.at_level(logging.WARNING, logger="bot.reminders.dispatcher"):
        for _ in steps(rig.clock, rig.clock.now + timedelta(hours=2), timedelta(minutes=1)):
            await dispatcher.tick()
    assert await rig.db.delivery_counts() == {FAILED: 1}
    assert any("given up" in record.getMessage() for record in caplog.records)


# -- content ----------------------------------------------------------------------------------


async def test_the_reminder_shows_todays_session_with_its_buttons(
    rig: Rig,
    stub: BotApiStub,
    kb: KnowledgeBase,
) -> None:
    await rig.subscribe(1, "13:00", days="mon,wed,fri")
    rig.clock.advance(hours=1)  # Friday 28 March, 13:00
    await rig.dispatcher().tick()
    (message,) = reminders(stub)
    routine = rig.subs.starter_routine()
    session = routine.session_for(date(2025, 3, 28), (0, 2, 4))
    assert session.items
    for item in session.items:
        assert item.title in message.text and item.dosage in message.text
        assert f"howto:{item.exercise_id}" in message.callback_data
        assert kb.get(item.exercise_id) is not None  # nothing invented
    assert {"rem:done:2025-03-28", "rem:skip:2025-03-28"} <= set(message.callback_data)


async def test_a_starter_routine_moves_to_the_harder_variants_in_week_3(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    """No assessment: the starter routine's weeks count from the day the user subscribed."""
    await rig.subscribe(1, "13:00", days="fri")  # subscribed Friday 28 March, 12:00 UTC
    dispatcher = rig.dispatcher()
    until = datetime(2025, 4, 11, 14, 0, tzinfo=UTC)  # Friday 11 April: day 15, week 3
    for _ in steps(rig.clock, until, timedelta(hours=1)):
        await dispatcher.tick()
    first, second, third = reminders(stub, chat_id=1)
    routine = rig.subs.starter_routine()
    week1 = [routine.item(i.base_id) for i in routine.session_for(date(2025, 3, 28), (4,)).items]
    week3 = [routine.item(i.base_id) for i in routine.session_for(date(2025, 4, 11), (4,)).items]
    assert week1 and week3
    assert any(item.variant(3) != item.base for item in week3)  # week 3 has stepped up
    assert "week 1 of 12" in first.text and "week 2 of 12" in second.text
    for item in week1:
        assert f"{item.base.title} — {item.base.dosage}" in first.text
        assert f"howto:{item.base.exercise_id}" in first.callback_data
    assert "week 3 of 12" in third.text
    for item in week3:
        assert f"{item.variant(3).title} — {item.variant(3).dosage}" in third.text
        assert f"howto:{item.variant(3).exercise_id}" in third.callback_data
        assert item.later.instruction in third.text


# -- the fan-out (the 10,000 run is a benchmark: bot.devtools.fanout) -------------------------


async def test_a_fan_out_of_200_due_in_the_same_minute_delivers_each_exactly_once(
    stub: BotApiStub, bot: Bot, db: Database, kb: KnowledgeBase
) -> None:
    user_ids = range(700_000, 700_200)
    for user_id in user_ids:
        stub.chats[user_id] = {"id": user_id, "type": "private", "first_name": "U"}
    result = await fan_out_benchmark(
        bot, db, kb, Composer(PROJECT_ROOT / "prompts"), user_ids, batch=40
    )
    assert result.sent == 200 and result.chats_remembered == 0
    assert per_chat(stub) == Counter(dict.fromkeys(user_ids, 1))
    assert result.statuses == {SENT: 400}  # 200 through HTTP, 200 more timing the overhead
