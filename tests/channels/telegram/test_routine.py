"""/routine through the real Application and the Bot API stub: button taps to a finished routine."""

from __future__ import annotations

from telegram.ext import Application

from bot import privacy
from bot.app import Runtime
from bot.channels.telegram import answers
from bot.channels.telegram import routine as telegram_routine
from bot.coaching import flow as routine_flow
from bot.coaching import screens as routine_replies
from bot.coaching.builder import Routine
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub, Call
from bot.reminders import schedule
from tests.support.telegram import TgChat, group_chat, private_chat, running_bot

# The stub and the running bot, as fixtures of this module.

QUESTIONS = [
    ("rt:a:pain:none", "DO YOU HAVE KNEE PAIN"),
    ("rt:a:age:16-64", "HOW OLD"),
    ("rt:a:signs:feet", "WHAT DO YOU NOTICE"),
    ("rt:a:signs:squat", "WHAT DO YOU NOTICE"),
    ("rt:ok:signs", "WHAT DO YOU NOTICE"),
    ("rt:a:kit:band", "WHAT EQUIPMENT"),
    ("rt:ok:kit", "WHAT EQUIPMENT"),
    ("rt:a:level:beginner", "HOW MUCH TRAINING"),
    ("rt:a:minutes:10", "HOW MANY MINUTES"),
]


async def tap_edit(chat: TgChat, call: Call, data: str) -> Call:
    """Tap a button whose answer replaces the message in place; returns the edit."""
    assert data in call.callback_data, f"{data!r} not among {call.callback_data}"
    since = chat.stub.mark()
    chat.stub.push("callback_query", chat.stub.new_callback_query(chat.user, call.result, data))
    [edit] = await chat.stub.wait_for(
        "editMessageText", lambda c: c.chat_id == chat.id, since=since
    )
    return edit


async def answer_all_but_the_last(chat: TgChat) -> Call:
    """/routine, start, and every answer up to the days question; returns that question."""
    [intro] = await chat.ask("/routine")
    assert intro.callback_data == ["rt:check", "rt:go"]
    check = await tap_edit(chat, intro, "rt:check")
    assert "single-leg squats or step-downs" in check.text
    message = await tap_edit(chat, check, "rt:go")
    for data, shown_before in QUESTIONS:
        assert shown_before in message.html.upper()
        message = await tap_edit(chat, message, data)
    assert "HOW MANY DAYS A WEEK" in message.html.upper()
    return message


def stored_routine(application: Application, user_id: int):
    return application.bot_data["features"].db.load_profile(user_id)


async def test_button_taps_lead_to_a_finished_routine(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    days = await answer_all_but_the_last(chat)
    since = botapi.mark()
    [routine] = await chat.tap(days, "rt:a:days:3")
    assert "Your routine: 10 minutes a day, 3 days a week" in routine.text
    assert "chosen because you said your feet are flat or your ankles roll in" in routine.text
    assert routine.callback_data[0] == "rt:today" and "rt:redo" in routine.callback_data
    [dropped] = await botapi.wait_for("editMessageReplyMarkup", since=since)
    assert "reply_markup" not in dropped.result  # the finished questionnaire lost its buttons
    answers, data = await stored_routine(tg_app, chat.id)
    assert answers["signs"] == ["feet", "squat"]
    assert Routine.from_dict(data).profile.equipment == ("band",)
    [today] = await chat.tap(routine, "rt:today")
    assert "Today's session" in today.text or "Rest day" in today.text
    [typed] = await chat.ask("/today")
    assert typed.text == today.text
    said, shown = await chat.ask("whats my workout today?", count=2)
    assert "/today" in said.text and shown.text == today.text


async def test_pain_at_rest_gets_the_safety_reply_and_no_routine(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    [intro] = await chat.ask("/routine")
    pain = await tap_edit(chat, intro, "rt:go")
    [stop] = await chat.tap(pain, "rt:a:pain:serious")
    assert "Let's not start a routine yet" in stop.text
    assert stop.callback_data == []
    assert await stored_routine(tg_app, chat.id) is None


async def test_answers_survive_a_restart_mid_way(
    botapi: BotApiStub, runtime: Runtime, settings: Settings
) -> None:
    chat = private_chat(botapi)
    async with running_bot(botapi, runtime, settings):
        [intro] = await chat.ask("/routine")
        pain = await tap_edit(chat, intro, "rt:go")
        age = await tap_edit(chat, pain, "rt:a:pain:mild")
        signs = await tap_edit(chat, age, "rt:a:age:16-64")
        signs = await tap_edit(chat, signs, "rt:a:signs:hips")
    async with running_bot(botapi, runtime, settings) as application:
        kit = await tap_edit(chat, signs, "rt:ok:signs")  # the old message's button still works
        assert "WHAT EQUIPMENT" in kit.html.upper()
        [resumed] = await chat.ask("/routine")
        assert "Welcome back" in resumed.text and "rt:ok:kit" in resumed.callback_data
        [cancelled] = await chat.ask("/cancel")
        assert "Left the questionnaire" in cancelled.text
        assert await application.bot_data["features"].db.load_draft(chat.id) is None


async def test_a_button_of_a_finished_questionnaire_restarts_with_a_message(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    days = await answer_all_but_the_last(chat)
    await chat.tap(days, "rt:a:days:5")
    [again] = await chat.tap(days, "rt:a:days:5")
    assert "That questionnaire has ended" in again.text
    assert again.callback_data == ["rt:check", "rt:go"]


async def test_a_question_mid_way_is_answered_and_the_questionnaire_goes_on(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    [intro] = await chat.ask("/routine")
    pain = await tap_edit(chat, intro, "rt:go")
    [answer] = await chat.ask("how do I do a clamshell?")
    assert "CLAMSHELL" in answer.text.upper()
    age = await tap_edit(chat, pain, "rt:a:pain:none")
    assert "HOW OLD" in age.html.upper()


async def test_too_hard_swaps_in_the_easier_version(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    days = await answer_all_but_the_last(chat)
    [routine] = await chat.tap(days, "rt:a:days:7")
    [menu] = await chat.tap(routine, "rt:hard")
    ease = next(data for data in menu.callback_data if data.startswith("rt:ease:"))
    [eased] = await chat.tap(menu, ease)
    assert "back to an easier level" in eased.text
    _, data = await stored_routine(tg_app, chat.id)
    assert ease.removeprefix("rt:ease:") in Routine.from_dict(data).profile.eased


async def test_the_start_button_opens_the_questionnaire(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    [welcome] = await chat.ask("/start")
    [intro] = await chat.tap(welcome, "routine")
    assert "Let's build your routine" in intro.text


async def test_routine_in_a_group_points_to_the_private_chat(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = group_chat(botapi)
    [reply] = await chat.ask("/routine@" + botapi.me["username"])
    assert "private chat" in reply.text and reply.callback_data == []


def test_shared_helpers_have_one_home() -> None:
    """One copy each: a fix to the spinner, the log hash or the day names reaches every caller."""
    assert telegram_routine.acknowledge is answers.acknowledge
    assert routine_flow.user_ref is privacy.user_ref
    assert routine_replies.DAY_NAMES is schedule.DAY_NAMES
