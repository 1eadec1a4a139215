"""Issue 13 in `kneebot chat`: numbers instead of taps, quiet logs, typed questionnaire answers,
/done and /undo, reminders in plain words, and the guided session's printed countdown."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.answering.coach import Coach
from bot.app import Runtime, open_features
from bot.channels.console.chat import ConsoleChat
from bot.channels.console.reminders import ConsoleReminders
from bot.cli import log_level
from bot.coaching.assessment import starter_profile
from bot.coaching.builder import build_routine
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.records import CONSOLE_USER_ID
from tests.support.clock import FakeClock

FRIDAY = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)
TAP = re.compile(r"\btap\b", re.IGNORECASE)


@pytest.fixture
async def chat(runtime: Runtime, db: Database, tmp_path: Path):
    settings = runtime_settings(tmp_path)
    opened = await open_features(settings, runtime, db=db, clock=FakeClock(FRIDAY))
    printed: list[str] = []
    console = ConsoleChat(
        runtime.coach,
        routine=opened.routine,
        reminders=ConsoleReminders(opened.subscriptions, settings),
        guide=opened.guide,
        out=printed.append,
        timer_speed=1000.0,
    )
    console.printed = printed  # type: ignore[attr-defined]
    yield console
    await opened.close()


def runtime_settings(tmp_path: Path) -> Settings:
    return Settings(KNEEBOT_DATA_DIR=tmp_path)


def number_of(output: str, label: str) -> str:
    """The number the console shows in front of a choice."""
    match = re.search(rf"\[(\d+)\] {re.escape(label)}", output)
    assert match, f"{label!r} not offered in:\n{output}"
    return match.group(1)


async def test_console_says_type_a_number(chat: ConsoleChat) -> None:
    outputs = [await chat.handle("/done"), await chat.handle("/routine")]
    outputs.append(await chat.handle(number_of(outputs[-1], "Start the questions")))
    outputs.append(await chat.handle("no pain"))  # the signs question ("…then tap Done")
    assert "Type the number of “↩️ Undo”" in outputs[0]
    assert all(not TAP.search(output) for output in outputs), outputs
    assert "(type a number to choose)" in outputs[-1]


def test_console_info_logs_stay_out_of_the_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert log_level("chat") == logging.WARNING
    assert log_level("chat", verbose=True) == logging.DEBUG
    assert log_level("ask") == logging.INFO  # the bot's own log lines are for operators


async def test_unknown_command_in_the_console_says_unknown(chat: ConsoleChat) -> None:
    output = await chat.handle("/frobnicate")
    assert (
        output.startswith("I do not know the command /FROBNICATE")
        or "command /frobnicate" in output.lower()
    )
    assert "/remind" in output


async def test_typed_answers_and_back_in_the_console(chat: ConsoleChat, db: Database) -> None:
    intro = await chat.handle("/routine")
    await chat.handle(number_of(intro, "Start the questions"))
    second = await chat.handle("mild")
    assert "Question 2 of" in second
    back = await chat.handle("back")
    assert "Question 1 of" in back
    await chat.handle("1")  # "No pain", by its number
    state, answers = await db.load_draft(CONSOLE_USER_ID)
    assert answers["pain"] == ["none"] and state != "pain"


async def test_remind_me_in_words_and_undo_in_the_console(chat: ConsoleChat, db: Database) -> None:
    assert "07:00 every day" in await chat.handle("please remind me every day at 7am")
    assert "Reminders stopped" in await chat.handle("/remind off")
    await chat.handle("/done yesterday")
    assert "Removed the entry for Thursday 27 March" in await chat.handle("/undo")
    assert await db.session_history(CONSOLE_USER_ID, date(2025, 1, 1)) == {}


async def test_guided_session_prints_a_countdown(chat: ConsoleChat, db: Database, coach: Coach):
    routine = build_routine(starter_profile(), coach.kb, start=FRIDAY.date())
    await db.save_profile(CONSOLE_USER_ID, {}, routine.to_dict())
    shown = await chat.handle("/routine")
    today = await chat.handle(number_of(shown, "Today's session"))
    step = await chat.handle(number_of(today, "▶️ Start session"))
    assert "Exercise 1 of" in step
    after = await chat.handle(number_of(step, "⏱ Start 30 s timer"))
    assert [line.split(": hold — ")[1].lower() for line in chat.printed] == [
        f"{left} s left" for left in (30, 25, 20, 15, 10, 5)
    ]
    assert "hold done" in after
    while "Finish session" not in after:
        after = await chat.handle(number_of(after, "Next ⏭"))
    end = await chat.handle(number_of(after, "🏁 Finish session"))
    assert "Session complete" in end and "Session logged for Friday 28 March" in end


async def test_today_in_words_or_as_a_command_shows_todays_session(
    chat: ConsoleChat, db: Database, coach: Coach
) -> None:
    before = await chat.handle("/today")
    assert "Start the questions" in before  # no routine yet: the offer to build one
    routine = build_routine(starter_profile(), coach.kb, start=FRIDAY.date())
    await db.save_profile(CONSOLE_USER_ID, {}, routine.to_dict())
    typed, said = await chat.handle("/today"), await chat.handle("so what's on for today?")
    assert "Start session" in typed
    assert "Start session" in said
