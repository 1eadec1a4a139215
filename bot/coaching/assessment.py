"""The self-assessment: questions from knowledge/assessment.yaml, and answers → a Profile."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from rapidfuzz import fuzz, process

from bot.config import RESOURCES
from bot.knowledge import Chunk, Equipment, Kind, KnowledgeBase, Level

DEFAULT_PATH = RESOURCES / "knowledge" / "assessment.yaml"
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MATCH_SCORE = 85  # rapidfuzz score a friendly cause name needs to count as that cause

Answers = dict[str, tuple[str, ...]]  # question id → chosen option ids


class AssessmentError(Exception):
    """assessment.yaml is broken; the message names the file and the field."""


class UnknownCause(ValueError):
    """A cause name matches no cause (or several); the message lists the valid ones."""


class QuestionId(StrEnum):
    """The fixed questions, in the order they are asked: safety first."""

    PAIN = "pain"
    AGE = "age"
    SIGNS = "signs"
    KIT = "kit"
    LEVEL = "level"
    MINUTES = "minutes"
    DAYS = "days"


class AgeGroup(StrEnum):
    CHILD = "child"  # under about 8: knock knees are usually normal growth; no routine
    YOUNG = "young"  # about 8 to 15
    ADULT = "adult"
    OLDER = "older"  # 65 and over


class Pain(StrEnum):
    NONE = "none"
    MILD = "mild"
    SERIOUS = "serious"  # at rest or after an injury: no routine until a professional clears it


class Profile(BaseModel):
    """What the routine builder needs to know about a user; stored as JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    causes: tuple[str, ...] = Field(min_length=1)
    because: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    level: Level = Level.BEGINNER
    minutes: int = Field(default=10, ge=3, le=60)
    days_per_week: int = Field(default=3, ge=1, le=7)
    pain: Pain = Pain.NONE
    eased: tuple[str, ...] = ()
    age: AgeGroup | None = None  # None: asked before the age question existed
    shifts: dict[str, int] = Field(default_factory=dict)  # exercise id → rungs from reports

    @field_validator("causes", "notes")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @field_validator("equipment")
    @classmethod
    def _canonical_kit(cls, value: tuple[Equipment, ...]) -> tuple[Equipment, ...]:
        return tuple(item for item in Equipment if item in value)

    @field_validator("eased")
    @classmethod
    def _sorted(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG, max_length=20)
    label: str = Field(min_length=1, max_length=60)
    value: str | int | None = None
    causes: tuple[str, ...] = ()
    because: str | None = None
    notes: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    exclusive: bool = False


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: QuestionId
    text: str = Field(min_length=3, max_length=300)
    multi: bool = False
    options: tuple[Option, ...] = Field(min_length=2)

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)

    @model_validator(mode="after")
    def _values_fit(self) -> Question:
        ids = [option.id for option in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        for option in self.options:
            _check_value(self.id, option)
        return self


def _check_value(question: QuestionId, option: Option) -> None:
    """Each question's option values must be something a Profile accepts."""
    value = option.value
    fits = {
        QuestionId.PAIN: lambda: value in set(Pain),
        QuestionId.AGE: lambda: value in set(AgeGroup),
        QuestionId.SIGNS: lambda: bool(option.causes or option.notes),
        QuestionId.KIT: lambda: value is None or value in set(Equipment),
        QuestionId.LEVEL: lambda: value in set(Level),
        QuestionId.MINUTES: lambda: isinstance(value, int) and 3 <= value <= 60,
        QuestionId.DAYS: lambda: isinstance(value, int) and 1 <= value <= 7,
    }
    if not fits[question]():
        raise ValueError(f"option {option.id!r}: value {value!r} does not fit question {question}")


class ButtonLabels(BaseModel):
    """The questionnaire's own button labels; an unknown key is a typo or a leftover."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(min_length=1, max_length=60)
    start: str = Field(min_length=1, max_length=60)
    done: str = Field(min_length=1, max_length=60)
    today: str = Field(min_length=1, max_length=60)
    redo: str = Field(min_length=1, max_length=60)
    minutes: str = Field(min_length=1, max_length=60)
    level: str = Field(min_length=1, max_length=60)
    too_hard: str = Field(min_length=1, max_length=60)
    ease: str = Field(min_length=1, max_length=60)  # {title}: the easier exercise
    howto: str = Field(min_length=1, max_length=60)  # {title}: the exercise
    show: str = Field(min_length=1, max_length=60)


class Questionnaire(BaseModel):
    """The whole assessment file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    screening: str
    questions: tuple[Question, ...]
    starter: Profile
    buttons: ButtonLabels

    @model_validator(mode="after")
    def _every_question_once(self) -> Questionnaire:
        ids = [question.id for question in self.questions]
        if ids != list(QuestionId):
            raise ValueError(f"questions must be {[q.value for q in QuestionId]} in that order")
        return self

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def after(self, question_id: str) -> Question | None:
        """The question asked after this one, or None at the end."""
        ids = [question.id for question in self.questions]
        index = ids.index(QuestionId(question_id)) + 1
        return self.questions[index] if index < len(ids) else None

    def label(self, name: str, **values: str) -> str:
        return getattr(self.buttons, name).format(**values)


def load_questionnaire(path: Path = DEFAULT_PATH, kb: KnowledgeBase | None = None) -> Questionnaire:
    """Parse and validate the file; with a knowledge base, also check the ids it names."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        questionnaire = Questionnaire.model_validate(data)
    except OSError as exc:
        raise AssessmentError(f"{path.name}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise AssessmentError(f"{path.name}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        raise AssessmentError(f"{path.name}: {_describe(exc)}") from exc
    if kb is not None:
        _check_ids(questionnaire, kb, path.name)
    return questionnaire


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"field '{'.'.join(str(p) for p in error['loc']) or '(file)'}': {error['msg']}"
        for error in exc.errors()
    )


def _check_ids(questionnaire: Questionnaire, kb: KnowledgeBase, name: str) -> None:
    """Causes must be cause chunks, stops safety chunks, notes and screening any chunk."""
    wanted: list[tuple[str, str, Kind | None]] = [("screening", questionnaire.screening, None)]
    wanted += [("starter.causes", cause, Kind.CAUSE) for cause in questionnaire.starter.causes]
    wanted += [("starter.notes", note, None) for note in questionnaire.starter.notes]
    for question in questionnaire.questions:
        for option in question.options:
            where = f"questions.{question.id}.{option.id}"
            wanted += [(f"{where}.causes", ref, Kind.CAUSE) for ref in option.causes]
            # a pain stop names warning signs; another stop (a young child's age) any guidance
            stop_kind = Kind.SAFETY if question.id is QuestionId.PAIN else None
            wanted += [(f"{where}.stop", ref, stop_kind) for ref in option.stop]
            wanted += [(f"{where}.notes", ref, None) for ref in option.notes]
    for field, ref, kind in wanted:
        chunk = kb.get(ref)
        if chunk is None or (kind is not None and chunk.kind is not kind):
            expected = f"a {kind.value} id" if kind else "a knowledge id"
            raise AssessmentError(f"{name}: field '{field}' names {ref!r}, not {expected}")


@lru_cache(maxsize=4)
def _cached(path: Path) -> Questionnaire:
    return load_questionnaire(path)


def starter_profile(path: Path = DEFAULT_PATH) -> Profile:
    """A sensible starting profile for users who have not done the assessment."""
    return _cached(path).starter


# -- answering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyStop:
    """The pain answer needs a professional first; `flags` are safety chunk ids to show."""

    flags: tuple[str, ...]


def choose(
    questionnaire: Questionnaire, answers: Answers, question_id: str, option_id: str
) -> Answers:
    """Answers after tapping an option: set it (single) or tick/untick it (multi)."""
    question = questionnaire.question(question_id)
    option = question.option(option_id) if question else None
    if question is None or option is None:
        raise ValueError(f"no option {option_id!r} in question {question_id!r}")
    if not question.multi:
        return {**answers, question.id.value: (option.id,)}
    ticked = answers.get(question.id.value, ())
    if option.id in ticked:
        ticked = tuple(item for item in ticked if item != option.id)
    elif option.exclusive:
        ticked = (option.id,)
    else:
        exclusive = {o.id for o in question.options if o.exclusive}
        ticked = tuple(item for item in ticked if item not in exclusive) + (option.id,)
    return {**answers, question.id.value: ticked}


def is_answered(question: Question, answers: Answers) -> bool:
    """Single questions need one answer; signs need at least one tick; kit may stay empty."""
    ticked = answers.get(question.id.value, ())
    return bool(ticked) or question.id is QuestionId.KIT


def valid_answers(questionnaire: Questionnaire, answers: Answers) -> bool:
    """Every stored answer still names a question and option of the current file."""
    for question_id, ticked in answers.items():
        question = questionnaire.question(question_id)
        if question is None or any(question.option(item) is None for item in ticked):
            return False
    return True


def assess(questionnaire: Questionnaire, answers: Answers) -> Profile | SafetyStop:
    """The profile the answers describe, or a stop: serious pain, or a child too young for it."""
    chosen = {
        question.id: [question.option(item) for item in answers.get(question.id.value, ())]
        for question in questionnaire.questions
    }
    stops = (QuestionId.PAIN, QuestionId.AGE)
    flags = tuple(flag for qid in stops for option in chosen[qid] for flag in option.stop)
    if flags:
        return SafetyStop(flags)
    signs = _in_file_order(questionnaire.question(QuestionId.SIGNS), chosen[QuestionId.SIGNS])
    causes = tuple(cause for option in signs for cause in option.causes)
    because = _because(signs)
    if not causes:  # only signs that point to no cause (standing shape): the common causes
        causes, because = questionnaire.starter.causes, questionnaire.starter.because
    return Profile(
        causes=causes,
        because=because,
        age=_single(chosen, QuestionId.AGE, None),
        notes=tuple(note for options in chosen.values() for o in options for note in o.notes),
        equipment=tuple(o.value for o in chosen[QuestionId.KIT] if o.value is not None),
        level=_single(chosen, QuestionId.LEVEL, Level.BEGINNER),
        minutes=_single(chosen, QuestionId.MINUTES, 10),
        days_per_week=_single(chosen, QuestionId.DAYS, 3),
        pain=_single(chosen, QuestionId.PAIN, Pain.NONE),
    )


def _in_file_order(question: Question, options: list[Option]) -> list[Option]:
    """Tap order must not change the routine: use the order of the file."""
    return [option for option in question.options if option in options]


def _single(chosen: dict[QuestionId, list[Option]], question: QuestionId, default):
    return chosen[question][0].value if chosen[question] else default


def _because(signs: list[Option]) -> dict[str, tuple[str, ...]]:
    """cause id → the user's own signs that point to it, as 'because …' phrases."""
    reasons: dict[str, list[str]] = {}
    for option in signs:
        for cause in option.causes:
            if option.because:
                reasons.setdefault(cause, []).append(option.because)
    return {cause: tuple(phrases) for cause, phrases in reasons.items()}


def answers_for(questionnaire: Questionnaire, profile: Profile) -> Answers:
    """Answers to the adjustable single questions (minutes, level) that match a profile."""
    values = {QuestionId.MINUTES: profile.minutes, QuestionId.LEVEL: profile.level.value}
    answers: Answers = {}
    for question_id, value in values.items():
        question = questionnaire.question(question_id)
        match = [option.id for option in question.options if option.value == value]
        answers[question_id.value] = tuple(match[:1])
    return answers


# -- cause names ---------------------------------------------------------------------------


def resolve_causes(names: list[str], kb: KnowledgeBase) -> tuple[str, ...]:
    """Cause ids for ids or friendly names ('weak-abductors'); UnknownCause lists valid ones."""
    return tuple(dict.fromkeys(resolve_cause(name, kb) for name in names if name.strip()))


def resolve_cause(name: str, kb: KnowledgeBase) -> str:
    """One cause id for an id, title or alias, a near miss of one, or words of an id."""
    causes = kb.of_kind(Kind.CAUSE)
    wanted = _plain(name)
    valid = ", ".join(sorted(c.id for c in causes))
    if not wanted:
        raise UnknownCause(f"no cause given; valid causes: {valid}")
    exact = {c.id for c in causes if wanted in map(_plain, _names(c))}
    matches = exact or _by_id_words(wanted, causes) or _by_phrase(wanted, causes)
    if len(matches) == 1:
        return matches.pop()
    if matches:
        raise UnknownCause(
            f"{_shown(name)!r} could mean {' or '.join(sorted(matches))}; valid causes: {valid}"
        )
    raise UnknownCause(f"unknown cause {_shown(name)!r}; valid causes: {valid}")


def _by_id_words(wanted: str, causes: list[Chunk]) -> set[str]:
    """Causes whose id holds every word ('weak abductors', 'quads'); 'weak' fits several."""
    return {
        cause.id
        for cause in causes
        if all(
            process.extractOne(
                word, _plain(cause.id).split(), scorer=fuzz.ratio, score_cutoff=MATCH_SCORE
            )
            for word in wanted.split()
        )
    }


def _by_phrase(wanted: str, causes: list[Chunk]) -> set[str]:
    """Causes with a name close to the whole phrase (typos); ties are ambiguous.

    The whole phrase must match, not a subset of its words: 'knees' is a word of an alias of
    poor-landing-control but names no cause.
    """
    scores = {
        cause.id: process.extractOne(wanted, map(_plain, _names(cause)), scorer=_closeness)[1]
        for cause in causes
    }
    best = max(scores.values(), default=0)
    return {cause for cause, score in scores.items() if score == best >= MATCH_SCORE}


def _closeness(a: str, b: str, **kwargs) -> float:
    """Spelling ('flatfeet') or word order ('abductors weak'), never a subset of the words."""
    return max(fuzz.ratio(a, b, **kwargs), fuzz.token_sort_ratio(a, b, **kwargs))


def _names(cause: Chunk) -> list[str]:
    return [cause.id, cause.title, *cause.aliases]


def _shown(name: str) -> str:
    """A name short enough to repeat in an error line."""
    return name if len(name) <= 40 else name[:39] + "…"


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").replace("_", " ").split())


# -- options of `kneebot routine` ----------------------------------------------------------


def profile_from_options(
    kb: KnowledgeBase,
    causes: str | None,
    equipment: str = "none",
    level: str = Level.BEGINNER.value,
    minutes: int = 10,
    days: int = 3,
) -> Profile:
    """A profile from command-line options; a ValueError says what is wrong and what is valid."""
    starter = starter_profile()
    # no --causes at all means the starter routine; an empty one is a mistake, not a default
    cause_ids = resolve_causes(causes.split(","), kb) if causes is not None else starter.causes
    if not cause_ids:
        valid = ", ".join(sorted(c.id for c in kb.of_kind(Kind.CAUSE)))
        raise UnknownCause(f"no cause given; valid causes: {valid}")
    if not 3 <= minutes <= 60:
        raise ValueError(f"minutes must be between 3 and 60, not {minutes}")
    if not 1 <= days <= 7:
        raise ValueError(f"days must be between 1 and 7, not {days}")
    if level not in set(Level):
        raise ValueError(f"unknown level {level!r}; valid levels: {', '.join(Level)}")
    return Profile(
        causes=cause_ids,
        equipment=parse_equipment(equipment),
        level=Level(level),
        minutes=minutes,
        days_per_week=days,
        notes=() if causes is not None else starter.notes,
    )


def parse_equipment(text: str) -> tuple[Equipment, ...]:
    """'band,step' → kit; 'none' or '' → no kit; 'roller' is short for foam-roller."""
    kit: list[Equipment] = []
    for name in (_plain(part).replace(" ", "-") for part in text.split(",")):
        if name in ("", "none"):
            continue
        name = {"roller": Equipment.FOAM_ROLLER.value}.get(name, name)
        if name not in set(Equipment):
            valid = ", ".join([*Equipment, "none"])
            raise ValueError(f"unknown equipment {name!r}; valid equipment: {valid}")
        kit.append(Equipment(name))
    return tuple(kit)
