"""The one grammar of button actions (Telegram callback_data): `<feature>[:<verb>[:<arg>…]]`.

Every button is built here and every tap is parsed here, so the features never spell another's
strings. Telegram allows at most 64 bytes of callback data; `build` refuses anything longer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"

# Features (the first field). Bare words are entry points: "routine" opens the routine feature.
HOWTO, TOPIC, ASK, MORE = "howto", "topic", "ask", "more"
ROUTINE, ROUTINE_ENTRY = "rt", "routine"
REMIND, REMIND_ENTRY = "rem", "remind"
SESSION = "ses"  # the guided session: ses:<verb>:<date>:<exercise>:<set>
CHECK = "chk"  # the self-check: chk:<left>[:<right>[:<pain>]]
# Features that act for one person: in a group their buttons become deep links to the private chat.
PERSONAL = (ROUTINE, ROUTINE_ENTRY, REMIND, REMIND_ENTRY, SESSION, CHECK)


class ActionError(ValueError):
    """An action that cannot be callback data (too long, or a field with the separator)."""


@dataclass(frozen=True)
class Action:
    feature: str
    verb: str = ""
    args: tuple[str, ...] = ()

    @property
    def arg(self) -> str:
        """The single argument, or "" (for `howto:<id>` and the like)."""
        return self.args[0] if self.args else ""


def build(feature: str, verb: str = "", *args: object) -> str:
    """`feature:verb:arg…` checked against Telegram's limit."""
    fields = [feature, verb, *map(str, args)] if verb or args else [feature]
    if any(SEPARATOR in part for part in fields[:-1]):
        raise ActionError(f"separator inside an action field: {fields!r}")
    data = SEPARATOR.join(fields)
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ActionError(f"action over {MAX_BYTES} bytes: {data!r}")
    return data


def parse(data: str) -> Action:
    """The fields of a tapped button's data; unknown shapes parse too (the feature says no)."""
    feature, *rest = (data or "").split(SEPARATOR)
    verb = rest[0] if rest else ""
    return Action(feature, verb, tuple(rest[1:]))


def howto(exercise_id: str) -> str:
    return build(HOWTO, exercise_id)


def topic(chunk_id: str) -> str:
    return build(TOPIC, chunk_id)


def more(chunk_id: str) -> str:
    """ "Tell me more": the detail, sources and related topics behind a first answer."""
    return build(MORE, chunk_id)


def routine(verb: str, *args: object) -> str:
    return build(ROUTINE, verb, *args)


def remind(verb: str, *args: object) -> str:
    return build(REMIND, verb, *args)


def session(verb: str, *args: object) -> str:
    return build(SESSION, verb, *args)


def check(*args: object) -> str:
    return build(CHECK, *map(str, args)) if args else build(CHECK)


def is_personal(data: str) -> bool:
    return parse(data).feature in PERSONAL


def start_payload(data: str) -> str:
    """The /start payload of a deep link that opens a personal button's feature in private."""
    feature = parse(data).feature
    if feature in (ROUTINE, ROUTINE_ENTRY):
        return ROUTINE_ENTRY
    if feature == SESSION:
        return "session"
    if feature == CHECK:
        return "check"
    return REMIND_ENTRY


def pattern(feature: str, entry: str | None = None) -> str:
    """A regex for python-telegram-bot's CallbackQueryHandler: this feature's taps only."""
    entry_part = f"{re.escape(entry)}$|" if entry else ""
    return rf"^({entry_part}{re.escape(feature)}{SEPARATOR})"
