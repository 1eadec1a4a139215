"""Reminders through the real Telegram Application and the HTTP Bot API stub, on a fake clock.

One application serves the whole module (starting and stopping a poller costs seconds); each test
talks as a new user and looks only at its own chat.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import matplotlib.image
import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.app import Runtime
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub, Call
from bot.reminders.progress import PNG_SIGNATURE
from bot.storage.database import Database
from tests.support.clock import FakeClock
from tests.support.telegram import (  # noqa: F401 - `stub`, `db`
    TgChat,
    fire,
    group_chat,
    member,
    module_botapi,
    module_db,
    private_chat,
    running_bot,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
START = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)  # a Friday, noon UTC


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(autouse=True)
def _restart_the_day(clock: FakeClock) -> None:
    """Every test starts on Friday at noon."""
    clock.now = START


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(
    stub: BotApiStub, runtime: Runtime, settings: Settings, db: Database, clock: FakeClock
) -> AsyncIterator[Application]:
    async with running_bot(stub, runtime, settings, db, clock) as application:
        yield application


async def forge(chat: TgChat, call: Call, data: str) -> list[Call]:
    """A callback query with data of our choosing, as a hostile client could send it."""
    since = chat.stub.mark()
    chat.stub.push("callback_query", chat.stub.new_callback_query(chat.user, call.result, data))
    return await chat.replies(since)


async def test_first_remind_says_the_timezone_is_utc_and_how_to_change_it(
    stub: BotApiStub, app: Application
) -> None:
    chat = private_chat(stub)
    (reply,) = await chat.ask("/remind 7:30am")
    assert "07:30" in reply.text and "UTC" in reply.text and "/timezone Europe/Berlin" in reply.text
    (again,) = await chat.ask("/remind 18:00 mon,wed,fri")
    assert "Mon, Wed, Fri" in again.text and "/timezone Europe/Berlin" not in again.text
    (shown,) = await chat.ask("/reminders")
    assert "18:00" in shown.text and "Next one: today at 18:00" in shown.text


async def test_a_timezone_typo_gets_suggestions_and_a_tap_sets_it(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    await chat.ask("/remind 07:30")
    (reply,) = await chat.ask("/timezone Europe/Berln")
    assert "Europe/Berlin" in reply.text and "rem:tz:Europe/Berlin" in reply.callback_data
    (done,) = await chat.tap(reply, "rem:tz:Europe/Berlin")
    # Saturday and Sunday are rest days of the starter plan, and rest days stay quiet.
    assert "Timezone set to Europe/Berlin" in done.text and "Mon 31 Mar at 07:30" in done.text
    assert (await db.get_user(chat.user["id"])).timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    "text",
    ["/remind <b>{{ 7*7 }}</b>", "/remind 25:99", "/remind 07:30 " + "x" * 5000, "/timezone 🦵🦵"],
)
async def test_bad_input_gets_a_friendly_reply_and_changes_nothing(
    stub: BotApiStub, app: Application, db: Database, text: str
) -> None:
    chat = private_chat(stub)
    (reply,) = await chat.ask(text)
    assert "/remind 18:00" in reply.text or "/timezone Europe/Berlin" in reply.text
    assert "49" not in reply.text and len(reply.text) < 1000
    assert await db.get_schedule(chat.user["id"]) is None


async def test_the_reminder_arrives_and_done_counts_once(
    stub: BotApiStub, app: Application, clock: FakeClock, db: Database
) -> None:
    chat = private_chat(stub)
    await chat.ask("/remind 13:00 mon,wed,fri")
    reminder = await fire(app, clock, stub, chat, hours=1)
    assert "today's knee session" in reminder.text
    done = "rem:done:2025-03-28"
    since = stub.mark()
    (ack,) = await chat.tap(reminder, done)
    assert "Session logged" in ack.text
    settled = await stub.wait_for("editMessageText", lambda c: c.chat_id == chat.id, since=since)
    kept = settled[0].callback_data
    assert kept and not any(data.startswith(("rem:done", "rem:skip", "rem:snz")) for data in kept)
    (again,) = await chat.tap(reminder, done)
    assert "counts once" in again.text
    history = await db.session_history(chat.user["id"], clock().date() - timedelta(days=1))
    assert list(history.values()) == ["done"]


async def test_progress_sends_the_chart_as_a_photo(
    stub: BotApiStub, app: Application, db: Database, clock: FakeClock
) -> None:
    chat = private_chat(stub)
    for days_ago in (0, 1, 2):
        await db.record_session(chat.user["id"], clock().date() - timedelta(days=days_ago), "done")
    since = stub.mark()
    chat.send("/progress")
    (photo,) = await stub.wait_for("sendPhoto", lambda c: c.chat_id == chat.id, since=since)
    assert "Streak: 3 sessions" in photo.text
    png = next(iter(photo.files.values()))
    assert png.startswith(PNG_SIGNATURE)
    assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[0] > 100


async def test_forget_asks_first_then_leaves_no_rows(
    stub: BotApiStub, app: Application, db: Database, clock: FakeClock
) -> None:
    chat = private_chat(stub)
    user_id = chat.user["id"]
    await chat.ask("/remind 13:00")
    await db.save_profile(user_id, {"pain": ["none"]}, {"items": []})
    await db.record_session(user_id, clock().date(), "done")
    (question,) = await chat.ask("/forget")
    assert question.callback_data == ["rem:forget:yes", "rem:forget:no"]
    (kept,) = await chat.tap(question, "rem:forget:no")
    assert "Nothing deleted" in kept.text and (await db.rows_about(user_id))["profiles"] == 1
    (question,) = await chat.ask("/forget")
    (gone,) = await chat.tap(question, "rem:forget:yes")
    assert "deleted" in gone.text
    assert set((await db.rows_about(user_id)).values()) == {0}
    since = stub.mark()
    clock.advance(hours=2)
    app.bot_data["reminders"].dispatcher.wake()
    await asyncio.sleep(0.3)
    assert stub.sent("sendMessage", since=since, chat_id=chat.id) == []


async def test_the_start_button_leads_through_time_and_days(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    (welcome,) = await chat.ask("/start")
    (times,) = await chat.tap(welcome, "remind")
    assert "rem:t:0730" in times.callback_data
    (days,) = await chat.tap(times, "rem:t:0730")
    (confirmed,) = await chat.tap(days, "rem:d:0730:21")
    assert "07:30" in confirmed.text and "Mon, Wed, Fri" in confirmed.text
    schedule = await db.get_schedule(chat.user["id"])
    assert (schedule.local_time, schedule.days, schedule.enabled) == ("07:30", 21, True)
    (stopped,) = await chat.ask("/stop")
    assert "stopped" in stopped.text
    assert not (await db.get_schedule(chat.user["id"])).enabled


@pytest.mark.parametrize("choice", ["rem:forget:yes", "rem:forget:no"])
async def test_the_forget_buttons_go_away_once_one_is_tapped(
    stub: BotApiStub, app: Application, choice: str
) -> None:
    chat = private_chat(stub)
    (question,) = await chat.ask("/forget")
    await chat.tap(question, choice)
    (edit,) = await stub.wait_for(
        "editMessageReplyMarkup",
        lambda c: (
            c.chat_id == chat.id and int(c.params["message_id"]) == question.result["message_id"]
        ),
    )
    assert edit.callback_data == []


@pytest.mark.parametrize("command", ["remind 07:30", "reminders", "timezone", "stop", "forget"])
async def test_personal_commands_in_a_group_point_to_the_private_chat(
    stub: BotApiStub, app: Application, db: Database, command: str
) -> None:
    group = group_chat(stub)
    (reply,) = await group.ask(f"/{command}")
    assert "private chat" in reply.text and f"/{command.split()[0]}" in reply.text
    assert reply.callback_data == []
    assert await db.get_schedule(group.user["id"]) is None


async def test_progress_in_a_group_sends_no_chart(stub: BotApiStub, app: Application) -> None:
    group = group_chat(stub)
    since = stub.mark()
    (reply,) = await group.ask("/progress")
    assert "private chat" in reply.text and "/progress" in reply.text
    assert stub.sent("sendPhoto", since=since, chat_id=group.id) == []


async def test_a_reminder_button_tapped_in_a_group_acts_for_no_one(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    group = group_chat(stub)
    other = member(group, "Mia")
    (welcome,) = await group.ask("/start")
    (pointer,) = await forge(other, welcome, "remind")
    assert "private chat" in pointer.text and pointer.callback_data == []
    await db.record_session(other.user["id"], START.date(), "done")
    (pointer,) = await forge(other, welcome, "rem:forget:yes")
    assert "private chat" in pointer.text and "/forget" in pointer.text
    await forge(other, welcome, "rem:d:0730:127")
    assert await db.get_schedule(other.user["id"]) is None
    assert len(await db.session_history(other.user["id"], START.date())) == 1


async def test_forged_snooze_data_gets_a_polite_reply(stub: BotApiStub, app: Application) -> None:
    chat = private_chat(stub)
    (welcome,) = await chat.ask("/start")
    (reply,) = await forge(chat, welcome, "rem:snz:99999999999999999999")
    assert "no longer available" in reply.text
