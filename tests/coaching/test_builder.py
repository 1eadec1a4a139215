"""The routine builder: property tests over random profiles, plus the progression and rotation."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.coaching.assessment import Pain, Profile, load_questionnaire, starter_profile
from bot.coaching.builder import (
    HARDER_FROM_WEEK,
    LeftOutReason,
    NotSafeToTrain,
    Routine,
    build_routine,
    spread_days,
    strength_slots,
)
from bot.coaching.progression import Feedback, record_feedback
from bot.coaching.screens import RoutineScreens
from bot.compose import Composer
from bot.config import PROJECT_ROOT
from bot.knowledge import Chunk, Equipment, Kind, KnowledgeBase, Level, Phase, load_knowledge

KB: KnowledgeBase = load_knowledge(PROJECT_ROOT / "knowledge")
CAUSES = sorted(chunk.id for chunk in KB.of_kind(Kind.CAUSE))
EXERCISES = sorted(chunk.id for chunk in KB.of_kind(Kind.EXERCISE))
MONDAY = dt.date(2025, 3, 3)

profiles = st.builds(
    Profile,
    causes=st.lists(st.sampled_from(CAUSES), min_size=1, max_size=len(CAUSES), unique=True).map(
        tuple
    ),
    equipment=st.lists(st.sampled_from(list(Equipment)), unique=True).map(tuple),
    level=st.sampled_from(list(Level)),
    minutes=st.integers(min_value=3, max_value=60),
    days_per_week=st.integers(min_value=1, max_value=7),
    pain=st.sampled_from([Pain.NONE, Pain.MILD]),
    eased=st.lists(st.sampled_from(EXERCISES), max_size=4).map(tuple),
)
checks = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


DOSE = re.compile(r"(\d+) × (?:(\d+) reps(?: with a (\d+) s hold)?|(\d+) s hold)( per side)?")


def weeks_of_sessions(routine: Routine):
    """Every day of the 12-week programme (and one week past it)."""
    return [routine.session_for(MONDAY + dt.timedelta(days=n)) for n in range(13 * 7)]


def shown_variants(routine: Routine):
    return [variant for item in routine.items for variant in item.weeks]


def suits(exercise: Chunk, profile: Profile) -> bool:
    return set(exercise.equipment) <= set(profile.equipment) and (
        exercise.level.rank <= profile.level.rank
    )


def computed_seconds(dosage: str, exercise_id: str) -> int:
    """sets × reps × 4 s + holds (2 s to settle) + rest between sets + side switches + 20 s."""
    sets, reps, rep_hold, hold, side = DOSE.match(dosage).groups()
    sets = int(sets)
    work = int(reps) * (int(rep_hold) + 2 if rep_hold else 4) if reps else int(hold) + 2
    rest = KB.by_id(exercise_id).dosage.rest_seconds
    sides = 2 if side else 1
    return sets * work * sides + (5 * sets if side else 0) + (sets - 1) * rest + 20


def strength_weekdays(routine: Routine) -> set[int]:
    days = set()
    for day in range(7):
        session = routine.session_for(MONDAY + dt.timedelta(days=day))
        if any(routine.item(item.base_id).strength for item in session.items):
            days.add(day)
    return days


@given(profiles)
@checks
def test_every_session_of_every_week_fits_the_minutes(profile: Profile) -> None:
    routine = build_routine(profile, KB, start=MONDAY)
    for session in weeks_of_sessions(routine):
        spent = sum(computed_seconds(item.dosage, item.exercise_id) for item in session.items)
        assert spent <= profile.minutes * 60, session


@given(profiles)
@checks
def test_stated_minutes_match_the_doses_within_15_percent(profile: Profile) -> None:
    routine = build_routine(profile, KB, start=MONDAY)
    for session in weeks_of_sessions(routine):
        if session.rest:
            continue
        computed = sum(computed_seconds(item.dosage, item.exercise_id) for item in session.items)
        assert abs(session.minutes * 60 - computed) <= max(0.15 * computed, 60), session


@given(profiles)
@checks
def test_every_week_of_every_exercise_uses_only_the_users_kit(profile: Profile) -> None:
    routine = build_routine(profile, KB)
    for variant in shown_variants(routine):
        assert set(KB.by_id(variant.exercise_id).equipment) <= set(profile.equipment), variant
        for other in KB.of_kind(Kind.EXERCISE):  # an exercise named in a "try it" instruction
            if other.title in variant.instruction:
                assert set(other.equipment) <= set(profile.equipment), variant


@given(profiles)
@checks
def test_never_above_the_users_level(profile: Profile) -> None:
    routine = build_routine(profile, KB)
    for variant in shown_variants(routine):
        assert KB.by_id(variant.exercise_id).level.rank <= profile.level.rank, variant


@given(profiles)
@checks
def test_strength_days_are_never_back_to_back(profile: Profile) -> None:
    routine = build_routine(profile, KB, start=MONDAY)
    days = strength_weekdays(routine)
    for day in days:
        assert (day + 1) % 7 not in days, (days, routine.training_days)
    for item in routine.items:
        if item.strength and profile.days_per_week >= 2:
            assert item.days >= 2, item.exercise_id


@given(profiles.map(lambda p: p.model_copy(update={"pain": Pain.MILD})))
@checks
def test_no_jumping_while_the_knee_hurts(profile: Profile) -> None:
    routine = build_routine(profile, KB)
    for variant in shown_variants(routine):
        assert "plyometric" not in KB.by_id(variant.exercise_id).tags, variant


@given(profiles.map(lambda p: p.model_copy(update={"pain": Pain.SERIOUS})))
@checks
def test_pain_at_rest_or_after_injury_gives_no_routine(profile: Profile) -> None:
    with pytest.raises(NotSafeToTrain):
        build_routine(profile, KB)


@given(profiles)
@checks
def test_same_profile_gives_the_same_routine(profile: Profile) -> None:
    first = build_routine(profile, KB, start=MONDAY)
    again = build_routine(Profile.model_validate(profile.model_dump(mode="json")), KB, start=MONDAY)
    assert first == again
    assert Routine.from_dict(first.to_dict()) == first


@given(profiles)
@checks
def test_every_cause_is_covered_or_reported_left_out(profile: Profile) -> None:
    routine = build_routine(profile, KB)
    covered = {cause for item in routine.items for cause in KB.by_id(item.exercise_id).addresses}
    left_out = {entry.cause_id: entry.reason for entry in routine.left_out}
    for cause in profile.causes:
        assert (cause in covered) != (cause in left_out), cause
        if left_out.get(cause) is LeftOutReason.NO_MATCH:
            assert not any(
                cause in ex.addresses and suits(ex, profile) for ex in KB.of_kind(Kind.EXERCISE)
            )
    for item in routine.items:
        assert {reason.cause_id for reason in item.reasons} <= set(profile.causes)


@given(profiles)
@checks
def test_one_week_of_sessions_covers_the_whole_routine(profile: Profile) -> None:
    routine = build_routine(profile, KB, start=MONDAY)
    week = [routine.session_for(MONDAY + dt.timedelta(days=n)) for n in range(7)]
    done = {item.base_id for session in week for item in session.items}
    assert done == {item.exercise_id for item in routine.items}
    assert sum(not session.rest for session in week) <= profile.days_per_week


@given(profiles)
@checks
def test_sessions_run_release_to_integrate(profile: Profile) -> None:
    routine = build_routine(profile, KB, start=MONDAY)
    for session in weeks_of_sessions(routine)[:14]:
        ranks = [routine.item(item.base_id).phase.rank for item in session.items]
        assert ranks == sorted(ranks)


@given(profiles.filter(lambda p: p.minutes <= 30))
@checks
def test_more_minutes_never_hold_less_work(profile: Profile) -> None:
    short = build_routine(profile, KB)
    long = build_routine(profile.model_copy(update={"minutes": profile.minutes * 2}), KB)
    assert sum(long.session_seconds(1)) >= sum(short.session_seconds(1))


def test_twenty_minutes_hold_more_than_ten() -> None:
    profile = Profile(causes=("weak-hip-abductors", "weak-hip-external-rotators"), minutes=10)
    ten = build_routine(profile, KB)
    twenty = build_routine(profile.model_copy(update={"minutes": 20}), KB)
    assert len(twenty.items) > len(ten.items)
    assert min(twenty.session_seconds(1)) > max(ten.session_seconds(1))
    assert min(twenty.session_seconds(1)) >= 0.75 * 20 * 60  # the minutes are used


def test_weak_abductors_get_an_abductor_strengthener() -> None:
    for level in Level:
        routine = build_routine(Profile(causes=("weak-hip-abductors",), level=level), KB)
        assert any(
            item.phase is Phase.STRENGTHEN
            and "weak-hip-abductors" in KB.by_id(item.exercise_id).addresses
            for item in routine.items
        ), level


def test_landing_problems_get_the_landing_drill_when_the_level_allows() -> None:
    kit = (Equipment.STEP,)
    for level, drills in (
        (Level.BEGINNER, {"single-leg-balance"}),
        (Level.INTERMEDIATE, {"drop-landing", "landing-progression"}),
    ):
        profile = Profile(causes=("poor-landing-control",), level=level, equipment=kit)
        chosen = {item.exercise_id for item in build_routine(profile, KB).items}
        assert chosen & drills, (level, chosen)


def test_stretches_come_on_most_days() -> None:
    profile = Profile(causes=("tight-adductors", "weak-quads"), minutes=20, days_per_week=5)
    routine = build_routine(profile, KB)
    stretches = [item for item in routine.items if item.phase is Phase.STRETCH]
    assert stretches and all(item.days >= 4 for item in stretches)
    assert any(item.strength for item in routine.items)  # and strength alongside


def test_strength_days_for_each_week_length() -> None:
    weekdays = {n: {spread_days(n)[i] for i in strength_slots(n)} for n in range(1, 8)}
    assert weekdays[2] == {0, 3} and weekdays[3] == {0, 2, 4} and weekdays[7] == {0, 2, 4}
    for days in weekdays.values():
        assert all((day + 1) % 7 not in days for day in days)


def test_twelve_weeks_step_up_by_dose_first_then_the_harder_exercise() -> None:
    profile = Profile(
        causes=("poor-landing-control",), level=Level.INTERMEDIATE, equipment=(Equipment.STEP,)
    )
    routine = build_routine(profile, KB, start=MONDAY)
    item = routine.item("drop-landing")  # its harder version is the landing progression
    harder = KB.by_id(item.exercise_id).harder
    assert len(item.weeks) == 12
    ids = [variant.exercise_id for variant in item.weeks]
    assert harder in ids and ids[0] == item.exercise_id
    first_harder = ids.index(harder)
    own = [v.dosage for v in item.weeks[:first_harder]]
    assert len(set(own)) >= 2  # more reps or sets before the harder exercise
    assert routine.session_for(MONDAY + dt.timedelta(weeks=11)).week == 12
    assert routine.session_for(MONDAY + dt.timedelta(weeks=12)).complete


def test_reports_move_an_exercise_up_or_down_its_ladder() -> None:
    profile = Profile(causes=("weak-hip-abductors",), minutes=20)
    exercise_id = build_routine(profile, KB).items[0].exercise_id

    def week_one(p: Profile):
        return build_routine(p, KB).item(exercise_id).weeks[0]

    start = week_one(profile)
    easier = record_feedback(profile, exercise_id, Feedback.TOO_EASY)
    assert week_one(easier) != start
    assert week_one(record_feedback(easier, exercise_id, Feedback.TOO_HARD)) == start
    assert week_one(record_feedback(profile, exercise_id, Feedback.DONE)) == start
    hurt = record_feedback(profile, exercise_id, Feedback.PAIN)
    assert week_one(hurt).seconds < start.seconds or week_one(hurt).instruction_kind == "easier"


def test_advanced_starts_further_up_the_same_exercise() -> None:
    causes = ("weak-quads",)
    beginner = build_routine(Profile(causes=causes, minutes=20), KB)
    advanced = build_routine(Profile(causes=causes, minutes=20, level=Level.ADVANCED), KB)
    shared = {i.exercise_id for i in beginner.items} & {i.exercise_id for i in advanced.items}
    assert shared
    for exercise_id in shared:
        assert advanced.item(exercise_id).weeks[0] != beginner.item(exercise_id).weeks[0]


def test_too_hard_steps_the_exercise_back() -> None:
    profile = Profile(causes=("weak-hip-external-rotators",), level=Level.INTERMEDIATE, minutes=10)
    first = build_routine(profile, KB).items[0]
    eased = build_routine(profile.model_copy(update={"eased": (first.exercise_id,)}), KB)
    item = eased.item(first.exercise_id)
    assert item is not None and item.eased
    assert item.weeks[0] != first.weeks[0]


def test_starter_profile_builds_a_routine_that_rotates_by_day() -> None:
    routine = build_routine(starter_profile(), KB, start=MONDAY)
    training = [MONDAY + dt.timedelta(days=d) for d in spread_days(3)]
    sessions = [routine.session_for(day) for day in training]
    assert all(session.items for session in sessions)
    assert routine.session_for(MONDAY + dt.timedelta(days=1)).rest  # Tuesday is a rest day
    assert not routine.left_out


def test_doses_leave_the_days_a_week_to_the_plan() -> None:
    routine = build_routine(Profile(causes=tuple(CAUSES), minutes=20), KB, start=MONDAY)
    session_items = [item for session in weeks_of_sessions(routine) for item in session.items]
    doses = [variant.dosage for variant in shown_variants(routine)]
    doses += [item.dosage for item in session_items]
    assert doses and all(dose and "a week" not in dose for dose in doses), doses
    dosage = KB.by_id(routine.items[0].exercise_id).dosage
    assert dosage.describe().endswith(f", {dosage.days_per_week} days a week")  # the how-to
    assert dosage.describe(with_days=False) == dosage.describe().rsplit(", ", 1)[0]


def test_a_routine_stored_before_the_twelve_weeks_still_reads() -> None:
    data = build_routine(Profile(causes=("flat-feet",)), KB, start=MONDAY).to_dict()
    data["version"] = 1
    for item in data["items"]:
        for key in ("weeks", "strength", "trains"):
            item.pop(key)
        for week in ("base", "later"):
            item[week]["dosage"] += ", 7 days a week"  # the format stored before the fix
    routine = Routine.from_dict(data)
    session = routine.session_for(MONDAY)
    assert session.items and all("a week" not in item.dosage for item in session.items)
    later = routine.session_for(MONDAY + dt.timedelta(weeks=HARDER_FROM_WEEK - 1))
    assert [i.dosage for i in later.items] == [
        routine.item(i.base_id).later.dosage for i in later.items
    ]


def test_why_says_what_the_user_said_and_what_the_exercise_trains() -> None:
    profile = Profile(
        causes=("poor-landing-control",),
        because={"poor-landing-control": ("you said your knees cave in when you land or run",)},
        minutes=10,
    )
    routine = build_routine(profile, KB, start=MONDAY)
    screens = RoutineScreens(KB, load_questionnaire(), Composer(PROJECT_ROOT / "prompts"))
    text = screens.routine(routine, MONDAY).text
    assert "Why: chosen because you said your knees cave in when you land or run: it " in text
    item = routine.items[0]
    assert item.trains and item.trains in text


def test_reasons_carry_the_users_own_words() -> None:
    profile = Profile(
        causes=("flat-feet",), because={"flat-feet": ("your ankles roll in",)}, minutes=5
    )
    routine = build_routine(profile, KB)
    reason = routine.items[0].reasons[0]
    assert reason.cause_id == "flat-feet"
    assert reason.because == ("your ankles roll in",)
    assert reason.cause == KB.by_id("flat-feet").title


def test_a_tiny_budget_reports_what_was_left_out() -> None:
    profile = Profile(causes=tuple(CAUSES), minutes=3, days_per_week=1)
    routine = build_routine(profile, KB)
    assert routine.left_out
    assert all(entry.reason is LeftOutReason.TIME for entry in routine.left_out)


def test_custom_training_days_rotate_through_every_slot() -> None:
    profile = Profile(causes=tuple(CAUSES), minutes=5, days_per_week=4)
    routine = build_routine(profile, KB, start=MONDAY)
    fridays = [MONDAY + dt.timedelta(days=4 + 7 * n) for n in range(len(routine.slots))]
    seen = {tuple(i.base_id for i in routine.session_for(d, [4]).items) for d in fridays}
    assert seen == {slot for slot in routine.slots}


# -- `kneebot routine` -----------------------------------------------------------------------


def kneebot_routine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "routine", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_cli_prints_the_routine_as_json_for_friendly_cause_names() -> None:
    result = kneebot_routine(
        "--causes", "flat-feet,weak-abductors", "--equipment", "band", "--level", "beginner",
        "--minutes", "10", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    routine = Routine.from_dict(data)
    assert routine.profile.causes == ("flat-feet", "weak-hip-abductors")
    assert routine.profile.equipment == (Equipment.BAND,)
    assert data["training_days"] == ["mon", "wed", "fri"]
    assert routine == build_routine(routine.profile, KB)


def test_cli_names_the_valid_causes_for_an_unknown_one() -> None:
    result = kneebot_routine("--causes", "flat-feet,wobbly-elbows")
    assert result.returncode == 2
    assert "unknown cause 'wobbly-elbows'" in result.stderr
    assert all(cause in result.stderr for cause in CAUSES)
    assert result.stdout == ""


@pytest.mark.parametrize("causes", ["knees", ""])
def test_cli_refuses_a_vague_or_empty_cause_list(causes: str) -> None:
    result = kneebot_routine("--causes", causes, "--json")
    assert result.returncode == 2
    assert "valid causes: flat-feet, " in result.stderr
    assert result.stdout == ""


def test_cli_refuses_bad_settings_with_a_clear_message() -> None:
    assert "valid equipment" in kneebot_routine("--equipment", "kettle").stderr
    assert "between 3 and 60" in kneebot_routine("--minutes", "0").stderr
    assert "valid levels" in kneebot_routine("--level", "expert").stderr


def test_cli_prints_plain_text_without_markup() -> None:
    result = kneebot_routine("--minutes", "5", "--start", "2025-03-03")
    assert result.returncode == 0, result.stderr
    assert "Your routine: 5 minutes a day, 3 days a week" in result.stdout
    assert result.stdout.count("days a week") == 1  # the doses leave the days to the plan
    assert "<b>" not in result.stdout
