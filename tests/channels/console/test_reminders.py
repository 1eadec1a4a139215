"""`kneebot chat` parity: the reminder commands, a reminder printed live, the chart as a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answering.coach import Coach
from bot.channels.console.chat import ConsoleChat
from bot.channels.console.reminders import ConsoleReminders
from bot.config import Settings
from bot.reminders.dispatcher import DispatchConfig, Dispatcher
from bot.reminders.progress import PNG_SIGNATURE
from bot.replies import Reply
from bot.storage.database import Database
from bot.storage.records import CONSOLE_USER_ID, Delivery, Scope
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 28, 12, 0, tzinfo=UTC))  # a Friday


@pytest.fixture
def reminders(db: Database, coach: Coach, tmp_path: Path, clock: FakeClock) -> ConsoleReminders:
    settings = Settings(KNEEBOT_DATA_DIR=tmp_path)
    return ConsoleReminders.create(db, coach.kb, coach.composer, settings, clock=clock)


@pytest.fixture
def chat(coach: Coach, reminders: ConsoleReminders) -> ConsoleChat:
    return ConsoleChat(coach, reminders=reminders)


async def test_remind_and_reminders_work_in_the_console(chat: ConsoleChat) -> None:
    output = await chat.handle("/remind 18:00 mon,wed,fri")
    assert "18:00 Mon, Wed, Fri" in output and "[1] Change timezone" in output
    assert "Next one: today at 18:00" in await chat.handle("/reminders")
    assert "Timezone set to Europe/Berlin" in await chat.handle("/timezone Europe/Berlin")
    assert "I do not know the timezone" in await chat.handle("/timezone Narnia/Cair_Paravel")


async def test_a_timezone_abbreviation_is_confirmed_with_a_choice(
    chat: ConsoleChat, db: Database
) -> None:
    question = await chat.handle("/timezone EST")
    assert "abbreviation" in question and "[1] Use America/New_York" in question
    assert "[2] Use EST" in question
    assert "Timezone set to America/New_York" in await chat.handle("1")
    await chat.handle("/timezone est")
    assert "Timezone set to EST" in await chat.handle("2")
    assert (await db.get_user(CONSOLE_USER_ID)).timezone == "EST"
    mumbai = await chat.handle("/timezone Mumbai")
    assert "Asia/Kolkata" in mumbai and "Dubai" not in mumbai


async def test_a_due_reminder_is_printed_and_done_is_a_numbered_choice(
    chat: ConsoleChat, reminders: ConsoleReminders, clock: FakeClock, db: Database
) -> None:
    printed: list[str] = []

    def show(reply: Reply) -> None:
        printed.append(chat.show(reply))

    await chat.handle("/remind 13:00 mon,wed,fri")
    dispatcher = reminders.dispatcher(show, clock)
    clock.advance(hours=1)
    await dispatcher.tick()
    (reminder,) = printed
    assert "today's knee session" in reminder and "[1] Done ✅" in reminder
    assert "Session logged" in await chat.handle("1")
    assert await db.session_history(CONSOLE_USER_ID, clock().date()) == {clock().date(): "done"}
    clock.advance(days=1)
    await dispatcher.tick()
    assert len(printed) == 1  # Saturday is not a reminder day


async def test_progress_saves_the_chart_and_prints_its_path(
    chat: ConsoleChat, tmp_path: Path
) -> None:
    assert "Session logged" in await chat.handle("/done")
    output = await chat.handle("/progress")
    chart = tmp_path / "progress.png"
    assert f"Chart saved to {chart}" in output
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


async def test_forget_in_the_console_asks_then_deletes(chat: ConsoleChat, db: Database) -> None:
    await chat.handle("/remind 07:30")
    prompt = await chat.handle("/forget")
    assert "[1] Yes, delete everything" in prompt
    assert "deleted" in await chat.handle("1")
    assert set((await db.rows_about(CONSOLE_USER_ID)).values()) == {0}


async def test_forget_in_the_console_deletes_the_saved_chart(
    chat: ConsoleChat, tmp_path: Path
) -> None:
    await chat.handle("/done")
    await chat.handle("/progress")
    chart = tmp_path / "progress.png"
    assert chart.exists()
    await chat.handle("/forget")
    assert "Nothing deleted" in await chat.handle("2")
    assert chart.exists()
    await chat.handle("/forget")
    assert "deleted" in await chat.handle("1")
    assert not chart.exists()


async def test_the_telegram_dispatcher_never_takes_the_console_users_reminders(
    chat: ConsoleChat, reminders: ConsoleReminders, clock: FakeClock, db: Database
) -> None:
    sent: list[int] = []

    async def telegram_send(delivery: Delivery) -> int:
        sent.append(delivery.user_id)
        return 1

    telegram = Dispatcher(
        db, telegram_send, clock, DispatchConfig(scope=Scope(skip=CONSOLE_USER_ID))
    )
    await chat.handle("/remind 13:00")
    clock.advance(hours=1)
    assert (await telegram.tick()).planned == 0 and sent == []
