"""What every Telegram handler needs, kept in `application.bot_data["services"]`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram.ext import ContextTypes

from bot.config import Settings
from bot.conversation import Coach
from bot.runtime import Runtime

SERVICES_KEY = "services"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Settings, the answering core, the database (None until storage exists) and the clock."""

    settings: Settings
    runtime: Runtime
    coach: Coach
    db: Any = None
    clock: Callable[[], datetime] = utc_now


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The Services of the application a handler runs in."""
    return context.application.bot_data[SERVICES_KEY]
