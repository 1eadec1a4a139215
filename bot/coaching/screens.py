"""The routine feature's replies (pure): questionnaire screens, the routine and today's session.

Both channels show these; button actions follow the "rt:<verb>[:<arg>]" convention and stay
under Telegram's 64-byte callback limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot import actions
from bot.coaching.assessment import Answers, Profile, Question, QuestionId, Questionnaire
from bot.coaching.builder import PROGRAMME_WEEKS, Routine, RoutineItem, Session
from bot.compose import Composer, Rendered
from bot.knowledge import Kind, KnowledgeBase
from bot.reminders.schedule import DAY_NAMES
from bot.replies import Button, Reply, ReplyKind, Source

ENTRY = actions.ROUTINE_ENTRY  # the /start button and the answers' "Build my routine" button
CHECK, START, SHOW, TODAY, HARD, REDO = (
    actions.routine(verb) for verb in ("check", "go", "show", "today", "hard", "redo")
)
ADJUSTABLE = (QuestionId.MINUTES, QuestionId.LEVEL)
TICK = "✅ "


def answer_action(question: str, option: str) -> str:
    return actions.routine("a", question, option)


def done_action(question: str) -> str:
    return actions.routine("ok", question)


def adjust_action(question: str) -> str:
    return actions.routine("adj", question)


def set_action(question: str, option: str) -> str:
    return actions.routine("set", question, option)


def ease_action(exercise_id: str) -> str:
    return actions.routine("ease", exercise_id)


class RoutineScreens:
    """Renders every screen of the routine feature from prompts/assessment*.j2 and routine*.j2."""

    def __init__(self, kb: KnowledgeBase, questionnaire: Questionnaire, composer: Composer) -> None:
        self.kb = kb
        self.questionnaire = questionnaire
        self.composer = composer

    # -- the questionnaire -------------------------------------------------------------------

    def intro(self, notice: str = "") -> Reply:
        """What is coming, and the offer of the 1-minute self-check first."""
        rendered = self.composer.render(
            "assessment_intro.j2",
            notice=notice,
            count=len(self.questionnaire.questions),
            screening=self.kb.by_id(self.questionnaire.screening),
            disclaimer=self._summary("medical-disclaimer"),
        )
        return _reply(rendered, [self._button("check", CHECK), self._button("start", START)])

    def check(self) -> Reply:
        """The home screening: single-leg squat or step-down in front of a mirror or camera."""
        screening = self.kb.by_id(self.questionnaire.screening)
        rendered = self.composer.render("assessment_check.j2", screening=screening)
        return _reply(rendered, [self._button("start", START)])

    def question(self, question_id: str, answers: Answers, notice: str = "") -> Reply:
        question = self.questionnaire.question(question_id)
        assert question is not None, question_id
        ticked = answers.get(question.id.value, ()) if question.multi else ()
        rendered = self.composer.render(
            "assessment_question.j2",
            notice=notice,
            question=question,
            number=list(QuestionId).index(question.id) + 1,
            count=len(self.questionnaire.questions),
            ticked=[option.label for option in question.options if option.id in ticked],
        )
        return _reply(rendered, self._option_buttons(question, ticked))

    def _option_buttons(self, question: Question, ticked: Iterable[str]) -> list[Button]:
        ticked = set(ticked)
        buttons = [
            Button(
                (TICK if option.id in ticked else "") + option.label,
                answer_action(question.id.value, option.id),
            )
            for option in question.options
        ]
        if question.multi:
            buttons.append(self._button("done", done_action(question.id.value)))
        return buttons

    def stop(self, flags: Iterable[str]) -> Reply:
        """No routine: serious pain (see a professional first) or a young child (guidance)."""
        chunks = [chunk for chunk in map(self.kb.get, flags) if chunk is not None]
        if chunks and chunks[0].kind is not Kind.SAFETY:
            rendered = self.composer.render("assessment_child.j2", guides=chunks)
            sources = tuple(Source(chunk.id, chunk.title, 1.0) for chunk in chunks)
            return Reply(ReplyKind.INFO, rendered.html, rendered.text, sources)
        rendered = self.composer.render("assessment_stop.j2", flags=chunks)
        sources = tuple(Source(chunk.id, chunk.title, 1.0) for chunk in chunks)
        return Reply(ReplyKind.SAFETY, rendered.html, rendered.text, sources)

    def cancelled(self, had_draft: bool, has_routine: bool) -> Reply:
        rendered = self.composer.render(
            "assessment_cancel.j2", had_draft=had_draft, has_routine=has_routine
        )
        return _reply(rendered, [])

    # -- the routine ---------------------------------------------------------------------------

    def routine(
        self, routine: Routine, today: dt.date, notice: str = "", changed: str = ""
    ) -> Reply:
        """The whole routine, why each exercise is there, what was left out, and the settings."""
        week = routine.week_of(today)
        rendered = self.composer.render(
            "routine.j2",
            notice=notice,
            changed=changed,
            profile=routine.profile,
            items=routine.items,
            left_out=routine.left_out,
            notes=[chunk for chunk in map(self.kb.get, routine.profile.notes) if chunk],
            why=why,
            week=min(week, PROGRAMME_WEEKS),
            weeks=PROGRAMME_WEEKS,
            complete=week > PROGRAMME_WEEKS,
            minutes=_minutes_range(routine, min(week, PROGRAMME_WEEKS)),
        )
        buttons = [self._button("today", TODAY)]
        if routine.items:
            buttons.append(self._button("too_hard", HARD))
        buttons += [self._button(q.value, adjust_action(q.value)) for q in ADJUSTABLE]
        buttons.append(self._button("redo", REDO))
        return _reply(rendered, buttons)

    def session(
        self, routine: Routine, day: dt.date, training_days: Iterable[int] | None = None
    ) -> Reply:
        """Today's session, or a rest day with the date of the next one."""
        days = tuple(training_days) if training_days else None
        session = routine.session_for(day, days)
        rendered = self.composer.render(
            "routine_session.j2", session=session, next_day=_next_training_day(routine, day, days)
        )
        return _reply(rendered, self.session_buttons(session))

    def session_buttons(self, session: Session) -> list[Button]:
        """How-to for each exercise of the session, and "too hard"."""
        buttons = [
            Button(
                self.questionnaire.label("howto", title=item.title), actions.howto(item.exercise_id)
            )
            for item in session.items
        ]
        if session.items:
            buttons.append(self._button("too_hard", HARD))
        return buttons + [self._button("show", SHOW)]

    def ease_menu(self, routine: Routine) -> Reply:
        """Pick the exercise that is too hard or hurts."""
        rendered = self.composer.render(
            "routine_ease.j2", pain_rule=self.kb.get("pain-during-exercise")
        )
        buttons = [
            Button(
                self.questionnaire.label("ease", title=item.base.title),
                ease_action(item.exercise_id),
            )
            for item in routine.items
            if not item.eased
        ]
        return _reply(rendered, [*buttons, self._button("show", SHOW)])

    def adjust(self, question_id: str, profile: Profile) -> Reply:
        """Offer the options of one setting (minutes or level) to change it."""
        question = self.questionnaire.question(question_id)
        assert question is not None, question_id
        current = profile.minutes if question.id is QuestionId.MINUTES else profile.level.value
        now = next((o.label for o in question.options if o.value == current), str(current))
        rendered = self.composer.render("routine_adjust.j2", question=question, current=now)
        buttons = [
            Button(option.label, set_action(question.id.value, option.id))
            for option in question.options
        ]
        return _reply(rendered, [*buttons, self._button("show", SHOW)])

    # -- helpers -------------------------------------------------------------------------------

    def _button(self, name: str, action: str) -> Button:
        return Button(self.questionnaire.label(name), action)

    def _summary(self, chunk_id: str) -> str:
        chunk = self.kb.get(chunk_id)
        return chunk.summary if chunk else ""


def _reply(rendered: Rendered, buttons: list[Button]) -> Reply:
    return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), tuple(buttons))


def routine_json(routine: Routine) -> dict[str, object]:
    """The routine as stored, plus its training weekdays by name, for scripts."""
    return {**routine.to_dict(), "training_days": [DAY_NAMES[d] for d in routine.training_days]}


def _minutes_range(routine: Routine, week: int) -> tuple[int, int]:
    """The shortest and longest day-session of a week, in whole minutes (computed, not stated)."""
    seconds = [s for s in routine.session_seconds(week) if s] or [0]
    return round(min(seconds) / 60), round(max(seconds) / 60)


def why(item: RoutineItem) -> list[tuple[tuple[str, ...], list[str]]]:
    """An item's reasons grouped by the user's words: [(because phrases, cause titles)]."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for reason in item.reasons:
        grouped.setdefault(reason.because, []).append(reason.cause)
    return list(grouped.items())


def _next_training_day(
    routine: Routine, day: dt.date, days: tuple[int, ...] | None
) -> dt.date | None:
    """The next date after `day` with a session, within a week."""
    for offset in range(1, 8):
        later = day + dt.timedelta(days=offset)
        if not routine.session_for(later, days).rest:
            return later
    return None
