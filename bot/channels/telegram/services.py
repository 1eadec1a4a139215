"""What every Telegram handler needs, kept in `application.bot_data["services"]`."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import ContextTypes

from bot.answering.coach import Coach
from bot.app import Runtime
from bot.config import Settings
from bot.reminders.schedule import Clock, utc_now
from bot.storage.database import Database

SERVICES_KEY = "services"


@dataclass(frozen=True)
class Services:
    """Settings, the answering core, the clock, and the database handed in by the caller.

    `db` is None unless the caller (a test, or an embedding app) shares its own Database; the
    features then open one from the settings at start-up and close it at shutdown.
    """

    settings: Settings
    runtime: Runtime
    coach: Coach
    db: Database | None = None
    clock: Clock = utc_now


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The Services of the application a handler runs in."""
    return context.application.bot_data[SERVICES_KEY]
