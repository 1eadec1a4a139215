"""/routine on Telegram: a ConversationHandler over the channel-neutral RoutineFlow.

The flow keeps its draft in the database after every tap, so after a restart (when the
ConversationHandler has forgotten its state) any button of the questionnaire re-enters here and
carries on; /cancel works with or without an open conversation.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import actions
from bot.coaching.flow import RoutineFlow, Turn

from .answers import acknowledge
from .render import drop_buttons, edit_in_place, in_private, send_reply
from .services import features

log = logging.getLogger(__name__)

FEATURE_KEY = "routine"
ASKING = 0
NEW_MESSAGES = filters.UpdateType.MESSAGE
BUTTONS = actions.pattern(actions.ROUTINE, actions.ROUTINE_ENTRY)
QUESTIONNAIRE_VERBS = ("a", "ok", "back")
TYPED_GROUP = -1  # before the answers' catch-all text handler (group 0)


@dataclass
class Feature:
    flow: RoutineFlow


def register(application: Application) -> None:
    """The /routine conversation; registered before the answers' catch-all handlers."""
    routine = CommandHandler("routine", on_routine, filters=NEW_MESSAGES)
    cancel = CommandHandler("cancel", on_cancel, filters=NEW_MESSAGES)
    application.add_handler(CommandHandler("today", on_today, filters=NEW_MESSAGES))
    buttons = CallbackQueryHandler(on_tap, pattern=BUTTONS)
    with warnings.catch_warnings():
        # Tracking per chat and user (not per message) is what we want: one questionnaire each.
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[routine, buttons, cancel],
            states={ASKING: [routine, buttons]},
            fallbacks=[cancel],
            name=FEATURE_KEY,
            allow_reentry=True,
        )
    application.add_handler(conversation)
    # Typed answers run before every other text handler; text that is no answer goes on to them.
    typed = NEW_MESSAGES & filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(typed, on_typed), group=TYPED_GROUP)


async def start(application: Application) -> None:
    """Take the routine flow the app built."""
    application.bot_data[FEATURE_KEY] = Feature(features(application).routine)


# -- handlers ---------------------------------------------------------------------------------


async def on_routine(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Resume the questionnaire, show the routine, or offer to build one."""
    if not await in_private(update, context, "routine_private.j2"):
        return ConversationHandler.END
    turn = await _flow(context).open(_user_id(update))
    await send_reply(update, context, turn.reply)
    return _state(turn)


async def on_today(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/today: today's session from the stored routine, or the offer to build one."""
    if not await in_private(update, context, "routine_private.j2"):
        return
    turn = await _flow(context).tap(_user_id(update), actions.routine("today"))
    await send_reply(update, context, turn.reply)


async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A button of the questionnaire or of the routine screens."""
    query = update.callback_query
    assert query is not None
    await acknowledge(query)
    if not await in_private(update, context, "routine_private.j2"):
        return ConversationHandler.END
    action = query.data or ""
    turn = await _flow(context).tap(query.from_user.id, action)
    await _show(update, context, turn, action)
    return _state(turn)


async def on_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An answer typed while the questionnaire is open ("no pain", "2", "back")."""
    message = update.effective_message
    assert message is not None and message.text is not None
    turn = await _flow(context).typed(_user_id(update), message.text)
    if turn is None:
        return  # not an answer: the question is answered by the coach as usual
    await send_reply(update, context, turn.reply)
    raise ApplicationHandlerStop


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Leave the questionnaire (its answers are deleted; a stored routine stays)."""
    if not await in_private(update, context, "routine_private.j2"):
        return ConversationHandler.END
    turn = await _flow(context).cancel(_user_id(update))
    await send_reply(update, context, turn.reply)
    return ConversationHandler.END


# -- helpers ----------------------------------------------------------------------------------


async def _show(
    update: Update, context: ContextTypes.DEFAULT_TYPE, turn: Turn, action: str
) -> None:
    """Edit the tapped message in place where that reads better, else send a new one."""
    query = update.callback_query
    assert query is not None
    if turn.replace and await edit_in_place(query.message, turn.reply):
        return
    if not turn.asking and actions.parse(action).verb in QUESTIONNAIRE_VERBS:
        await drop_buttons(query)  # the questionnaire is over: its buttons would only confuse
    await send_reply(update, context, turn.reply)


def _flow(context: ContextTypes.DEFAULT_TYPE) -> RoutineFlow:
    return context.application.bot_data[FEATURE_KEY].flow


def _user_id(update: Update) -> int:
    user = update.effective_user
    assert user is not None
    return user.id


def _state(turn: Turn) -> int:
    return ASKING if turn.asking else ConversationHandler.END
