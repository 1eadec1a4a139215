"""Schedule maths: parse times, days and timezones, and find the next local fire time (DST-aware).

Pure functions over plain values; the caller passes `now`, so tests need no waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapidfuzz import fuzz, process

from bot.reminders.timezones import CITY_ZONES, TIMEZONE_ABBREVIATIONS

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = 0b1111111
WEEKDAYS = 0b0011111
WEEKEND = 0b1100000
MAX_OFFSET_MINUTES = 14 * 60  # real UTC offsets run from -12:00 to +14:00
CLOSE_MATCH = 80  # rapidfuzz ratio a city suggestion needs: a typo, not a different city
CLOSE_FULL_MATCH = 90  # the same for full names, whose shared "Europe/" inflates the ratio

_DAY_WORDS = {
    **{name: 1 << i for i, name in enumerate(DAY_NAMES)},
    **{
        full: 1 << i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1 << 1,
    "wednes": 1 << 2,
    "thur": 1 << 3,
    "thurs": 1 << 3,
    "daily": ALL_DAYS,
    "everyday": ALL_DAYS,
    "all": ALL_DAYS,
    "weekdays": WEEKDAYS,
    "weekday": WEEKDAYS,
    "weekends": WEEKEND,
    "weekend": WEEKEND,
}
_TIME = re.compile(
    r"^(?P<hour>\d{1,2})(?:[:.h](?P<minute>\d{2}))?\s*(?:h|(?P<half>[ap])\.?\s*m?\.?)?$",
    re.IGNORECASE,
)
_OFFSET = re.compile(
    r"^(?:utc|gmt)?\s*(?P<sign>[+\-−])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$"
)


@dataclass
class ScheduleError(ValueError):
    """Input the user can fix; `problem` names what was wrong, `suggestions` what they may mean."""

    problem: str  # "time" | "days" | "timezone"
    given: str
    suggestions: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"not a valid {self.problem}: {self.given!r}"


# -- times and days -------------------------------------------------------------------------


def parse_time(text: str) -> time:
    """'07:30', '7:30', '7.30', '19h30', '7:30am', '7 pm' → a time of day (24 h)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ScheduleError("time", text)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise ScheduleError("time", text)
        hour = hour % 12 + (12 if match["half"].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        raise ScheduleError("time", text)
    return time(hour, minute)


def parse_days(text: str) -> int:
    """'mon,wed,fri', 'mon-fri', 'weekdays', 'daily' or '' (every day) → a weekday bit mask."""
    cleaned = text.lower().replace("every day", "daily")
    words = [word for word in re.split(r"[\s,;/]+", cleaned) if word and word != "and"]
    mask = 0
    for word in words:
        mask |= _day_range(word, text) if "-" in word else _day_word(word, text)
    return mask or ALL_DAYS


def _day_word(word: str, original: str) -> int:
    bit = _DAY_WORDS.get(word)
    if bit is None and word.endswith("s"):
        bit = _DAY_WORDS.get(word[:-1])  # "mondays"
    if bit is None:
        raise ScheduleError("days", original)
    return bit


def _day_range(word: str, original: str) -> int:
    start, _, end = word.partition("-")
    first, last = (_day_word(part, original) for part in (start, end))
    if first.bit_count() != 1 or last.bit_count() != 1:
        raise ScheduleError("days", original)
    i, j = first.bit_length() - 1, last.bit_length() - 1
    span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]
    return sum(1 << k for k in span)


def parse_reminder(args: Iterable[str]) -> tuple[time, int]:
    """The arguments of /remind: a time, optionally followed by days ('18:00 mon,wed,fri')."""
    words = [word for word in args if word.strip()]
    if not words:
        raise ScheduleError("time", "")
    # "7:30 am" arrives as two words; glue a trailing am/pm back on.
    if len(words) > 1 and re.fullmatch(r"[ap]\.?m\.?", words[1], re.IGNORECASE):
        words = [words[0] + words[1], *words[2:]]
    return parse_time(words[0]), parse_days(" ".join(words[1:]))


def days_list(mask: int) -> list[str]:
    """['mon', 'wed', 'fri'] for a mask."""
    return [name for i, name in enumerate(DAY_NAMES) if mask & (1 << i)]


def describe_days(mask: int) -> str:
    """'every day', 'weekdays', 'weekends' or 'Mon, Wed, Fri'."""
    named = {ALL_DAYS: "every day", WEEKDAYS: "weekdays", WEEKEND: "weekends"}
    return named.get(mask) or ", ".join(name.title() for name in days_list(mask))


def format_time(value: time) -> str:
    return value.strftime("%H:%M")


# -- timezones --------------------------------------------------------------------------------


@cache
def _zone_names() -> dict[str, str]:
    """Lower-case name → IANA key, for every key zoneinfo accepts (CET, EST and US/Eastern too)."""
    names = {name.lower(): name for name in available_timezones()}
    for not_a_zone in ("localtime", "posixrules", "factory"):
        names.pop(not_a_zone, None)
    return names


@cache
def _current_names() -> tuple[str, ...]:
    """The names worth suggesting: zone.tab's current ones (no US/…, Etc/GMT+5, Europe/Belfast)."""
    table = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in table.splitlines() if line and not line.startswith("#")]
    known = _zone_names()
    return tuple(sorted({row[2] for row in rows if len(row) > 2 and row[2].lower() in known}))


@cache
def _city_names() -> dict[str, str]:
    """'berlin' → 'Europe/Berlin', 'mumbai' → 'Asia/Kolkata' (for suggestions)."""
    cities = {name.rsplit("/", 1)[1].replace("_", " ").lower(): name for name in _current_names()}
    return {**cities, **CITY_ZONES}


def parse_timezone(text: str, abbreviations: bool = True) -> str:
    """A canonical timezone name ('Europe/Berlin', 'CET', 'UTC', 'UTC+05:30'), or ScheduleError.

    A typed abbreviation ('EST', 'IST') is refused with the zone it most likely means as the
    suggestion, for the user to confirm; pass abbreviations=False for a name already confirmed.
    """
    given = text.strip()
    if not given or len(given) > 64:
        raise ScheduleError("timezone", given[:64])
    key = re.sub(r"\s+", "_", given).lower()
    if key in ("utc", "gmt", "z", "utc+0", "utc-0", "utc+00:00", "gmt+0"):
        return "UTC"
    offset = _parse_offset(given)
    if offset is not None:
        return offset
    if abbreviations and given.upper() in TIMEZONE_ABBREVIATIONS:
        literal = [_zone_names()[key]] if key in _zone_names() else []
        meant = TIMEZONE_ABBREVIATIONS[given.upper()]
        raise ScheduleError("abbreviation", given, [meant, *literal])
    if key in _zone_names():
        return _zone_names()[key]
    # A city the bot itself offers ("New York", "Los Angeles") or a big city with another's zone.
    city = _city_names().get(" ".join(given.lower().replace("_", " ").split()))
    if city:
        return city
    raise ScheduleError("timezone", given, suggest_timezones(given))


def _parse_offset(text: str) -> str | None:
    match = _OFFSET.match(text.strip().lower().replace(" ", ""))
    if not match:
        return None
    minutes = int(match["hours"]) * 60 + int(match["minutes"] or 0)
    if int(match["minutes"] or 0) > 59 or minutes > MAX_OFFSET_MINUTES:
        raise ScheduleError("timezone", text)
    if minutes == 0:
        return "UTC"
    sign = "-" if match["sign"] in "-−" else "+"
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def suggest_timezones(text: str, limit: int = 3) -> list[str]:
    """Current IANA names for a typo, an abbreviation or a city ('Europe/Berln', 'PST', 'Mumbai').

    Only close matches: a far-fetched guess (Mumbai → Asia/Dubai) is worse than none.
    """
    key = " ".join(text.strip().lower().replace("_", " ").split())
    city = key.rsplit("/", 1)[-1]  # "asia/calcuta" is matched as the city "calcuta"
    exact = TIMEZONE_ABBREVIATIONS.get(key.upper()) or _city_names().get(city)
    if exact:
        return [exact]
    names = _current_names()
    spaced = [name.replace("_", " ").lower() for name in names]
    found = process.extract(
        key, spaced, scorer=fuzz.ratio, limit=limit, score_cutoff=CLOSE_FULL_MATCH
    )
    cities = list(_city_names())
    by_city = process.extract(
        city, cities, scorer=fuzz.ratio, limit=limit, score_cutoff=CLOSE_MATCH
    )
    ranked = [(score, _city_names()[city]) for city, score, _ in by_city]
    ranked += [(score, names[i]) for _, score, i in found]
    unique = dict.fromkeys(name for _, name in sorted(ranked, key=lambda pair: -pair[0]))
    return list(unique)[:limit]


def zone(name: str) -> tzinfo:
    """The tzinfo for a stored name; unknown names fall back to UTC (stored names are validated)."""
    if name == "UTC":
        return UTC
    if name.startswith("UTC") and len(name) == 9:
        sign = -1 if name[3] == "-" else 1
        delta = timedelta(hours=int(name[4:6]), minutes=int(name[7:9]))
        return timezone(sign * delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


# -- fire times -------------------------------------------------------------------------------


def local_date(instant: datetime, tz_name: str) -> date:
    """The user's calendar date at `instant`."""
    return instant.astimezone(zone(tz_name)).date()


def fire_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of wall time `at` on `day` in `tz`.

    An ambiguous time (autumn: the hour repeats) is its first occurrence; a time that does not
    exist (spring: the clock jumps) is the first instant after the gap.
    """
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    # In a gap, fold=1 reads the wall time with the offset after the jump (an instant before the
    # gap) and fold=0 with the offset before it (an instant after). The jump lies in between.
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    low, high = min(low, high), max(low, high)
    while low < high:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(high, UTC)


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def next_fire(at: time, days: int, tz_name: str, after: datetime) -> tuple[datetime, date]:
    """The first fire strictly after `after`: (UTC instant, the local date it belongs to)."""
    if not days & ALL_DAYS:
        raise ValueError("a schedule needs at least one day")
    tz = zone(tz_name)
    day = after.astimezone(tz).date()
    for _ in range(9):  # a week and a bit always holds a chosen day
        if days & (1 << day.weekday()):
            instant = fire_instant(day, at, tz)
            if instant > after:
                return instant, day
        day += timedelta(days=1)
    raise AssertionError("unreachable: no fire within nine days")
