"""Build a personal corrective routine from a Profile and the knowledge metadata (pure).

Every choice comes from the knowledge files: what each exercise addresses, its kit, level, phase,
dose and variants, and what kind of work each cause needs (`treat_with`: strength for weakness,
stretches for tightness, landing practice for poor control). The week is a set of day-sessions
("slots"): strength work goes on 2–3 non-consecutive days, stretches and mobility on most days,
and exercises are added by value until the minutes are used. Each item carries its 12 weeks of
doses from bot/coaching/progression.py (see bot/coaching/routine.py for the data it produces).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from itertools import combinations

from bot.coaching.assessment import Pain, Profile, starter_profile
from bot.coaching.progression import Rung, base_rung, ladder, rung_for_week
from bot.coaching.routine import (
    HARDER_FROM_WEEK,
    PROGRAMME_WEEKS,
    TRANSITION_SECONDS,
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
    "strength_slots",
]

MAX_EXERCISES = 8  # more than this is hard to learn in the first weeks
MAX_STRENGTH_DAYS = 3  # 2–3 non-consecutive days a week (ACSM 2009)
STRENGTH_PHASES = frozenset({Phase.STRENGTHEN, Phase.INTEGRATE})  # loaded: needs rest days
MOBILITY_PHASES = frozenset({Phase.RELEASE, Phase.STRETCH})  # fine on most days
GROWTH = 1.5  # the heaviest week of an exercise takes at most this much longer than week 1
NO_IMPACT_WHILE_SORE = "plyometric"  # tag of jumping drills, left out while the knee hurts


# -- the builder ----------------------------------------------------------------------------


def build_routine(profile: Profile, kb: KnowledgeBase, start: dt.date | None = None) -> Routine:
    """The routine for a profile; raises NotSafeToTrain for serious pain."""
    if profile.pain is Pain.SERIOUS:
        raise NotSafeToTrain("pain at rest or after an injury: see a professional first")
    pool = _Pool(profile, kb)
    plan = _Plan(
        budget=profile.minutes * 60,
        slots=[[] for _ in range(profile.days_per_week)],
        strength=strength_slots(profile.days_per_week),
    )
    left_out = _cover(pool, plan)
    _balance(pool, plan)
    _fill(pool, plan)
    items = [
        pool.item(exercise_id, plan.days(exercise_id), plan.caps.get(exercise_id))
        for exercise_id in plan.chosen
    ]
    items.sort(key=lambda item: (item.phase.rank, plan.chosen.index(item.exercise_id)))
    order = [item.exercise_id for item in items]
    slots = tuple(tuple(sorted(slot, key=order.index)) for slot in plan.slots)
    return Routine(
        profile=profile, items=tuple(items), slots=slots, left_out=tuple(left_out), start=start
    )


def strength_slots(days_per_week: int) -> tuple[int, ...]:
    """Slots for strength work: up to 3 whose default weekdays are never back to back.

    Sunday and Monday count as consecutive, because the week repeats.
    """
    weekdays = spread_days(days_per_week)
    for count in range(min(MAX_STRENGTH_DAYS, days_per_week), 0, -1):
        for chosen in combinations(range(days_per_week), count):
            if all(_apart(weekdays[a], weekdays[b]) for a, b in combinations(chosen, 2)):
                return chosen
    return ()


def _apart(day: int, other: int) -> bool:
    return (day - other) % 7 not in (1, 6)


@dataclass
class _Plan:
    """The week being filled: day-slots with a time budget each, some of them strength days."""

    budget: int
    slots: list[list[str]]
    strength: tuple[int, ...]
    chosen: list[str] = field(default_factory=list)
    costs: dict[str, int] = field(default_factory=dict)
    caps: dict[str, int] = field(default_factory=dict)  # exercise id → seconds its doses keep to

    def free(self, index: int) -> int:
        return self.budget - sum(self.costs[exercise_id] for exercise_id in self.slots[index])

    def place(self, exercise_id: str, cost: int, wanted: list[int], at_least: int) -> bool:
        """Put an exercise into each wanted slot with room, or nowhere if fewer than at_least."""
        if len(self.chosen) >= MAX_EXERCISES or exercise_id in self.chosen:
            return False
        fits = [i for i in wanted if self.budget - self._used(i) >= cost]
        if len(fits) < at_least or not fits:
            return False
        self.costs[exercise_id] = cost
        for index in fits:
            self.slots[index].append(exercise_id)
        self.chosen.append(exercise_id)
        return True

    def _used(self, index: int) -> int:
        return sum(self.costs[exercise_id] for exercise_id in self.slots[index])

    def days(self, exercise_id: str) -> int:
        return sum(exercise_id in slot for slot in self.slots)


class _Pool:
    """The exercises a profile may do, their ladders, time cost and routine items."""

    def __init__(self, profile: Profile, kb: KnowledgeBase) -> None:
        self.profile = profile
        self.kb = kb
        self.allowed = [ex for ex in kb.of_kind(Kind.EXERCISE) if self.suits(ex)]
        self._ladders = {ex.id: ladder(ex, kb, self.suits, self.has_kit) for ex in self.allowed}

    def has_kit(self, chunk: Chunk) -> bool:
        return set(chunk.equipment) <= set(self.profile.equipment)

    def suits(self, chunk: Chunk) -> bool:
        """Kit the user has, a level no higher than theirs, and no jumping while it hurts."""
        return (
            chunk.kind is Kind.EXERCISE
            and set(chunk.equipment) <= set(self.profile.equipment)
            and chunk.level is not None
            and chunk.level.rank <= self.profile.level.rank
            and not (self.profile.pain is Pain.MILD and NO_IMPACT_WHILE_SORE in chunk.tags)
        )

    def weeks(self, exercise: Chunk, cap: int | None = None) -> list[Rung]:
        """The rung each programme week asks for.

        Rungs that would take more than GROWTH times week 1 (or more than `cap` seconds) are
        skipped: the session's minutes stay honest as it progresses, by reps and harder
        versions more than by extra volume.
        """
        rungs = self._ladders[exercise.id]
        base = base_rung(exercise, rungs)
        first = rungs[rung_for_week(self.profile, exercise, rungs, base or 0, 1)]
        limit = GROWTH * first.dosage.seconds()
        limit = min(limit, cap) if cap is not None else limit
        kept = [rung for rung in rungs if rung.dosage.seconds() <= limit]
        last = rungs[-1]
        if kept and last.instruction_kind == "harder" and last not in kept:
            kept.append(replace(last, dosage=kept[-1].dosage))  # the harder cue at a dose that fits
        rungs = kept
        base = base_rung(exercise, rungs)
        if base is None:
            return []
        return [
            rungs[rung_for_week(self.profile, exercise, rungs, base, week)]
            for week in range(1, PROGRAMME_WEEKS + 1)
        ]

    def cost(self, exercise: Chunk, cap: int | None = None) -> int | None:
        """Seconds in a session in its heaviest week, plus the transition; None if over the cap."""
        weeks = self.weeks(exercise, cap)
        if not weeks:
            return None
        return max(rung.dosage.seconds() for rung in weeks) + TRANSITION_SECONDS

    def value(self, exercise: Chunk) -> tuple[int, int, int, str]:
        """Smaller is better: the right work for more of the causes, at the user's level."""
        fits = [cause for cause in self.profile.causes if cause in exercise.addresses]
        treated = sum(exercise.phase in self._treatment(cause) for cause in fits)
        gap = self.profile.level.rank - (exercise.level.rank if exercise.level else 0)
        return (-treated, -len(fits), gap, exercise.id)

    def _treatment(self, cause_id: str) -> tuple[Phase, ...]:
        cause = self.kb.get(cause_id)
        return cause.treat_with if cause else ()

    def treats(self, exercise: Chunk, cause_id: str) -> bool:
        return cause_id in exercise.addresses and exercise.phase in self._treatment(cause_id)

    def needs_strength(self, cause_id: str) -> bool:
        treatment = self._treatment(cause_id)
        return bool(treatment) and treatment[0] in STRENGTH_PHASES

    def fit_for(self, exercise: Chunk, cause_id: str) -> tuple[bool, int, int]:
        """Smaller is better for one cause: the work it needs, the kind it lists first, and an
        exercise mainly meant for it (its first `addresses` entry) over one that also helps."""
        treatment = self._treatment(cause_id)
        kind = treatment.index(exercise.phase) if exercise.phase in treatment else len(treatment)
        return (not self.treats(exercise, cause_id), kind, exercise.addresses.index(cause_id))

    def candidates(self, plan: _Plan) -> list[Chunk]:
        """Allowed exercises for the user's causes, not a variant of one already chosen."""
        taken = {ref for ex_id in plan.chosen for ref in _family(self.kb.by_id(ex_id))}
        return sorted(
            (
                ex
                for ex in self.allowed
                if set(ex.addresses) & set(self.profile.causes) and not (_family(ex) & taken)
            ),
            key=self.value,
        )

    def item(self, exercise_id: str, days: int, cap: int | None) -> RoutineItem:
        exercise = self.kb.by_id(exercise_id)
        weeks = tuple(_variant(rung) for rung in self.weeks(exercise, cap))
        return RoutineItem(
            exercise_id=exercise.id,
            phase=exercise.phase,
            base=weeks[0],
            later=weeks[-1],
            weeks=weeks,
            reasons=tuple(
                self.reason(cause) for cause in self.profile.causes if cause in exercise.addresses
            ),
            seconds=self.cost(exercise, cap) or 0,
            days=days,
            eased=exercise.id in self.profile.eased,
            strength=exercise.phase in STRENGTH_PHASES,
            trains=" and ".join(exercise.muscles[:2]),
        )

    def reason(self, cause_id: str) -> Reason:
        cause = self.kb.get(cause_id)
        title = cause.title if cause else cause_id
        return Reason(
            cause_id=cause_id, cause=title, because=self.profile.because.get(cause_id, ())
        )


def _variant(rung: Rung) -> Variant:
    return Variant(
        exercise_id=rung.chunk.id,
        title=rung.chunk.title,
        # the plan decides the days, so the knowledge file's days a week would contradict it
        dosage=rung.dosage.describe(with_days=False),
        cue=rung.chunk.summary,
        seconds=rung.dosage.seconds(),
        instruction=rung.instruction,
        instruction_kind=rung.instruction_kind,
    )


def _family(exercise: Chunk) -> set[str]:
    """An exercise and the variants it names: one of a family per routine."""
    return {exercise.id, *(value for value in (exercise.easier, exercise.harder) if value)}


def _place(
    pool: _Pool, plan: _Plan, exercise: Chunk, share: int | None = None, spare: bool = False
) -> bool:
    """Strength work on every strength day; the rest on as many days as its dose asks.

    With a share, its doses are first kept to that many seconds, so that every cause gets its
    part of a short session; if its heaviest week does not fit, its doses are kept to the room
    there is (see weeks()). `spare`: filling leftover room, where one day of a stretch or
    mobility drill is better than an empty day.
    """
    if exercise.phase in STRENGTH_PHASES:
        wanted = list(plan.strength)
    else:
        days = exercise.dosage.days_per_week if exercise.dosage else 1
        # the emptiest days first, so daily stretches spread and strength days keep their room
        wanted = sorted(range(len(plan.slots)), key=lambda i: (-plan.free(i), i))[:days]
    at_least = min(1 if spare and exercise.phase not in STRENGTH_PHASES else 2, len(wanted))
    full = pool.cost(exercise)
    over_share = share is not None and (full is None or full > share + TRANSITION_SECONDS)
    for cap in (share, None) if over_share else (None,):
        cost = pool.cost(exercise, cap)
        if cost is not None and plan.place(exercise.id, cost, wanted, at_least):
            if cap is not None:
                plan.caps[exercise.id] = cap
            return True
    rooms = sorted((plan.free(i) for i in wanted), reverse=True)
    cap = rooms[at_least - 1] - TRANSITION_SECONDS if rooms else 0
    capped = pool.cost(exercise, cap) if cap > 0 else None
    if capped is None or not plan.place(exercise.id, capped, wanted, at_least):
        return False
    plan.caps[exercise.id] = cap
    return True


def _cover(pool: _Pool, plan: _Plan) -> list[LeftOut]:
    """Each cause gets the most valuable exercise of the kind that treats it, if one fits."""
    left_out: list[LeftOut] = []
    # strength work is tied to the strength days, so its causes claim room first
    causes = sorted(pool.profile.causes, key=lambda cause: not pool.needs_strength(cause))
    share = plan.budget // len(causes) - TRANSITION_SECONDS
    for cause in causes:
        if any(pool.treats(pool.kb.by_id(ex_id), cause) for ex_id in plan.chosen):
            continue
        ranked = [ex for ex in pool.candidates(plan) if cause in ex.addresses]
        ranked.sort(key=lambda ex: (pool.fit_for(ex, cause), pool.value(ex)[2], pool.value(ex)))
        if any(_place(pool, plan, ex, share) for ex in ranked):
            continue
        if not any(cause in pool.kb.by_id(ex_id).addresses for ex_id in plan.chosen):
            reason = LeftOutReason.TIME if ranked else LeftOutReason.NO_MATCH
            left_out.append(LeftOut(cause_id=cause, cause=pool.reason(cause).cause, reason=reason))
    return left_out


def _balance(pool: _Pool, plan: _Plan) -> None:
    """Strength and mobility both, when the causes have both: add the best of a missing group."""
    for group in (STRENGTH_PHASES, MOBILITY_PHASES):
        if not any(pool.kb.by_id(ex_id).phase in group for ex_id in plan.chosen):
            any(_place(pool, plan, ex) for ex in pool.candidates(plan) if ex.phase in group)


def _fill(pool: _Pool, plan: _Plan) -> None:
    """Add exercises by value while any fits: 20 minutes hold more than 10."""
    while any(_place(pool, plan, ex) for ex in pool.candidates(plan)):
        pass
    while any(_place(pool, plan, ex, spare=True) for ex in pool.candidates(plan)):
        pass
