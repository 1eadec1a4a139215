"""Delivery semantics (README): what is retried, what is recorded unknown, and never dying.

Real parts: the database (SQLite and PostgreSQL), PTB's Bot, the HTTP Bot API stub.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from bot.channels.telegram.reminders import ReminderSender
from bot.channels.telegram.render import messages
from bot.compose import Composer
from bot.config import PROJECT_ROOT
from bot.devtools.botapi_stub import BotApiStub
from bot.reminders.commands import Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher
from bot.replies import Reply, ReplyKind
from bot.storage.database import Database
from bot.storage.records import CLAIMED, SENDING, SENT, Delivery
from tests.reminders import test_dispatcher as base
from tests.reminders.test_dispatcher import Rig, per_chat

# The dispatcher tests' fixtures: the stub, PTB's Bot on it, the fake clock and the rig.
stub, bot, clock, rig = base.stub, base.bot, base.clock, base.rig


async def test_after_a_day_down_todays_reminder_inside_the_grace_is_still_sent(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")  # the stored fire: today (28 March) 13:00 UTC
    rig.clock.advance(days=1, hours=1, minutes=30)  # back on 29 March at 13:30: 30 min late
    stats = await rig.dispatcher().tick()
    assert stats.sent == 1
    (call,) = stub.sent("sendMessage", chat_id=1)
    assert await rig.db.has_delivery(1, date(2025, 3, 29))
    schedule = await rig.db.get_schedule(1)
    assert schedule.next_local_date == date(2025, 3, 30)


async def test_a_429_storm_leaves_no_row_sending_or_claimed_while_waiting(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    for user_id in range(1, 41):
        await rig.subscribe(user_id, "13:00")
    rig.clock.advance(hours=1)
    stub.fail("sendMessage", times=1, status=429, retry_after=30)
    dispatcher = rig.dispatcher(batch=40, in_flight=1)  # one at a time: the 429 comes first
    await dispatcher.tick()
    counts = await rig.db.delivery_counts()
    # A SIGKILL now loses nothing: what waits for retry_after is pending, not 'sending'.
    assert counts.get(SENDING, 0) == 0 and counts.get(CLAIMED, 0) == 0
    assert counts.get(SENT, 0) < 40
    rig.clock.advance(seconds=30)
    await dispatcher.tick()
    assert per_chat(stub) == Counter({user_id: 1 for user_id in range(1, 41)})


class LongReminder:
    """The real sender's input, but a reminder long enough to go out as several messages."""

    def __init__(self) -> None:
        self.html = "\n\n".join(
            f"<b>Exercise {n}</b> " + "hold and breathe. " * 120 for n in range(9)
        )

    async def reminders(self, batch: list[Delivery]) -> dict[int, Reply]:
        return {d.id: Reply(ReplyKind.INFO, self.html, self.html) for d in batch}

    async def reminder(self, delivery: Delivery) -> Reply:
        return (await self.reminders([delivery]))[delivery.id]


async def test_a_split_reminder_resumes_from_the_part_that_failed(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    await rig.subscribe(1, "13:00")
    rig.clock.advance(hours=1)
    stub.fail("sendMessage", times=1, status=502, skip=1)  # part 1 arrives, part 2 fails
    sender = ReminderSender(rig.bot, LongReminder())  # type: ignore[arg-type]
    config = DispatchConfig(rate_overall=10_000, rate_per_chat=10_000)
    dispatcher = Dispatcher(rig.db, sender, rig.clock, config)
    assert (await dispatcher.tick()).retried == 1
    rig.clock.advance(seconds=5)
    assert (await dispatcher.tick()).sent == 1
    parts = len(messages(await LongReminder().reminder(await rig.db.get_delivery(1))))
    texts = [call.params["text"] for call in stub.sent("sendMessage", chat_id=1)]
    assert parts > 2 and len(texts) == parts and len(set(texts)) == parts  # none repeated


async def test_the_loop_survives_a_database_that_fails_at_start_up(
    rig: Rig,
    stub: BotApiStub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    late = tmp_path / "not-yet"  # no directory yet: every query fails until it exists
    db = Database(f"sqlite+aiosqlite:///{late}/kneebot.sqlite3")
    subs = Subscriptions(db, rig.subs.kb, Composer(PROJECT_ROOT / "prompts"), clock=rig.clock)
    config = DispatchConfig(rate_overall=10_000, rate_per_chat=10_000, poll_seconds=0.2)
    dispatcher = Dispatcher(db, ReminderSender(rig.bot, subs), rig.clock, config)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="bot.reminders.dispatcher"):
        loop = asyncio.create_task(dispatcher.run(stop))
        while dispatcher.health.failures < 2:
            await asyncio.sleep(0.1)
        assert not loop.done()
        late.mkdir()
        await db.migrate()
        stub.chats[5] = {"id": 5, "type": "private", "first_name": "U"}
        await subs.remind(5, 5, ["12:30"])
        rig.clock.advance(minutes=45)
        await stub.wait_for("sendMessage", timeout=15)
        stop.set()
        await asyncio.wait_for(loop, timeout=10)
    await db.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("reminder loop failed (1 in a row)" in m for m in messages)
    assert any("reminder loop failed (2 in a row)" in m for m in messages)
    assert any("healthy again after" in m for m in messages)
    assert dispatcher.health.failures == 0


async def test_two_processes_migrating_a_fresh_database_at_once_both_succeed(
    empty_database_url: str,
) -> None:
    script = (
        "import asyncio, sys\n"
        "from bot.storage.database import Database\n"
        "async def main():\n"
        "    db = Database(sys.argv[1])\n"
        "    await db.migrate()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_database_url,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [await process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    db = Database(empty_database_url)
    assert await db.delivery_counts() == {}
    await db.close()


async def test_a_crashed_replicas_claims_go_to_the_other_within_the_lease(
    rig: Rig,
    stub: BotApiStub,
) -> None:
    for user_id in range(1, 11):
        await rig.subscribe(user_id, "13:00")
    rig.clock.advance(hours=1)
    crashed = rig.dispatcher()
    await crashed.heartbeat()
    await crashed.plan_due()
    claimed = await rig.db.claim_deliveries(crashed.config.owner, rig.clock(), 10)
    assert len(claimed) == 10  # … and then SIGKILL: nothing released, nothing sent
    survivor = rig.dispatcher()
    assert (await survivor.tick()).sent == 0  # the crashed one still looks alive
    rig.clock.advance(seconds=16)  # its 15 s heartbeat lease ran out
    assert (await survivor.tick()).sent == 10
    assert per_chat(stub) == Counter({user_id: 1 for user_id in range(1, 11)})
