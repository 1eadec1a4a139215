"""The Bot API stub checks what the bot sends the way Telegram does, through real HTTP."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.devtools.botapi_stub import ApiError, BotApiStub, parse_html, text_entities
from tests.support.telegram import private_chat

# pytest fixtures shared by the Telegram tests

CHAT = {"id": 42, "type": "private", "first_name": "Ann"}


def bot_for(stub: BotApiStub, token: str | None = None) -> Bot:
    return Bot(
        token or stub.token, base_url=f"{stub.url}/bot", base_file_url=f"{stub.url}/file/bot"
    )


@pytest.fixture
async def bot(botapi: BotApiStub):
    botapi.chats[CHAT["id"]] = CHAT
    async with bot_for(botapi) as client:
        yield client


# -- Telegram's HTML ----------------------------------------------------------------------------


def test_allowed_tags_pass_and_entities_decode() -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><del>d</del>"
        '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler><a href="https://e.org">a</a>'
        '<code>c</code><pre><code class="language-py">p</code></pre><blockquote>q</blockquote>'
        "&lt;&gt;&amp;&quot;&#65;&#x42; AT&T"
    )
    assert parse_html(html) == 'bsieunsdxyacpq<>&"AB AT&T'


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("a <br> b", 'Unsupported start tag "br"'),
        ("<script>x</script>", 'Unsupported start tag "script"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag"),
        ("1 < 2", "start tag"),
        ("<b x", "Unclosed start tag"),
        ('<span class="red">x</span>', 'must have class "tg-spoiler"'),
        ("<a>x</a>", 'must have attribute "href"'),
        ("<code><b>x</b></code>", "can't be nested"),
    ],
)
def test_invalid_html_is_rejected_like_telegram(html: str, error: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_html(html)
    assert raised.value.status == 400
    assert raised.value.description.startswith("Bad Request: can't parse entities:")
    assert error in raised.value.description


def test_commands_and_mentions_get_entities_with_utf16_offsets() -> None:
    assert text_entities("/start@kneebot_test_bot hi") == [
        {"type": "bot_command", "offset": 0, "length": 23}
    ]
    assert text_entities("🦵 @kneebot_test_bot") == [{"type": "mention", "offset": 3, "length": 17}]


# -- over HTTP, with PTB as the client ----------------------------------------------------------


async def test_unknown_token_gets_401(botapi: BotApiStub) -> None:
    with pytest.raises(InvalidToken):
        async with bot_for(botapi, token="1:wrong"):
            pass
    assert botapi.calls[-1].status == 401


async def test_send_message_limits(botapi: BotApiStub, bot: Bot) -> None:
    await bot.send_message(42, "x" * 4096)
    await bot.send_message(42, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags don't count
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(42, "🦵" * 2049)  # 4,098 UTF-16 units
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(42, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999, "hi")
    assert [c.status for c in botapi.calls if c.method == "sendMessage"] == [
        200,
        200,
        400,
        400,
        400,
        400,
    ]


async def test_callback_data_over_64_bytes_is_rejected(bot: Bot) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(42, "fits", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(42, "too long", reply_markup=too_long)


async def test_injected_failures_map_to_telegram_errors(botapi: BotApiStub, bot: Bot) -> None:
    botapi.fail("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(42, "a")
    botapi.fail("sendMessage", status=403)
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await bot.send_message(42, "b")
    botapi.fail("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(42, "c")
    botapi.fail("sendMessage", drop=True)
    with pytest.raises(NetworkError):
        await bot.send_message(42, "d")
    await bot.send_message(42, "e")  # failures are used up
    assert [c.status for c in botapi.calls if c.method == "sendMessage"] == [
        429,
        403,
        500,
        500,
        0,
        200,
    ]


async def test_failure_for_one_chat_leaves_others_alone(botapi: BotApiStub, bot: Bot) -> None:
    botapi.chats[43] = {**CHAT, "id": 43}
    botapi.fail("sendMessage", status=403, chat_id=43)
    await bot.send_message(42, "fine")
    with pytest.raises(Forbidden):
        await bot.send_message(43, "blocked")


async def test_get_updates_honours_offset_and_long_polls(botapi: BotApiStub, bot: Bot) -> None:
    chat = private_chat(botapi)
    for text in ("one", "two", "three"):
        chat.send(text)
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["one", "two", "three"]
    rest = await bot.get_updates(offset=first[1].update_id, timeout=0)
    assert [u.message.text for u in rest] == ["two", "three"]
    assert await bot.get_updates(offset=first[2].update_id + 1, timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(offset=first[2].update_id + 1, timeout=20))
    await asyncio.sleep(0.1)
    chat.send("four")
    [update] = await asyncio.wait_for(poll, timeout=5)
    assert update.message.text == "four"


async def test_edit_answer_and_commands_are_validated(botapi: BotApiStub, bot: Bot) -> None:
    sent = await bot.send_message(42, "v1")
    await bot.edit_message_text("v2", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("v2", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)not found"):
        await bot.edit_message_text("v3", chat_id=42, message_id=999)
    with pytest.raises(BadRequest, match="(?i)query id is invalid"):
        await bot.answer_callback_query("no-such-query")
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([("Not-Valid", "x")])
    await bot.set_my_commands([("start", "what I can do")])
    assert botapi.commands == [{"command": "start", "description": "what I can do"}]


async def test_photos_are_uploaded_as_multipart_and_served_back(
    botapi: BotApiStub, bot: Bot
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    message = await bot.send_photo(42, png, caption="<b>chart</b>", parse_mode="HTML")
    assert botapi.files[f"photos/{message.photo[0].file_id}.jpg"] == png
    file = await bot.get_file(message.photo[0].file_id)
    assert bytes(await file.download_as_bytearray()) == png
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(42, png, caption="x" * 1025)


async def test_active_webhook_blocks_get_updates(botapi: BotApiStub, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="abc_DEF-1")
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_unknown_method_is_404_and_wait_for_times_out_clearly(botapi: BotApiStub) -> None:
    url = f"{botapi.url}/bot{botapi.token}/noSuchMethod"
    async with aiohttp.ClientSession() as client, client.post(url) as response:
        assert response.status == 404
        assert (await response.json())["ok"] is False
    with pytest.raises(AssertionError, match="no 1× sendMessage within 0.1 s"):
        await botapi.wait_for("sendMessage", timeout=0.1)


async def test_animations_upload_once_and_are_validated_like_telegram(
    botapi: BotApiStub, bot: Bot
) -> None:
    gif = b"GIF89a" + (320).to_bytes(2, "little") + (240).to_bytes(2, "little") + bytes(64)
    message = await bot.send_animation(
        42, gif, filename="x.gif", caption="<b>how</b>", parse_mode="HTML"
    )
    assert (message.animation.width, message.animation.height) == (320, 240)
    assert message.caption == "how"
    again = await bot.send_animation(42, message.animation.file_id)
    assert again.animation.file_id == message.animation.file_id
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_animation(42, "no-such-file-id")
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_animation(42, gif, filename="x.gif", caption="x" * 1025)
    text_file = await bot.send_animation(42, b"not a picture", filename="x.txt")
    assert text_file.animation is None and text_file.document is not None  # sent as a file
