"""Issue 13 through the real Application and the HTTP Bot API stub, on a fake clock: logging a
session yourself, quiet rest days, reminders in plain words, a shared location, the
questionnaire's typed answers and Back, self-checks and the chart, the guided session, buttons
as Telegram users expect them. One application serves the module; each test is a new user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.app import Runtime
from bot.coaching.assessment import load_questionnaire, starter_profile
from bot.coaching.builder import Routine, build_routine
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub, Call
from bot.knowledge import KnowledgeBase
from bot.reminders.schedule import ALL_DAYS, WEEKDAYS
from bot.storage.database import Database
from tests.support.clock import FakeClock
from tests.support.telegram import (  # noqa: F401 - `stub`, `db`
    TgChat,
    fire,
    group_chat,
    module_botapi,
    module_db,
    private_chat,
    running_bot,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
FRIDAY = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)  # a training day of the starter plan
TUESDAY = datetime(2025, 3, 25, 6, 0, tzinfo=UTC)  # a rest day of the starter plan (Mon/Wed/Fri)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(FRIDAY)


@pytest.fixture(autouse=True)
def _friday_noon(clock: FakeClock) -> None:
    clock.now = FRIDAY


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(
    stub: BotApiStub, runtime: Runtime, settings: Settings, db: Database, clock: FakeClock
) -> AsyncIterator[Application]:
    # The hold timer runs 100 times faster: a 30 s hold takes 0.3 s.
    async with running_bot(stub, runtime, settings, db, clock, timer_speed=100.0) as application:
        yield application


# -- helpers ---------------------------------------------------------------------------------


async def quiet(app: Application, clock: FakeClock, stub: BotApiStub, chat: TgChat, **ahead):
    """Move the clock and check that nothing arrives."""
    since = stub.mark()
    clock.advance(**ahead)
    app.bot_data["reminders"].dispatcher.wake()
    await asyncio.sleep(0.5)
    assert stub.sent("sendMessage", since=since, chat_id=chat.id) == []


async def tap_edit(chat: TgChat, call: Call, data: str) -> Call:
    """Tap a button whose answer replaces the tapped message; returns the edit."""
    assert data in call.callback_data, f"{data!r} not among {call.callback_data}"
    since = chat.stub.mark()
    chat.stub.push("callback_query", chat.stub.new_callback_query(chat.user, call.result, data))
    (edit,) = await chat.stub.wait_for(
        "editMessageText", lambda c: c.chat_id == chat.id, since=since
    )
    return edit


def edited(call: Call, original: Call) -> Call:
    """An edit as a message the user can tap again (the stub returns the edited message)."""
    return Call(call.method, {**call.params}, call.status, call.result or original.result)


async def todays_session(db: Database, chat: TgChat, kb: KnowledgeBase) -> Call:
    """The user has a stored routine (the starter answers) and opens "Today's session"."""
    routine = build_routine(starter_profile(), kb, start=FRIDAY.date())
    await db.save_profile(chat.user["id"], {}, routine.to_dict())
    (routine,) = await chat.ask("/routine")
    (today,) = await chat.tap(routine, "rt:today")
    return today


def rows(call: Call) -> list[list[dict]]:
    return call.params["reply_markup"]["inline_keyboard"]


# -- 1. logging a session yourself -------------------------------------------------------------


async def test_done_from_todays_session_logs_it(
    stub: BotApiStub, app: Application, db: Database, kb: KnowledgeBase
) -> None:
    chat = private_chat(stub)
    today = await todays_session(db, chat, kb)
    assert "Today's session" in today.text
    for data in ("rem:done:2025-03-28", "rem:easy:2025-03-28", "rem:hard:2025-03-28"):
        assert data in today.callback_data
    (ack,) = await chat.tap(today, "rem:hard:2025-03-28")
    assert "Session logged for Friday 28 March" in ack.text and "too hard" in ack.text
    assert "move one step down in your routine" in ack.text
    assert "rem:undo" in ack.callback_data and "rt:hard" in ack.callback_data
    history = await db.session_history(chat.user["id"], date(2025, 3, 1))
    assert history == {date(2025, 3, 28): "done"}
    # How it felt moves each of today's exercises one rung down the routine's ladder.
    _, stored = await db.load_profile(chat.user["id"])
    routine = Routine.from_dict(stored)
    todays = {item.base_id for item in routine.session_for(date(2025, 3, 28)).items}
    assert todays and {routine.profile.shifts.get(i) for i in todays} == {-1}


async def test_done_yesterday_logs_yesterday(stub: BotApiStub, app: Application, db: Database):
    chat = private_chat(stub)
    (ack,) = await chat.ask("/done yesterday")
    assert "Session logged for Thursday 27 March" in ack.text
    (ack,) = await chat.ask("/done monday")
    assert "Monday 24 March" in ack.text
    (bad,) = await chat.ask("/done next year")
    assert "could not tell which day" in bad.text
    history = await db.session_history(chat.user["id"], date(2025, 3, 1))
    assert history == {date(2025, 3, 27): "done", date(2025, 3, 24): "done"}


async def test_undo_removes_the_last_entry(stub: BotApiStub, app: Application, db: Database):
    chat = private_chat(stub)
    await chat.ask("/done")
    (ack,) = await chat.ask("/done yesterday")
    (undone,) = await chat.tap(ack, "rem:undo")
    assert "Removed the entry for Thursday 27 March" in undone.text
    history = await db.session_history(chat.user["id"], date(2025, 3, 1))
    assert history == {date(2025, 3, 28): "done"}
    (undone,) = await chat.ask("/undo")
    assert "Friday 28 March" in undone.text
    (nothing,) = await chat.ask("/undo")
    assert "nothing logged" in nothing.text


# -- 2. rest days ------------------------------------------------------------------------------


async def test_first_reminder_is_never_an_unchosen_rest_day(
    stub: BotApiStub, app: Application, clock: FakeClock
) -> None:
    clock.now = TUESDAY
    chat = private_chat(stub)
    (confirmed,) = await chat.ask("/remind 07:00")
    assert "Next one: tomorrow at 07:00 (today is a rest day in your plan" in confirmed.text
    await quiet(app, clock, stub, chat, hours=1, minutes=5)  # Tuesday 07:05: nothing
    reminder = await fire(app, clock, stub, chat, days=1)  # Wednesday 07:05
    assert "today's knee session" in reminder.text and "Rest day" not in reminder.text
    await quiet(app, clock, stub, chat, days=1)  # Thursday: a rest day, quiet


async def test_rest_day_notes_when_asked_for_offer_one_anyway(
    stub: BotApiStub, app: Application, clock: FakeClock
) -> None:
    clock.now = TUESDAY
    chat = private_chat(stub)
    await chat.ask("/remind 07:00")
    (rest,) = await chat.ask("/remind rest on")
    assert "short note" in rest.text and "today at 07:00" in rest.text
    note = await fire(app, clock, stub, chat, hours=1, minutes=5)
    assert "Rest day" in note.text and "ses:any:2025-03-25" in note.callback_data
    anyway = await tap_edit(chat, note, "ses:any:2025-03-25")
    assert (
        "A session on a rest day" in anyway.text and "rem:done:2025-03-25" in anyway.callback_data
    )


async def test_todays_session_on_a_rest_day_offers_one_anyway(
    stub: BotApiStub, app: Application, db: Database, clock: FakeClock, kb: KnowledgeBase
) -> None:
    clock.now = TUESDAY + timedelta(hours=6)
    chat = private_chat(stub)
    today = await todays_session(db, chat, kb)
    assert "Rest day" in today.text and "ses:any:2025-03-25" in today.callback_data


# -- 3. reminders in plain words ---------------------------------------------------------------


async def test_remind_accepts_time_days_zone_in_any_order(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    user_id = chat.user["id"]
    (first,) = await chat.ask("/remind 19:30 Europe/Berlin")
    assert "19:30 every day" in first.text and "Europe/Berlin" in first.text
    schedule = await db.get_schedule(user_id)
    assert (schedule.local_time, schedule.days, schedule.timezone) == (
        "19:30",
        ALL_DAYS,
        "Europe/Berlin",
    )
    await chat.ask("/remind weekdays 7am New York")
    schedule = await db.get_schedule(user_id)
    assert (schedule.local_time, schedule.days) == ("07:00", WEEKDAYS)
    assert schedule.timezone == "America/New_York"


async def test_remind_me_every_day_at_7am_as_free_text_sets_it(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    (reply,) = await chat.ask("remind me every day at 7am")
    assert "Reminder set" in reply.text and "07:00 every day" in reply.text
    assert (await db.get_schedule(chat.user["id"])).local_time == "07:00"


async def test_remind_off(stub: BotApiStub, app: Application, db: Database) -> None:
    chat = private_chat(stub)
    await chat.ask("/remind 07:30 mon,wed,fri")
    (off,) = await chat.ask("/remind off")
    assert "Reminders stopped" in off.text
    assert not (await db.get_schedule(chat.user["id"])).enabled


async def test_timezone_new_york_is_accepted(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    (menu,) = await chat.ask("/remind")
    (reply,) = await chat.ask("/timezone New York")
    assert "Timezone set to America/New_York" in reply.text
    assert (await db.get_user(chat.user["id"])).timezone == "America/New_York"
    other = private_chat(stub)
    await other.ask("/timezone UTC")
    (confirmed,) = await other.ask("/remind 07:30")
    assert "Your timezone is UTC for now" not in confirmed.text


async def test_bare_remind_shows_schedule_and_next_send_with_reason(
    stub: BotApiStub, app: Application, clock: FakeClock
) -> None:
    chat = private_chat(stub)
    (none,) = await chat.ask("/remind")
    assert "rem:t:0730" in none.callback_data  # no reminder yet: the time presets
    await chat.ask("/remind 11:00 mon,wed,fri")
    (shown,) = await chat.ask("/remind")
    assert "11:00 Mon, Wed, Fri" in shown.text
    assert (
        "Next one: Mon 31 Mar at 11:00 (your time) (11:00 has already passed today)" in shown.text
    )
    # The case: today's reminder already went out, so a later time today waits too.
    late = private_chat(stub)
    await late.ask("/remind 12:10")
    await fire(app, clock, stub, late, minutes=15)
    (moved,) = await late.ask("/remind 12:20")
    assert "(today's reminder already went out)" in moved.text


async def test_shared_location_sets_the_timezone(
    stub: BotApiStub, app: Application, db: Database
) -> None:
    chat = private_chat(stub)
    (reply,) = await chat.ask(location={"latitude": 52.52, "longitude": 13.405})
    assert "Timezone set to Europe/Berlin from the location you shared" in reply.text
    assert (await db.get_user(chat.user["id"])).timezone == "Europe/Berlin"


# -- 4. the questionnaire ----------------------------------------------------------------------


async def start_questions(chat: TgChat) -> Call:
    (intro,) = await chat.ask("/routine")
    return await tap_edit(chat, intro, "rt:go")


def between_pain_and_signs() -> list[tuple[str, int]]:
    """(question id, the number of a plain answer) for questions asked after pain and before
    signs (the age question: an adult), read from the questionnaire file."""
    questions = load_questionnaire().questions
    ids = [q.id.value for q in questions]
    middle = questions[ids.index("pain") + 1 : ids.index("signs")]
    return [(q.id.value, next(n for n, o in enumerate(q.options, 1) if not o.stop)) for q in middle]


async def tap_to_signs(chat: TgChat, message: Call) -> Call:
    """From the question after pain, tap plain answers up to the signs question."""
    for question, number in between_pain_and_signs():
        option = load_questionnaire().question(question).options[number - 1]
        message = edited(await tap_edit(chat, message, f"rt:a:{question}:{option.id}"), message)
    return message


async def test_typed_answer_in_questionnaire(stub: BotApiStub, app: Application, db: Database):
    chat = private_chat(stub)
    await start_questions(chat)
    (signs,) = await chat.ask("no pain")
    assert "Question 2 of" in signs.text
    for _, number in between_pain_and_signs():
        (signs,) = await chat.ask(str(number))  # an answer by its number
    assert "WHAT DO YOU NOTICE" in signs.html.upper()
    (ticked,) = await chat.ask("2")  # the second option, by its number
    assert "Ticked so far" in ticked.text and "Knees cave in when I land or run" in ticked.text
    (kit,) = await chat.ask("done")
    assert "WHAT EQUIPMENT" in kit.html.upper()
    (answer,) = await chat.ask("how do I do a clamshell?")  # a question is still answered
    assert "CLAMSHELL" in answer.text.upper()
    state, answers = await db.load_draft(chat.user["id"])
    assert (state, answers["pain"], answers["signs"]) == ("kit", ["none"], ["landing"])


async def test_back_button(stub: BotApiStub, app: Application, db: Database) -> None:
    chat = private_chat(stub)
    pain = await start_questions(chat)
    assert not any(data.startswith("rt:back") for data in pain.callback_data)  # the first
    second = edited(await tap_edit(chat, pain, "rt:a:pain:mild"), pain)
    (back_action,) = [data for data in second.callback_data if data.startswith("rt:back:")]
    back = await tap_edit(chat, second, back_action)
    assert "DO YOU HAVE KNEE PAIN" in back.html.upper()
    state, answers = await db.load_draft(chat.user["id"])
    assert (state, answers["pain"]) == ("pain", ["mild"])  # the answer so far stays


async def test_not_sure_explains_itself(stub: BotApiStub, app: Application) -> None:
    chat = private_chat(stub)
    pain = await start_questions(chat)
    signs = await tap_to_signs(chat, edited(await tap_edit(chat, pain, "rt:a:pain:none"), pain))
    assert "“Not sure” stands alone: ticking it clears the other ticks" in signs.text
    squat = edited(await tap_edit(chat, signs, "rt:a:signs:squat"), signs)
    unsure = edited(await tap_edit(chat, squat, "rt:a:signs:unsure"), squat)
    assert "so I cleared your other ticks" in unsure.text
    again = await tap_edit(chat, unsure, "rt:a:signs:feet")
    assert "I unticked “Not sure”" in again.text


# -- 5. self-checks and the chart --------------------------------------------------------------


async def test_self_check_every_two_weeks_is_stored_and_charted(
    stub: BotApiStub, app: Application, clock: FakeClock, db: Database
) -> None:
    chat = private_chat(stub)
    await chat.ask("/remind 12:30 mon,wed,fri")
    reminder = await fire(app, clock, stub, chat, minutes=35)
    assert "chk" in reminder.callback_data and "two-weekly self-check" in reminder.text
    (left,) = await chat.tap(reminder, "chk")
    (right,) = await chat.tap(left, "chk:slight")
    (pain,) = await chat.tap(right, "chk:slight:none")
    assert [b["text"] for b in rows(pain)[0]][:3] == ["0", "1", "2"]  # the scale side by side
    (saved,) = await chat.tap(pain, "chk:slight:none:3")
    assert "left slight, right none, pain 3/10" in saved.text
    (check,) = await db.check_history(chat.user["id"], date(2025, 1, 1))
    assert (check.left, check.right, check.pain) == ("slight", "none", 3)
    monday = await fire(app, clock, stub, chat, days=3)
    assert "chk" not in monday.callback_data
    for gap in (2, 2, 3, 2):  # Wed 2, Fri 4, Mon 7, Wed 9 April: under two weeks
        assert "chk" not in (await fire(app, clock, stub, chat, days=gap)).callback_data
    later = await fire(app, clock, stub, chat, days=2)  # Friday 11 April: two weeks on
    assert "chk" in later.callback_data
    since = stub.mark()
    chat.send("/progress")
    (photo,) = await stub.wait_for("sendPhoto", lambda c: c.chat_id == chat.id, since=since)
    assert "Self-checks: 1" in photo.text and "pain 3/10" in photo.text


async def test_empty_progress_says_so_in_words(stub: BotApiStub, app: Application) -> None:
    chat = private_chat(stub)
    since = stub.mark()
    (reply,) = await chat.ask("/progress")
    assert "Nothing logged yet, so there is no chart to show" in reply.text
    assert stub.sent("sendPhoto", since=since, chat_id=chat.id) == []


async def test_progress_text_arrives_when_the_photo_cannot_be_sent(
    stub: BotApiStub, app: Application
) -> None:
    chat = private_chat(stub)
    await chat.ask("/done")
    stub.fail("sendPhoto", times=1, status=400, description="Bad Request: PHOTO_INVALID_DIMENSIONS")
    (reply,) = await chat.ask("/progress")
    assert "Streak: 1 session" in reply.text


# -- 6. the guided session ---------------------------------------------------------------------


async def test_guided_session_walks_through_exercises_with_a_timer(
    stub: BotApiStub, app: Application, db: Database, kb: KnowledgeBase
) -> None:
    chat = private_chat(stub)
    today = await todays_session(db, chat, kb)
    step = edited(await tap_edit(chat, today, "ses:start:2025-03-28"), today)
    assert "Exercise 1 of " in step.text and "Kneeling hip flexor stretch" in step.text
    sets = int(step.text.split("set 1 of ")[1][0])
    assert "1. " in step.text  # the steps, numbered
    timer_button = "ses:t:2025-03-28:0:0:1"
    since = stub.mark()
    chat.stub.push("callback_query", stub.new_callback_query(chat.user, step.result, timer_button))
    (countdown,) = await stub.wait_for("sendMessage", lambda c: c.chat_id == chat.id, since=since)
    assert "30 s left" in countdown.text
    ticks = await stub.wait_for(
        "editMessageText",
        lambda c: c.chat_id == chat.id and "hold done" in c.text,
        since=since,
        timeout=15,
    )
    edits = stub.sent("editMessageText", since=since, chat_id=chat.id)
    assert any("25 s left" in e.text for e in edits)  # the message counted down
    hold_done = edited(ticks[0], countdown)
    set_two = edited(await tap_edit(chat, hold_done, "ses:ex:2025-03-28:0:0:2"), hold_done)
    assert f"set 2 of {sets}" in set_two.text
    step, count = set_two, int(step.text.split("Exercise 1 of ")[1][0])
    for number in range(2, count + 1):  # "Next ⏭" to each following exercise
        step = edited(await tap_edit(chat, step, f"ses:ex:2025-03-28:0:{number - 1}:1"), step)
        assert f"Exercise {number} of {count}" in step.text
    end = await tap_edit(chat, step, "ses:end:2025-03-28:0:0:1")
    assert "Session complete" in end.text and "Session logged for Friday 28 March" in end.text
    history = await db.session_history(chat.user["id"], date(2025, 3, 1))
    assert history == {date(2025, 3, 28): "done"}


# -- 7. buttons as Telegram users expect --------------------------------------------------------


async def test_reminder_buttons_one_row_and_edited_after_tap(
    stub: BotApiStub, app: Application, clock: FakeClock
) -> None:
    chat = private_chat(stub)
    (menu,) = await chat.ask("/remind")
    assert len(rows(menu)[0]) > 1  # time presets side by side
    await chat.ask("/remind 12:30 mon,wed,fri")
    reminder = await fire(app, clock, stub, chat, minutes=35)
    first_row = [b["callback_data"] for b in rows(reminder)[0]]
    assert first_row == [
        "rem:done:2025-03-28",
        f"rem:snz:{first_row[1][8:]}",
        "rem:skip:2025-03-28",
    ]
    assert all(len(b["text"]) <= 30 for b in reminder.buttons)
    since = stub.mark()
    await chat.tap(reminder, "rem:done:2025-03-28")
    (settled,) = await stub.wait_for("editMessageText", lambda c: c.chat_id == chat.id, since=since)
    assert settled.text.endswith("✅ Done") and "today's knee session" in settled.text
    assert "rem:done:2025-03-28" not in settled.callback_data


async def test_group_personal_buttons_are_deep_links(stub: BotApiStub, app: Application) -> None:
    group = group_chat(stub)
    (welcome,) = await group.ask("/start")
    links = {b["text"]: b.get("url") for b in welcome.buttons}
    assert welcome.callback_data == ["ask"]
    assert links["Build my routine"] == f"https://t.me/{stub.me['username']}?start=routine"
    assert links["Daily reminder"] == f"https://t.me/{stub.me['username']}?start=remind"
    (pointer,) = await group.ask("/remind 07:30")
    assert pointer.buttons[0]["url"].endswith("?start=remind")
    private = private_chat(stub)
    (routine,) = await private.ask("/start routine")  # what the link sends
    assert "Let's build your routine" in routine.text
    (times,) = await private.ask("/start remind")
    assert "rem:t:0730" in times.callback_data
