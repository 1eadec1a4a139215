"""The conversation core: a user's text in, a structured reply out. Channels are thin over it."""

from __future__ import annotations

import logging
import re

import numpy as np
from cachetools import LRUCache

from bot import actions
from bot.answering.batching import MicroBatcher
from bot.answering.retrieval import Hit, Mode, Retriever, normalise
from bot.answering.safety import SafetyCheck
from bot.compose import Composer, Rendered
from bot.knowledge import Chunk, Kind, KnowledgeBase
from bot.replies import Button, Reply, ReplyKind, Source

log = logging.getLogger(__name__)

# "Bridges are too easy now" asks for the harder variant; "too hard" for the easier one.
HARDER = re.compile(r"\b(too easy|harder|next (step|level)|progress(ion)?|level up)\b")
EASIER = re.compile(r"\b(too hard|too difficult|easier|regress(ion)?|can'?t (do|manage))\b")
MAX_QUESTION_CHARS = 500
REPLY_CACHE_SIZE = 2048  # longer messages are read up to here; the rest adds no signal
ANSWER_MARGIN = 0.12  # other passages within this score of the best are named as related
MAX_BUTTONS = 4

# (command, what it does): shown by /help and registered with Telegram's setMyCommands.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "what I can do"),
    ("help", "commands and example questions"),
    ("routine", "build or show your corrective routine"),
    ("remind", "daily reminder, e.g. /remind 07:30 or /remind 18:00 mon,wed,fri"),
    ("timezone", "set your timezone, e.g. /timezone Europe/Berlin"),
    ("reminders", "show your reminder schedule"),
    ("progress", "your streak and a chart of done sessions"),
    ("stop", "stop the daily reminder"),
    ("forget", "delete everything stored about you"),
    ("cancel", "leave the current questionnaire"),
)


def link(chunk: Chunk) -> Button:
    """A follow-up button to a chunk: its how-to for an exercise, else the topic itself."""
    if chunk.kind is Kind.EXERCISE:
        return Button(f"How do I do: {chunk.title}", actions.howto(chunk.id))
    return Button(chunk.title, actions.topic(chunk.id))


# Below this best-passage score a question is "not covered". Real values come from
# bot/calibration.json, written by `kneebot eval --calibrate` from the labelled dev questions.
FALLBACK_UNKNOWN = 0.5


class Coach:
    """Decides what kind of reply a message gets and composes it."""

    def __init__(
        self,
        kb: KnowledgeBase,
        retriever: Retriever,
        composer: Composer,
        unknown_below: dict[str, float] | None = None,
    ) -> None:
        self.kb = kb
        self.retriever = retriever
        self.composer = composer
        self.safety = SafetyCheck(kb)
        self.unknown_below = dict(unknown_below or {})
        self.batcher = MicroBatcher(retriever.embedder.encode_async)
        # Replies depend only on the text and the knowledge base, so popular questions repeat.
        self.cache: LRUCache[str, Reply] = LRUCache(maxsize=REPLY_CACHE_SIZE)

    # -- free text -------------------------------------------------------------------------

    async def reply(self, text: str) -> Reply:
        """Answer a free-text message; the model runs off the event loop, batched with others.

        Retrieval reads the first MAX_QUESTION_CHARS; the safety check reads the whole message
        (a red flag at character 900 still routes to a professional), as `reply_sync` does.
        """
        key = normalise(text)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        prepared = self.retriever.prepare(text[:MAX_QUESTION_CHARS])
        if not prepared.strip():
            return self.unknown()
        reply = self.decide(text, prepared, await self.batcher.encode(prepared))
        self.cache[key] = reply
        return reply

    def reply_sync(self, text: str) -> Reply:
        """Blocking twin of `reply` for scripts and the eval."""
        prepared = self.retriever.prepare(text[:MAX_QUESTION_CHARS])
        if not prepared.strip():
            return self.unknown()
        return self.decide(text, prepared, self.retriever.embedder.encode([prepared])[0])

    def decide(
        self, text: str, prepared: str, vector: np.ndarray, mode: Mode = Mode.COMBINED
    ) -> Reply:
        """Safety first, then unknown, then a how-to or an answer."""
        return self.respond(text, prepared, self.retriever.rank(prepared, vector, mode), mode)

    def respond(
        self, text: str, prepared: str, hits: list[Hit], mode: Mode = Mode.COMBINED
    ) -> Reply:
        """The reply for already-ranked hits (the eval ranks once and reads the hits too)."""
        flag = self.safety.red_flag([normalise(text), prepared], hits)
        if flag is not None:
            return self.safety_reply(flag, hits)
        top = hits[0]
        best_evidence = max(hit.evidence for hit in hits)
        if best_evidence < self.unknown_below.get(mode.value, FALLBACK_UNKNOWN):
            return self.unknown()
        if top.chunk.kind is Kind.EXERCISE:
            return self.howto(self._progression(top.chunk, prepared), score=top.score)
        return self.answer(hits)

    def _progression(self, exercise: Chunk, prepared: str) -> Chunk:
        """The harder or easier variant when the message asks for one and it is an exercise."""
        wanted = exercise.harder if HARDER.search(prepared) else None
        if EASIER.search(prepared):
            wanted = exercise.easier
        variant = self.kb.get(wanted)
        return variant if variant is not None and variant.kind is Kind.EXERCISE else exercise

    # -- reply kinds -----------------------------------------------------------------------

    def howto(self, exercise: Chunk, score: float = 1.0) -> Reply:
        """Steps, dose, mistakes and variants of one exercise."""
        easier, easier_id = self._variant(exercise.easier)
        harder, harder_id = self._variant(exercise.harder)
        rendered = self.composer.render(
            "howto.j2",
            ex=exercise,
            dosage=exercise.dosage.describe() if exercise.dosage else "",
            addresses=[self.kb.by_id(cause).title.lower() for cause in exercise.addresses],
            equipment=", ".join(item.value.replace("-", " ") for item in exercise.equipment)
            or "nothing but a mat or the floor",
            easier=easier,
            harder=harder,
            sources=exercise.sources,
        )
        buttons = [
            Button(f"Easier: {self.kb.by_id(i).title}", actions.howto(i)) for i in [easier_id] if i
        ]
        buttons += [
            Button(f"Harder: {self.kb.by_id(i).title}", actions.howto(i)) for i in [harder_id] if i
        ]
        buttons += self._related_buttons(exercise, skip={easier_id, harder_id})
        return self._reply(
            ReplyKind.HOWTO, rendered, [Source(exercise.id, exercise.title, score)], buttons
        )

    def answer(self, hits: list[Hit]) -> Reply:
        """The best passage, the exercises it points to, and close runners-up as related."""
        main = hits[0]
        also = [
            hit.chunk
            for hit in hits[1:3]
            if hit.score >= main.score - ANSWER_MARGIN and hit.chunk.kind is not Kind.SAFETY
        ]
        exercises = self._exercises_for(main.chunk)
        rendered = self.composer.render(
            "answer.j2",
            main=main.chunk,
            exercises=[chunk.title for chunk in exercises],
            also=also,
            sources=main.chunk.sources,
        )
        sources = [Source(main.chunk.id, main.chunk.title, main.score)]
        sources += [
            Source(hit.chunk.id, hit.chunk.title, hit.score)
            for hit in hits[1:3]
            if hit.chunk in also
        ]
        buttons = [link(chunk) for chunk in [*exercises, *also]]
        buttons += self._related_buttons(main.chunk, skip={c.id for c in [*exercises, *also]})
        return self._reply(ReplyKind.ANSWER, rendered, sources, buttons)

    def topic(self, chunk_id: str) -> Reply:
        """The reply for a tapped topic or exercise button."""
        chunk = self.kb.get(chunk_id)
        if chunk is None:
            return self.unknown()
        if chunk.kind is Kind.EXERCISE:
            return self.howto(chunk)
        if chunk.triggers:
            return self.safety_reply(chunk, [])
        hit = Hit(chunk, 1.0, 1.0, 1.0, 0.0, 0.0)
        return self.answer([hit])

    def safety_reply(self, flag: Chunk, hits: list[Hit]) -> Reply:
        """Stop, see a professional: no exercises offered."""
        rendered = self.composer.render("safety.j2", flag=flag, sources=flag.sources)
        score = next((hit.score for hit in hits if hit.chunk.id == flag.id), 1.0)
        return self._reply(ReplyKind.SAFETY, rendered, [Source(flag.id, flag.title, score)], [])

    def unknown(self) -> Reply:
        """Say plainly that this is not covered, and what the bot can do."""
        rendered = self.composer.render("unknown.j2")
        return self._reply(
            ReplyKind.UNKNOWN, rendered, [], [Button("Build my routine", actions.ROUTINE_ENTRY)]
        )

    def welcome(self, name: str | None = None) -> Reply:
        rendered = self.composer.render("welcome.j2", name=name, disclaimer=self.disclaimer)
        buttons = [
            Button("Ask a question", actions.ASK),
            Button("Build my routine", actions.ROUTINE_ENTRY),
            Button("Daily reminder", actions.REMIND_ENTRY),
        ]
        return self._reply(ReplyKind.INFO, rendered, [], buttons)

    def info(self, template: str, **context: object) -> Reply:
        """A short reply with no sources or buttons, rendered from prompts/<template>."""
        return self._reply(ReplyKind.INFO, self.composer.render(template, **context), [], [])

    def help(self) -> Reply:
        rendered = self.composer.render("help.j2", commands=COMMANDS, disclaimer=self.disclaimer)
        return self._reply(ReplyKind.INFO, rendered, [], [])

    @property
    def disclaimer(self) -> str:
        chunk = self.kb.get("medical-disclaimer")
        return chunk.summary if chunk else ""

    # -- helpers ---------------------------------------------------------------------------

    def _variant(self, value: str | None) -> tuple[str, str | None]:
        """A variant's text, and its exercise id when it names another exercise."""
        chunk = self.kb.get(value)
        if chunk is not None:
            return f"{chunk.title} — {chunk.summary}", chunk.id
        return value or "", None

    def _exercises_for(self, chunk: Chunk) -> list[Chunk]:
        """Exercises a cause is addressed by, or an answer's related exercises."""
        if chunk.kind is Kind.CAUSE:
            found = [ex for ex in self.kb.of_kind(Kind.EXERCISE) if chunk.id in ex.addresses]
        else:
            found = [c for c in map(self.kb.get, chunk.related) if c and c.kind is Kind.EXERCISE]
        return found[:MAX_BUTTONS]

    def _related_buttons(self, chunk: Chunk, skip: set[str | None]) -> list[Button]:
        related = [c for c in map(self.kb.get, chunk.related) if c and c.id not in skip]
        return [link(c) for c in related]

    @staticmethod
    def _reply(
        kind: ReplyKind, rendered: Rendered, sources: list[Source], buttons: list[Button]
    ) -> Reply:
        return Reply(
            kind, rendered.html, rendered.text, tuple(sources), tuple(buttons[:MAX_BUTTONS])
        )
