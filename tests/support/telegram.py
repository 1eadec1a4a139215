"""Fixtures and helpers to run the real Telegram Application against the Bot API stub.

Use from a test module:  from tests.support.telegram import botapi, tg_app, private_chat, ...
(`botapi` and `tg_app` are pytest fixtures; importing them into the module registers them.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr
from telegram.ext import Application

from bot.app import Runtime
from bot.channels.telegram import build_application, serve
from bot.clock import Clock
from bot.config import Settings
from bot.devtools.botapi_stub import BotApiStub, Call
from bot.storage.database import Database
from tests.support.clock import FakeClock

_user_ids = itertools.count(5001)
_group_ids = itertools.count(1)


def telegram_settings(base: Settings, stub: BotApiStub, **overrides: Any) -> Settings:
    """Test settings pointed at the stub, with rate limits high enough not to slow tests."""
    update: dict[str, Any] = {
        "telegram_bot_token": SecretStr(stub.token),
        "telegram_base_url": stub.url,
        "rate_overall_per_second": 1000.0,
        "rate_per_chat_per_second": 1000.0,
    }
    update.update(overrides)
    return base.model_copy(update=update)


@asynccontextmanager
async def running_bot(
    stub: BotApiStub,
    runtime: Runtime,
    settings: Settings,
    db: Database | None = None,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[Application]:
    """The real Application served exactly as `kneebot run` serves it, stopped on exit; with a
    database and a clock of the test's own when given."""
    settings = telegram_settings(settings, stub, **overrides)
    application = build_application(settings, runtime, db=db, clock=clock)
    stop = asyncio.Event()
    started = stub.mark()
    task = asyncio.create_task(serve(application, settings, stop))
    # Both modes start with a webhook call; updates pushed after it are queued until fetched.
    ready = "setWebhook" if settings.webhook_url else "deleteWebhook"
    waiter = asyncio.create_task(stub.wait_for(ready, since=started, timeout=15))
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # serve failed while starting: surface its error
        waiter.cancel()
        task.result()
    await waiter
    try:
        yield application
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


# Imported into a test module, these two give it `stub` and `db` for the whole module (its bot
# keeps running between tests). Named fixtures: the module's tests take `stub` and `db`.
@pytest_asyncio.fixture(scope="module", loop_scope="module", name="stub")
async def module_botapi() -> AsyncIterator[BotApiStub]:
    """One Bot API stub for a whole module."""
    stub = BotApiStub()
    await stub.start()
    yield stub
    await stub.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module", name="db")
async def module_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """One SQLite database for a whole module, migrated."""
    database = Database.from_settings(Settings(KNEEBOT_DATA_DIR=tmp_path_factory.mktemp("tg")))
    await database.migrate()
    yield database
    await database.close()


async def fire(
    app: Application, clock: FakeClock, stub: BotApiStub, chat: TgChat, **ahead: float
) -> Call:
    """Move the clock past the reminder time and wait for the reminder to arrive."""
    since = stub.mark()
    clock.advance(**ahead)
    app.bot_data["reminders"].dispatcher.wake()
    (message,) = await stub.wait_for("sendMessage", lambda c: c.chat_id == chat.id, since=since)
    return message


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiStub]:
    """A started Bot API stub on 127.0.0.1:<random port>."""
    stub = BotApiStub()
    await stub.start()
    yield stub
    await stub.stop()


@pytest.fixture
async def tg_app(
    botapi: BotApiStub, runtime: Runtime, settings: Settings
) -> AsyncIterator[Application]:
    """The bot running (long polling) against `botapi`, with the real coach."""
    async with running_bot(botapi, runtime, settings) as application:
        yield application


class TgChat:
    """One user in one chat, talking to the bot through the stub."""

    def __init__(self, stub: BotApiStub, chat: dict, user: dict) -> None:
        self.stub = stub
        self.chat = chat
        self.user = user
        self.last: dict = {}  # the last message this user sent

    @property
    def id(self) -> int:
        return self.chat["id"]

    def send(self, text: str | None = None, **fields: Any) -> dict:
        """Push a message from the user (text, or e.g. sticker={...}); returns the message."""
        if text is not None:
            fields["text"] = text
        message = self.stub.new_message(self.chat, self.user, **fields)
        self.stub.push("message", message)
        self.last = message
        return message

    def edit(self, message: dict, text: str) -> dict:
        """Push an edited version of an earlier message."""
        edited = {**message, "text": text, "edit_date": message["date"] + 5}
        self.stub.push("edited_message", edited)
        return edited

    async def ask(self, text: str | None = None, count: int = 1, **fields: Any) -> list[Call]:
        """Send a message and wait for the bot's `count` messages to this chat."""
        since = self.stub.mark()
        self.send(text, **fields)
        return await self.replies(since, count)

    async def tap(self, call: Call, data: str, count: int = 1) -> list[Call]:
        """Tap the button with callback data `data` under a message the bot sent."""
        assert data in call.callback_data, f"{data!r} not among {call.callback_data}"
        since = self.stub.mark()
        query = self.stub.new_callback_query(self.user, call.result, data)
        self.stub.push("callback_query", query)
        return await self.replies(since, count)

    async def replies(self, since: int, count: int = 1) -> list[Call]:
        return await self.stub.wait_for(
            "sendMessage", lambda c: c.chat_id == self.id, since=since, count=count
        )


def new_user(first_name: str = "Ann", **fields: Any) -> dict:
    return {"id": next(_user_ids), "is_bot": False, "first_name": first_name, **fields}


def private_chat(stub: BotApiStub, first_name: str = "Ann") -> TgChat:
    user = new_user(first_name)
    chat = {"id": user["id"], "type": "private", "first_name": first_name}
    return TgChat(stub, chat, user)


def group_chat(stub: BotApiStub, title: str = "Knee club", chat_id: int | None = None) -> TgChat:
    """A supergroup, seen through one member (use `member` for others)."""
    chat = {
        "id": chat_id or -1001000000000 - next(_group_ids),
        "type": "supergroup",
        "title": title,
    }
    return TgChat(stub, chat, new_user("Gus"))


def member(chat: TgChat, first_name: str = "Mia") -> TgChat:
    """Another user in the same chat."""
    return TgChat(chat.stub, chat.chat, new_user(first_name))
