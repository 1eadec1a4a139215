"""What every channel renders: a reply's kind, its text twice (HTML and plain), sources, buttons."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReplyKind(StrEnum):
    ANSWER = "answer"
    HOWTO = "howto"
    SAFETY = "safety"
    UNKNOWN = "unknown"
    INFO = "info"  # welcome and help texts, and commands said in words
    SMALLTALK = "smalltalk"  # greetings, thanks, goodbyes, "what can you do"


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    score: float


@dataclass(frozen=True)
class Button:
    """A follow-up the user can tap; `action` is short and channel-neutral ('howto:clamshell')."""

    label: str
    action: str


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    html: str
    text: str
    sources: tuple[Source, ...] = ()
    buttons: tuple[Button, ...] = field(default=())
    # A command said in words ("remind 07:00", "routine", "progress", "forget"): the channel runs
    # it as if the user had typed the slash command, after showing this reply.
    command: str = ""
