"""Reminder requests in plain words: time, days and zone in any order; "off"; free text."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.reminders.logbook import parse_day
from bot.reminders.request import ReminderRequest, parse_reminder_request, parse_reminder_words
from bot.reminders.schedule import ALL_DAYS, WEEKDAYS, ScheduleError, parse_timezone


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("19:30 Europe/Berlin", ReminderRequest(time(19, 30), None, "Europe/Berlin")),
        ("Europe/Berlin 19:30", ReminderRequest(time(19, 30), None, "Europe/Berlin")),
        ("weekdays 7am New York", ReminderRequest(time(7), WEEKDAYS, "America/New_York")),
        ("7 pm mon,wed,fri", ReminderRequest(time(19), 0b0010101, None)),
        ("noon daily UTC+2", ReminderRequest(time(12), ALL_DAYS, "UTC+02:00")),
        ("at 7 in the evening", ReminderRequest(time(19), None, None)),
        ("off", ReminderRequest(off=True)),
        ("rest on", ReminderRequest(rest_days=True)),
        ("rest off", ReminderRequest(rest_days=False)),
    ],
)
def test_remind_accepts_time_days_zone_in_any_order(words: str, expected: ReminderRequest) -> None:
    assert parse_reminder_words(words.split()) == expected


@pytest.mark.parametrize(
    ("words", "problem"),
    [("25:99", "time"), ("07:30 xyzzy", "days"), ("07:30 Europe/Berln", "timezone")],
)
def test_what_cannot_be_read_is_named(words: str, problem: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_reminder_words(words.split())
    assert caught.value.problem == problem


def test_a_misspelt_zone_in_a_request_gets_a_suggestion() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_reminder_words(["07:30", "Europe/Berln"])
    assert caught.value.suggestions[0] == "Europe/Berlin"


def test_free_text_asks_for_a_reminder_or_not() -> None:
    assert parse_reminder_request("remind me every day at 7am.") == ReminderRequest(
        time(7), ALL_DAYS, None
    )
    assert parse_reminder_request("Please stop reminding me") == ReminderRequest(off=True)
    assert parse_reminder_request("how do I do a clamshell?") is None
    assert parse_reminder_request("why do my knees cave in when I squat?") is None


def test_timezone_new_york_is_accepted() -> None:
    assert parse_timezone("New York") == "America/New_York"
    assert parse_timezone("los angeles") == "America/Los_Angeles"


def test_done_names_today_yesterday_a_weekday_or_a_date() -> None:
    friday = date(2025, 3, 28)
    assert parse_day("", friday) == friday
    assert parse_day("yesterday", friday) == date(2025, 3, 27)
    assert parse_day("monday", friday) == date(2025, 3, 24)
    assert parse_day("friday", friday) == date(2025, 3, 21)  # the last one, not today
    assert parse_day("2025-03-20", friday) == date(2025, 3, 20)
    assert parse_day("banana", friday) is None
