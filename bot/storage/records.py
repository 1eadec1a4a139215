"""Plain records the storage layer hands out and takes in, and the status vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # records are plain data: answering imports them without SQLAlchemy's 0.2 s
    import sqlalchemy as sa


class DeliveryStatus(StrEnum):
    """Where one reminder delivery stands; the last five are final."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    MISSED = "missed"
    UNKNOWN = "unknown"  # the request may have reached Telegram: never resent
    CANCELLED = "cancelled"


class SessionStatus(StrEnum):
    """What the user logged for a day's session."""

    DONE = "done"
    SKIPPED = "skipped"


PENDING, CLAIMED, SENDING = DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.SENDING
SENT, BLOCKED, FAILED = DeliveryStatus.SENT, DeliveryStatus.BLOCKED, DeliveryStatus.FAILED
MISSED, UNKNOWN, CANCELLED = DeliveryStatus.MISSED, DeliveryStatus.UNKNOWN, DeliveryStatus.CANCELLED
DONE, SKIPPED = SessionStatus.DONE, SessionStatus.SKIPPED


@dataclass(frozen=True)
class ConversationState:
    """One user's conversation context; `version` is the row's version when it was read."""

    topic: str | None = None
    exercise: str | None = None
    reply_kind: str | None = None
    open_question: str | None = None
    safety: str | None = None
    version: int = 0  # 0: no row yet
    updated_at: datetime | None = None


CONSOLE_USER_ID = 0  # the one local user of `kneebot chat`; Telegram ids are never 0


@dataclass(frozen=True)
class Scope:
    """Which users a dispatcher serves: only one (the console), all but one, or everyone."""

    only: int | None = None
    skip: int | None = None

    def clause(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        import sqlalchemy as sa

        if self.only is not None:
            return column == self.only
        if self.skip is not None:
            return column != self.skip
        return sa.true()


EVERYONE = Scope()


@dataclass(frozen=True)
class User:
    user_id: int
    chat_id: int
    timezone: str
    created_at: datetime


@dataclass(frozen=True)
class Schedule:
    user_id: int
    chat_id: int
    local_time: str
    days: int
    enabled: bool
    next_fire_at: datetime | None
    next_local_date: date | None
    disabled_reason: str | None
    timezone: str = "UTC"


@dataclass(frozen=True)
class ReminderContext:
    """A user's reminder days (None without a schedule), stored routine (None before one), and
    when they subscribed (the starter routine's week 1 begins that day) in their timezone."""

    days: int | None
    routine: dict | None
    subscribed_at: datetime | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Delivery:
    id: int
    user_id: int
    chat_id: int
    local_date: date
    slot: str
    fire_at: datetime
    due_at: datetime
    status: str
    attempts: int
    parts_sent: int = 0


@dataclass(frozen=True)
class PlannedDelivery:
    """A reminder the planner owes (status pending) or decided to skip (status missed)."""

    user_id: int
    chat_id: int
    local_date: date
    slot: str
    fire_at: datetime
    status: str = PENDING


@dataclass(frozen=True)
class ScheduleMove:
    """Advance one schedule, but only if it still fires at `expected_fire_at` (nobody moved it)."""

    user_id: int
    expected_fire_at: datetime
    next_fire_at: datetime | None
    next_local_date: date | None


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery; `due_at` set means try again then."""

    delivery_id: int
    status: str
    message_id: int | None = None
    error: str | None = None
    due_at: datetime | None = None
    parts_sent: int | None = None  # messages of a split reminder delivered so far


@dataclass(frozen=True)
class ProcessHealth:
    """One dispatcher's heartbeat row, as `kneebot status` shows it."""

    owner: str
    started_at: datetime
    alive_until: datetime
    last_ok_at: datetime | None
    failures: int
    last_error: str | None


class StaleDraft(Exception):
    """The draft changed since it was read (another process saved first)."""
