"""The guided session on Telegram: each step edits the tapped message in place, and a hold
timer is one message edited every few seconds by a job of the application's JobQueue."""

from __future__ import annotations

import logging
import math

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot import actions
from bot.coaching.guide import GuideStep, SessionGuide, Timer
from bot.privacy import user_ref

from .answers import acknowledge
from .render import edit_in_place, in_private, messages, send_reply
from .services import features, services

log = logging.getLogger(__name__)

BUTTONS = actions.pattern(actions.SESSION)
TICK_SECONDS = 5  # hold seconds between two edits of the countdown (Telegram dislikes more)


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(on_tap, pattern=BUTTONS))


async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button of the guided session (start, done set, next, timer, finish)."""
    query = update.callback_query
    assert query is not None
    await acknowledge(query)
    if not await in_private(update, context, "reminders_private.j2", command="routine"):
        return
    opened = features(context.application)
    user_id = query.from_user.id
    today = await opened.subscriptions.local_today(user_id)
    step = await opened.guide.tap(user_id, query.data or "", today)
    log.info("session tap %s finished=%s", user_ref(user_id), step.finished)
    await _show(update, context, step)


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, step: GuideStep) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    chat_id = query.message.chat.id
    if step.picture is not None:  # a picture first, then the steps under it
        await _send_picture(context, chat_id, step.picture)
        await send_reply(update, context, step.reply)
    elif not await edit_in_place(query.message, step.reply):
        await send_reply(update, context, step.reply)
    if step.timer is not None:
        await _start_timer(context, chat_id, step.timer)


async def _send_picture(context: ContextTypes.DEFAULT_TYPE, chat_id: int, picture: bytes) -> None:
    try:
        await context.bot.send_photo(chat_id, InputFile(picture, filename="exercise.png"))
    except TelegramError as exc:
        log.info("exercise picture not sent %s: %s", user_ref(chat_id), exc)


async def _start_timer(context: ContextTypes.DEFAULT_TYPE, chat_id: int, timer: Timer) -> None:
    """Send the countdown message and let a repeating job edit it until the hold is over."""
    guide: SessionGuide = features(context.application).guide
    (html, _), *_ = messages(guide.countdown(timer.title, timer.seconds))
    sent = await context.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML)
    speed = services(context).settings.timer_speed
    ticks = math.ceil(timer.seconds / TICK_SECONDS)
    state = {"message_id": sent.message_id, "left": timer.seconds, "ticks": ticks, "timer": timer}
    assert context.job_queue is not None, "python-telegram-bot[job-queue] is required"
    context.job_queue.run_repeating(
        _tick,
        interval=TICK_SECONDS / speed,
        first=TICK_SECONDS / speed,
        chat_id=chat_id,
        data=state,
    )


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One step of a countdown: edit the message; at zero show the next buttons and stop."""
    job = context.job
    assert job is not None and job.chat_id is not None
    state = job.data
    state["left"] = max(0, state["left"] - TICK_SECONDS)
    timer: Timer = state["timer"]
    guide: SessionGuide = features(context.application).guide
    reply = timer.after if state["left"] == 0 else guide.countdown(timer.title, state["left"])
    (html, markup), *_ = messages(reply)
    try:
        await context.bot.edit_message_text(
            html,
            chat_id=job.chat_id,
            message_id=state["message_id"],
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except TelegramError as exc:
        log.info("countdown edit failed %s: %s", user_ref(job.chat_id), exc)
    if state["left"] == 0:
        job.schedule_removal()
