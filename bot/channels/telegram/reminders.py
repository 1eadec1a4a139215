"""Reminders on Telegram: /remind /timezone /reminders /stop /forget /progress, the reminder
buttons, and the DB-driven dispatcher loop (started with the application, stopped after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.answering.coach import Reply
from bot.privacy import user_ref
from bot.reminders.commands import FORGET_NO, FORGET_YES, ProgressReply, Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher, SendFn
from bot.reminders.schedule import shifted
from bot.storage.database import CONSOLE_USER_ID, Database, Delivery, Scope

from .render import drop_buttons, in_private, messages, send_reply
from .services import Services

log = logging.getLogger(__name__)

FEATURE_KEY = "reminders"
NEW_MESSAGES = filters.UpdateType.MESSAGE
BUTTONS = r"^(remind$|rem:)"
ACK_ACTIONS = ("rem:done:", "rem:skip:", "rem:snz:")  # taps that settle a reminder message
PRIVATE_TEMPLATE = "reminders_private.j2"  # the pointer to the private chat, sent in groups
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


@dataclass
class Feature:
    """What the feature keeps for the application's lifetime."""

    db: Database
    subscriptions: Subscriptions
    dispatcher: Dispatcher
    own_db: bool  # created here (closed in finish) rather than handed in by the app
    task: asyncio.Task | None = None


def register(application: Application) -> None:
    """Commands and buttons of the reminder feature (before the catch-all text handler)."""
    commands = {
        "remind": remind,
        "timezone": timezone,
        "reminders": show,
        "stop": stop,
        "forget": forget,
        "progress": progress,
    }
    for name, handler in commands.items():
        guarded = _private_only(name, handler)
        application.add_handler(CommandHandler(name, guarded, filters=NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(on_button, pattern=BUTTONS))


async def start(application: Application) -> None:
    """Open the database (migrated), and run the dispatcher until the application stops."""
    svc: Services = application.bot_data["services"]
    db = svc.db or Database.from_settings(svc.settings)
    await db.migrate()
    clock = shifted(svc.clock, svc.settings.clock_offset_seconds)
    subs = Subscriptions(db, svc.runtime.kb, svc.coach.composer, clock=clock)
    config = DispatchConfig.from_settings(svc.settings, scope=Scope(skip=CONSOLE_USER_ID))
    dispatcher = Dispatcher(db, make_sender(application.bot, subs), clock, config)
    subs.on_change = dispatcher.wake
    feature = Feature(db, subs, dispatcher, own_db=svc.db is None)
    feature.task = asyncio.create_task(dispatcher.run(), name="kneebot-reminders")
    application.bot_data[FEATURE_KEY] = feature
    log.info("reminder dispatcher started owner=%s", config.owner)


async def finish(application: Application) -> None:
    """Stop the dispatcher: started sends finish, unstarted claims go back to the queue."""
    feature: Feature | None = application.bot_data.pop(FEATURE_KEY, None)
    if feature is None:
        return
    if feature.task is not None:
        feature.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feature.task
    if feature.own_db:
        await feature.db.close()
    log.info("reminder dispatcher stopped")


class ReminderSender:
    """The dispatcher's send step: compose today's session and send it through the bot.

    `prepare` composes a whole claimed batch with one database read before its sends start.
    """

    def __init__(self, bot: Bot, subs: Subscriptions) -> None:
        self.bot = bot
        self.subs = subs
        self._ready: dict[int, Reply] = {}

    async def prepare(self, batch: list[Delivery]) -> None:
        self._ready = await self.subs.reminders(batch)

    async def __call__(self, delivery: Delivery) -> int | None:
        reply = self._ready.pop(delivery.id, None) or await self.subs.reminder(delivery)
        message_id = None
        for html, markup in messages(reply):
            message = await self.bot.send_message(
                delivery.chat_id,
                html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
            message_id = message.message_id
        return message_id


def make_sender(bot: Bot, subs: Subscriptions) -> SendFn:
    """The production send step for the dispatcher (see ReminderSender)."""
    return ReminderSender(bot, subs)


def _private_only(command: str, handler: Handler) -> Handler:
    """The handler in a private chat; in a group, a pointer to the private chat instead."""

    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await in_private(update, context, PRIVATE_TEMPLATE, command=command):
            await handler(update, context)

    return guarded


def _feature(context: ContextTypes.DEFAULT_TYPE) -> Feature:
    return context.application.bot_data[FEATURE_KEY]


def _ids(update: Update) -> tuple[int, int]:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    return user.id, chat.id


# -- commands ---------------------------------------------------------------------------------


async def remind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remind 07:30 [days] subscribes; bare /remind offers times as buttons."""
    user_id, chat_id = _ids(update)
    log.info("remind update=%s %s", update.update_id, user_ref(user_id))
    reply = await _feature(context).subscriptions.remind(user_id, chat_id, context.args or [])
    await send_reply(update, context, reply)


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timezone Europe/Berlin sets the zone; bare /timezone shows it."""
    user_id, chat_id = _ids(update)
    reply = await _feature(context).subscriptions.timezone(user_id, chat_id, context.args or [])
    await send_reply(update, context, reply)


async def show(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reminders: the schedule and its next fire in local time."""
    user_id, _ = _ids(update)
    await send_reply(update, context, await _feature(context).subscriptions.show(user_id))


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stop: no more reminders."""
    user_id, _ = _ids(update)
    await send_reply(update, context, await _feature(context).subscriptions.stop(user_id))


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forget: asks for confirmation with buttons; the deletion happens on "yes"."""
    await send_reply(update, context, _feature(context).subscriptions.forget_prompt())


async def progress(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/progress: streak and counts, with the four-week chart as a photo."""
    user_id, chat_id = _ids(update)
    result = await _feature(context).subscriptions.progress(user_id)
    await _send_progress(context, chat_id, result)


async def _send_progress(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, result: ProgressReply
) -> None:
    await context.bot.send_photo(
        chat_id,
        InputFile(result.chart_png, filename="progress.png"),
        caption=result.reply.html,
        parse_mode=ParseMode.HTML,
    )


# -- buttons ----------------------------------------------------------------------------------


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reminder buttons (done, snooze, skip), the schedule menus, timezone picks and /forget."""
    query = update.callback_query
    assert query is not None
    user_id, chat_id = _ids(update)
    action = query.data or ""
    with contextlib.suppress(TelegramError):
        await query.answer()
    log.info("reminder button update=%s %s action=%s", update.update_id, user_ref(user_id), action)
    # Only the owner can tap in a private chat: a tap in a group acts for no one.
    command = "forget" if action in (FORGET_YES, FORGET_NO) else "remind"
    if not await in_private(update, context, PRIVATE_TEMPLATE, command=command):
        return
    if action == FORGET_YES:
        context.application.drop_user_data(user_id)
    result = await _feature(context).subscriptions.button(user_id, chat_id, action)
    if action.startswith(ACK_ACTIONS):
        await _settle(query.message)
    elif action in (FORGET_YES, FORGET_NO):
        await drop_buttons(query)  # the choice is made: the question must not be answered twice
    if isinstance(result, ProgressReply):
        await _send_progress(context, chat_id, result)
    elif isinstance(result, Reply):
        await send_reply(update, context, result)


async def _settle(message: object) -> None:
    """Take Done/Snooze/Skip off a reminder once one was tapped; the how-to buttons stay."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    markup = message.reply_markup
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith(ACK_ACTIONS)]
        for row in markup.inline_keyboard
    ]
    kept = InlineKeyboardMarkup([row for row in rows if row])
    try:
        await message.edit_reply_markup(reply_markup=kept)
    except TelegramError as exc:
        log.info("could not settle reminder message: %s", exc)
