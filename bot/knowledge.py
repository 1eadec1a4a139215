"""Load knowledge/*.md (YAML front matter + Markdown body) and validate it against the schema."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path

import frontmatter
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.pictures.poses import Picture


class KnowledgeError(Exception):
    """A knowledge file is broken; the message names the file and the field."""


class Kind(StrEnum):
    OVERVIEW = "overview"
    CAUSE = "cause"
    EXERCISE = "exercise"
    FAQ = "faq"
    SAFETY = "safety"


class Level(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class Equipment(StrEnum):
    """Kit a user may not have; household things (floor, wall, chair) need no entry."""

    BAND = "band"
    STEP = "step"
    WEIGHT = "weight"
    FOAM_ROLLER = "foam-roller"


class Phase(StrEnum):
    """Where an exercise sits in a session, in the order a session runs."""

    RELEASE = "release"
    STRETCH = "stretch"
    ACTIVATE = "activate"
    STRENGTHEN = "strengthen"
    INTEGRATE = "integrate"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)


REP_SECONDS = 4  # one controlled rep
SETTLE_SECONDS = 2  # getting into and out of a held position
SWITCH_SECONDS = 5  # changing sides within a set


class Dosage(BaseModel):
    """How much of an exercise: reps or a hold, per set."""

    model_config = ConfigDict(extra="forbid")

    sets: int = Field(ge=1, le=10)
    reps: int | None = Field(default=None, ge=1, le=100)
    hold_seconds: int | None = Field(default=None, ge=1, le=300)
    per_side: bool = False
    rest_seconds: int = Field(default=30, ge=0, le=300)
    days_per_week: int = Field(ge=1, le=7)

    @model_validator(mode="after")
    def _reps_or_hold(self) -> Dosage:
        if self.reps is None and self.hold_seconds is None:
            raise ValueError("needs reps or hold_seconds")
        return self

    def describe(self, with_days: bool = True) -> str:
        """A human line such as '3 × 12 reps per side, 3 days a week' (days optional)."""
        amount = f"{self.reps} reps" if self.reps else f"{self.hold_seconds} s hold"
        if self.reps and self.hold_seconds:
            amount = f"{self.reps} reps with a {self.hold_seconds} s hold"
        side = " per side" if self.per_side else ""
        days = f", {self.days_per_week} days a week" if with_days else ""
        return f"{self.sets} × {amount}{side}{days}"

    def seconds(self) -> int:
        """Estimated time for all sets, both sides, with rest between sets and side switches.

        A rep takes REP_SECONDS (about 1 s up, a short pause, 2 s down, as the how-tos describe);
        a held rep adds SETTLE_SECONDS to get into and out of the hold.
        """
        if self.hold_seconds is None:
            work = (self.reps or 1) * REP_SECONDS
        elif self.reps:
            work = self.reps * (self.hold_seconds + SETTLE_SECONDS)
        else:
            work = self.hold_seconds + SETTLE_SECONDS
        sides = 2 if self.per_side else 1
        switches = self.sets * SWITCH_SECONDS if self.per_side else 0
        return self.sets * work * sides + switches + (self.sets - 1) * self.rest_seconds


class Chunk(BaseModel):
    """One curated passage of the knowledge base (one file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=3, max_length=80)
    kind: Kind
    summary: str = Field(min_length=10, max_length=300)
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    # Cause-only: the kinds of work that treat it (strength for weakness, stretches for tightness).
    treat_with: tuple[Phase, ...] = ()
    # Overview-only: a hub topic that maps a whole area and links to its chunks via `related`.
    hub: bool = False
    # Exercise-only fields.
    muscles: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    level: Level | None = None
    phase: Phase | None = None
    picture: Picture | None = None  # how to draw it (bot/pictures); every exercise has one
    dosage: Dosage | None = None
    steps: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()
    easier: str | None = None
    harder: str | None = None
    # Safety-only: phrases that mark a message as a red flag.
    triggers: tuple[str, ...] = ()
    # Example questions the way people type them, for matching question to question.
    questions: tuple[str, ...] = ()
    body: str = Field(min_length=40)
    path: str = Field(default="", exclude=True)

    @field_validator("aliases", "tags", "muscles", "steps", "mistakes", "triggers", "questions")
    @classmethod
    def _no_blank_items(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("contains an empty item")
        return value

    @field_validator("triggers")
    @classmethod
    def _triggers_need_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A rule of "!word" groups only would fire on every message without those words.
        if any(all(group.startswith("!") for group in rule.split()) for rule in value):
            raise ValueError("has a rule with only '!' (none of) groups")
        return value

    @field_validator("questions")
    @classmethod
    def _questions_are_distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen = [item.strip().lower() for item in value]
        if len(set(seen)) != len(seen):
            raise ValueError("lists the same question twice")
        if any(len(item) > 200 for item in value):
            raise ValueError("has a question over 200 characters")
        return value

    @field_validator("hub")
    @classmethod
    def _hub_is_an_overview(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("kind") is not Kind.OVERVIEW:
            raise ValueError("only an overview can be a hub")
        if value and len(info.data.get("related", ())) < 3:
            raise ValueError("a hub needs at least 3 ids in related")
        return value

    @field_validator("treat_with")
    @classmethod
    def _treatment_is_for_a_cause(cls, value: tuple[Phase, ...], info: ValidationInfo):
        if value and info.data.get("kind") is not Kind.CAUSE:
            raise ValueError("only a cause names the work that treats it")
        return value

    @model_validator(mode="after")
    def _exercise_is_complete(self) -> Chunk:
        if self.kind is not Kind.EXERCISE:
            return self
        missing = [
            name
            for name in ("muscles", "addresses", "level", "phase", "dosage", "steps", "mistakes")
            if not getattr(self, name)
        ]
        missing += [name for name in ("easier", "harder") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"an exercise needs {', '.join(missing)}")
        return self

    @property
    def search_text(self) -> str:
        """What the retrievers index: title, aliases, summary and body."""
        return "\n".join([self.title, ", ".join(self.aliases), self.summary, self.body])


class KnowledgeBase(BaseModel):
    """All chunks, by id, with a fingerprint of the files they came from."""

    chunks: tuple[Chunk, ...]
    fingerprint: str

    def by_id(self, chunk_id: str) -> Chunk:
        return self._ids()[chunk_id]

    def get(self, chunk_id: str | None) -> Chunk | None:
        return self._ids().get(chunk_id) if chunk_id else None

    def of_kind(self, kind: Kind) -> list[Chunk]:
        return [chunk for chunk in self.chunks if chunk.kind is kind]

    def _ids(self) -> dict[str, Chunk]:
        cached = self.__dict__.get("_id_map")
        if cached is None:
            cached = {chunk.id: chunk for chunk in self.chunks}
            self.__dict__["_id_map"] = cached
        return cached


def knowledge_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.md"))


def fingerprint(directory: Path) -> str:
    """sha256 over every knowledge file's name and bytes: changes when any file does."""
    digest = hashlib.sha256()
    for path in knowledge_files(directory):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_chunk(path: Path) -> Chunk:
    """Parse and validate one file; errors name the file and the field."""
    try:
        post = frontmatter.load(str(path))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise KnowledgeError(f"{path.name}: front matter is not valid YAML ({exc})") from exc
    if not post.metadata:
        raise KnowledgeError(f"{path.name}: no YAML front matter (--- block) found")
    try:
        chunk = Chunk(**post.metadata, body=reflow(post.content), path=str(path))
    except ValidationError as exc:
        raise KnowledgeError(f"{path.name}: {_describe(exc)}") from exc
    except TypeError as exc:
        raise KnowledgeError(f"{path.name}: front matter must be a mapping ({exc})") from exc
    if chunk.id != path.stem:
        raise KnowledgeError(f"{path.name}: field 'id' is {chunk.id!r}, expected {path.stem!r}")
    return chunk


def reflow(markdown: str) -> str:
    """Paragraphs joined into single lines (files wrap at 100 columns; chat clients wrap anyway)."""
    paragraphs = (" ".join(part.split()) for part in markdown.split("\n\n"))
    return "\n\n".join(part for part in paragraphs if part)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        field = field.removeprefix(".") or "(file)"
        parts.append(f"field '{field}': {error['msg']}")
    return "; ".join(parts)


def load_knowledge(directory: Path) -> KnowledgeBase:
    """Every chunk in the directory, validated one by one and then as a whole."""
    paths = knowledge_files(directory)
    if not paths:
        raise KnowledgeError(f"{directory}: no knowledge files (*.md) found")
    chunks = tuple(load_chunk(path) for path in paths)
    _check_references(chunks)
    return KnowledgeBase(chunks=chunks, fingerprint=fingerprint(directory))


def _check_references(chunks: tuple[Chunk, ...]) -> None:
    """Ids named in related/addresses/easier/harder must exist (and be of the right kind)."""
    kinds = {chunk.id: chunk.kind for chunk in chunks}
    for chunk in chunks:
        name = Path(chunk.path).name
        for ref in chunk.related:
            if ref not in kinds:
                raise KnowledgeError(f"{name}: field 'related' names unknown id {ref!r}")
        for ref in chunk.addresses:
            if kinds.get(ref) is not Kind.CAUSE:
                raise KnowledgeError(f"{name}: field 'addresses' names {ref!r}, not a cause id")
        for field in ("easier", "harder"):
            ref = getattr(chunk, field)
            if ref and _looks_like_id(ref) and kinds.get(ref) is not Kind.EXERCISE:
                raise KnowledgeError(f"{name}: field '{field}' names unknown exercise id {ref!r}")


def _looks_like_id(text: str) -> bool:
    """A variant is either an exercise id (one slug) or a sentence of free text."""
    return " " not in text and text == text.lower()


class Synonyms(BaseModel):
    """knowledge/synonyms.yaml: everyday word -> the knowledge base's words for it."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    synonyms: dict[str, tuple[str, ...]]

    @field_validator("synonyms")
    @classmethod
    def _lists_of_words(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        empty = [
            word for word, words in value.items() if not words or not all(w.strip() for w in words)
        ]
        if empty:
            raise ValueError(f"{empty[0]!r} needs a list of words")
        return {word.lower(): tuple(w.lower() for w in words) for word, words in value.items()}


def load_synonyms(directory: Path) -> dict[str, tuple[str, ...]]:
    """The synonyms file's map (none if the file is absent); a malformed entry stops start-up
    with the file and the field named."""
    path = directory / "synonyms.yaml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path.name}: not valid YAML ({exc})") from exc
    try:
        return Synonyms.model_validate(data).synonyms
    except ValidationError as exc:
        raise KnowledgeError(f"{path.name}: {_describe(exc)}") from exc
