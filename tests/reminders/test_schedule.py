"""Schedule maths: parsing user input and DST-correct fire times (real zoneinfo data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reminders.schedule import (
    ALL_DAYS,
    WEEKDAYS,
    WEEKEND,
    ScheduleError,
    describe_days,
    fire_instant,
    next_fire,
    parse_days,
    parse_reminder,
    parse_time,
    parse_timezone,
    suggest_timezones,
    zone,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(instant: datetime, tz: str) -> datetime:
    return instant.astimezone(ZoneInfo(tz))


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:30", time(7, 30)),
        ("7:30", time(7, 30)),
        ("7.30", time(7, 30)),
        ("19h30", time(19, 30)),
        ("7:30am", time(7, 30)),
        ("7:30 PM", time(19, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
    ],
)
def test_times_in_common_forms_are_read(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7:60", "13pm", "0am", "noon", "", "7:3", "{{ 7 }}"])
def test_impossible_times_are_refused_with_the_input(text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_time(text)
    assert caught.value.problem == "time"


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("", ALL_DAYS),
        ("daily", ALL_DAYS),
        ("every day", ALL_DAYS),
        ("weekdays", WEEKDAYS),
        ("mon-fri", WEEKDAYS),
        ("sat,sun", WEEKEND),
        ("mon,wed,fri", 0b0010101),
        ("Mondays and Fridays", 0b0010001),
        ("fri-mon", 0b1110001),
    ],
)
def test_days_in_common_forms_are_read(text: str, mask: int) -> None:
    assert parse_days(text) == mask


def test_unknown_day_names_are_refused() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_days("mon,funday")
    assert caught.value.problem == "days"


def test_remind_arguments_take_a_time_then_days() -> None:
    assert parse_reminder(["18:00", "mon,wed,fri"]) == (time(18, 0), 0b0010101)
    assert parse_reminder(["7:30", "am"]) == (time(7, 30), ALL_DAYS)
    assert describe_days(0b0010101) == "Mon, Wed, Fri"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Europe/Berlin", BERLIN),
        ("europe/berlin", BERLIN),
        ("america/new york", NEW_YORK),
        ("UTC", "UTC"),
        ("UTC+2", "UTC+02:00"),
        ("utc-03:30", "UTC-03:30"),
        ("GMT+5:45", "UTC+05:45"),
        ("+14", "UTC+14:00"),
        ("UTC+0", "UTC"),
    ],
)
def test_timezones_are_validated_and_made_canonical(text: str, name: str) -> None:
    assert parse_timezone(text) == name


@pytest.mark.parametrize("text", ["Mars/Olympus_Mons", "UTC+15", "UTC+02:75", "x" * 5000, "<b>"])
def test_unknown_timezones_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(text)
    assert caught.value.problem == "timezone"
    assert len(caught.value.given) <= 64


def test_a_typo_or_a_bare_city_gets_suggestions() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone("Europe/Berln")
    assert caught.value.suggestions[0] == BERLIN
    assert suggest_timezones("Berlin") == [BERLIN]
    assert suggest_timezones("new york") == [NEW_YORK]


@pytest.mark.parametrize(
    "name", ["CET", "EET", "WET", "MET", "EST5EDT", "Europe/Kyiv", "Asia/Kolkata", "US/Eastern"]
)
def test_every_name_zoneinfo_accepts_is_accepted_as_is(name: str) -> None:
    assert parse_timezone(name, abbreviations=False) == name
    ZoneInfo(name)  # and it is a real zone


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("PST", "America/Los_Angeles"),
        ("pdt", "America/Los_Angeles"),
        ("EST", "America/New_York"),
        ("EDT", "America/New_York"),
        ("CST", "America/Chicago"),
        ("MST", "America/Denver"),
        ("IST", "Asia/Kolkata"),
        ("BST", "Europe/London"),
        ("CEST", "Europe/Berlin"),
        ("CET", "Europe/Berlin"),
        ("AEST", "Australia/Sydney"),
        ("JST", "Asia/Tokyo"),
    ],
)
def test_an_abbreviation_asks_to_confirm_the_zone_it_most_likely_means(
    text: str, meant: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(text)
    assert caught.value.problem == "abbreviation"
    assert caught.value.suggestions[0] == meant
    assert parse_timezone(meant, abbreviations=False) == meant
    for choice in caught.value.suggestions:  # every offered button is accepted when tapped
        assert parse_timezone(choice, abbreviations=False) == choice


def test_an_abbreviation_that_is_also_a_zone_can_be_kept_as_is() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone("cet")
    assert caught.value.suggestions == ["Europe/Berlin", "CET"]
    assert zone("CET").utcoffset(datetime(2025, 7, 1)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mumbai", ["Asia/Kolkata"]),
        ("Bangalore", ["Asia/Kolkata"]),
        ("San Francisco", ["America/Los_Angeles"]),
        ("Beijing", ["Asia/Shanghai"]),
        ("Asia/Calcuta", ["Asia/Kolkata"]),
        ("Europe/Berln", [BERLIN]),
        ("Narnia/Cair_Paravel", []),
        ("Mars/Olympus_Mons", []),
    ],
)
def test_suggestions_are_close_matches_or_nothing(text: str, expected: list[str]) -> None:
    assert suggest_timezones(text) == expected


@pytest.mark.parametrize("text", ["Belfast", "Eastern", "Calcutta", "Sao Paulo", "Buenos Aires"])
def test_deprecated_names_are_never_suggested(text: str) -> None:
    suggestions = suggest_timezones(text)
    assert suggestions
    for name in suggestions:
        assert not name.startswith(("US/", "Brazil/", "Etc/", "Canada/"))
        assert name not in ("Europe/Belfast", "Asia/Calcutta", "America/Buenos_Aires")


def test_a_fixed_offset_zone_has_that_offset() -> None:
    assert zone("UTC-03:30").utcoffset(None) == -timedelta(hours=3, minutes=30)


# -- DST: two zones, spring and autumn ------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        # Berlin springs forward on 30 Mar 2025 and falls back on 26 Oct 2025.
        (BERLIN, date(2025, 3, 29), date(2025, 3, 31)),
        (BERLIN, date(2025, 10, 25), date(2025, 10, 27)),
        # New York springs forward on 9 Mar 2025 and falls back on 2 Nov 2025.
        (NEW_YORK, date(2025, 3, 8), date(2025, 3, 10)),
        (NEW_YORK, date(2025, 11, 1), date(2025, 11, 3)),
    ],
)
def test_a_reminder_keeps_its_local_time_across_a_clock_change(
    tz: str, before: date, after: date
) -> None:
    at = time(7, 30)
    fired = []
    moment = datetime.combine(before, time(0, 0), ZoneInfo(tz)).astimezone(UTC)
    while True:
        moment, day = next_fire(at, ALL_DAYS, tz, moment)
        if day > after:
            break
        fired.append((day, moment))
    assert [day for day, _ in fired] == [before + timedelta(days=n) for n in range(3)]
    for day, instant in fired:
        wall = local(instant, tz)
        assert (wall.date(), wall.time()) == (day, at)
    offsets = {local(instant, tz).utcoffset() for _, instant in fired}
    assert len(offsets) == 2  # the UTC instant moved with the clock change


@pytest.mark.parametrize(
    ("tz", "day", "missing", "after_gap"),
    [
        (BERLIN, date(2025, 3, 30), time(2, 30), utc(2025, 3, 30, 1, 0)),  # 03:00 CEST
        (NEW_YORK, date(2025, 3, 9), time(2, 15), utc(2025, 3, 9, 7, 0)),  # 03:00 EDT
        ("Australia/Lord_Howe", date(2025, 10, 5), time(2, 10), utc(2025, 10, 4, 15, 30)),
    ],
)
def test_a_time_skipped_by_spring_forward_fires_once_just_after_the_gap(
    tz: str, day: date, missing: time, after_gap: datetime
) -> None:
    start = datetime.combine(day - timedelta(days=1), time(12, 0), ZoneInfo(tz))
    first, first_day = next_fire(missing, ALL_DAYS, tz, start.astimezone(UTC))
    assert (first, first_day) == (after_gap, day)
    second, second_day = next_fire(missing, ALL_DAYS, tz, first)
    assert second_day == day + timedelta(days=1)
    assert local(second, tz).time() == missing


@pytest.mark.parametrize(
    ("tz", "day", "repeated"),
    [(BERLIN, date(2025, 10, 26), time(2, 30)), (NEW_YORK, date(2025, 11, 2), time(1, 30))],
)
def test_a_repeated_hour_fires_once_at_its_first_occurrence(
    tz: str, day: date, repeated: time
) -> None:
    start = datetime.combine(day, time(0, 0), ZoneInfo(tz)).astimezone(UTC)
    first, first_day = next_fire(repeated, ALL_DAYS, tz, start)
    second, second_day = next_fire(repeated, ALL_DAYS, tz, first)
    assert first_day == day and second_day == day + timedelta(days=1)
    assert local(first, tz).time() == repeated and local(first, tz).fold == 0
    # The second 02:30 of that night (one hour later) is not a fire.
    assert second - first > timedelta(hours=23)


def test_only_the_chosen_weekdays_fire() -> None:
    moment = utc(2025, 1, 6, 0, 0)  # a Monday
    days = []
    for _ in range(6):
        moment, day = next_fire(time(18, 0), parse_days("mon,wed,fri"), BERLIN, moment)
        days.append(day.strftime("%a"))
    assert days == ["Mon", "Wed", "Fri"] * 2


ZONES = [BERLIN, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    at=st.times(),
    days=st.integers(min_value=1, max_value=ALL_DAYS),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 1)),
)
def test_fires_are_later_once_per_local_date_and_at_the_time_when_it_exists(
    tz: str, at: time, days: int, start: datetime
) -> None:
    at = at.replace(second=0, microsecond=0)
    after = start.replace(tzinfo=UTC)
    first, day = next_fire(at, days, tz, after)
    second, next_day = next_fire(at, days, tz, first)
    assert after < first < second and day < next_day
    assert days & (1 << day.weekday())
    assert first == fire_instant(day, at, zone(tz))
    wall = local(first, tz)
    assert wall.date() == day
    assert wall.time() >= at  # never early; later only after a gap
    if wall.time() != at:  # a gap: the instant a minute before shows a wall time before `at`
        assert local(first - timedelta(seconds=1), tz).time() < at
