"""Reminders on Telegram: /remind /timezone /reminders /stop /forget /progress, the reminder
buttons, and the DB-driven dispatcher loop (started with the application, stopped after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot import actions
from bot.privacy import user_ref
from bot.reminders.commands import FORGET_NO, FORGET_YES, ProgressReply, Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher, FailureKind, SendFailure, SendFn
from bot.replies import Reply
from bot.storage.database import Database
from bot.storage.records import CONSOLE_USER_ID, Delivery, Scope

from .render import drop_buttons, in_private, messages, send_reply, units
from .services import Services, features, services

log = logging.getLogger(__name__)

FEATURE_KEY = "reminders"
GONE_CHAT = ("chat not found", "user is deactivated", "bot was kicked")
NEW_MESSAGES = filters.UpdateType.MESSAGE
BUTTONS = actions.pattern(actions.REMIND, actions.REMIND_ENTRY)
CHECK_BUTTONS = actions.pattern(actions.CHECK, actions.CHECK)
ACK_VERBS = ("done", "easy", "hard", "skip", "snz")  # taps that settle a session message
PRIVATE_TEMPLATE = "reminders_private.j2"
MAX_CAPTION = 1024  # a photo caption's limit, in UTF-16 units
MAX_TEXT = 4096  # the pointer to the private chat, sent in groups
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


@dataclass
class Feature:
    """What the feature keeps for the application's lifetime."""

    db: Database
    subscriptions: Subscriptions
    dispatcher: Dispatcher
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
        "done": done,
        "undo": undo,
    }
    for name, handler in commands.items():
        guarded = _private_only(name, handler)
        application.add_handler(CommandHandler(name, guarded, filters=NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(on_button, pattern=BUTTONS))
    application.add_handler(CallbackQueryHandler(on_button, pattern=CHECK_BUTTONS))
    # A location shared in the private chat sets the timezone (before the non-text catch-all).
    location = NEW_MESSAGES & filters.LOCATION & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(location, on_location))


async def start(application: Application) -> None:
    """Run the dispatcher over the app's subscriptions until the application stops."""
    svc: Services = application.bot_data["services"]
    opened = features(application)
    db, subs, clock = opened.db, opened.subscriptions, opened.clock
    config = DispatchConfig.from_settings(svc.settings, scope=Scope(skip=CONSOLE_USER_ID))
    dispatcher = Dispatcher(db, make_sender(application.bot, subs), clock, config)
    subs.on_change = dispatcher.wake
    feature = Feature(db, subs, dispatcher)
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
        if delivery.id in self._ready:
            reply = self._ready.pop(delivery.id)
        else:
            reply = await self.subs.reminder(delivery)
        message_id = None
        if reply is None:  # a quiet rest day: nothing to send
            return None
        for html, markup in messages(reply):
            try:
                message = await self.bot.send_message(
                    delivery.chat_id,
                    html,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            except TelegramError as exc:
                raise send_failure(exc) from exc
            message_id = message.message_id
        return message_id


def send_failure(exc: TelegramError) -> SendFailure:
    """python-telegram-bot's error in the dispatcher's channel-neutral terms."""
    if isinstance(exc, RetryAfter):
        return SendFailure(FailureKind.RATE_LIMITED, "429", retry_after=_retry_after(exc))
    gone = isinstance(exc, BadRequest) and any(s in exc.message.lower() for s in GONE_CHAT)
    if isinstance(exc, Forbidden) or gone:
        return SendFailure(FailureKind.GONE, exc.message)
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        return SendFailure(FailureKind.RETRYABLE, str(exc))
    return SendFailure(FailureKind.PERMANENT, repr(exc))


def _retry_after(exc: RetryAfter) -> timedelta:
    """Telegram's retry_after as a timedelta (PTB returns int or timedelta, by opt-in)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


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


async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/done [yesterday|monday|2025-03-28]: log a session without a reminder."""
    user_id, _ = _ids(update)
    reply = await _feature(context).subscriptions.done(user_id, context.args or [])
    await send_reply(update, context, reply)


async def undo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/undo: take back the last logged entry."""
    user_id, _ = _ids(update)
    await send_reply(update, context, await _feature(context).subscriptions.undo(user_id))


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A shared location: its timezone becomes the user's (the location itself is not kept)."""
    message = update.effective_message
    assert message is not None and message.location is not None
    user_id, chat_id = _ids(update)
    where = message.location
    log.info("location shared update=%s %s", update.update_id, user_ref(user_id))
    subs = _feature(context).subscriptions
    reply = await subs.timezone_at(user_id, chat_id, where.latitude, where.longitude)
    await send_reply(update, context, reply)


async def _send_progress(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, result: ProgressReply
) -> None:
    """The chart with the text as its caption; the text alone without a chart or if the photo
    cannot be sent (or the caption would be too long for one)."""
    if result.chart_png is not None and units(result.reply.html) <= MAX_CAPTION:
        try:
            await context.bot.send_photo(
                chat_id,
                InputFile(result.chart_png, filename="progress.png"),
                caption=result.reply.html,
                parse_mode=ParseMode.HTML,
            )
            return
        except TelegramError as exc:
            log.warning("progress chart not sent %s: %s", user_ref(chat_id), exc)
    await send_reply(chat_id, context, result.reply)


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
    if _settles(action) and isinstance(result, Reply) and not _gone(result, context):
        await _settle(query.message, action, context)
    elif action in (FORGET_YES, FORGET_NO):
        await drop_buttons(query)  # the choice is made: the question must not be answered twice
    if isinstance(result, ProgressReply):
        await _send_progress(context, chat_id, result)
    elif isinstance(result, Reply):
        await send_reply(update, context, result)


async def _settle(message: object, action: str, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the result on the session message ("✅ Done") and take its Done / Too easy /
    Too hard / Snooze / Skip off; the how-to and other buttons stay."""
    if not isinstance(message, Message):
        return
    rows = [
        [b for b in row if not _settles(str(b.callback_data or ""))]
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
    ]
    kept = InlineKeyboardMarkup([row for row in rows if row])
    result = services(context).coach.info("reminder_result.j2", verb=actions.parse(action).verb)
    text = f"{message.text_html or ''}\n\n{result.html}".strip()
    try:
        if units(text) <= MAX_TEXT:
            await message.edit_text(
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=kept,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        else:
            await message.edit_reply_markup(reply_markup=kept)
    except TelegramError as exc:
        log.info("could not settle reminder message: %s", exc)


def _gone(result: Reply, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """The tap was refused (stale or forged data): the message stays as it was."""
    gone = services(context).coach.info("reminder_ack.j2", case="gone")
    return result.html == gone.html


def _settles(action: str) -> bool:
    """Done, Skip and Snooze settle a reminder message; its other buttons stay usable."""
    tapped = actions.parse(action)
    return tapped.feature == actions.REMIND and tapped.verb in ACK_VERBS
