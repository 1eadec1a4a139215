"""End to end: `kneebot run` as a real process against the Bot API stub, restarted in between.

Each process gets KNEEBOT_CLOCK_OFFSET_SECONDS so its clock reads a chosen morning: nobody waits
for 07:30 to come round.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.app import Runtime
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub
from tests.support.telegram import private_chat

KNEEBOT = Path(sys.executable).with_name("kneebot")
MORNING = datetime(2031, 1, 6, tzinfo=UTC)  # a Monday, far from any clock change


def at(hour: int, minute: int) -> datetime:
    return MORNING.replace(hour=hour, minute=minute)


@asynccontextmanager
async def kneebot_run(
    stub: BotApiStub, settings: Settings, data_dir: Path, now: datetime, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`kneebot run` whose reminder clock reads `now` at start; SIGTERM and a clean exit after."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": stub.token,
        "TELEGRAM_BASE_URL": stub.url,
        "KNEEBOT_DATA_DIR": str(data_dir),
        "KNEEBOT_INDEX_DIR": str(settings.index_dir),
        "KNEEBOT_CLOCK_OFFSET_SECONDS": str((now - datetime.now(UTC)).total_seconds()),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("KNEEBOT_DATABASE_URL", None)
    since = stub.mark()
    with log.open("a") as output:
        process = await asyncio.create_subprocess_exec(
            str(KNEEBOT), "run", env=env, stdout=output, stderr=output
        )
    try:
        await stub.wait_for("deleteWebhook", since=since, timeout=120)  # polling starts next
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=60)
        assert code == 0, log.read_text()[-3000:]


async def test_a_reminder_set_before_a_restart_arrives_once_after_it(
    botapi: BotApiStub,  # noqa: F811
    runtime: Runtime,  # the index is built once, in settings.index_dir
    settings: Settings,
    tmp_path: Path,
) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "kneebot.log"
    ann, bob = private_chat(botapi, "Ann"), private_chat(botapi, "Bob")

    async with kneebot_run(botapi, settings, data_dir, at(7, 20), log):
        (reply,) = await ann.ask("/remind 07:30")
        assert "Next one: today at 07:30" in reply.text
        (reply,) = await bob.ask("/remind 07:35")
        assert "Next one: today at 07:35" in reply.text

    # Down over Ann's 07:30: back at 07:31, within the grace, her reminder goes out at start-up.
    async with kneebot_run(botapi, settings, data_dir, at(7, 31), log):
        await botapi.wait_for(
            "sendMessage", lambda c: c.chat_id == ann.id and "today's knee session" in c.text
        )

    # Another restart after Bob's time: his arrives, and Ann's is not sent a second time.
    async with kneebot_run(botapi, settings, data_dir, at(7, 40), log):
        await botapi.wait_for(
            "sendMessage", lambda c: c.chat_id == bob.id and "today's knee session" in c.text
        )

    def reminders(chat_id: int) -> int:
        return sum(
            "today's knee session" in c.text for c in botapi.sent("sendMessage", chat_id=chat_id)
        )

    assert (reminders(ann.id), reminders(bob.id)) == (1, 1)
