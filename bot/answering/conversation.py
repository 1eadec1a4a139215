"""One turn of a conversation: the message, the user's state → a reply and the next state.

Order: warning signs (word rules over the whole message, then meaning), language, the sticky
safety stance, a yes/no to the bot's open question, small talk, commands said in words,
follow-ups on the current topic, and finally a new question through retrieval. What retrieval
declines may still be a close-sounding topic (its own note), a follow-up that did not look like
one, or, as a first message, a vague question the intent model vouches for (its best match).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np

from bot import actions
from bot.answering.coach import CAUSES_HUB, FIX_HUB, MAX_QUESTION_CHARS, Coach
from bot.answering.dialogue import DialogueStore, State
from bot.answering.retrieval import Hit, content_words
from bot.answering.understanding import (
    SMALL_TALK,
    QType,
    Understood,
    asks_time_to_results,
    variant_wanted,
)
from bot.knowledge import Chunk, Kind
from bot.privacy import user_ref
from bot.replies import Reply, ReplyKind

log = logging.getLogger(__name__)

# After a warning-sign reply everything keeps the safety stance except small talk, commands and
# a clearly new question about what something is or why it happens.
RELEASES_SAFETY = frozenset({QType.CAUSE, QType.DEFINITION})
# "remind me at 7am", "every day at 18:30": the time is a slot of the command, not its intent.
TIME = re.compile(r"\b(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?!\d)")
NAMED = 0.85  # a follow-up that names another chunk this clearly is about that chunk
CLEARLY_AHEAD = 0.5  # …as is one whose top exercise leads the next hit by this much
TIME_TO_RESULTS_TOPIC = "how-long-to-improve"
# A follow-up with nothing to follow is about knee valgus in general.
GENERAL_TOPIC = {"fix": FIX_HUB, "dose": "how-often-to-train", "why": CAUSES_HUB}
PROBABLY_ABOUT_KNEES = 0.2  # off-topic probability up to which a bare follow-up is about knees
# Stems that name knee valgus itself, not one of its causes.
GENERIC_STEMS = frozenset({"knee", "valgus", "caus", "cave", "in", "inward"})
# An unclear message this likely off-topic and this close to a nearby topic is no follow-up.
LIKELY_ABOUT_SOMETHING_ELSE = 0.5
NEAR_ANOTHER_TOPIC = 0.5
SURELY_ABOUT_KNEES = 0.08  # the intent model's off-topic probability at or below which…
BEST_GUESS_EVIDENCE = 0.55  # …this much evidence answers a first message rather than declining
# Words that point at an exercise without describing it: "show me that one, pls".
POINTING = frozenset({"one", "ones", "yeah", "yes", "ok", "okay", "pls", "plz", "go", "then"})
# A topic's tag that names who the conversation is about.
SUBJECTS = {"children": "child knock knees", "adults": "adult knock knees"}
# Words a follow-up asks with, which say nothing about what it asks about.
FOLLOW_UP_WORDS = frozenset(
    {"fix", "fixing", "fixed", "sort", "why", "how", "long", "many", "reps", "sets", "often",
     "harder", "easier", "hard", "easy", "more", "next", "tips", "anything", "else", "tell"}
)  # fmt: skip
# Words that point back at what was just said; with one, the current topic and the chunks it
# links to rank this much higher (chosen on the dev conversations).
BACK_REFERENCE = frozenset(
    {"mine", "it", "its", "that", "this", "they", "them", "those", "these", "he", "she", "her",
     "his", "one", "there", "then"}
)  # fmt: skip
TOPIC_BONUS = 0.15
LINKED_BONUS = 0.05
# Letters only, so "it's" and "that's" still show their pronoun (retrieval.WORD keeps them whole).
BARE_WORD = re.compile(r"[a-z]+")
# "which exercise first?" asks for one exercise, not the list.
ONE_ASKED = re.compile(r"\b(first|one|single)\b|\b(exercise|stretch|drill)\b")
# "ok, fine thanks" after a warning is an acknowledgement, not a question.
ACKNOWLEDGE = frozenset({"affirm", "deny"})


def turn(
    coach: Coach, text: str, prepared: str, vector: np.ndarray, state: State | None
) -> tuple[Reply, State]:
    """The reply to one message given the conversation so far, and the state after it."""
    state = state or State()
    understanding = coach.understanding
    understood = coach.understand(prepared, vector)
    hits = coach.retriever.rank(prepared, vector, qtype=understood.qtype.value)
    hits = _in_context(coach, prepared, state, hits)
    flag = coach.red_flag(text, prepared, hits, vector, _subject(coach, state))
    if flag is not None:
        reply = coach.safety_reply(flag, hits)
        return reply, _after(state, reply, flag, safety=flag.id)
    if understanding is not None and not understanding.language.is_english(text):
        return coach.english_only(), state
    sticky = coach.kb.get(state.safety)
    if sticky is not None and _keeps_safety(understood):
        return coach.sticky_safety(sticky), state
    reply = _conversational(coach, text, prepared, understood, state, hits)
    if reply is not None:
        return reply
    reply = _fix_for_topic(coach, text, understood, state, hits) or _question(
        coach, text, prepared, vector, hits, understood
    )
    if reply.kind is ReplyKind.UNKNOWN:
        reply = (
            _declined(coach, vector, hits)
            or _unclear(coach, understood, state, hits, vector)
            or _without_context(coach, understood, state, prepared, hits)
            or reply
        )
    subject = coach.kb.get(reply.sources[0].id) if reply.sources else None
    return reply, _after(state, reply, subject)


def _in_context(coach: Coach, prepared: str, state: State, hits: list[Hit]) -> list[Hit]:
    """ "When do they normally straighten?" after a 4-year-old's knock knees leans on the
    conversation: a message that points back (mine, it, they…) and names no chunk ranks the
    current topic and what it links to a little higher."""
    topic = coach.kb.get(state.topic)
    if topic is None or hits[0].name >= NAMED or not _points_back(prepared):
        return hits
    linked = set(topic.related) | {chunk.id for chunk in coach.offered_exercises(topic)}

    def bonus(hit: Hit) -> float:
        if hit.chunk.id == topic.id:
            return TOPIC_BONUS
        return LINKED_BONUS if hit.chunk.id in linked else 0.0

    return sorted((replace(hit, score=hit.score + bonus(hit)) for hit in hits), key=_by_score)


def _points_back(text: str) -> bool:
    return bool(set(BARE_WORD.findall(text.lower())) & BACK_REFERENCE)


def _by_score(hit: Hit) -> float:
    return -hit.score


def _subject(coach: Coach, state: State) -> str:
    """Who and what the conversation is about, for the warning-sign rules: "hers is only on one
    side" after a question about a toddler's knees is about a child's knock knees."""
    topic = coach.kb.get(state.topic)
    return next((who for tag, who in SUBJECTS.items() if topic and tag in topic.tags), "")


def _keeps_safety(understood: Understood) -> bool:
    if understood.intent in SMALL_TALK or understood.command or understood.intent in ACKNOWLEDGE:
        return False
    return bool(understood.follow_up) or understood.qtype not in RELEASES_SAFETY


def _conversational(
    coach: Coach, text: str, prepared: str, understood: Understood, state: State, hits: list[Hit]
) -> tuple[Reply, State] | None:
    """Replies that depend on the conversation rather than on retrieval, or None."""
    intent = understood.intent
    if intent == "affirm" and state.open_question:
        reply = _accept(coach, state.open_question)
        return reply, _after(state, reply, coach.kb.get(_subject_of(reply)))
    if intent in ("affirm", "deny"):
        return coach.small_talk("thanks" if intent == "affirm" else "deny"), state
    if intent in SMALL_TALK:
        return coach.small_talk(intent), state
    if understood.command:
        return coach.command(understood.command, _time_in(text)), state
    follow_up = understood.follow_up or _variant_asked(text, state, hits)
    if follow_up and _more_on_topic(text, state, hits):
        reply = coach.answer(hits, prepared)
        return reply, _after(state, reply, hits[0].chunk)
    if follow_up and (state.exercise or state.topic):
        if asks_time_to_results(text.lower()):
            reply = coach.topic(TIME_TO_RESULTS_TOPIC)
            return reply, _after(state, reply, coach.kb.get(TIME_TO_RESULTS_TOPIC))
        if follow_up in ("harder", "easier"):
            follow_up = variant_wanted(text.lower()) or follow_up
        reply = _follow_up(coach, follow_up, state, hits, text)
        return reply, _after(state, reply, coach.kb.get(_subject_of(reply)))
    return None


def _declined(coach: Coach, vector: np.ndarray, hits: list[Hit]) -> Reply | None:
    """A close-sounding topic we do not cover is not read as a follow-up on the current topic
    ("also my shoulder is stiff" after a calf stretch): it gets its own note."""
    nearby = coach.nearby_topic(vector, hits)
    return coach.not_covered(nearby) if nearby is not None else None


def _without_context(
    coach: Coach, understood: Understood, state: State, prepared: str, hits: list[Hit]
) -> Reply | None:
    """A first message that leans on context it does not have: "ok so how do i fix it" is about
    knee valgus in general; a vague one the intent model is sure is about knees gets the best
    match rather than "not covered"."""
    if state.topic or state.exercise:
        return None
    general = coach.kb.get(GENERAL_TOPIC.get(understood.follow_up or ""))
    if general is not None and understood.off_topic <= PROBABLY_ABOUT_KNEES:
        return coach.topic(general.id)
    if understood.off_topic <= SURELY_ABOUT_KNEES and hits[0].evidence >= BEST_GUESS_EVIDENCE:
        return coach.matched(hits, prepared)
    return None


def _fix_for_topic(
    coach: Coach, text: str, understood: Understood, state: State, hits: list[Hit]
) -> Reply | None:
    """ "Right, what should i do for the feet then" after flat feet: a fix or which-exercises
    question that names the cause the conversation is on, points back at it or asks for one
    exercise ("which exercise first"), and that retrieval can only answer with a hub (the whole
    plan, every exercise), is about that cause: its exercises, or the first one's how-to."""
    topic = coach.kb.get(state.topic)
    asks_fix = understood.qtype in (QType.FIX, QType.CHOICE)
    if not asks_fix or topic is None or topic.kind is not Kind.CAUSE:
        return None
    names = coach.stems(content_words(" ".join([topic.title, *topic.aliases, *topic.tags]).lower()))
    named = bool(coach.stems(content_words(text.lower())) & (names - GENERIC_STEMS))
    one = ONE_ASKED.search(text.lower()) is not None
    if not hits[0].chunk.hub or not (named or one or _points_back(text)):
        return None
    offered = coach.offered_exercises(topic)
    return coach.howto(offered[0]) if one and offered else coach.fixes(topic)


def _elsewhere(coach: Coach, understood: Understood, vector: np.ndarray) -> bool:
    """ "My neck is stiff too, anything for that?": likely about something else and near a topic
    we do not cover, so not a follow-up on the knees (though not close enough to name it)."""
    _, nearby = coach.nearest_nearby(vector)
    return understood.off_topic >= LIKELY_ABOUT_SOMETHING_ELSE and nearby >= NEAR_ANOTHER_TOPIC


def _more_on_topic(text: str, state: State, hits: list[Hit]) -> bool:
    """ "What about surgery?" after the adult knock-knees answer: a word of the current topic's
    own text, asked about; the topic's paragraph on it answers, not a generic follow-up."""
    top = hits[0]
    if top.chunk.id != state.topic or top.chunk.kind is Kind.EXERCISE or top.lexical <= 0.0:
        return False
    return bool(_describing_words(text) - FOLLOW_UP_WORDS)


def _variant_asked(text: str, state: State, hits: list[Hit]) -> str | None:
    """ "Too hard, my knee wobbles everywhere" right after a how-to: the easier version, though
    the rest of the message reads like a new question."""
    if state.reply_kind != ReplyKind.HOWTO.value or not state.exercise or hits[0].name >= NAMED:
        return None
    return variant_wanted(text.lower())


def _unclear(
    coach: Coach, understood: Understood, state: State, hits: list[Hit], vector: np.ndarray
) -> Reply | None:
    """A message that does not stand alone: small talk if that is its nearest intent, else, in
    a conversation, a follow-up on the current topic ("and sets?", "how do we practise that")."""
    nearest = understood.nearest
    if nearest in SMALL_TALK:
        return coach.small_talk(nearest)
    if not (state.topic or state.exercise) or state.reply_kind == ReplyKind.UNKNOWN.value:
        return None
    if _elsewhere(coach, understood, vector):
        return None
    follow_up = nearest.removeprefix("followup_")
    name = follow_up if follow_up != nearest else "more"
    return _follow_up(coach, name, state, hits)


def _question(
    coach: Coach,
    text: str,
    prepared: str,
    vector: np.ndarray,
    hits: list[Hit],
    understood: Understood,
) -> Reply:
    """A new question: declined when it is a close-sounding topic we do not cover."""
    reply = coach.respond(text, prepared, hits, understood=understood)
    if reply.kind is ReplyKind.UNKNOWN:
        return reply
    if hits[0].chunk.kind is Kind.EXERCISE and asks_time_to_results(prepared):
        return coach.topic(TIME_TO_RESULTS_TOPIC)  # "clams for a week and nothing's changed"
    nearby = coach.nearby_topic(vector, hits)
    return coach.not_covered(nearby) if nearby is not None else reply


def _follow_up(coach: Coach, name: str, state: State, hits: list[Hit], text: str = "") -> Reply:
    """harder / easier / dose / why / fix / show / more, about what the conversation is on."""
    named = _named(hits)
    exercise = named if named and named.kind is Kind.EXERCISE else coach.kb.get(state.exercise)
    topic = named or coach.kb.get(state.topic) or exercise
    if name in ("harder", "easier", "dose", "show") and exercise is None and topic is not None:
        exercise = next(iter(coach.offered_exercises(topic)), None)
    # "How often?" or "why?" after a how-to is about that exercise; after an answer that merely
    # offered exercises, it is about the topic (training in general, the cause).
    on_exercise = exercise is not None and (
        state.reply_kind == ReplyKind.HOWTO.value or (named is not None and named is exercise)
    )
    if name in ("harder", "easier") and exercise is not None:
        return _variant(coach, exercise, name)
    if name == "dose":
        return coach.dose(exercise) if on_exercise else coach.topic("how-often-to-train")
    if name == "show" and exercise is not None:
        return coach.howto(_described(coach, exercise, topic, hits, text))
    if name == "fix" and topic is not None:
        offered = coach.offered_exercises(topic)
        if ONE_ASKED.search(text.lower()) and offered and topic.kind is not Kind.EXERCISE:
            return coach.howto(offered[0])  # "is there a drill i can do for that?"
        return coach.fixes(topic)
    subject = exercise if name == "why" and on_exercise else topic
    return coach.more(subject.id) if subject else coach.unknown()


def _named(hits: list[Hit]) -> Chunk | None:
    """The chunk a follow-up names: by its title or an alias, or, for an exercise, by a match
    far ahead of the rest ("ok the clam one, how do i do it")."""
    top = hits[0]
    if top.name >= NAMED:
        return top.chunk
    ahead = len(hits) < 2 or top.score - hits[1].score >= CLEARLY_AHEAD
    return top.chunk if top.chunk.kind is Kind.EXERCISE and ahead else None


def _described(
    coach: Coach, exercise: Chunk, topic: Chunk | None, hits: list[Hit], text: str
) -> Chunk:
    """Which of the exercises on the table "show me the lying down one" means: among the
    current one and those the topic offers, the best match for the message's own words; the
    current one when the message describes nothing ("show me")."""
    if not _describing_words(text):
        return exercise
    offered = {exercise.id, *(ex.id for ex in coach.offered_exercises(topic or exercise))}
    return next((hit.chunk for hit in hits if hit.chunk.id in offered), exercise)


def _describing_words(text: str) -> set[str]:
    """The message's topic words, less those that only point ("that one, pls")."""
    return set(content_words(text.lower()).split()) - POINTING


def _variant(coach: Coach, exercise: Chunk, name: str) -> Reply:
    """The harder or easier version: its own how-to when it is an exercise, else the text."""
    value = exercise.harder if name == "harder" else exercise.easier
    chunk = coach.kb.get(value)
    if chunk is not None and chunk.kind is Kind.EXERCISE:
        return coach.howto(chunk)
    label = "Harder" if name == "harder" else "Easier"
    return coach.howto(exercise, variant_of=(label, value or ""))


def _accept(coach: Coach, open_question: str) -> Reply:
    """What "yes" means after the bot's open question (e.g. "more:flat-feet")."""
    verb, _, chunk_id = open_question.partition(":")
    if verb == "more":
        return coach.more(chunk_id)
    if verb == "show":
        return coach.topic(chunk_id)
    return coach.command(verb)


def _subject_of(reply: Reply) -> str | None:
    return reply.sources[0].id if reply.sources else None


def _after(state: State, reply: Reply, subject: Chunk | None, safety: str | None = None) -> State:
    """The next state: what the reply was about, and what a "yes" would now accept."""
    if subject is None:
        return replace(state, reply_kind=reply.kind.value, open_question=None)
    exercise = subject.id if subject.kind is Kind.EXERCISE else state.exercise
    if subject.kind not in (Kind.EXERCISE, Kind.SAFETY):
        exercise = next(iter(_exercise_buttons(reply)), exercise)
    return replace(
        state,
        topic=subject.id,
        exercise=exercise,
        reply_kind=reply.kind.value,
        open_question=f"more:{subject.id}" if reply.buttons else None,
        safety=safety,
    )


def _exercise_buttons(reply: Reply) -> list[str]:
    """Exercise ids the reply offered as buttons, in order (the one "show me" would open)."""
    tapped = [actions.parse(button.action) for button in reply.buttons]
    return [action.verb for action in tapped if action.feature == actions.HOWTO]


def _time_in(text: str) -> str:
    """ "7am" → "07:00", "18:30" → "18:30"; "" when the message names no time."""
    match = TIME.search(text.lower())
    if not match:
        return ""
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half and half.startswith("p") and hour < 12:
        hour += 12
    if half and half.startswith("a") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59) or (not half and not match.group(2)):
        return ""
    return f"{hour:02d}:{minute:02d}"


class Conversations:
    """The core with memory: each user's state is loaded, used and saved around a turn."""

    def __init__(self, coach: Coach, store: DialogueStore) -> None:
        self.coach = coach
        self.store = store

    async def reply(self, user: object, text: str) -> Reply:
        coach = self.coach
        prepared = coach.retriever.prepare(text[:MAX_QUESTION_CHARS])
        if not prepared.strip():
            return coach.unknown()
        vector = await coach.vector(prepared)
        state = await self.store.load(user)
        reply, after = turn(coach, text, prepared, vector, state)
        if after != state:
            version = state.version if state else 0
            if not await self.store.save(user, after, version):
                # Another replica answered this user meanwhile; its state stands.
                log.info("conversation state moved on %s", user_ref(_numeric(user)))
        return reply

    async def tapped(self, user: object, reply: Reply) -> None:
        """A button's reply becomes the conversation's subject too ("harder?" after a tap)."""
        state = await self.store.load(user)
        subject = self.coach.kb.get(_subject_of(reply))
        if subject is None:
            return
        after = _after(state or State(), reply, subject, safety=state.safety if state else None)
        await self.store.save(user, after, state.version if state else 0)


def _numeric(user: object) -> int | None:
    return user if isinstance(user, int) else None
