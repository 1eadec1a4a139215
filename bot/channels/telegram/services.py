"""What every Telegram handler needs, kept in `application.bot_data["services"]`."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import Application, ContextTypes

from bot.answering.coach import Coach
from bot.app import Features, Runtime
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.storage.database import Database

SERVICES_KEY = "services"
FEATURES_KEY = "features"  # the app's Features, opened once in post_init


@dataclass(frozen=True)
class Services:
    """Settings, the answering core, the clock, and the database handed in by the caller.

    `db` is None unless the caller (a test, or an embedding app) shares its own Database;
    otherwise bot.app opens one from the settings at start-up and closes it at shutdown.
    """

    settings: Settings
    runtime: Runtime
    coach: Coach
    db: Database | None = None
    clock: Clock = utc_now


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The Services of the application a handler runs in."""
    return context.application.bot_data[SERVICES_KEY]


def features(application: Application) -> Features:
    """The database-backed features, opened once when the application started."""
    return application.bot_data[FEATURES_KEY]
