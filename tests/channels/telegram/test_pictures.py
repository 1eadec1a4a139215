"""A how-to on Telegram comes with its drawn animation; without one, or if it fails, the text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import Application, CallbackContext

from bot.answering.coach import Coach
from bot.app import Runtime
from bot.channels.console.chat import ConsoleChat
from bot.channels.telegram.render import send_reply
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub
from bot.knowledge import KnowledgeBase
from bot.pictures.cache import build_pictures
from bot.pictures.files import animation_path, still_path
from bot.replies import Reply, ReplyKind, Source
from tests.support.telegram import private_chat, running_bot

HOWTO_QUESTION = "how do I do a clamshell?"


@pytest.fixture(scope="module")
def pictures_index(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Path:
    """An index dir holding the clamshell's pictures only."""
    index_dir = tmp_path_factory.mktemp("pictures-index")
    only = KnowledgeBase(chunks=(kb.by_id("clamshell"),), fingerprint="clamshell")
    build_pictures(only, index_dir)
    return index_dir


@pytest.fixture
async def pictured_bot(
    botapi: BotApiStub, runtime: Runtime, settings: Settings, pictures_index: Path
) -> AsyncIterator[Application]:
    async with running_bot(botapi, runtime, settings, index_dir=pictures_index) as application:
        yield application


async def test_howto_arrives_as_its_animation_with_the_steps_as_caption(
    botapi: BotApiStub, pictured_bot: Application, coach: Coach, pictures_index: Path
) -> None:
    expected = await coach.reply(HOWTO_QUESTION)
    chat = private_chat(botapi)
    since = botapi.mark()
    chat.send(HOWTO_QUESTION)
    [animation] = await botapi.wait_for(
        "sendAnimation", lambda call: call.chat_id == chat.id, since=since
    )
    assert animation.files["animation"] == animation_path(pictures_index, "clamshell").read_bytes()
    assert animation.result["animation"]["width"] > 100  # Telegram took it as a GIF animation
    # The phone-sized how-to fits a caption, so steps and buttons ride on the animation.
    assert animation.params["caption"] == expected.html
    assert animation.callback_data == [button.action for button in expected.buttons]
    assert botapi.sent("sendMessage", since=since, chat_id=chat.id) == []


async def test_steps_longer_than_a_caption_follow_the_animation(
    botapi: BotApiStub, pictured_bot: Application, coach: Coach
) -> None:
    full = coach.howto(coach.kb.by_id("clamshell"))
    long = Reply(
        ReplyKind.HOWTO, full.html + "\n" + "step " * 300 + "end", "", full.sources, full.buttons
    )
    chat = private_chat(botapi)
    botapi.chats[chat.id] = chat.chat  # known to the stub, as if the user had written first
    since = botapi.mark()
    await send_reply(chat.id, CallbackContext(pictured_bot), long)
    [animation] = botapi.sent("sendAnimation", since=since, chat_id=chat.id)
    [text] = botapi.sent("sendMessage", since=since, chat_id=chat.id)
    assert "caption" not in animation.params and botapi.calls.index(animation) < botapi.calls.index(
        text
    )
    assert text.html == long.html
    assert text.callback_data == [button.action for button in full.buttons]


async def test_the_same_picture_is_uploaded_once_then_sent_by_file_id(
    botapi: BotApiStub, pictured_bot: Application
) -> None:
    chat = private_chat(botapi)
    since = botapi.mark()
    for count in (1, 2):
        chat.send(HOWTO_QUESTION)
        await botapi.wait_for(
            "sendAnimation", lambda call: call.chat_id == chat.id, since=since, count=count
        )
    first, second = botapi.sent("sendAnimation", since=since, chat_id=chat.id)
    assert "animation" in first.files and not second.files
    assert second.params["animation"] == first.result["animation"]["file_id"]


async def test_failed_upload_still_sends_the_text(
    botapi: BotApiStub, pictured_bot: Application, coach: Coach
) -> None:
    expected = await coach.reply(HOWTO_QUESTION)
    botapi.fail(
        "sendAnimation", times=5, status=400, description="Bad Request: IMAGE_PROCESS_FAILED"
    )
    [text] = await private_chat(botapi).ask(HOWTO_QUESTION)
    assert text.html == expected.html and text.callback_data


async def test_exercise_without_a_built_picture_gets_the_text_only(
    botapi: BotApiStub, pictured_bot: Application, coach: Coach
) -> None:
    question = "how do I do a calf raise?"
    expected = await coach.reply(question)
    assert expected.kind is ReplyKind.HOWTO and expected.sources[0].id == "calf-raise"
    chat = private_chat(botapi)
    since = botapi.mark()
    [text] = await chat.ask(question)
    assert text.html == expected.html
    assert botapi.sent("sendAnimation", since=since, chat_id=chat.id) == []


async def test_short_howto_rides_as_the_caption_with_its_buttons(
    botapi: BotApiStub, pictured_bot: Application, coach: Coach
) -> None:
    full = coach.howto(coach.kb.by_id("clamshell"))
    short = Reply(
        ReplyKind.HOWTO, "<b>Clamshell</b>\nLie on your side.", "", full.sources, full.buttons
    )
    chat = private_chat(botapi)
    botapi.chats[chat.id] = chat.chat  # known to the stub, as if the user had written first
    since = botapi.mark()
    [message] = await send_reply(chat.id, CallbackContext(pictured_bot), short)
    [animation] = botapi.sent("sendAnimation", since=since, chat_id=chat.id)
    assert animation.params["caption"] == short.html and animation.params["parse_mode"] == "HTML"
    assert animation.callback_data == [button.action for button in full.buttons]
    assert botapi.sent("sendMessage", since=since, chat_id=chat.id) == []
    assert message.animation is not None


async def test_console_prints_where_the_picture_is(coach: Coach, pictures_index: Path) -> None:
    chat = ConsoleChat(coach, index_dir=pictures_index)
    output = await chat.handle(HOWTO_QUESTION)
    assert str(still_path(pictures_index, "clamshell")) in output
    assert str(animation_path(pictures_index, "clamshell")) in output
    answer = await chat.handle("why do my knees cave in when I squat?")
    assert str(pictures_index) not in answer


def test_picture_source_is_the_first_source_of_a_howto_only(pictures_index: Path) -> None:
    from bot.pictures import picture_of

    source = (Source("clamshell", "Clamshell", 1.0),)
    assert picture_of(Reply(ReplyKind.HOWTO, "x", "x", source), pictures_index) is not None
    assert picture_of(Reply(ReplyKind.ANSWER, "x", "x", source), pictures_index) is None
