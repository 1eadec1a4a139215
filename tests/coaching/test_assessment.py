"""The self-assessment: its data file, answers → profile, and the /routine flow over real SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.coaching.assessment import (
    DEFAULT_PATH,
    AssessmentError,
    Pain,
    Profile,
    QuestionId,
    SafetyStop,
    UnknownCause,
    assess,
    choose,
    load_questionnaire,
    profile_from_options,
    resolve_cause,
    resolve_causes,
    starter_profile,
)
from bot.coaching.builder import Routine
from bot.coaching.flow import RoutineFlow
from bot.compose import Composer
from bot.config import PROJECT_ROOT
from bot.knowledge import Equipment, Kind, KnowledgeBase, Level, load_knowledge
from bot.replies import ReplyKind
from bot.storage.database import Database

KB: KnowledgeBase = load_knowledge(PROJECT_ROOT / "knowledge")
QUESTIONS = load_questionnaire(DEFAULT_PATH, KB)
USER = 4242
SUNDAY_NOON_UTC = dt.datetime(2025, 3, 2, 12, 0, tzinfo=dt.UTC)

FULL_RUN = [
    "routine",
    "rt:go",
    "rt:a:pain:none",
    "rt:a:age:16-64",
    "rt:a:signs:feet",
    "rt:a:signs:squat",
    "rt:ok:signs",
    "rt:a:kit:band",
    "rt:ok:kit",
    "rt:a:level:beginner",
    "rt:a:minutes:10",
    "rt:a:days:3",
]


# -- the data file ---------------------------------------------------------------------------


def test_the_questionnaire_file_is_valid_against_the_knowledge() -> None:
    assert [q.id for q in QUESTIONS.questions] == list(QuestionId)
    causes = {chunk.id for chunk in KB.of_kind(Kind.CAUSE)}
    signs = QUESTIONS.question("signs")
    assert signs is not None and signs.multi
    assert {cause for option in signs.options for cause in option.causes} == causes


def write_variant(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "assessment.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_an_unknown_cause_in_the_file_is_named_with_its_field(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, lambda d: d["questions"][2]["options"][0].update(causes=["weak-toes"])
    )
    with pytest.raises(AssessmentError, match=r"questions\.signs\.squat\.causes.*'weak-toes'"):
        load_questionnaire(path, KB)


def test_a_bad_option_value_is_named_with_its_field(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["questions"][5]["options"][0].update(value=500))
    with pytest.raises(AssessmentError, match=r"assessment\.yaml: field 'questions\.5"):
        load_questionnaire(path)


def test_questions_out_of_order_are_rejected(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["questions"].reverse())
    with pytest.raises(AssessmentError, match="in that order"):
        load_questionnaire(path)


def test_an_unknown_button_label_is_named_with_its_field(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["buttons"].update(again="Start again"))
    with pytest.raises(AssessmentError, match=r"field 'buttons\.again'"):
        load_questionnaire(path)


def test_broken_yaml_is_reported_not_raised_raw(tmp_path: Path) -> None:
    path = tmp_path / "assessment.yaml"
    path.write_text("questions: [unclosed", encoding="utf-8")
    with pytest.raises(AssessmentError, match="not valid YAML"):
        load_questionnaire(path)


def test_starter_profile_comes_from_the_file() -> None:
    starter = starter_profile()
    assert starter == QUESTIONS.starter
    assert set(starter.causes) <= {chunk.id for chunk in KB.of_kind(Kind.CAUSE)}


# -- answers → profile -----------------------------------------------------------------------


def answered(**choices: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    answers: dict[str, tuple[str, ...]] = {}
    for question, options in choices.items():
        for option in options:
            answers = choose(QUESTIONS, answers, question, option)
    return answers


def test_answers_map_to_causes_kit_level_and_time() -> None:
    answers = answered(
        pain=("mild",),
        signs=("ankles", "feet"),
        kit=("band", "roller"),
        level=("intermediate",),
        minutes=("20",),
        days=("4",),
    )
    profile = assess(QUESTIONS, answers)
    assert isinstance(profile, Profile)
    assert profile.causes == ("flat-feet", "tight-peroneals-tibialis", "limited-ankle-dorsiflexion")
    assert profile.because["flat-feet"] == ("you said your feet are flat or your ankles roll in",)
    assert profile.equipment == (Equipment.BAND, Equipment.FOAM_ROLLER)
    assert (profile.level, profile.minutes, profile.days_per_week) == (Level.INTERMEDIATE, 20, 4)
    assert profile.pain is Pain.MILD and "pain-during-exercise" in profile.notes


def test_tap_order_does_not_change_the_profile() -> None:
    one = assess(QUESTIONS, answered(pain=("none",), signs=("hips", "feet", "landing")))
    two = assess(QUESTIONS, answered(pain=("none",), signs=("landing", "hips", "feet")))
    assert one == two


def test_ticking_twice_unticks_and_exclusive_options_clear_the_rest() -> None:
    answers = answered(signs=("squat", "squat"))
    assert answers["signs"] == ()
    answers = answered(signs=("squat", "feet", "unsure"))
    assert answers["signs"] == ("unsure",)
    answers = answered(kit=("none", "band"))
    assert answers["kit"] == ("band",)


def test_pain_at_rest_or_after_injury_is_a_safety_stop() -> None:
    outcome = assess(QUESTIONS, answered(pain=("serious",), signs=("squat",)))
    assert isinstance(outcome, SafetyStop)
    assert set(outcome.flags) <= {chunk.id for chunk in KB.of_kind(Kind.SAFETY)}


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="no option"):
        choose(QUESTIONS, {}, "signs", "<script>")


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("weak-abductors", "weak-hip-abductors"),
        ("flat-feet", "flat-feet"),
        ("Stiff ankles", "limited-ankle-dorsiflexion"),
        ("tight inner thighs", "tight-adductors"),
        ("quads", "weak-quads"),
        ("flatfeet", "flat-feet"),
        ("abductors weak", "weak-hip-abductors"),
    ],
)
def test_friendly_cause_names_resolve(name: str, cause: str) -> None:
    assert resolve_cause(name, KB) == cause


def test_unknown_and_ambiguous_causes_list_the_valid_ones() -> None:
    with pytest.raises(UnknownCause, match="valid causes: flat-feet, "):
        resolve_cause("wobbly elbows", KB)
    with pytest.raises(UnknownCause, match="could mean"):
        resolve_cause("weak", KB)
    assert resolve_causes(["flat-feet", " ", "fallen arches"], KB) == ("flat-feet",)


@pytest.mark.parametrize(
    "name", ["knees", "knee", "cave in", "tight", "<b>{{ 7*7 }}</b>", "x" * 5000]
)
def test_a_word_from_an_alias_or_shared_by_causes_is_refused(name: str) -> None:
    with pytest.raises(UnknownCause, match="valid causes: flat-feet, ") as caught:
        resolve_cause(name, KB)
    assert len(str(caught.value)) < 300  # a long name is not echoed whole


def test_empty_causes_option_is_an_error_not_the_starter() -> None:
    for text in ("", " ", ",", " , "):
        with pytest.raises(UnknownCause, match="no cause given; valid causes: flat-feet, "):
            profile_from_options(KB, text)
    assert profile_from_options(KB, None).causes == starter_profile().causes


# -- the flow over a real database ------------------------------------------------------------


def make_flow(db: Database, clock=lambda: SUNDAY_NOON_UTC) -> RoutineFlow:
    return RoutineFlow.create(
        KB, Composer(PROJECT_ROOT / "prompts"), db, PROJECT_ROOT / "knowledge", clock
    )


async def run(flow: RoutineFlow, actions: list[str]):
    turn = None
    for action in actions:
        turn = await flow.tap(USER, action)
    return turn


async def test_button_taps_lead_to_a_stored_routine(db: Database) -> None:
    turn = await run(make_flow(db), FULL_RUN)
    assert not turn.asking
    assert "Your routine: 10 minutes a day, 3 days a week" in turn.reply.text
    assert "chosen because you said your feet are flat or your ankles roll in" in turn.reply.text
    stored = await db.load_profile(USER)
    assert stored is not None
    answers, data = stored
    routine = Routine.from_dict(data)
    assert answers["kit"] == ["band"]
    assert routine.profile.causes[0] == "weak-hip-abductors"
    assert routine.start == dt.date(2025, 3, 2)
    assert await db.load_draft(USER) is None


async def test_answers_survive_a_restart_mid_way(db: Database, tmp_path: Path) -> None:
    await run(make_flow(db), FULL_RUN[:6])  # pain and age answered, two signs ticked
    await db.close()
    reopened = Database(db.url)
    turn = await make_flow(reopened).open(USER)
    assert turn.asking and "Welcome back" in turn.reply.text
    assert "✅ Flat feet, or ankles roll in" in [b.label for b in turn.reply.buttons]
    turn = await run(make_flow(reopened), FULL_RUN[6:])
    assert "Your routine" in turn.reply.text
    await reopened.close()


async def test_a_stale_button_restarts_cleanly_with_a_message(db: Database) -> None:
    turn = await make_flow(db).tap(USER, "rt:a:level:beginner")
    assert "That questionnaire has ended" in turn.reply.text
    assert not turn.asking
    assert [b.action for b in turn.reply.buttons] == ["rt:check", "rt:go"]


async def test_a_button_of_another_question_asks_the_current_one_again(db: Database) -> None:
    flow = make_flow(db)
    turn = await run(flow, ["rt:go", "rt:a:minutes:10"])
    assert turn.asking and "another question" in turn.reply.text
    assert (await db.load_draft(USER))[0] == "pain"


async def test_signs_need_at_least_one_tick(db: Database) -> None:
    turn = await run(make_flow(db), ["rt:go", "rt:a:pain:none", "rt:a:age:16-64", "rt:ok:signs"])
    assert "tick at least one" in turn.reply.text
    assert (await db.load_draft(USER))[0] == "signs"


async def test_pain_at_rest_gives_the_safety_reply_and_stores_no_routine(db: Database) -> None:
    turn = await run(make_flow(db), ["rt:go", "rt:a:pain:serious"])
    assert turn.reply.kind is ReplyKind.SAFETY
    assert KB.by_id("red-flags-injury").summary in turn.reply.text
    assert [source.id for source in turn.reply.sources] == ["red-flags-injury", "red-flags-medical"]
    assert not turn.asking and not turn.reply.buttons
    assert await db.load_profile(USER) is None
    assert await db.load_draft(USER) is None


async def test_cancel_deletes_the_draft_and_keeps_the_routine(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    await run(flow, ["rt:redo", "rt:a:pain:none"])
    turn = await flow.cancel(USER)
    assert "Left the questionnaire" in turn.reply.text and "stays as it was" in turn.reply.text
    assert await db.load_draft(USER) is None
    assert await db.load_profile(USER) is not None
    assert "There is no questionnaire open" in (await flow.cancel(USER)).reply.text


async def test_routine_shows_the_stored_routine_with_its_buttons(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    turn = await flow.open(USER)
    actions = [b.action for b in turn.reply.buttons]
    assert actions == ["rt:today", "rt:hard", "rt:adj:minutes", "rt:adj:level", "rt:redo"]


async def test_too_hard_swaps_in_the_easier_version_and_stores_it(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    menu = await flow.tap(USER, "rt:hard")
    first = next(b.action for b in menu.reply.buttons if b.action.startswith("rt:ease:"))
    exercise = KB.by_id(first.removeprefix("rt:ease:"))
    turn = await flow.tap(USER, first)
    assert f"Stepped {exercise.title} back to an easier level" in turn.reply.text
    routine = Routine.from_dict((await db.load_profile(USER))[1])
    assert routine.item(exercise.id).eased
    again = await flow.tap(USER, first)
    assert "already at its easier version" in again.reply.text


async def test_changing_minutes_rebuilds_and_keeps_the_programme_week(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    turn = await run(flow, ["rt:adj:minutes", "rt:set:minutes:20"])
    assert "Your routine: 20 minutes a day" in turn.reply.text
    answers, data = await db.load_profile(USER)
    assert answers["minutes"] == ["20"]
    assert Routine.from_dict(data).start == dt.date(2025, 3, 2)


async def test_todays_session_follows_the_users_timezone(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    sunday = await flow.tap(USER, "rt:today")  # 3 days a week: Mon, Wed, Fri
    assert "Rest day" in sunday.reply.text and "Monday" in sunday.reply.text
    await db.set_timezone(USER, "Pacific/Kiritimati")  # UTC+14: already Monday there
    monday = await flow.tap(USER, "rt:today")
    assert "Today's session — week 1 of 12" in monday.reply.text
    assert any(b.action.startswith("howto:") for b in monday.reply.buttons)


async def test_a_tiny_budget_says_what_was_left_out(db: Database) -> None:
    signs = [f"rt:a:signs:{o.id}" for o in QUESTIONS.question("signs").options[:-1]]
    actions = ["rt:go", "rt:a:pain:none", "rt:a:age:16-64", *signs, "rt:ok:signs", "rt:ok:kit"]
    turn = await run(
        make_flow(db), [*actions, "rt:a:level:beginner", "rt:a:minutes:5", "rt:a:days:2"]
    )
    assert "<b>Left out</b>" in turn.reply.html and "choose more minutes" in turn.reply.text


@pytest.mark.parametrize(
    "action",
    [
        "rt:a:pain:<script>alert(1)</script>",
        "rt:a:{{ 7*7 }}:x",
        "rt:" + "x" * 5000,
        "rt:ease:../../etc/passwd",
        "rt:set:days:7",
        "rt:adj:pain",
        "rt:a:pain",
        "rt:\u202e\u0000",
    ],
)
async def test_hostile_button_data_is_harmless(db: Database, action: str) -> None:
    flow = make_flow(db)
    await run(flow, ["rt:go"])
    turn = await flow.tap(USER, action)
    assert "49" not in turn.reply.text and "<script>" not in turn.reply.html
    assert turn.reply.text.strip()


async def test_todays_session_follows_the_reminder_days_the_user_chose(db: Database) -> None:
    flow = make_flow(db)
    await run(flow, FULL_RUN)
    assert "Rest day" in (await flow.tap(USER, "rt:today")).reply.text  # a Sunday
    sunday_only = 1 << 6
    monday = dt.datetime(2025, 3, 3, 7, 0, tzinfo=dt.UTC)
    await db.save_schedule(USER, USER, "07:00", sunday_only, monday, monday.date())
    assert "Today's session" in (await flow.tap(USER, "rt:today")).reply.text


# -- the console channel -----------------------------------------------------------------------


def number_of(output: str, label: str) -> str:
    """The number the console shows in front of a choice."""
    line = next(line for line in output.splitlines() if line.strip().endswith(f"] {label}"))
    return line.strip()[1 : line.strip().index("]")]


async def test_console_runs_the_same_flow_with_numbered_choices(db: Database, coach) -> None:
    from bot.channels.console.chat import CONSOLE_USER_ID, ConsoleChat

    chat = ConsoleChat(coach, routine=make_flow(db))
    output = await chat.handle("/routine")
    assert "Let's build your routine" in output
    labels = [
        "Start the questions", "No pain", "16 to 64", "Flat feet, or ankles roll in", "Done ✓",
        "None", "Done ✓", "Beginner — new to this", "5 minutes", "3 days",
    ]  # fmt: skip
    for label in labels:
        output = await chat.handle(number_of(output, label))
    assert "Your routine: 5 minutes a day, 3 days a week" in output
    assert "<b>" not in output
    assert await db.load_profile(CONSOLE_USER_ID) is not None
    assert "Please pick a number" in await chat.handle("99")


async def test_console_cancel_leaves_the_questionnaire(db: Database, coach) -> None:
    from bot.channels.console.chat import CONSOLE_USER_ID, ConsoleChat

    chat = ConsoleChat(coach, routine=make_flow(db))
    output = await chat.handle("/routine")
    await chat.handle(number_of(output, "Start the questions"))
    assert await db.load_draft(CONSOLE_USER_ID) is not None
    assert "Left the questionnaire" in await chat.handle("/cancel")
    assert await db.load_draft(CONSOLE_USER_ID) is None


def test_every_button_fits_telegrams_callback_limit() -> None:
    from bot.coaching.screens import answer_action, ease_action, set_action

    actions = [ease_action(chunk.id) for chunk in KB.of_kind(Kind.EXERCISE)]
    for question in QUESTIONS.questions:
        for option in question.options:
            actions += [answer_action(question.id, option.id), set_action(question.id, option.id)]
    assert max(len(action.encode()) for action in actions) <= 64


def test_a_child_under_8_gets_the_childrens_guidance_not_a_routine() -> None:
    outcome = assess(QUESTIONS, answered(pain=("none",), age=("under-8",), signs=("standing",)))
    assert isinstance(outcome, SafetyStop)
    assert "children-knock-knees" in outcome.flags


def test_age_is_kept_in_the_profile() -> None:
    profile = assess(QUESTIONS, answered(pain=("none",), age=("8-15",), signs=("squat",)))
    assert isinstance(profile, Profile)
    assert profile.age == "young" and "red-flags-children" in profile.notes


def test_knock_knees_when_standing_points_to_anatomy_not_tight_adductors() -> None:
    profile = assess(QUESTIONS, answered(pain=("none",), age=("16-64",), signs=("standing",)))
    assert isinstance(profile, Profile)
    assert "tight-adductors" not in profile.causes
    assert {"adult-genu-valgum", "red-flags-adults"} <= set(profile.notes)
    assert profile.causes == QUESTIONS.starter.causes  # the common movement causes to train
    phrases = [phrase for group in profile.because.values() for phrase in group]
    assert not any("touch when you stand" in phrase for phrase in phrases)


async def test_a_parent_answering_for_a_young_child_gets_guidance_and_nothing_stored(
    db: Database,
) -> None:
    turn = await run(make_flow(db), ["rt:go", "rt:a:pain:none", "rt:a:age:under-8"])
    assert "normal stage of growth" in turn.reply.text
    assert KB.by_id("children-knock-knees").summary in turn.reply.text
    assert not turn.asking and not turn.reply.buttons
    assert await db.load_profile(USER) is None
