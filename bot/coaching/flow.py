"""The /routine conversation for any channel: taps in, replies out, answers and routines stored.

Drafts live in the database after every answer, so a restart mid-way resumes where the user was;
a tap on a questionnaire that no longer exists starts again with a message.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rapidfuzz import fuzz, process

from bot import actions
from bot.clock import utc_now
from bot.coaching.assessment import (
    Answers,
    Option,
    Profile,
    Question,
    QuestionId,
    Questionnaire,
    SafetyStop,
    assess,
    choose,
    is_answered,
    load_questionnaire,
    valid_answers,
)
from bot.coaching.builder import Routine, build_routine
from bot.coaching.progression import Feedback, record_feedback
from bot.coaching.screens import ADJUSTABLE, ENTRY, RoutineScreens
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.privacy import user_ref
from bot.reminders.schedule import ALL_DAYS, local_date
from bot.replies import Reply
from bot.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One reply of the flow, and whether a questionnaire is still open afterwards."""

    reply: Reply
    asking: bool = False
    replace: bool = False  # the reply may take the place of the message whose button was tapped


class RoutineFlow:
    """The assessment → routine conversation over a database; the same for Telegram and console."""

    def __init__(
        self,
        kb: KnowledgeBase,
        questionnaire: Questionnaire,
        composer: Composer,
        db: Database,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.kb = kb
        self.questionnaire = questionnaire
        self.screens = RoutineScreens(kb, questionnaire, composer)
        self.db = db
        self.clock = clock

    @classmethod
    def create(
        cls,
        kb: KnowledgeBase,
        composer: Composer,
        db: Database,
        knowledge_dir: Path,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> RoutineFlow:
        """A flow over knowledge_dir/assessment.yaml, checked against the knowledge base."""
        questionnaire = load_questionnaire(knowledge_dir / "assessment.yaml", kb)
        return cls(kb, questionnaire, composer, db, clock)

    @staticmethod
    def handles(action: str) -> bool:
        """True for the button actions this flow answers."""
        return action == ENTRY or actions.parse(action).feature == actions.ROUTINE

    # -- entry points ------------------------------------------------------------------------

    async def open(self, user_id: int) -> Turn:
        """/routine: resume an open questionnaire, show the routine, or offer to build one."""
        draft = await self._draft(user_id)
        if draft is not None:
            return self._ask(*draft, notice="resume")
        stored = await self._stored(user_id)
        if stored is not None:
            return Turn(self.screens.routine(stored[1], await self._today(user_id)))
        return Turn(self.screens.intro())

    async def tap(self, user_id: int, action: str) -> Turn:
        """A button of the routine feature ("routine" or "rt:…")."""
        tapped = actions.parse(action)
        verb, args = tapped.verb, tapped.args
        log.debug("routine tap %s verb=%s", user_ref(user_id), verb)
        routes = {
            "check": (self._check, 0),
            "go": (self._start, 0),
            "redo": (self._redo, 0),
            "show": (self._show, 0),
            "today": (self._session, 0),
            "hard": (self._ease_menu, 0),
            "a": (self._answer, 2),
            "back": (self._back, 1),
            "ok": (self._done, 1),
            "ease": (self._ease, 1),
            "adj": (self._adjust, 1),
            "set": (self._set, 2),
        }
        handler, arity = routes.get(verb, (None, -1))
        if handler is None or len(args) != arity:
            return await self.open(user_id)
        return await handler(user_id, *args)

    async def cancel(self, user_id: int) -> Turn:
        """/cancel: drop the open questionnaire; a stored routine stays."""
        had_draft = await self.db.load_draft(user_id) is not None
        await self.db.clear_draft(user_id)
        has_routine = await self.db.load_profile(user_id) is not None
        log.info("routine cancel %s had_draft=%s", user_ref(user_id), had_draft)
        return Turn(self.screens.cancelled(had_draft, has_routine))

    # -- the questionnaire -------------------------------------------------------------------

    async def _check(self, user_id: int) -> Turn:
        return Turn(self.screens.check(), replace=True)

    async def _start(self, user_id: int, replace: bool = True) -> Turn:
        first = self.questionnaire.questions[0].id.value
        await self.db.save_draft(user_id, first, {})
        return Turn(self.screens.question(first, {}), asking=True, replace=replace)

    async def _redo(self, user_id: int) -> Turn:
        """A new questionnaire under the routine message (which stays visible)."""
        return await self._start(user_id, replace=False)

    async def typed(self, user_id: int, text: str) -> Turn | None:
        """A typed answer to the open question: an option's number or words, "done" or "back";
        None when no questionnaire is open or the text is not an answer (it is a question)."""
        draft = await self._draft(user_id)
        if draft is None:
            return None
        step, answers = draft
        question = self.questionnaire.question(step)
        words = _plain(text)
        if words in BACK_WORDS:
            return await self._back(user_id, step)
        if question.multi and words in DONE_WORDS:
            return await self._done(user_id, step)
        option = match_option(question, text)
        if option is None:
            return None
        log.info("routine typed answer %s question=%s", user_ref(user_id), step)
        return await self._answer(user_id, step, option.id)

    async def _back(self, user_id: int, question_id: str) -> Turn:
        """Back to the previous question; the answers given so far stay."""
        current = await self._current_step(user_id, question_id)
        if isinstance(current, Turn):
            return current
        step, answers = current
        ids = [q.id.value for q in self.questionnaire.questions]
        previous = ids[max(0, ids.index(step) - 1)]
        await self.db.save_draft(user_id, previous, _to_json(answers))
        return self._ask(previous, answers, replace=True)

    async def _answer(self, user_id: int, question_id: str, option_id: str) -> Turn:
        current = await self._current_step(user_id, question_id)
        if isinstance(current, Turn):
            return current
        step, before = current
        try:
            answers = choose(self.questionnaire, before, question_id, option_id)
        except ValueError:
            return self._ask(step, before, notice="other")
        question = self.questionnaire.question(step)
        if question.multi:
            await self.db.save_draft(user_id, step, _to_json(answers))
            notice = _exclusive_notice(question, before.get(step, ()), answers.get(step, ()))
            return self._ask(step, answers, notice=notice, replace=True)
        option = question.option(option_id)
        if option.stop:
            return await self._stop(user_id, option.stop)
        return await self._advance(user_id, step, answers)

    async def _done(self, user_id: int, question_id: str) -> Turn:
        current = await self._current_step(user_id, question_id)
        if isinstance(current, Turn):
            return current
        step, answers = current
        if not is_answered(self.questionnaire.question(step), answers):
            return self._ask(step, answers, notice="need_one", replace=True)
        return await self._advance(user_id, step, answers)

    async def _current_step(self, user_id: int, question_id: str) -> tuple[str, Answers] | Turn:
        """The draft's step and answers, or what to show when the tapped question is stale."""
        draft = await self._draft(user_id)
        if draft is None:
            return Turn(self.screens.intro(notice="expired"))
        step, answers = draft
        if question_id != step:
            return self._ask(step, answers, notice="other")
        return step, answers

    async def _advance(self, user_id: int, step: str, answers: Answers) -> Turn:
        following = self.questionnaire.after(step)
        if following is None:
            return await self._finish(user_id, answers)
        await self.db.save_draft(user_id, following.id.value, _to_json(answers))
        return self._ask(following.id.value, answers, replace=True)

    async def _finish(self, user_id: int, answers: Answers) -> Turn:
        await self.db.clear_draft(user_id)
        try:
            outcome = assess(self.questionnaire, answers)
        except ValidationError:  # a draft from an older questionnaire missed an answer
            return Turn(self.screens.intro(notice="expired"))
        if isinstance(outcome, SafetyStop):
            return await self._stop(user_id, outcome.flags)
        today = await self._today(user_id)
        routine = build_routine(outcome, self.kb, start=today)
        await self.db.save_profile(user_id, _to_json(answers), routine.to_dict())
        log.info(
            "routine built %s items=%d left_out=%d",
            user_ref(user_id),
            len(routine.items),
            len(routine.left_out),
        )
        return Turn(self.screens.routine(routine, today, notice="built"))

    async def _stop(self, user_id: int, flags: tuple[str, ...]) -> Turn:
        """Serious pain: no routine stored, the draft is gone, see a professional."""
        await self.db.clear_draft(user_id)
        log.info("routine safety stop %s", user_ref(user_id))
        return Turn(self.screens.stop(flags))

    def _ask(self, step: str, answers: Answers, notice: str = "", replace: bool = False) -> Turn:
        return Turn(self.screens.question(step, answers, notice), asking=True, replace=replace)

    # -- the stored routine --------------------------------------------------------------------

    async def _show(self, user_id: int) -> Turn:
        stored = await self._stored(user_id)
        if stored is None:
            return Turn(self.screens.intro())
        return Turn(self.screens.routine(stored[1], await self._today(user_id)))

    async def _session(self, user_id: int) -> Turn:
        stored = await self._stored(user_id)
        if stored is None:
            return Turn(self.screens.intro())
        today, training = await self._today(user_id), await self._training_days(user_id)
        return Turn(self.screens.session(stored[1], today, training))

    async def _ease_menu(self, user_id: int) -> Turn:
        stored = await self._stored(user_id)
        if stored is None:
            return Turn(self.screens.intro())
        return Turn(self.screens.ease_menu(stored[1]))

    async def _ease(self, user_id: int, exercise_id: str) -> Turn:
        """ "Too hard / it hurts": swap in the easier variant for the rest of the programme."""
        stored = await self._stored(user_id)
        if stored is None:
            return Turn(self.screens.intro())
        answers, routine = stored
        today = await self._today(user_id)
        item = routine.item(exercise_id)
        if item is None:
            return Turn(self.screens.routine(routine, today, notice="missing"))
        if item.eased:
            return Turn(
                self.screens.routine(routine, today, notice="already_easy", changed=item.base.title)
            )
        profile = _updated(routine.profile, eased=(*routine.profile.eased, exercise_id))
        rebuilt = await self._rebuild(user_id, answers, routine, profile)
        log.info("routine eased %s exercise=%s", user_ref(user_id), exercise_id)
        return Turn(self.screens.routine(rebuilt, today, notice="eased", changed=item.base.title))

    async def _adjust(self, user_id: int, question_id: str) -> Turn:
        stored = await self._stored(user_id)
        if stored is None or question_id not in {q.value for q in ADJUSTABLE}:
            return await self.open(user_id)
        return Turn(self.screens.adjust(question_id, stored[1].profile))

    async def _set(self, user_id: int, question_id: str, option_id: str) -> Turn:
        """Change minutes or level from the routine screen and rebuild (same start date)."""
        stored = await self._stored(user_id)
        question = self.questionnaire.question(question_id)
        option = question.option(option_id) if question else None
        if stored is None or option is None or question.id not in ADJUSTABLE:
            return await self.open(user_id)
        answers, routine = stored
        field = "minutes" if question.id is QuestionId.MINUTES else "level"
        profile = _updated(routine.profile, **{field: option.value})
        rebuilt = await self._rebuild(
            user_id, {**answers, question_id: (option_id,)}, routine, profile
        )
        log.info("routine adjusted %s %s", user_ref(user_id), question_id)
        return Turn(self.screens.routine(rebuilt, await self._today(user_id), notice="adjusted"))

    async def report(self, user_id: int, day: dt.date, effort: str) -> bool:
        """Too easy / Too hard on a day's session: each of its exercises moves one rung of its
        ladder up or down, and the routine is rebuilt; False without a stored routine."""
        feedback = {"easy": Feedback.TOO_EASY, "hard": Feedback.TOO_HARD}.get(effort)
        stored = await self._stored(user_id)
        if feedback is None or stored is None:
            return False
        answers, routine = stored
        session = routine.session_for(day, await self._training_days(user_id))
        profile = routine.profile
        for item in session.items:
            profile = record_feedback(profile, item.base_id, feedback)
        await self._rebuild(user_id, answers, routine, profile)
        log.info(
            "routine reported %s effort=%s items=%d", user_ref(user_id), effort, len(session.items)
        )
        return bool(session.items)

    async def _rebuild(
        self, user_id: int, answers: Answers, old: Routine, profile: Profile
    ) -> Routine:
        routine = build_routine(profile, self.kb, start=old.start)
        await self.db.save_profile(user_id, _to_json(answers), routine.to_dict())
        return routine

    # -- storage -------------------------------------------------------------------------------

    async def _draft(self, user_id: int) -> tuple[str, Answers] | None:
        """The open questionnaire, if it still fits the current questions (else it is dropped)."""
        found = await self.db.load_draft(user_id)
        if found is None:
            return None
        state, raw = found
        answers = _from_json(raw)
        if self.questionnaire.question(state) is None or not valid_answers(
            self.questionnaire, answers
        ):
            log.info("routine draft dropped (questions changed) %s", user_ref(user_id))
            await self.db.clear_draft(user_id)
            return None
        return state, answers

    async def _stored(self, user_id: int) -> tuple[Answers, Routine] | None:
        found = await self.db.load_profile(user_id)
        if found is None:
            return None
        answers, data = found
        try:
            return _from_json(answers), Routine.from_dict(data)
        except ValidationError:
            log.warning("stored routine unreadable (older format) %s", user_ref(user_id))
            return None

    async def _training_days(self, user_id: int) -> tuple[int, ...] | None:
        """Reminder weekdays when the user chose some (as the daily reminder does), else None."""
        schedule = await self.db.get_schedule(user_id)
        if schedule is None or schedule.days == ALL_DAYS:
            return None
        return tuple(day for day in range(7) if schedule.days & (1 << day))

    async def _today(self, user_id: int) -> dt.date:
        """The user's calendar date, in their timezone when they have set one."""
        user = await self.db.get_user(user_id)
        return local_date(self.clock(), user.timezone if user else "UTC")


BACK_WORDS = {"back", "go back", "previous", "undo"}
DONE_WORDS = {"done", "next", "that's all", "thats all", "finished", "ok", "okay"}
TYPED_MATCH = 85  # rapidfuzz ratio a typed answer needs to count as an option (a typo, not a guess)


def match_option(question: Question, text: str) -> Option | None:
    """The option a typed answer names: its number, its label (or the label's part before a
    comma or dash, "mild"), or its id; a near miss of those counts, a question does not."""
    words = _plain(text)
    if words.isdigit():
        number = int(words)
        return question.options[number - 1] if 1 <= number <= len(question.options) else None
    names = {
        name: option
        for option in question.options
        for name in (_plain(option.label), _plain(option.id), *map(_plain, _label_heads(option)))
        if name
    }
    found = process.extractOne(words, list(names), scorer=fuzz.ratio, score_cutoff=TYPED_MATCH)
    return names[found[0]] if found else None


def _label_heads(option: Option) -> list[str]:
    """ "Mild, only during exercise" → "Mild"; "Beginner — new to this" → "Beginner"."""
    return [re.split(r"[,—(-]", option.label)[0]]


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _exclusive_notice(question: Question, before: tuple[str, ...], after: tuple[str, ...]) -> str:
    """Say what an exclusive option ("Not sure", "None") did to the other ticks."""
    exclusive = {o.id for o in question.options if o.exclusive}
    if set(after) & exclusive and len(set(before) - exclusive) > 0:
        return "exclusive_cleared"
    if set(before) & exclusive and not set(after) & exclusive and after:
        return "exclusive_dropped"
    return ""


def _updated(profile: Profile, **changes: object) -> Profile:
    """A validated copy of the profile with some fields changed."""
    return Profile.model_validate({**profile.model_dump(), **changes})


def _to_json(answers: Answers) -> dict[str, list[str]]:
    return {question: list(options) for question, options in answers.items()}


def _from_json(raw: object) -> Answers:
    if not isinstance(raw, dict):
        return {}
    return {
        str(question): tuple(str(option) for option in options)
        for question, options in raw.items()
        if isinstance(options, list | tuple)
    }
