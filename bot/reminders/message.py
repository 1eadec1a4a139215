"""The reminder message: today's session from the user's routine (or the starter one), with
Done / Snooze / Skip and a how-to button per exercise. Pure: the caller loads the context."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import ValidationError

from bot import actions
from bot.coaching.assessment import starter_profile
from bot.coaching.builder import Routine, Session, build_routine
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.reminders.schedule import ALL_DAYS, local_date
from bot.replies import Button, Reply, ReplyKind
from bot.storage.records import Delivery, ReminderContext

log = logging.getLogger(__name__)

NO_CONTEXT = ReminderContext(days=None, routine=None)


@dataclass(frozen=True)
class Plan:
    """The routine a user follows, the weekdays it trains on, and whether it is the starter."""

    routine: Routine
    training: tuple[int, ...] | None  # None: the routine's own spread of days
    starter: bool

    @property
    def training_mask(self) -> int:
        days = self.training or self.routine.training_days
        return sum(1 << day for day in days) or ALL_DAYS


class ReminderMessages:
    """Composes reminder messages from plain data: a delivery and its user's context."""

    def __init__(self, kb: KnowledgeBase, composer: Composer) -> None:
        self.kb = kb
        self.composer = composer
        self._starter: Routine | None = None

    def starter_routine(self) -> Routine:
        """A sensible routine for users who have not done the assessment (built once)."""
        if self._starter is None:
            self._starter = build_routine(starter_profile(), self.kb)
        return self._starter

    def _starter_since(self, context: ReminderContext) -> Routine:
        """The starter routine dated from the subscription, so its weeks (and the harder
        variants from week 3) move on; undated without one."""
        if context.subscribed_at is None:
            return self.starter_routine()
        start = local_date(context.subscribed_at, context.timezone)
        return self.starter_routine().model_copy(update={"start": start})

    def plan(self, context: ReminderContext, user_ref: str = "-") -> Plan:
        """A reminder on chosen days makes those the training days; an every-day reminder keeps
        the routine's own spread, so the other days are rest days."""
        routine, starter = self._starter_since(context), True
        if context.routine is not None:
            try:
                routine, starter = Routine.from_dict(context.routine), False
            except ValidationError:
                log.warning("stored routine unreadable user=%s; using the starter", user_ref)
        days = context.days
        if days is None or days == ALL_DAYS:
            return Plan(routine, None, starter)
        return Plan(routine, tuple(day for day in range(7) if days & (1 << day)), starter)

    def compose(self, delivery: Delivery, plan: Plan, check_due: bool = False) -> Reply:
        """Today's session, or a short rest-day note (with "do one anyway"), for one delivery;
        every two weeks it also offers the self-check."""
        session = plan.routine.session_for(delivery.local_date, plan.training)
        rendered = self.composer.render(
            "reminder.j2",
            session=session,
            items=_items(session),
            day=day_label(delivery.local_date),
            starter=plan.starter,
            snoozed=delivery.slot != "daily",
            next_day=_next_training(plan, session),
            check_due=check_due,
        )
        day = delivery.local_date.isoformat()
        if session.rest:
            buttons: tuple[Button, ...] = (Button("Do one anyway", actions.session("any", day)),)
        else:
            buttons = _buttons(delivery, session)
        if check_due:
            buttons += (Button("🦵 1-minute self-check", actions.check()),)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), buttons)


def _buttons(delivery: Delivery, session: Session) -> tuple[Button, ...]:
    day = delivery.local_date.isoformat()
    fixed = (
        Button("Done ✅", actions.remind("done", day)),
        Button("Snooze 30 min", actions.remind("snz", delivery.id)),
        Button("Skip today", actions.remind("skip", day)),
        *effort_buttons(day),
        Button("▶️ Start session", actions.session("start", day)),
    )
    howto = tuple(
        Button(short_label(f"📖 {i.title}"), actions.howto(i.exercise_id)) for i in session.items
    )
    return fixed + howto


def effort_buttons(day: str) -> tuple[Button, Button]:
    """Too easy / Too hard: the session counts as done, and how it felt is kept."""
    return (
        Button("Too easy", actions.remind("easy", day)),
        Button("Too hard", actions.remind("hard", day)),
    )


def session_buttons(day: str) -> tuple[Button, ...]:
    """What every view of a day's session offers: log it (with how it felt) or be guided."""
    return (
        Button("Done ✅", actions.remind("done", day)),
        *effort_buttons(day),
        Button("▶️ Start session", actions.session("start", day)),
    )


MAX_LABEL = 30  # Telegram buttons wider than this are cut off on a phone


def short_label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def first_sentence(text: str) -> str:
    """The cue shown in a reminder: the first sentence of the exercise's summary."""
    match = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return match.group(1) if match else text.strip()


def _items(session: Session) -> list[dict[str, str]]:
    return [
        {
            "title": item.title,
            "dosage": item.dosage,
            "cue": first_sentence(item.cue),
            "instruction": item.instruction,
            "instruction_kind": item.instruction_kind,
        }
        for item in session.items
    ]


def _next_training(plan: Plan, session: Session) -> str:
    """On a rest day, the label of the next day with a session."""
    if not session.rest:
        return ""
    for ahead in range(1, 8):
        day = session.day + timedelta(days=ahead)
        if not plan.routine.session_for(day, plan.training).rest:
            return day_label(day)
    return ""
