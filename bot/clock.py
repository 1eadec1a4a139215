"""The clock everything time-dependent takes, so tests can move time instead of waiting for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


def shifted(clock: Clock, seconds: float) -> Clock:
    """`clock` moved by a fixed offset (KNEEBOT_CLOCK_OFFSET_SECONDS); itself when it is 0."""
    if not seconds:
        return clock
    offset = timedelta(seconds=seconds)
    return lambda: clock() + offset
