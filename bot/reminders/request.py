"""A reminder request in plain words: time, days and timezone in any order, or "off".

`/remind 19:30 Europe/Berlin`, `/remind weekdays 7am New York`, `/remind off` and free text such
as "remind me every day at 7am" all come here. Days and zones are recognised by the schedule
module's own parsers; whatever is left must be a time of day, read by dateparser (a maintained
parser) where the short forms like 07:30 or 7pm do not apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cache

from bot.reminders.schedule import (
    ScheduleError,
    parse_days,
    parse_time,
    parse_timezone,
    suggest_timezones,
)

MAX_WORDS = 16  # a reminder request is short; longer text is a question, not a schedule
MAX_ZONE_WORDS = 3  # "Rio de Janeiro"
INTENT = re.compile(r"\b(remind(er|ers|ing)?|notify|nudge)\b", re.IGNORECASE)
FILLER = {
    "remind", "reminder", "reminders", "reminding", "me", "us", "please", "pls", "to", "do",
    "my", "knee", "knees", "session", "sessions", "exercise", "exercises", "routine", "every",
    "each", "at", "on", "in", "from", "a", "an", "the", "and", "o'clock", "time", "set", "can",
    "you", "could", "would", "i", "want", "like", "notify", "nudge", "about", "around", "for",
}  # fmt: skip
OFF_WORDS = {"off", "stop", "cancel", "disable", "none", "never"}
REST_WORDS = {"rest", "rest-days", "restdays"}


@dataclass(frozen=True)
class ReminderRequest:
    """What a request asks for; None means "not mentioned" (keep what is set)."""

    at: time | None = None
    days: int | None = None
    timezone: str | None = None
    off: bool = False
    rest_days: bool | None = None  # rest-day notes on or off

    @property
    def empty(self) -> bool:
        return self == ReminderRequest()


def parse_reminder_request(text: str) -> ReminderRequest | None:
    """A free-text message that asks for a reminder, read; None if it does not ask for one.

    Raises ScheduleError when it clearly asks for a reminder but a part cannot be read.
    """
    if not INTENT.search(text or ""):
        return None
    words = _words(text)
    if len(words) > MAX_WORDS:
        return None
    if {"stop", "no", "don't", "dont", "not"} & set(words) and "reminding" in words:
        return ReminderRequest(off=True)
    return parse_reminder_words(words)


def parse_reminder_words(args: list[str] | tuple[str, ...]) -> ReminderRequest:
    """The words of /remind in any order: a time, days, a timezone, "off", "rest on|off"."""
    words = _words(" ".join(args))
    lowered = [word.lower() for word in words]
    if set(lowered) & REST_WORDS:
        wants = not ({"off", "no", "without", "silent"} & set(lowered))
        return ReminderRequest(rest_days=wants)
    if set(lowered) & OFF_WORDS:
        return ReminderRequest(off=True)
    words = [w for w in words if w.lower() not in FILLER]
    days, rest = _take_days(words)
    zone, rest = _take_zone(rest)
    at = _read_time(rest) if rest else None
    return ReminderRequest(at=at, days=days, timezone=zone)


def _words(text: str) -> list[str]:
    """Words with sentence punctuation dropped; "every day" → "daily"; "7 am" → "7am"."""
    cleaned = re.sub(r"\b(every|each) ?day\b", "daily", text.strip(), flags=re.IGNORECASE)
    cleaned = re.sub(r"[!?;\"“”]|[.,](?=\s|$)", " ", cleaned)
    cleaned = re.sub(
        r"\b(\d{1,2}(?:[:.]\d{2})?)\s+([ap]\.?m\.?)(?=\s|$)", r"\1\2", cleaned, flags=re.I
    )
    return cleaned.split()


def _take_days(words: list[str]) -> tuple[int | None, list[str]]:
    """The weekday mask of the words that name days, and the other words."""
    mask, rest = 0, []
    for word in words:
        try:
            found = parse_days(word) if _looks_like_days(word) else 0
        except ScheduleError:
            found = 0
        if found:
            mask |= found
        else:
            rest.append(word)
    return (mask or None), rest


def _looks_like_days(word: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]{3,9}s?([,\-/][A-Za-z]{3,9}s?)*", word))


def _take_zone(words: list[str]) -> tuple[str | None, list[str]]:
    """A timezone named by one to three consecutive words ("New York", "UTC+2", "CET")."""
    for size in range(min(MAX_ZONE_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            span = words[start : start + size]
            if size == 1 and _is_time(span[0]):
                continue
            zone = _zone(" ".join(span))
            if zone:
                return zone, words[:start] + words[start + size :]
    return None, words


def _zone(text: str) -> str | None:
    """The zone a span names, or None; an abbreviation still asks to be confirmed."""
    try:
        return parse_timezone(text)
    except ScheduleError as error:
        if error.problem == "abbreviation":
            raise
        return None


def _is_time(word: str) -> bool:
    try:
        parse_time(word)
    except ScheduleError:
        return False
    return True


def _read_time(words: list[str]) -> time:
    """The time the leftover words name; ScheduleError names what could not be read."""
    text = " ".join(words)
    found = _time_of(text)
    if found is not None:
        return found
    times = [w for w in words if _is_time(w)]
    unknown = [w for w in words if not _is_time(w)]
    if times and unknown:  # a time, plus words that are neither days nor a zone
        given = " ".join(unknown)
        if any("/" in w or w[:1].isupper() for w in unknown):
            raise ScheduleError("timezone", given, suggest_timezones(given))
        raise ScheduleError("days", given)
    raise ScheduleError("time", text)


def _time_of(text: str) -> time | None:
    """07:30, 7.30, 7pm by the schedule parser; "noon", "7 in the evening" by dateparser."""
    try:
        return parse_time(text)
    except ScheduleError:
        pass
    if len(text) > 40 or not re.search(r"\d|noon|midnight", text, re.IGNORECASE):
        return None
    data = _date_parser().get_date_data(text)
    if data is None or data.date_obj is None or data.period != "time":
        return None
    return data.date_obj.time().replace(second=0, microsecond=0)


@cache
def _date_parser():
    from dateparser.date import DateDataParser

    # English only, and only times: the days are the schedule's, not dateparser's.
    return DateDataParser(languages=["en"], settings={"RETURN_TIME_AS_PERIOD": True})
