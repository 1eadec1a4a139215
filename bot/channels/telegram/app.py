"""Wire the Telegram Application: feature modules, per-user ordering, rate limits, errors."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any

from telegram import BotCommand, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.answering.coach import COMMANDS
from bot.app import Features, Runtime, open_features
from bot.clock import utc_now
from bot.config import Settings
from bot.privacy import user_ref

from .ordering import PerUserOrder
from .render import send_reply, template_reply
from .services import FEATURES_KEY, SERVICES_KEY, Services, services

log = logging.getLogger(__name__)

# Feature modules of this package, in registration order: conversations before the catch-all
# text handler of `answers`. Each has register(application); optionally start(application), run
# after start-up (e.g. a reminder loop), and finish(application), run after the last update.
FEATURES: tuple[str, ...] = ("routine", "reminders", "session", "answers")

OWN_FEATURES_KEY = "own_features"  # features post_init opened, so post_stop closes them
TELEGRAM_API = "https://api.telegram.org"
RATE_LIMIT_RETRIES = 2  # a 429 is retried after Telegram's retry_after, then given up


def feature_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__package__}.{name}") for name in FEATURES]


def api_urls(base_url: str | None) -> tuple[str, str]:
    """Bot API and file URLs (PTB appends the token) from a server root such as a local server."""
    root = (base_url or TELEGRAM_API).rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def build_application(
    settings: Settings,
    runtime: Runtime,
    db: Any = None,
    clock: Callable[[], datetime] | None = None,
    opened: Features | None = None,
) -> Application:
    """The Application with every feature registered; nothing touches the network yet."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    base_url, file_url = api_urls(settings.telegram_base_url)
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(base_url)
        .base_file_url(file_url)
        .concurrent_updates(PerUserOrder())
        .rate_limiter(_rate_limiter(settings))
        .post_init(post_init)
        .post_stop(post_stop)
        .build()
    )
    application.bot_data[SERVICES_KEY] = Services(
        settings, runtime, runtime.coach, db, clock or utc_now
    )
    if opened is not None:  # the process opened them already (bot.app); else post_init does
        application.bot_data[FEATURES_KEY] = opened
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, drop_edit), group=-1)
    for module in feature_modules():
        module.register(application)
    application.add_error_handler(on_error)
    return application


def _rate_limiter(settings: Settings) -> AIORateLimiter:
    # PTB limits per chat only for groups; private chats share the overall budget.
    return AIORateLimiter(
        overall_max_rate=settings.rate_overall_per_second,
        overall_time_period=1,
        group_max_rate=settings.rate_per_chat_per_second,
        group_time_period=1,
        max_retries=RATE_LIMIT_RETRIES,
    )


async def drop_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message gets no second answer, whichever feature would match it."""
    log.debug("edited message ignored update=%s", update.update_id)
    raise ApplicationHandlerStop


async def post_init(application: Application) -> None:
    """Set the command menu (a failure is only logged), then start features' background work."""
    commands = [BotCommand(command, about) for command, about in COMMANDS]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as exc:
        log.warning("setMyCommands failed, the command menu may be stale: %s", exc)
    if FEATURES_KEY not in application.bot_data:
        svc: Services = application.bot_data[SERVICES_KEY]
        opened = await open_features(svc.settings, svc.runtime, svc.db, svc.clock)
        application.bot_data[FEATURES_KEY] = application.bot_data[OWN_FEATURES_KEY] = opened
    for module in feature_modules():
        await _maybe_call(module, "start", application)


async def post_stop(application: Application) -> None:
    """Let features stop their background work after the last update was handled."""
    for module in feature_modules():
        await _maybe_call(module, "finish", application)
    opened = application.bot_data.pop(OWN_FEATURES_KEY, None)
    if opened is not None:
        await opened.close()


async def _maybe_call(module: ModuleType, name: str, application: Application) -> None:
    hook = getattr(module, name, None)
    if hook is None:
        return
    result = hook(application)
    if inspect.isawaitable(result):
        await result


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its update id, apologise to the user, tell the admins; keep running."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else "-"
    outside = is_outside_failure(error)
    if outside:
        log.warning("update %s failed: %s: %s", update_id, type(error).__name__, error)
    else:
        log.error("update %s failed: %r", update_id, error, exc_info=error)
    if not isinstance(update, Update):
        return
    if update.effective_chat is not None and not isinstance(error, Forbidden):
        await _apologise(update, context)
    if not outside:
        await _tell_admins(update_id, error, context)


def is_outside_failure(error: BaseException | None) -> bool:
    """Network trouble, flood limits, a user who blocked the bot: not a bug, no traceback."""
    if isinstance(error, BadRequest):  # PTB derives it from NetworkError, but it is our mistake
        return False
    return isinstance(error, NetworkError | Forbidden | RetryAfter)


async def _apologise(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    try:
        await send_reply(update, context, template_reply(services(context).coach, "error.j2"))
    except TelegramError as exc:
        log.warning("apology for update %s failed: %s", update.update_id, exc)


async def _tell_admins(
    update_id: object, error: BaseException | None, context: ContextTypes.DEFAULT_TYPE
) -> None:
    """A one-line notice (no user text) to each KNEEBOT_ADMIN_IDS chat."""
    svc = services(context)
    notice = template_reply(
        svc.coach, "admin_error.j2", update_id=update_id, error=type(error).__name__
    )
    for admin_id in svc.settings.admin_ids:
        try:
            await send_reply(admin_id, context, notice)
        except TelegramError as exc:
            log.warning("admin notice to %s failed: %s", user_ref(admin_id), exc)
