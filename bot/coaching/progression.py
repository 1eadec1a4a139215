"""How one exercise progresses over the 12 weeks, and how the user's reports move it (pure).

Each exercise has a ladder of rungs: its easier variant, its own dose stepped up (more reps or a
longer hold first, then one more set), then its harder variant stepped up the same way. The
calendar climbs one rung every two weeks from a start that depends on the user's level; what the
user reports (done, too easy, too hard, it hurts) shifts that position up or down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from bot.coaching.assessment import Pain, Profile
from bot.coaching.routine import PROGRAMME_WEEKS
from bot.knowledge import Chunk, Dosage, KnowledgeBase, Phase

WEEKS_PER_RUNG = 2  # long enough to learn a step before the next one
MAX_REPS = 12  # the top of the 8–12 range for novices (ACSM 2009)
MAX_SETS = 3
HOLD_STEP = 10  # seconds added to a hold
MAX_HOLD = {Phase.STRETCH: 30, Phase.RELEASE: 90}  # stretches need no more than ~30 s
MAX_HOLD_DEFAULT = 45  # isometric holds (wall sit, side plank variants)
SHIFT_LIMIT = 6


class Feedback(StrEnum):
    """What the user reports about an exercise after a session."""

    DONE = "done"  # fine: carry on with the calendar
    TOO_EASY = "too-easy"  # one rung up
    TOO_HARD = "too-hard"  # one rung down
    PAIN = "pain"  # two rungs down (regress on pain)


FEEDBACK_SHIFT = {Feedback.DONE: 0, Feedback.TOO_EASY: 1, Feedback.TOO_HARD: -1, Feedback.PAIN: -2}
EASED_SHIFT = -2  # the "Too hard / it hurts" button of the routine screen


@dataclass(frozen=True)
class Rung:
    """One step of an exercise's ladder: which exercise, at which dose, with which instruction."""

    chunk: Chunk
    dosage: Dosage
    instruction: str = ""
    instruction_kind: Literal["", "easier", "harder"] = ""


def record_feedback(profile: Profile, exercise_id: str, feedback: Feedback) -> Profile:
    """The profile after a report: the exercise's rung shift moves, within limits."""
    shift = profile.shifts.get(exercise_id, 0) + FEEDBACK_SHIFT[feedback]
    shift = max(-SHIFT_LIMIT, min(SHIFT_LIMIT, shift))
    return profile.model_copy(update={"shifts": {**profile.shifts, exercise_id: shift}})


def ladder(
    exercise: Chunk,
    kb: KnowledgeBase,
    suits: Callable[[Chunk], bool],
    has_kit: Callable[[Chunk], bool],
) -> list[Rung]:
    """Every rung of an exercise, easiest first; named variants only if the user may do them.

    A named harder exercise above the user's level (but with kit they have) is the last rung as
    an instruction to try when ready; one that needs kit they lack is never shown.
    """
    rungs: list[Rung] = []
    easier = kb.get(exercise.easier)
    if easier is not None and suits(easier):
        rungs.append(Rung(easier, easier.dosage))
    elif exercise.easier and easier is None:
        rungs.append(Rung(exercise, exercise.dosage, exercise.easier, "easier"))
    rungs += [Rung(exercise, dose) for dose in dose_steps(exercise)]
    harder = kb.get(exercise.harder)
    if harder is not None and suits(harder):
        # the harder exercise starts at its own dose: stepping up never means fewer sets
        steps = [
            dose for dose in dose_steps(harder) if harder.dosage and dose.sets >= harder.dosage.sets
        ]
        rungs += [Rung(harder, dose) for dose in steps]
    elif exercise.harder and harder is None:
        rungs.append(Rung(exercise, rungs[-1].dosage, exercise.harder, "harder"))
    elif harder is not None and has_kit(harder):
        text = f"when this feels easy, try {harder.title}: {harder.summary}"
        rungs.append(Rung(exercise, rungs[-1].dosage, text, "harder"))
    return rungs


def base_rung(exercise: Chunk, rungs: list[Rung]) -> int | None:
    """Where the exercise's own dose sits on its ladder; failing that (a short session left only
    lighter rungs), its fullest remaining dose; None if nothing of the exercise itself is left."""
    own = [
        i for i, rung in enumerate(rungs) if rung.chunk.id == exercise.id and not rung.instruction
    ]
    exact = [i for i in own if rungs[i].dosage == exercise.dosage]
    return exact[0] if exact else (own[-1] if own else None)


def dose_steps(exercise: Chunk) -> list[Dosage]:
    """Fewer sets (short sessions), the own dose, more reps or a longer hold, one more set."""
    dose = exercise.dosage
    if dose is None:
        return []
    steps = [_with(dose, sets=sets) for sets in range(1, dose.sets)] + [dose]
    if dose.hold_seconds and not dose.reps:
        cap = MAX_HOLD.get(exercise.phase, MAX_HOLD_DEFAULT)
        if dose.hold_seconds < cap:
            steps.append(_with(steps[-1], hold_seconds=min(cap, dose.hold_seconds + HOLD_STEP)))
    elif dose.reps and dose.reps < MAX_REPS:
        steps.append(_with(steps[-1], reps=min(MAX_REPS, dose.reps + 2)))
    if dose.sets < MAX_SETS:
        steps.append(_with(steps[-1], sets=dose.sets + 1))
    return steps


def rung_for_week(
    profile: Profile, exercise: Chunk, rungs: list[Rung], base: int, week: int
) -> int:
    """The calendar's rung for a week, from the level's start, moved by the user's reports."""
    start = base
    if profile.pain is Pain.NONE and exercise.level is not None:
        start += max(0, profile.level.rank - exercise.level.rank)  # advanced: start higher
    shift = profile.shifts.get(exercise.id, 0)
    if exercise.id in profile.eased:
        shift += EASED_SHIFT
    climbed = (min(week, PROGRAMME_WEEKS) - 1) // WEEKS_PER_RUNG
    return max(0, min(len(rungs) - 1, start + climbed + shift))


def _with(dose: Dosage, **changes: int) -> Dosage:
    return dose.model_copy(update=changes)
