"""Run the bot as a process: check the token, poll or serve a webhook, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from urllib.parse import urlparse

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.app import Features, Runtime, build_runtime, open_features
from bot.config import Settings
from bot.knowledge import load_knowledge
from bot.storage.database import DatabaseDamaged

from .app import api_urls, build_application
from .polling import PollingLease
from .services import features

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LEASE_KEY = "polling_lease"


class StartupError(Exception):
    """Why the bot cannot start, in one line for the operator."""


def run_telegram(settings: Settings) -> int:
    """`kneebot run` with a token: 0 after a clean stop, 1 when the bot cannot start."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_bot_token.get_secret_value()
    redact_in_logs(token)
    load_knowledge(settings.knowledge_dir)  # a broken knowledge base fails before anything slow
    try:
        asyncio.run(_main(settings))
    except StartupError as exc:
        print(f"kneebot: {str(exc).replace(token, '<token>')}", file=sys.stderr)
        return 1
    return 0


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _stopper(sig, stop))
    await check_api(settings)
    runtime = await asyncio.to_thread(build_runtime, settings)
    if stop.is_set():  # a signal arrived while the model was loading
        return
    opened = await open_database(settings, runtime)
    try:
        await serve(build_application(settings, runtime, opened=opened), settings, stop)
    finally:
        await opened.close()


async def open_database(settings: Settings, runtime: Runtime) -> Features:
    """One database for every feature, migrated once to the newest schema."""
    try:
        return await open_features(settings, runtime)
    except DatabaseDamaged as exc:
        raise StartupError(str(exc)) from None
    except (OSError, SQLAlchemyError) as exc:
        raise StartupError(f"cannot open the database ({type(exc).__name__}: {exc})") from None


def _stopper(sig: signal.Signals, stop: asyncio.Event):
    def handle() -> None:
        log.info("%s received: stopping", sig.name)
        stop.set()

    return handle


async def check_api(settings: Settings) -> None:
    """One getMe before the model loads, so a bad token or a dead API fails in a second."""
    assert settings.telegram_bot_token is not None
    base_url, file_url = api_urls(settings.telegram_base_url)
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url, file_url)
    try:
        async with bot:
            log.info("Bot API ok: @%s at %s", bot.username, urlparse(base_url).netloc)
    except InvalidToken:
        raise StartupError("Telegram rejected the token (401 Unauthorized)") from None
    except NetworkError as exc:
        host = urlparse(base_url).netloc
        raise StartupError(f"cannot reach the Telegram Bot API at {host} ({exc})") from None
    except TelegramError as exc:
        raise StartupError(f"the Telegram Bot API refused the bot ({exc})") from None


async def serve(application: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Initialise, take updates (polling, or a webhook when configured) until `stop`, shut down."""
    try:
        await application.initialize()
    except InvalidToken:
        raise StartupError("Telegram rejected the token (401 Unauthorized)") from None
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        mode = await _take_updates(application, settings)
        log.info("running as @%s (%s)", application.bot.username, mode)
        await stop.wait()
    finally:
        lease = application.bot_data.pop(LEASE_KEY, None)
        if lease is not None:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
        await _shut_down(application)
    log.info("stopped cleanly")


async def _take_updates(application: Application, settings: Settings) -> str:
    updater = application.updater
    assert updater is not None
    if not settings.webhook_url:
        # One poller among replicas (a second one would get 409 Conflict from Telegram).
        poller = PollingLease(application, features(application).db)
        application.bot_data[LEASE_KEY] = asyncio.create_task(poller.run(), name="polling-lease")
        return "long polling under the database lease"
    await updater.start_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=urlparse(settings.webhook_url).path.strip("/"),
        webhook_url=settings.webhook_url,
        secret_token=webhook_secret(settings),
        allowed_updates=Update.ALL_TYPES,
    )
    return f"webhook on {settings.webhook_listen}:{settings.webhook_port}"


def webhook_secret(settings: Settings) -> str:
    """The configured secret, or a fresh random one: Telegram's header is always checked."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return secrets.token_urlsafe(32)


async def _shut_down(application: Application) -> None:
    """Stop taking updates, finish the ones in hand, then release everything."""
    if application.updater and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)


class _Redact(logging.Filter):
    """Replace the token wherever it would be logged (PTB logs its URLs at debug level)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, "<token>")
        return True


def redact_in_logs(token: str) -> None:
    """Install the token filter on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redact) for f in handler.filters):
            handler.addFilter(_Redact(token))
