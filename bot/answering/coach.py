"""The conversation core: a user's text in, a structured reply out. Channels are thin over it."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from cachetools import LRUCache

from bot import actions
from bot.answering.batching import MicroBatcher
from bot.answering.examples import Examples
from bot.answering.retrieval import WORD, Hit, Mode, Retriever, normalise
from bot.answering.safety import SafetyCheck, SemanticSafety
from bot.answering.understanding import (
    QUESTION,
    IntentClassifier,
    LanguageCheck,
    QType,
    Understood,
    variant_wanted,
)
from bot.compose import Composer, Rendered
from bot.knowledge import Chunk, Kind, KnowledgeBase
from bot.replies import Button, Reply, ReplyKind, Source

log = logging.getLogger(__name__)

# "Bridges are too easy now" asks for the harder variant; "too hard" for the easier one.
MAX_QUESTION_CHARS = 500  # embedded up to here (the rest adds no signal); safety reads it all
VECTOR_CACHE_SIZE = 2048  # popular messages repeat: their embedding is kept
ANSWER_MARGIN = 0.12  # other passages within this score of the best are named as related
MAX_BUTTONS = 4
HUB_MARGIN = 0.02  # a list question goes to a hub this close in meaning to the best match
HUB_BUTTONS = 10  # a hub offers one button per cause or group
FIRST_MESSAGE_CHARS = 700  # what fits a phone screen before "Tell me more"
CAUSES_HUB, FIX_HUB, GOALS_HUB = "causes-at-a-glance", "how-to-fix-it", "exercises-by-goal"
# A nearby topic we do not cover wins when its examples are this close and closer than any chunk.
NEARBY_SIMILARITY = 0.6
NEARBY_MARGIN = 0.0

# (command, what it does): shown by /help and registered with Telegram's setMyCommands.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "what I can do"),
    ("help", "commands and example questions"),
    ("routine", "build or show your corrective routine"),
    ("today", "today's session from your routine"),
    ("remind", "daily reminder, e.g. /remind 07:30 or /remind 18:00 mon,wed,fri"),
    ("timezone", "set your timezone, e.g. /timezone Europe/Berlin"),
    ("reminders", "show your reminder schedule"),
    ("progress", "your streak and a chart of done sessions"),
    ("done", "log a session yourself, e.g. /done or /done yesterday"),
    ("undo", "take back the last logged session"),
    ("stop", "stop the daily reminder"),
    ("forget", "delete everything stored about you"),
    ("cancel", "leave the current questionnaire"),
)


def _parts(body: str) -> list[str]:
    """A chunk's paragraphs and list lines, as the first message quotes them."""
    return [p.strip("- ").strip() for p in body.replace(" - ", "\n").split("\n") if p.strip()]


def _hub_first(hits: list[Hit]) -> list[Hit]:
    """ "Stretches for the inner thigh": a list question that one exercise's name happens to
    match is answered by the hub that lists them all, when the hub is about as close in meaning."""
    hub = next((hit for hit in hits[:3] if hit.chunk.hub), None)
    if hub is None or hub is hits[0] or hub.dense < hits[0].dense - HUB_MARGIN:
        return hits
    return [hub, *(hit for hit in hits if hit is not hub)]


def link(chunk: Chunk) -> Button:
    """A follow-up button to a chunk: its how-to for an exercise, else the topic itself."""
    if chunk.kind is Kind.EXERCISE:
        return Button(f"How do I do: {chunk.title}", actions.howto(chunk.id))
    return Button(chunk.title, actions.topic(chunk.id))


# Below this best-passage score a question is "not covered". Real values come from
# bot/calibration.json, written by `kneebot eval --calibrate` from the labelled dev questions.
FALLBACK_UNKNOWN = 0.5
# Weaker evidence than the calibrated cut-off (down to WEAK_EVIDENCE) still answers a message
# the intent model gives at most SURELY_ON_TOPIC probability of being off-topic. Chosen on the
# realistic dev split (a looser rule answered more single questions but fewer follow-ups).
SURELY_ON_TOPIC = 0.15
WEAK_EVIDENCE = 0.70
LIKELY_OFF_TOPIC = 0.5  # …and from here on, the full calibrated cut-off applies
PARAPHRASE = 0.72  # cosine to a chunk's best view (often an example question) that is coverage
# At this probability of being about something else, a message is declined whatever it matches,
# unless it names a chunk outright (a title or alias).
SURELY_OFF_TOPIC = 0.85
NAMED_OUTRIGHT = 0.85
# Question types that an explanation answers better than an unnamed exercise's how-to, and how
# far behind (in ranking score, among the first few hits) that explanation may rank. Dev splits.
EXPLAINED_FIRST = frozenset({QType.CAUSE, QType.CHOICE, QType.FIX, QType.DEFINITION, QType.OTHER})
EXPLANATION_MARGIN = 0.2
EXPLANATION_DEPTH = 6


class Coach:
    """Decides what kind of reply a message gets and composes it."""

    def __init__(
        self,
        kb: KnowledgeBase,
        retriever: Retriever,
        composer: Composer,
        unknown_below: dict[str, float] | None = None,
        understanding: Understanding | None = None,
    ) -> None:
        self.kb = kb
        self.retriever = retriever
        self.composer = composer
        self.safety = SafetyCheck(kb)
        self.unknown_below = dict(unknown_below or {})
        self.understanding = understanding
        self.batcher = MicroBatcher(retriever.embedder.encode_async)
        self.vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=VECTOR_CACHE_SIZE)

    # -- free text -------------------------------------------------------------------------

    async def reply(self, text: str) -> Reply:
        """Answer a message with no conversation context (see bot/answering/conversation.py)."""
        from bot.answering.conversation import turn

        prepared = self.retriever.prepare(text[:MAX_QUESTION_CHARS])
        if not prepared.strip():
            return self.unknown()
        return turn(self, text, prepared, await self.vector(prepared), None)[0]

    def reply_sync(self, text: str) -> Reply:
        """Blocking twin of `reply` for scripts and the eval."""
        from bot.answering.conversation import turn

        prepared = self.retriever.prepare(text[:MAX_QUESTION_CHARS])
        if not prepared.strip():
            return self.unknown()
        return turn(self, text, prepared, self.vector_sync(prepared), None)[0]

    async def vector(self, prepared: str) -> np.ndarray:
        """The message's one embedding; the model runs off the event loop, batched with others."""
        cached = self.vectors.get(prepared)
        if cached is None:
            cached = self.vectors[prepared] = await self.batcher.encode(prepared)
        return cached

    def vector_sync(self, prepared: str) -> np.ndarray:
        cached = self.vectors.get(prepared)
        if cached is None:
            cached = self.vectors[prepared] = self.retriever.embedder.encode([prepared])[0]
        return cached

    def prime(self, texts: list[str]) -> None:
        """Embed many messages in one batch ahead of time (the eval)."""
        prepared = [self.retriever.prepare(t[:MAX_QUESTION_CHARS]) for t in texts]
        todo = list(dict.fromkeys(p for p in prepared if p.strip() and p not in self.vectors))
        for text, vector in zip(todo, self.retriever.embedder.encode(todo), strict=True):
            self.vectors[text] = vector

    def decide(
        self, text: str, prepared: str, vector: np.ndarray, mode: Mode = Mode.COMBINED
    ) -> Reply:
        """Safety first, then unknown, then a how-to or an answer."""
        return self.respond(text, prepared, self.retriever.rank(prepared, vector, mode), mode)

    def respond(
        self,
        text: str,
        prepared: str,
        hits: list[Hit],
        mode: Mode = Mode.COMBINED,
        understood: Understood | None = None,
    ) -> Reply:
        """The reply for already-ranked hits (the eval ranks once and reads the hits too).

        Without `understood` (the old eval) only the retrieval evidence decides "not covered".
        """
        flag = self.red_flag(text, prepared, hits)
        if flag is not None:
            return self.safety_reply(flag, hits)
        if not self.covered(hits, mode, understood):
            return self.unknown()
        if understood is not None and understood.qtype is QType.CHOICE:
            hits = _hub_first(hits)
        if hits[0].chunk.triggers:
            # Ranked first despite the warning pages' discount: the message describes the sign.
            return self.safety_reply(hits[0].chunk, hits)
        if understood is not None and understood.qtype in EXPLAINED_FIRST:
            hits = self._explanation_first(hits)
        return self.matched(hits, prepared)

    def _explanation_first(self, hits: list[Hit]) -> list[Hit]:
        """ "Fallen arches, what do i work on first?" names no exercise and does not ask how to do
        one: an explanation ranked close behind that offers the top exercise answers it, with that
        exercise among its buttons, rather than one exercise's how-to."""
        top = hits[0]
        if top.chunk.kind is not Kind.EXERCISE or top.name >= NAMED_OUTRIGHT:
            return hits
        for hit in hits[1:EXPLANATION_DEPTH]:
            if top.score - hit.score > EXPLANATION_MARGIN:
                break
            offers_top = top.chunk in self._all_exercises_for(hit.chunk)
            if hit.chunk.kind is not Kind.EXERCISE and not hit.chunk.triggers and offers_top:
                return [hit, *(other for other in hits if other is not hit)]
        return hits

    def matched(self, hits: list[Hit], prepared: str) -> Reply:
        """The reply from the best hit: its how-to for an exercise, else an answer."""
        top = hits[0]
        if top.chunk.kind is Kind.EXERCISE:
            return self._progression(top.chunk, prepared, top.score)
        return self.answer(hits, prepared)

    def covered(self, hits: list[Hit], mode: Mode, understood: Understood | None) -> bool:
        """Whether the knowledge base answers this: clear retrieval evidence, or weaker evidence
        for a message the intent model is sure is about knees (casual, vague wording matches the
        chunks' text loosely, yet nothing else explains it); never a message it is sure is not."""
        best_evidence = max(hit.evidence for hit in hits)
        cut = self.unknown_below.get(mode.value, FALLBACK_UNKNOWN)
        if understood is None or mode is not Mode.COMBINED:
            return best_evidence >= cut
        if max(hit.dense for hit in hits) >= PARAPHRASE:
            return True  # all but a rewording of one of a chunk's own example questions
        if max(hit.name for hit in hits) >= NAMED_OUTRIGHT:
            return True  # "PFPS, what helps?": its topic words are a chunk's name
        if understood.off_topic >= SURELY_OFF_TOPIC and hits[0].name < NAMED_OUTRIGHT:
            return False  # "my shoulder is stiff after bench": knee words do not make it ours
        # The surer the model is that it is about knees, the weaker the evidence that will do:
        # the weak cut-off at P(off-topic) ≤ SURELY_ON_TOPIC, rising to the full one by
        # LIKELY_OFF_TOPIC.
        share = (understood.off_topic - SURELY_ON_TOPIC) / (LIKELY_OFF_TOPIC - SURELY_ON_TOPIC)
        weak = min(cut, WEAK_EVIDENCE)
        return best_evidence >= weak + (cut - weak) * min(max(share, 0.0), 1.0)

    def understand(self, prepared: str, vector: np.ndarray) -> Understood:
        """The message's intent and question type (a plain question without the intent model)."""
        if self.understanding is None:
            return Understood(QUESTION, 0.0, QType.OTHER)
        return self.understanding.intents.classify(vector, prepared)

    def red_flag(
        self,
        text: str,
        prepared: str,
        hits: list[Hit],
        vector: np.ndarray | None = None,
        subject: str = "",
    ) -> Chunk | None:
        """A warning sign by the word rules over the whole message, else by meaning. `subject`
        is who and what the conversation is about when the message does not say it."""
        flag = self.safety.red_flag([normalise(text), prepared, subject], hits)
        if flag is None and vector is not None and self.understanding is not None:
            flag = self.understanding.safety.red_flag(vector)
        return flag

    def nearby_topic(self, vector: np.ndarray, hits: list[Hit]) -> dict | None:
        """A close-sounding topic we do not cover (bow legs, lower back, …), or None."""
        topic_id, score = self.nearest_nearby(vector)
        best_chunk = max(hit.dense for hit in hits)
        if score >= NEARBY_SIMILARITY and score >= best_chunk + NEARBY_MARGIN:
            return self.understanding.nearby_topics[topic_id]
        return None

    def nearest_nearby(self, vector: np.ndarray) -> tuple[str, float]:
        """The close-sounding topic most like the message, and how alike (0 without any)."""
        if self.understanding is None:
            return "", 0.0
        scores = self.understanding.nearby.nearest(vector, 2)
        return max(scores.items(), key=lambda item: item[1])

    def _progression(self, exercise: Chunk, prepared: str, score: float) -> Reply:
        """The how-to, or its harder or easier variant when the message asks for one: the
        variant's own how-to when it is an exercise, else the variant's text up front."""
        label, wanted = "", None
        direction = variant_wanted(prepared)
        if direction == "harder":
            label, wanted = "Harder", exercise.harder
        if direction == "easier":
            label, wanted = "Easier", exercise.easier
        variant = self.kb.get(wanted)
        if variant is not None and variant.kind is Kind.EXERCISE:
            return self.howto(variant, score=score)
        if wanted and variant is None:
            return self.howto(exercise, score=score, variant_of=(label, wanted))
        return self.howto(exercise, score=score)

    # -- reply kinds -----------------------------------------------------------------------

    def howto(
        self, exercise: Chunk, score: float = 1.0, variant_of: tuple[str, str] | None = None
    ) -> Reply:
        """The first message: steps and dose up front; the rest behind "Tell me more"."""
        rendered = self.composer.render(
            "howto_short.j2",
            ex=exercise,
            dosage=exercise.dosage.describe() if exercise.dosage else "",
            variant_label=variant_of[0] if variant_of else "",
            variant=variant_of[1] if variant_of else "",
        )
        buttons = [Button("Tell me more", actions.more(exercise.id))]
        for label, value in (("Easier", exercise.easier), ("Harder", exercise.harder)):
            chunk = self.kb.get(value)
            if chunk is not None:
                buttons.append(Button(f"{label}: {chunk.title}", actions.howto(chunk.id)))
        buttons += self._related_buttons(
            exercise, skip={b.action.partition(":")[2] for b in buttons}
        )
        return self._reply(
            ReplyKind.HOWTO, rendered, [Source(exercise.id, exercise.title, score)], buttons
        )

    def howto_detail(self, exercise: Chunk, score: float = 1.0) -> Reply:
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

    def answer(self, hits: list[Hit], prepared: str = "") -> Reply:
        """A direct answer that fits a phone; detail, sources and related behind "Tell me more"."""
        main = hits[0].chunk
        exercises = self.offered_exercises(main)
        named = ", ".join(chunk.title for chunk in exercises) if not main.hub else ""
        summary_room = FIRST_MESSAGE_CHARS - len(main.title) - len(main.summary) - len(named) - 60
        rendered = self.composer.render(
            "answer_short.j2",
            main=main,
            detail=self._detail(main, prepared, summary_room),
            exercises=[chunk.title for chunk in exercises] if not main.hub else [],
            routine=main.id == FIX_HUB,
        )
        buttons = [Button("Tell me more", actions.more(main.id))]
        limit = MAX_BUTTONS
        if main.id == FIX_HUB:
            buttons.append(Button("Build my routine", actions.ROUTINE_ENTRY))
        if main.hub:
            limit = HUB_BUTTONS
            linked = [c for c in map(self.kb.get, main.related) if c and not c.hub]
            buttons += [
                link(c) for c in linked if c.kind is not Kind.EXERCISE or main.id != FIX_HUB
            ]
        else:
            buttons += [link(chunk) for chunk in exercises]
            buttons += self._related_buttons(main, skip={c.id for c in exercises})
        sources = [Source(hits[0].chunk.id, main.title, hits[0].score)]
        return self._reply(ReplyKind.ANSWER, rendered, sources, buttons, limit)

    def _detail(self, chunk: Chunk, prepared: str, room: int) -> str:
        """The body paragraph or list line that best shares the question's words, if it fits.

        Shared words count by how rare they are in the knowledge base, so "barefoot" picks its
        paragraph while "good", "bad" or "feet", which are everywhere, barely count.
        """
        words = self.stems(prepared) - {"knee", "valgus"}
        parts = _parts(chunk.body)
        best, overlap = "", 0.0
        for part in parts:
            shared = sum(self._rarity.get(stem, 0.0) for stem in words & self.stems(part))
            if shared > overlap:
                best, overlap = part, shared
        if not best:
            best = parts[0] if parts else ""
        if len(best) <= room:
            return best
        cut = best[:room].rsplit(". ", 1)[0]
        return cut + "." if len(cut) > 40 else ""

    def stems(self, text: str) -> set[str]:
        return set(self.retriever.speller._stemmer.stemWords(WORD.findall(text.lower())))

    @cached_property
    def _rarity(self) -> dict[str, float]:
        """Each word stem's inverse document frequency over every paragraph of the knowledge."""
        paragraphs = [self.stems(part) for chunk in self.kb.chunks for part in _parts(chunk.body)]
        counts: dict[str, int] = {}
        for stems in paragraphs:
            for stem in stems:
                counts[stem] = counts.get(stem, 0) + 1
        return {stem: math.log(len(paragraphs) / count) for stem, count in counts.items()}

    def more(self, chunk_id: str) -> Reply:
        """ "Tell me more": the whole passage, its exercises, related topics and sources."""
        chunk = self.kb.get(chunk_id)
        if chunk is None:
            return self.unknown()
        if chunk.kind is Kind.EXERCISE:
            return self.howto_detail(chunk)
        if chunk.triggers:
            return self.safety_reply(chunk, [], detail=True)
        return self.answer_detail([Hit(chunk, 1.0, 1.0, 1.0, 0.0, 0.0)])

    def answer_detail(self, hits: list[Hit]) -> Reply:
        """The best passage, the exercises it points to, and close runners-up as related."""
        main = hits[0]
        also = [
            hit.chunk
            for hit in hits[1:3]
            if hit.score >= main.score - ANSWER_MARGIN and hit.chunk.kind is not Kind.SAFETY
        ]
        exercises = self.offered_exercises(main.chunk)
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

    def tap(self, action: str, group: bool = False, username: str = "") -> Reply:
        """What one of the coach's own buttons does, the same in every channel."""
        tapped = actions.parse(action)
        if tapped.feature in (actions.HOWTO, actions.TOPIC):
            return self.topic(tapped.verb)
        if tapped.feature == actions.MORE:
            return self.more(tapped.verb)
        if tapped.feature == actions.ASK:
            return self.info("ask.j2", group=group, username=username)
        return self.help()

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

    def safety_reply(self, flag: Chunk, hits: list[Hit], detail: bool = True) -> Reply:
        """Stop, see a professional: no exercises offered, nothing held back behind a button."""
        rendered = self.composer.render(
            "safety.j2", flag=flag, sources=flag.sources if detail else (), detail=detail
        )
        score = next((hit.score for hit in hits if hit.chunk.id == flag.id), 1.0)
        buttons = [] if detail else [Button("Tell me more", actions.more(flag.id))]
        return self._reply(
            ReplyKind.SAFETY, rendered, [Source(flag.id, flag.title, score)], buttons
        )

    def sticky_safety(self, flag: Chunk) -> Reply:
        """After a warning sign, training questions keep the safety stance."""
        rendered = self.composer.render("safety_sticky.j2", flag=flag)
        return self._reply(ReplyKind.SAFETY, rendered, [Source(flag.id, flag.title, 1.0)], [])

    def small_talk(self, intent: str) -> Reply:
        """A short friendly reply that says what the bot can do."""
        rendered = self.composer.render("smalltalk.j2", intent=intent)
        buttons = [Button("Build my routine", actions.ROUTINE_ENTRY)]
        return self._reply(ReplyKind.SMALLTALK, rendered, [], buttons)

    def english_only(self) -> Reply:
        return self._reply(ReplyKind.UNKNOWN, self.composer.render("english_only.j2"), [], [])

    def not_covered(self, topic: dict) -> Reply:
        """A close-sounding topic we do not cover, declined honestly."""
        rendered = self.composer.render("nearby.j2", topic=topic)
        return self._reply(ReplyKind.UNKNOWN, rendered, [], [])

    def command(self, name: str, time: str = "") -> Reply:
        """A command said in words: a short line, and the command for the channel to run."""
        rendered = self.composer.render("command.j2", command=name, time=time)
        entry = {"routine": actions.ROUTINE_ENTRY, "remind": actions.REMIND_ENTRY}.get(name)
        buttons = (Button("Build my routine" if name == "routine" else "Daily reminder", entry),)
        command = f"{name} {time}".strip()
        return Reply(
            ReplyKind.SMALLTALK,
            rendered.html,
            rendered.text,
            buttons=buttons if entry and not time else (),
            command=command,
        )

    def dose(self, exercise: Chunk) -> Reply:
        """How many and how often for one exercise."""
        rendered = self.composer.render(
            "dose.j2", ex=exercise, dosage=exercise.dosage.describe() if exercise.dosage else ""
        )
        buttons = [Button("Tell me more", actions.more(exercise.id))]
        return self._reply(
            ReplyKind.HOWTO, rendered, [Source(exercise.id, exercise.title, 1.0)], buttons
        )

    def fixes(self, topic: Chunk) -> Reply:
        """The exercises for a topic, one button each; the fix-it hub when it has none."""
        exercises = self._all_exercises_for(topic)
        if not exercises:
            return self.topic(FIX_HUB)
        rendered = self.composer.render(
            "fix.j2",
            topic=topic,
            cause=topic.kind is Kind.CAUSE,
            exercises=[f"{ex.title} — {ex.summary}" for ex in exercises[:5]],
        )
        buttons = [link(ex) for ex in exercises]
        sources = [Source(topic.id, topic.title, 1.0)]
        return self._reply(ReplyKind.ANSWER, rendered, sources, buttons, HUB_BUTTONS)

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

    def help(self, unknown: str = "") -> Reply:
        rendered = self.composer.render(
            "help.j2", commands=COMMANDS, disclaimer=self.disclaimer, unknown=unknown
        )
        return self._reply(ReplyKind.INFO, rendered, [], [])

    def unknown_command(self, command: str) -> Reply:
        """An unknown /command: say so first, then the help text."""
        return self.help(unknown=command[:33])

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

    def offered_exercises(self, chunk: Chunk) -> list[Chunk]:
        """The first few exercises a chunk offers (an answer's buttons; what "show me" opens)."""
        return self._all_exercises_for(chunk)[:MAX_BUTTONS]

    def _all_exercises_for(self, chunk: Chunk) -> list[Chunk]:
        """Exercises a cause is addressed by, or an answer's related exercises. A cause's own
        related list is the curated order, so those come first ("show me" opens the first)."""
        related = [c for c in map(self.kb.get, chunk.related) if c and c.kind is Kind.EXERCISE]
        if chunk.kind is not Kind.CAUSE:
            return related
        addressing = [ex for ex in self.kb.of_kind(Kind.EXERCISE) if chunk.id in ex.addresses]
        first = [ex for ex in related if ex in addressing]
        return first + [ex for ex in addressing if ex not in first]

    def _related_buttons(self, chunk: Chunk, skip: set[str | None]) -> list[Button]:
        related = [c for c in map(self.kb.get, chunk.related) if c and c.id not in skip]
        return [link(c) for c in related]

    @staticmethod
    def _reply(
        kind: ReplyKind,
        rendered: Rendered,
        sources: list[Source],
        buttons: list[Button],
        limit: int = MAX_BUTTONS,
    ) -> Reply:
        unique = list({button.action: button for button in buttons}.values())
        return Reply(kind, rendered.html, rendered.text, tuple(sources), tuple(unique[:limit]))


@dataclass(frozen=True)
class Understanding:
    """What the coach knows about messages besides the knowledge base: labelled examples."""

    intents: IntentClassifier
    safety: SemanticSafety
    nearby: Examples
    nearby_topics: dict[str, dict]
    language: LanguageCheck
