"""A built routine as data: items, day-sessions, the 12-week progression; serialisable to JSON.

`Routine.session_for(day)` is what the daily reminder sends: the rotation over the training days
makes every day-session come up, and each item's `weeks` say what that week asks for.
Routines stored before version 2 have no `weeks`: their `later` variant starts in week 3.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from bot.coaching.assessment import Profile
from bot.knowledge import Phase

PROGRAMME_WEEKS = 12
HARDER_FROM_WEEK = 3  # version-1 routines only: `later` from this week
ROUTINE_VERSION = 2
STORED_DAYS = re.compile(r", \d days? a week$")  # see Variant._without_days


class NotSafeToTrain(ValueError):
    """The profile reports serious pain: no routine until a professional has cleared it."""


class LeftOutReason(StrEnum):
    TIME = "time"  # an exercise exists but does not fit the minutes a day
    NO_MATCH = "no-match"  # no exercise for it fits the user's equipment and level


class Variant(BaseModel):
    """The exercise actually done, as shown to the user."""

    model_config = ConfigDict(frozen=True)

    exercise_id: str
    title: str
    dosage: str
    cue: str
    seconds: int
    instruction: str = ""  # free-text easier/harder variant from the knowledge file
    instruction_kind: Literal["", "easier", "harder"] = ""

    @field_validator("dosage")
    @classmethod
    def _without_days(cls, value: str) -> str:
        """Routines stored before the plan decided the days carried the file's days a week."""
        return STORED_DAYS.sub("", value)


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    cause_id: str
    cause: str
    because: tuple[str, ...] = ()


class RoutineItem(BaseModel):
    """One exercise of the routine: `weeks[w - 1]` is what week w asks for.

    `base` is week 1 and `later` the last week (what version-1 routines stored).
    """

    model_config = ConfigDict(frozen=True)

    exercise_id: str
    phase: Phase
    base: Variant
    later: Variant
    reasons: tuple[Reason, ...]
    seconds: int  # the most any week's variant takes, plus the transition
    days: int = 0  # how many day-sessions of the week include it
    eased: bool = False
    weeks: tuple[Variant, ...] = ()
    strength: bool = False  # placed on the strength days only
    trains: str = ""  # what it works, in plain words, for the "Why" line

    def variant(self, week: int) -> Variant:
        if self.weeks:
            return self.weeks[max(1, min(week, len(self.weeks))) - 1]
        return self.later if week >= HARDER_FROM_WEEK else self.base

    def changes(self) -> list[tuple[int, Variant]]:
        """(first week, variant) each time the prescription changes, from week 1."""
        steps: list[tuple[int, Variant]] = []
        for week, variant in enumerate(self.weeks or (self.base,), start=1):
            if not steps or _prescription(steps[-1][1]) != _prescription(variant):
                steps.append((week, variant))
        return steps


class LeftOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    cause_id: str
    cause: str
    reason: LeftOutReason


class SessionItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    exercise_id: str  # what to do today (may be a variant)
    base_id: str  # the routine item, e.g. for "too hard"
    title: str
    dosage: str
    cue: str
    instruction: str = ""
    instruction_kind: Literal["", "easier", "harder"] = ""


class Session(BaseModel):
    """Today's part of the routine."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    week: int  # week of the programme, 1–12
    complete: bool  # the programme is over (its last week continues)
    items: tuple[SessionItem, ...]
    minutes: int

    @property
    def rest(self) -> bool:
        return not self.items


class Routine(BaseModel):
    """A profile's routine: the items, the week's day-sessions and what could not fit."""

    model_config = ConfigDict(frozen=True)

    version: int = ROUTINE_VERSION
    profile: Profile
    items: tuple[RoutineItem, ...]
    slots: tuple[tuple[str, ...], ...]  # exercise ids per day-session, in session order
    left_out: tuple[LeftOut, ...] = ()
    start: dt.date | None = None

    def item(self, exercise_id: str) -> RoutineItem | None:
        return next((item for item in self.items if item.exercise_id == exercise_id), None)

    @property
    def training_days(self) -> tuple[int, ...]:
        """Default weekdays (Monday = 0) for the profile's days a week, spread out."""
        return spread_days(self.profile.days_per_week)

    def week_of(self, day: dt.date) -> int:
        """Programme week of a date, from 1; past the last week the programme is complete."""
        if self.start is None or day < self.start:
            return 1
        return (day - self.start).days // 7 + 1

    def session_for(self, day: dt.date, training_days: Iterable[int] | None = None) -> Session:
        """The session for a date; a rest day (no items) off the training weekdays."""
        days = tuple(sorted(set(training_days))) if training_days else self.training_days
        week = self.week_of(day)
        ids = self._slot_for(day, days)
        items = [self.item(exercise_id) for exercise_id in ids]
        shown = min(week, PROGRAMME_WEEKS)
        return Session(
            day=day,
            week=shown,
            complete=week > PROGRAMME_WEEKS,
            items=tuple(_session_item(item, shown) for item in items if item),
            minutes=math.ceil(sum(_seconds(item, shown) for item in items if item) / 60),
        )

    def session_seconds(self, week: int) -> list[int]:
        """Computed seconds of each day-session in a week: doses, holds, rest and transitions."""
        return [
            sum(_seconds(item, week) for item in map(self.item, slot) if item)
            for slot in self.slots
        ]

    def _slot_for(self, day: dt.date, days: tuple[int, ...]) -> tuple[str, ...]:
        """Rotate through the slots over consecutive training days, so every slot comes up."""
        if day.weekday() not in days or not self.slots:
            return ()
        week_index = (day.toordinal() - 1) // 7  # day 1 of the calendar is a Monday
        turn = week_index * len(days) + days.index(day.weekday())
        return self.slots[turn % len(self.slots)]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Routine:
        return cls.model_validate(data)


def spread_days(count: int) -> tuple[int, ...]:
    """`count` weekdays spread over the week: 3 → Mon, Wed, Fri."""
    return tuple(i * 7 // count for i in range(count))


TRANSITION_SECONDS = 20  # getting into position and reading the next exercise


def _seconds(item: RoutineItem, week: int) -> int:
    return item.variant(week).seconds + TRANSITION_SECONDS


def _prescription(variant: Variant) -> tuple[str, str, str]:
    return (variant.exercise_id, variant.dosage, variant.instruction)


def _session_item(item: RoutineItem, week: int) -> SessionItem:
    variant = item.variant(week)
    return SessionItem(
        exercise_id=variant.exercise_id,
        base_id=item.exercise_id,
        title=variant.title,
        dosage=variant.dosage,
        cue=variant.cue,
        instruction=variant.instruction,
        instruction_kind=variant.instruction_kind,
    )
