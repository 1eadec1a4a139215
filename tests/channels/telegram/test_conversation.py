"""Conversations with the real bot through the Bot API stub: commands, questions, buttons."""

from __future__ import annotations

import re

import pytest
from telegram.ext import Application, CallbackContext

from bot.answering.coach import COMMANDS, Coach
from bot.channels.console.chat import ConsoleChat
from bot.channels.telegram import FEATURES
from bot.channels.telegram.render import send_reply
from bot.devtools.botapi_stub import BotApiStub, parse_html
from bot.replies import Button, Reply, ReplyKind
from tests.support.telegram import private_chat

# pytest fixtures shared by the Telegram tests

HOWTO_QUESTION = "how do I do a clamshell?"
STICKER = {
    "file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
    "is_animated": False, "is_video": False, "emoji": "🦵",
}  # fmt: skip
SAFETY_QUESTION = "I heard a pop in my knee after landing and it swelled up within an hour"


def assert_same_reply(call, reply: Reply) -> None:
    """The Telegram message carries exactly the core's reply: HTML and buttons."""
    assert call.params["parse_mode"] == "HTML"
    assert call.html == reply.html
    assert call.callback_data == [button.action for button in reply.buttons]
    assert [b["text"] for b in call.buttons] == [button.label for button in reply.buttons]


async def test_start_greets_offers_three_buttons_and_sets_the_command_menu(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi, first_name="Ann")
    [welcome] = await chat.ask("/start")
    assert_same_reply(welcome, coach.welcome("Ann"))
    assert "Hi, Ann!" in welcome.text
    assert welcome.callback_data == ["ask", "routine", "remind"]
    assert [c["command"] for c in botapi.commands] == [command for command, _ in COMMANDS]


async def test_help_lists_every_command(botapi: BotApiStub, tg_app: Application) -> None:
    [reply] = await private_chat(botapi).ask("/help")
    for command, _ in COMMANDS:
        assert f"/{command}" in reply.text


async def test_howto_question_gets_the_exercise_with_its_buttons(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    expected = await coach.reply(HOWTO_QUESTION)
    assert expected.kind is ReplyKind.HOWTO
    chat = private_chat(botapi)
    [reply] = await chat.ask(HOWTO_QUESTION)
    assert_same_reply(reply, expected)
    await assert_more_names_sources(chat, reply, coach)


async def test_answer_names_sources_and_offers_how_to_buttons(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    cause = next(chunk for chunk in coach.kb.chunks if chunk.kind.value == "cause")
    expected = await coach.reply(f"{cause.title}: {cause.summary}")
    assert expected.kind is ReplyKind.ANSWER
    chat = private_chat(botapi)
    [reply] = await chat.ask(f"{cause.title}: {cause.summary}")
    assert_same_reply(reply, expected)
    assert any(data.startswith("howto:") for data in reply.callback_data)
    await assert_more_names_sources(chat, reply, coach)


async def assert_more_names_sources(chat, reply, coach: Coach) -> None:
    """The first message fits a phone; "Tell me more" brings the detail and its sources."""
    data = next(d for d in reply.callback_data if d.startswith("more:"))
    [more] = await chat.tap(reply, data)
    assert_same_reply(more, coach.more(data.removeprefix("more:")))
    assert "Sources:" in more.text


async def test_tapping_how_do_i_do_it_shows_that_exercise(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    cause = next(chunk for chunk in coach.kb.chunks if chunk.kind.value == "cause")
    chat = private_chat(botapi)
    [answer] = await chat.ask(f"{cause.title}: {cause.summary}")
    data = next(d for d in answer.callback_data if d.startswith("howto:"))
    [howto] = await chat.tap(answer, data)
    assert_same_reply(howto, coach.topic(data.removeprefix("howto:")))
    assert botapi.sent("answerCallbackQuery", since=botapi.calls.index(answer))


async def test_red_flag_gets_safety_reply_without_exercises(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    expected = await coach.reply(SAFETY_QUESTION)
    assert expected.kind is ReplyKind.SAFETY
    [reply] = await private_chat(botapi).ask(SAFETY_QUESTION)
    assert_same_reply(reply, expected)
    assert reply.callback_data == []


async def test_off_topic_question_gets_unknown_reply(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    [reply] = await private_chat(botapi).ask("??? !!! ...")
    assert_same_reply(reply, coach.unknown())


async def test_ask_button_prompts_for_a_question(botapi: BotApiStub, tg_app: Application) -> None:
    chat = private_chat(botapi)
    [welcome] = await chat.ask("/start")
    [prompt] = await chat.tap(welcome, "ask")
    assert "type your question" in prompt.text


@pytest.mark.parametrize("action", ["routine", "remind"])
async def test_feature_buttons_are_never_dead(
    botapi: BotApiStub, tg_app: Application, coach: Coach, action: str
) -> None:
    chat = private_chat(botapi)
    [welcome] = await chat.ask("/start")
    [reply] = await chat.tap(welcome, action)
    if action not in " ".join(FEATURES):  # until the feature module exists, help is the answer
        assert reply.html == coach.help().html
    assert botapi.sent("answerCallbackQuery")


async def test_stale_or_unknown_button_gets_help_not_an_error(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi)
    [welcome] = await chat.ask("/start")
    welcome.params["reply_markup"]["inline_keyboard"].append(
        [{"text": "old", "callback_data": "topic:no-such-chunk"}]
    )
    [reply] = await chat.tap(welcome, "topic:no-such-chunk")
    assert reply.html == coach.unknown().html


async def test_unknown_command_says_unknown(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    [reply] = await private_chat(botapi).ask("/frobnicate now")
    assert reply.text.startswith("I do not know the command /frobnicate.")
    assert reply.html.endswith(coach.help().html)  # then the help, as before


@pytest.mark.parametrize(
    ("kind", "payload", "name"),
    [
        ("sticker", STICKER, "stickers"),
        ("photo", [{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}], "photos"),
        ("voice", {"file_id": "v1", "file_unique_id": "v1", "duration": 3}, "voice messages"),
        ("document", {"file_id": "d1", "file_unique_id": "d1", "file_name": "x.pdf"}, "files"),
        ("contact", {"phone_number": "+100", "first_name": "Al"}, "contacts"),
    ],
)  # fmt: skip
async def test_non_text_messages_get_a_polite_i_read_text(
    botapi: BotApiStub, tg_app: Application, kind: str, payload: object, name: str
) -> None:
    [reply] = await private_chat(botapi).ask(**{kind: payload})
    assert "I can only read text" in reply.text
    assert name in reply.text


async def test_edited_message_gets_no_second_answer(
    botapi: BotApiStub, tg_app: Application
) -> None:
    chat = private_chat(botapi)
    since = botapi.mark()
    [first] = await chat.ask(HOWTO_QUESTION)
    chat.edit(botapi.messages[(chat.id, 1)], "how do I do a side plank?")
    # One user's updates are handled in order, so once /help is answered the edit was seen.
    [after] = await chat.ask("/help")
    assert botapi.sent(since=since, chat_id=chat.id) == [first, after]


async def test_one_users_messages_are_answered_in_order(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi)
    since = botapi.mark()
    chat.send(HOWTO_QUESTION)  # needs the model: slower than /help
    chat.send("/help")
    first, second = await chat.replies(since, count=2)
    assert first.html == (await coach.reply(HOWTO_QUESTION)).html
    assert second.html == coach.help().html


async def test_different_users_are_answered_concurrently_and_independently(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chats = [private_chat(botapi, f"user{n}") for n in range(5)]
    since = botapi.mark()
    for chat in chats:
        chat.send(HOWTO_QUESTION)
    expected = (await coach.reply(HOWTO_QUESTION)).html
    for chat in chats:
        [reply] = await chat.replies(since)
        assert reply.html == expected


async def test_reply_over_4096_characters_is_split_at_paragraphs(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    chat = private_chat(botapi)
    await chat.ask("/start")  # the stub only knows chats that wrote to the bot
    paragraphs = [f"<b>Part {n}</b>\n" + "word " * 150 + f"end {n}." for n in range(12)]
    button = Button("How do I do: Clamshell", "howto:clamshell")
    long = Reply(ReplyKind.ANSWER, "\n\n".join(paragraphs), "", (), (button,))
    since = botapi.mark()
    await send_reply(chat.id, CallbackContext(tg_app), long)
    parts = botapi.sent(since=since)
    assert len(parts) >= 2
    assert all(len(part.text) <= 4096 for part in parts)
    assert all(part.text.rstrip().endswith(".") for part in parts)  # cut at paragraph ends
    assert "".join(parse_html(p.html) for p in parts).count("Part ") == 12
    assert [bool(part.buttons) for part in parts] == [False] * (len(parts) - 1) + [True]


def words(text: str) -> list[str]:
    """Content without markup: HTML tags, plain-text headings and capitals aside."""
    return re.findall(r"\w+", text.lower())


async def test_console_and_telegram_give_the_same_reply_and_choices(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    cause = next(chunk for chunk in coach.kb.chunks if chunk.kind.value == "cause")
    question = f"{cause.title}: {cause.summary}"
    console = ConsoleChat(coach)
    chat = private_chat(botapi)
    printed = await console.handle(question)
    [sent] = await chat.ask(question)
    body, _, choices = printed.partition("\n\n  [1] ")
    assert words(sent.text) == words(body)
    assert [b["text"] for b in sent.buttons] == [b.label for b in console.choices]
    # Choice 1 in the console is the first button on Telegram.
    printed = await console.handle("1")
    [tapped] = await chat.tap(sent, sent.callback_data[0])
    assert words(tapped.text) == words(printed.partition("\n\n  [1] ")[0])
