"""The bot survives failing API calls and hostile text, and always says something useful."""

from __future__ import annotations

import logging

import pytest
from telegram.ext import Application

from bot.answering.coach import Coach
from bot.app import Runtime
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub
from tests.support.telegram import private_chat, running_bot

# pytest fixtures shared by the Telegram tests

QUESTION = "how do I do a clamshell?"
APOLOGY = "Sorry — something went wrong on my side"


@pytest.mark.parametrize(
    "failure",
    [{"status": 500}, {"status": 502}, {"drop": True}],
    ids=["500", "502", "dropped-connection"],
)
async def test_failed_send_gets_an_apology_and_the_bot_keeps_answering(
    botapi: BotApiStub, tg_app: Application, coach: Coach, failure: dict
) -> None:
    chat = private_chat(botapi)
    botapi.fail("sendMessage", times=1, **failure)
    [apology] = await chat.ask(QUESTION)
    assert APOLOGY in apology.text
    [answer] = await chat.ask(QUESTION)
    assert answer.html == (await coach.reply(QUESTION)).html


async def test_failed_poll_is_retried_and_later_messages_arrive(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    botapi.fail("getUpdates", times=1, status=500)
    await chat.ask("/help")  # the poll in flight delivers this one; the next poll fails
    await botapi.wait_for("getUpdates", ok=False)
    [reply] = await chat.ask("/help")
    assert "/start" in reply.text


async def test_too_many_requests_is_retried_after_retry_after(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi)
    since = botapi.mark()
    botapi.fail("sendMessage", times=1, status=429, retry_after=1)
    [answer] = await chat.ask(QUESTION)
    assert answer.html == (await coach.reply(QUESTION)).html
    assert [c.status for c in botapi.calls[since:] if c.method == "sendMessage"] == [429, 200]


async def test_blocked_user_gets_no_apology_attempt_and_others_are_unaffected(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi)
    since = botapi.mark()
    botapi.fail("sendMessage", times=1, status=403, chat_id=chat.id)
    chat.send(QUESTION)
    [reply] = await chat.ask("/help")  # handled after the failed one: same user, in order
    sends = [c for c in botapi.calls[since:] if c.method == "sendMessage"]
    assert [c.status for c in sends] == [403, 200]
    assert reply.html == coach.help().html


async def test_handler_error_is_logged_with_update_id_and_admins_are_told(
    botapi: BotApiStub, runtime: Runtime, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    admin = private_chat(botapi, "Admin")
    botapi.chats[admin.id] = admin.chat
    async with running_bot(botapi, runtime, settings, admin_ids=[admin.id]):
        chat = private_chat(botapi)
        botapi.fail("sendMessage", times=1, status=400, description="Bad Request: boom")
        [apology] = await chat.ask(QUESTION)
        [notice] = await botapi.wait_for("sendMessage", lambda c: c.chat_id == admin.id)
    assert APOLOGY in apology.text
    assert "BadRequest" in notice.text and QUESTION not in notice.text
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and "failed" in r.message]
    assert failed and failed[0].message.startswith("update ")
    assert QUESTION not in failed[0].message


async def test_cosmetic_calls_failing_do_not_stop_answers(
    botapi: BotApiStub, runtime: Runtime, settings: Settings, coach: Coach
) -> None:
    botapi.fail("setMyCommands", times=1, status=500)
    async with running_bot(botapi, runtime, settings):
        chat = private_chat(botapi)
        botapi.fail("sendChatAction", times=1, status=500)
        [answer] = await chat.ask(QUESTION)
        assert answer.html == (await coach.reply(QUESTION)).html
        botapi.fail(
            "answerCallbackQuery", times=1, status=400, description="Bad Request: query is too old"
        )
        [welcome] = await chat.ask("/start")
        [prompt] = await chat.tap(welcome, "ask")
        assert "type your question" in prompt.text
    assert [c.status for c in botapi.calls if c.method == "setMyCommands"] == [500]


@pytest.mark.parametrize(
    "text",
    [
        '<b>bold</b> <script>alert("x")</script> & <a href="javascript:x">link</a> </i>',
        "{{ 7 * 7 }} {% for x in range(3) %}{{ x }}{% endfor %} ${7*7} %s %(name)s",
        "why do my knees cave in " * 200 + "x" * 100,  # 5,000 characters
        "\u202eevif\u202c knee\u200b\u200dpain 👩‍👩‍👧 ñ̃ 𝔨𝔫𝔢𝔢 膝 \x00 \ufffd",
    ],
    ids=["html", "template-syntax", "5000-chars", "odd-unicode"],
)
async def test_hostile_text_gets_a_valid_reply(
    botapi: BotApiStub, tg_app: Application, coach: Coach, text: str
) -> None:
    [reply] = await private_chat(botapi).ask(text)
    assert reply.html == (await coach.reply(text)).html  # the stub accepted it: valid HTML
    assert "49" not in reply.text
    assert "<script>" not in reply.text


async def test_message_over_4096_characters_is_answered(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    text = "Why do my knees cave in when I squat? " * 130  # about 5,000 characters
    assert len(text) > 4096
    [reply] = await private_chat(botapi).ask(text)
    assert reply.html == (await coach.reply(text)).html
