"""Questions and answers on Telegram: /start, /help, free text, follow-up buttons, non-text."""

from __future__ import annotations

import logging
import re

from telegram import Bot, CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import actions
from bot.privacy import user_ref
from bot.replies import Reply

from .render import send_reply, template_reply
from .services import Services, features, services

log = logging.getLogger(__name__)

# New messages only: an edited message never gets a second answer.
NEW_MESSAGES = filters.UpdateType.MESSAGE
# Message kinds named by prompts/non_text.j2, most specific first (a GIF is also a document).
NON_TEXT_KINDS = (
    "sticker", "photo", "voice", "audio", "video_note", "video", "animation", "document",
    "location", "contact", "poll",
)  # fmt: skip


def register(application: Application) -> None:
    """Add this module's handlers; they come last, after any conversation's handlers."""
    application.add_handler(CommandHandler("start", on_start, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("help", help_command, filters=NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(on_button))
    text = NEW_MESSAGES & filters.TEXT
    application.add_handler(MessageHandler(text & ~filters.COMMAND, on_text))
    application.add_handler(MessageHandler(text & filters.COMMAND, on_unknown_command))
    application.add_handler(
        MessageHandler(NEW_MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_non_text)
    )


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, say what the bot does, offer the three ways in; a deep link's payload (a personal
    button tapped in a group) opens that feature here in the private chat instead."""
    user = update.effective_user
    log.info("start update=%s %s", update.update_id, user_ref(user.id if user else None))
    chat = update.effective_chat
    payload = context.args[0] if context.args else ""
    if payload and user and chat and chat.type == ChatType.PRIVATE:
        reply = await _deep_link_reply(context, user.id, chat.id, payload)
        if reply is not None:
            await send_reply(update, context, reply)
            return
    name = user.first_name if user else None
    await send_reply(update, context, services(context).coach.welcome(name))


async def _deep_link_reply(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, chat_id: int, payload: str
) -> Reply | None:
    opened = features(context.application)
    if payload == actions.ROUTINE_ENTRY:
        return (await opened.routine.open(user_id)).reply
    if payload == actions.REMIND_ENTRY:
        return await opened.subscriptions.show(user_id, with_menu=True)
    if payload == "check":
        return await opened.subscriptions.button(user_id, chat_id, actions.check())
    if payload == "session":
        return (await opened.routine.tap(user_id, actions.routine("today"))).reply
    return None


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands with example questions."""
    await send_reply(update, context, services(context).coach.help())


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a question with the core; in groups only when it is meant for the bot."""
    message = update.effective_message
    assert message is not None
    question = addressed_text(message, context.bot)
    if question is None:
        return
    svc = services(context)
    if not question.strip():
        await send_reply(
            update,
            context,
            template_reply(svc.coach, "group_hint.j2", username=context.bot.username),
        )
        return
    if message.chat.type == ChatType.PRIVATE and message.from_user:
        asked = await reminder_request_reply(
            context, message.from_user.id, message.chat_id, question
        )
        if asked is not None:
            await send_reply(update, context, asked)
            return
    await _typing(message, context)
    user_id = message.from_user.id if message.from_user else None
    if user_id is not None and message.chat.type == ChatType.PRIVATE:
        reply = await features(context.application).conversations.reply(user_id, question)
    else:
        reply = await svc.coach.reply(question)  # group chatter shares no one's context
    log.info(
        "answer update=%s %s kind=%s top=%s",
        update.update_id,
        user_ref(message.from_user.id if message.from_user else None),
        reply.kind.value,
        reply.sources[0].id if reply.sources else "-",
    )
    await send_reply(update, context, reply)
    if reply.command:
        await run_command(update, context, reply.command)


async def run_command(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
    """A command said in words ("remind me at 7am") runs as if its slash command was sent."""
    from . import reminders, routine

    name, *args = command.split()
    handlers = {
        "today": routine.on_today,
        "remind": reminders.remind,
        "progress": reminders.progress,
        "forget": reminders.forget,
    }
    handler = handlers.get(name)
    if handler is None or (name == "remind" and not args):
        return  # /routine and a bare /remind are offered as buttons on the reply itself
    context.args = args
    await handler(update, context)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tapped follow-up: an exercise's how-to, a topic, or the prompt to ask a question."""
    query = update.callback_query
    assert query is not None
    await acknowledge(query)
    action = query.data or ""
    log.info(
        "button update=%s %s action=%s", update.update_id, user_ref(query.from_user.id), action
    )
    await send_reply(update, context, button_reply(services(context), action, update, context.bot))


def button_reply(svc: Services, action: str, update: Update, bot: Bot) -> Reply:
    """What an action does; routine/remind land here only while those features are absent."""
    group = update.effective_chat is not None and update.effective_chat.type != ChatType.PRIVATE
    return svc.coach.tap(action, group=group, username=bot.username)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown command says so, then the help text; in groups only when addressed to us."""
    message = update.effective_message
    assert message is not None and message.text is not None
    command = message.text.split()[0]
    name, _, addressee = command.partition("@")
    if message.chat.type != ChatType.PRIVATE and addressee.lower() != context.bot.username.lower():
        return
    await send_reply(update, context, services(context).coach.unknown_command(name))


async def reminder_request_reply(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, chat_id: int, text: str
) -> Reply | None:
    """Free text that asks for a reminder ("remind me every day at 7am"), set up; else None."""
    subs = features(context.application).subscriptions
    return await subs.free_text(user_id, chat_id, text)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice and the like: say politely that the bot reads text."""
    message = update.effective_message
    assert message is not None
    if message.chat.type != ChatType.PRIVATE and not replies_to_bot(message, context.bot):
        return
    kind = next((name for name in NON_TEXT_KINDS if getattr(message, name, None)), "other")
    log.info("non-text update=%s kind=%s", update.update_id, kind)
    await send_reply(
        update, context, template_reply(services(context).coach, "non_text.j2", kind=kind)
    )


# -- helpers ------------------------------------------------------------------------------------


def addressed_text(message: Message, bot: Bot) -> str | None:
    """The question in a message meant for the bot, or None for group chatter not meant for it."""
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    if not (replies_to_bot(message, bot) or mentions_bot(message, bot)):
        return None
    mention = re.compile(rf"@{re.escape(bot.username)}\b", re.IGNORECASE)
    return mention.sub("", text).strip(" \t\n,:;")


def replies_to_bot(message: Message, bot: Bot) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot.id)


def mentions_bot(message: Message, bot: Bot) -> bool:
    """An @username mention of the bot, or a text mention of its user."""
    kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    for entity, text in message.parse_entities(kinds).items():
        if entity.user is not None and entity.user.id == bot.id:
            return True
        if text.lower() == f"@{bot.username}".lower():
            return True
    return False


async def _typing(message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show "typing…" while the answer is composed; cosmetic, so failures are only logged."""
    try:
        await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.info("chat action failed chat=%s: %s", user_ref(message.chat_id), exc)


async def acknowledge(query: CallbackQuery) -> None:
    """Stop the button's spinner; a failure (e.g. a stale query) does not stop the answer."""
    try:
        await query.answer()
    except TelegramError as exc:
        log.info("callback answer failed %s: %s", user_ref(query.from_user.id), exc)
