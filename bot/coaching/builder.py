"""Build a personal corrective routine from a Profile and the knowledge metadata (pure).

Every choice comes from the exercise chunks: what they address, the kit and level they need, their
phase, dosage and easier/harder variants. The routine is a week of day-sessions ("slots") that each
fit the user's minutes; together they cover the routine, and a 4-week progression swaps in the
harder variants from week 3 (see bot/routine_model.py for the data it produces).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from bot.coaching.assessment import Pain, Profile, starter_profile
from bot.coaching.routine import (
    HARDER_FROM_WEEK,
    PROGRAMME_WEEKS,
    LeftOut,
    LeftOutReason,
    NotSafeToTrain,
    Reason,
    Routine,
    RoutineItem,
    Session,
    SessionItem,
    Variant,
    spread_days,
)
from bot.knowledge import Chunk, Kind, KnowledgeBase, Phase

__all__ = [
    "HARDER_FROM_WEEK",
    "PROGRAMME_WEEKS",
    "TRANSITION_SECONDS",
    "LeftOut",
    "LeftOutReason",
    "NotSafeToTrain",
    "Profile",
    "Reason",
    "Routine",
    "RoutineItem",
    "Session",
    "SessionItem",
    "Variant",
    "build_routine",
    "spread_days",
    "starter_profile",
]

TRANSITION_SECONDS = 20  # getting into position and reading the next exercise
MAX_EXERCISES = 8  # more than this is hard to learn in a first month
MIN_DAYS = 2  # the core exercises come twice a week before the routine grows broader
PER_CAUSE = 2  # a second exercise per cause, from another phase, when time allows


# -- the builder ----------------------------------------------------------------------------


def build_routine(profile: Profile, kb: KnowledgeBase, start: dt.date | None = None) -> Routine:
    """The routine for a profile; raises NotSafeToTrain for serious pain."""
    if profile.pain is Pain.SERIOUS:
        raise NotSafeToTrain("pain at rest or after an injury: see a professional first")
    pool = _Pool(profile, kb)
    plan = _Plan(budget=profile.minutes * 60, slots=[[] for _ in range(profile.days_per_week)])
    left_out = _cover(profile, pool, plan)
    _repeat(pool, plan, up_to=MIN_DAYS)
    _deepen(profile, pool, plan)
    _integrate(profile, pool, plan)
    _repeat(pool, plan)
    items = [pool.item(exercise_id, plan.days(exercise_id)) for exercise_id in plan.chosen]
    items.sort(key=lambda item: (item.phase.rank, plan.chosen.index(item.exercise_id)))
    order = [item.exercise_id for item in items]
    slots = tuple(tuple(sorted(slot, key=order.index)) for slot in plan.slots)
    return Routine(
        profile=profile, items=tuple(items), slots=slots, left_out=tuple(left_out), start=start
    )


@dataclass
class _Plan:
    """The week being filled: day-slots with a time budget each."""

    budget: int
    slots: list[list[str]]
    chosen: list[str] = field(default_factory=list)
    costs: dict[str, int] = field(default_factory=dict)

    def free(self, slot: list[str]) -> int:
        return self.budget - sum(self.costs[exercise_id] for exercise_id in slot)

    def place(self, exercise_id: str, cost: int) -> bool:
        """Put an exercise into the emptiest slot that has room and lacks it."""
        self.costs.setdefault(exercise_id, cost)
        open_slots = [s for s in self.slots if exercise_id not in s and self.free(s) >= cost]
        if not open_slots:
            return False
        max(open_slots, key=self.free).append(exercise_id)  # max keeps the first of ties
        if exercise_id not in self.chosen:
            self.chosen.append(exercise_id)
        return True

    def days(self, exercise_id: str) -> int:
        return sum(exercise_id in slot for slot in self.slots)


class _Pool:
    """The exercises a profile may do, with their time cost and routine items."""

    def __init__(self, profile: Profile, kb: KnowledgeBase) -> None:
        self.profile = profile
        self.kb = kb
        self.budget = profile.minutes * 60
        self.allowed = [ex for ex in kb.of_kind(Kind.EXERCISE) if self.suits(ex)]

    def suits(self, chunk: Chunk) -> bool:
        """Kit the user has and a level no higher than theirs."""
        return (
            chunk.kind is Kind.EXERCISE
            and set(chunk.equipment) <= set(self.profile.equipment)
            and chunk.level is not None
            and chunk.level.rank <= self.profile.level.rank
        )

    def usable_variant(self, value: str | None) -> Chunk | None:
        """A variant that names an exercise the user may do and that fits a day alone."""
        chunk = self.kb.get(value)
        if chunk is None or not self.suits(chunk):
            return None
        return chunk if _seconds(chunk) + TRANSITION_SECONDS <= self.budget else None

    def cost(self, exercise: Chunk) -> int:
        """Seconds in a session whichever variant a week uses, plus the transition."""
        variants = [exercise, *filter(None, map(self.usable_variant, _variant_ids(exercise)))]
        return max(_seconds(chunk) for chunk in variants) + TRANSITION_SECONDS

    def candidates(self, cause: str, plan: _Plan) -> list[Chunk]:
        """Allowed exercises for a cause that are not a variant of one already chosen."""
        taken = {ref for ex_id in plan.chosen for ref in _family(self.kb.by_id(ex_id))}
        return [ex for ex in self.allowed if cause in ex.addresses and not (_family(ex) & taken)]

    def reach(self, exercise: Chunk) -> int:
        """How many of the profile's causes an exercise addresses."""
        return len(set(exercise.addresses) & set(self.profile.causes))

    def item(self, exercise_id: str, days: int) -> RoutineItem:
        exercise = self.kb.by_id(exercise_id)
        base, later = self._variants(exercise)
        return RoutineItem(
            exercise_id=exercise.id,
            phase=exercise.phase,
            base=base,
            later=later,
            reasons=tuple(
                self.reason(cause) for cause in self.profile.causes if cause in exercise.addresses
            ),
            seconds=self.cost(exercise),
            days=days,
            eased=exercise.id in self.profile.eased,
        )

    def _variants(self, exercise: Chunk) -> tuple[Variant, Variant]:
        """Eased: the easier variant all month; otherwise base, then harder from week 3."""
        if exercise.id in self.profile.eased:
            easier = self.usable_variant(exercise.easier)
            shown = (
                _variant(easier) if easier else self._with_text(exercise, exercise.easier, "easier")
            )
            return shown, shown
        harder = self.usable_variant(exercise.harder)
        later = _variant(harder) if harder else self._with_text(exercise, exercise.harder, "harder")
        return _variant(exercise), later

    def _with_text(
        self, exercise: Chunk, value: str | None, kind: Literal["easier", "harder"]
    ) -> Variant:
        """Keep the exercise and show the variant as an instruction (free text, or a named one)."""
        named = self.kb.get(value)
        text = f"{named.title} — {named.summary}" if named else (value or "")
        return _variant(exercise).model_copy(update={"instruction": text, "instruction_kind": kind})

    def reason(self, cause_id: str) -> Reason:
        cause = self.kb.get(cause_id)
        title = cause.title if cause else cause_id
        return Reason(
            cause_id=cause_id, cause=title, because=self.profile.because.get(cause_id, ())
        )


def _seconds(chunk: Chunk) -> int:
    return chunk.dosage.seconds() if chunk.dosage else 0


def _variant_ids(exercise: Chunk) -> list[str]:
    return [value for value in (exercise.easier, exercise.harder) if value]


def _family(exercise: Chunk) -> set[str]:
    """An exercise and the variants it names: one of a family per routine."""
    return {exercise.id, *_variant_ids(exercise)}


def _variant(chunk: Chunk) -> Variant:
    return Variant(
        exercise_id=chunk.id,
        title=chunk.title,
        # the plan decides the days, so the knowledge file's days a week would contradict it
        dosage=chunk.dosage.describe(with_days=False) if chunk.dosage else "",
        cue=chunk.summary,
        seconds=_seconds(chunk),
    )


def _cover(profile: Profile, pool: _Pool, plan: _Plan) -> list[LeftOut]:
    """Give every cause one exercise if one fits; return the causes that could not be covered."""
    left_out: list[LeftOut] = []
    for cause in profile.causes:
        if any(cause in pool.kb.by_id(ex_id).addresses for ex_id in plan.chosen):
            continue
        uncovered = set(profile.causes) - _covered(pool, plan)
        candidates = pool.candidates(cause, plan)
        ranked = sorted(
            candidates, key=lambda ex: (-len(set(ex.addresses) & uncovered), *_rank(pool, ex))
        )
        if not _place_first(ranked, pool, plan):
            reason = LeftOutReason.TIME if _any_allowed(pool, cause) else LeftOutReason.NO_MATCH
            left_out.append(LeftOut(cause_id=cause, cause=pool.reason(cause).cause, reason=reason))
    return left_out


def _covered(pool: _Pool, plan: _Plan) -> set[str]:
    return {cause for ex_id in plan.chosen for cause in pool.kb.by_id(ex_id).addresses}


def _any_allowed(pool: _Pool, cause: str) -> bool:
    return any(cause in ex.addresses for ex in pool.allowed)


def _rank(pool: _Pool, exercise: Chunk) -> tuple[int, int, int, str]:
    """Broader first, then shorter, then training over loosening; the id breaks ties."""
    return (-pool.reach(exercise), _seconds(exercise), -exercise.phase.rank, exercise.id)


def _place_first(ranked: list[Chunk], pool: _Pool, plan: _Plan) -> bool:
    for exercise in ranked:
        if len(plan.chosen) < MAX_EXERCISES and plan.place(exercise.id, pool.cost(exercise)):
            return True
    return False


def _deepen(profile: Profile, pool: _Pool, plan: _Plan) -> None:
    """A second exercise per cause from a phase it lacks (e.g. a stretch plus a strengthener)."""
    for cause in profile.causes:
        have = [pool.kb.by_id(i) for i in plan.chosen if cause in pool.kb.by_id(i).addresses]
        if not have or len(have) >= PER_CAUSE:
            continue
        phases = {exercise.phase for exercise in have}
        ranked = sorted(
            (ex for ex in pool.candidates(cause, plan) if ex.phase not in phases),
            key=lambda ex: _rank(pool, ex),
        )
        _place_first(ranked, pool, plan)


def _integrate(profile: Profile, pool: _Pool, plan: _Plan) -> None:
    """End with a whole-movement exercise (step-down, balance, squat) when one fits."""
    if any(pool.kb.by_id(i).phase is Phase.INTEGRATE for i in plan.chosen):
        return
    found = {ex.id: ex for cause in profile.causes for ex in pool.candidates(cause, plan)}
    ranked = sorted(
        (ex for ex in found.values() if ex.phase is Phase.INTEGRATE), key=lambda ex: _rank(pool, ex)
    )
    _place_first(ranked, pool, plan)


def _repeat(pool: _Pool, plan: _Plan, up_to: int = 7) -> None:
    """Repeat chosen exercises on more days, up to their weekly dose, while time allows."""
    targets = {
        ex_id: min(_days_per_week(pool.kb.by_id(ex_id)), len(plan.slots)) for ex_id in plan.chosen
    }
    for round_number in range(2, min(len(plan.slots), up_to) + 1):
        for ex_id in plan.chosen:
            if targets[ex_id] >= round_number and plan.days(ex_id) < round_number:
                plan.place(ex_id, plan.costs[ex_id])


def _days_per_week(exercise: Chunk) -> int:
    return exercise.dosage.days_per_week if exercise.dosage else 1
