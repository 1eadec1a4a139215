"""In groups the bot answers only commands, mentions of it and replies to it."""

from __future__ import annotations

from telegram.ext import Application

from bot.answering.coach import Coach
from bot.devtools.botapi_stub import BOT_USERNAME, BotApiStub
from tests.support.telegram import group_chat, member

# pytest fixtures shared by the Telegram tests

QUESTION = "how do I do a clamshell?"
STICKER = {
    "file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
    "is_animated": False, "is_video": False,
}  # fmt: skip


async def test_group_chatter_is_ignored_but_commands_are_answered(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    group = group_chat(botapi)
    since = botapi.mark()
    group.send(QUESTION)
    group.send("@some_other_bot " + QUESTION)
    group.send(sticker=STICKER)
    # The same user's updates run in order: when /help is answered the rest were handled.
    [reply] = await group.ask("/help")
    assert botapi.sent(since=since, chat_id=group.id) == [reply]
    assert reply.html == coach.help().html


async def test_mention_is_answered_as_a_quoted_reply(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    group = group_chat(botapi)
    [reply] = await group.ask(f"@{BOT_USERNAME} {QUESTION}")
    assert reply.html == (await coach.reply(QUESTION)).html
    assert reply.params["reply_parameters"]["message_id"] == group.last["message_id"]


async def test_reply_to_the_bot_is_answered_for_any_member(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    group = group_chat(botapi)
    [first] = await group.ask(f"@{BOT_USERNAME} {QUESTION}")
    other = member(group, "Mia")
    [reply] = await other.ask("what about my hips?", reply_to_message=first.result)
    assert reply.html == (await coach.reply("what about my hips?")).html


async def test_bare_mention_gets_a_hint_how_to_ask(botapi: BotApiStub, tg_app: Application) -> None:
    [hint] = await group_chat(botapi).ask(f"@{BOT_USERNAME}")
    assert f"@{BOT_USERNAME} why do my knees cave in?" in hint.text


async def test_sticker_in_reply_to_the_bot_gets_i_read_text(
    botapi: BotApiStub, tg_app: Application
) -> None:
    group = group_chat(botapi)
    [first] = await group.ask("/help")
    [reply] = await group.ask(sticker=STICKER, reply_to_message=first.result)
    assert "I can only read text" in reply.text


async def test_commands_for_other_bots_are_ignored(
    botapi: BotApiStub, tg_app: Application, coach: Coach
) -> None:
    group = group_chat(botapi)
    since = botapi.mark()
    group.send("/start@some_other_bot")
    group.send("/frobnicate")
    [reply] = await group.ask(f"/frobnicate@{BOT_USERNAME}")
    assert botapi.sent(since=since, chat_id=group.id) == [reply]
    assert reply.html == coach.unknown_command("/frobnicate").html


async def test_ask_button_in_a_group_says_how_to_address_the_bot(
    botapi: BotApiStub, tg_app: Application
) -> None:
    group = group_chat(botapi)
    [welcome] = await group.ask(f"/start@{BOT_USERNAME}")
    [prompt] = await group.tap(welcome, "ask")
    assert f"@{BOT_USERNAME}" in prompt.text
