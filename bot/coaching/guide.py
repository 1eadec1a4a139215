"""The guided session: today's exercises one at a time (steps, then Done set / Next), a hold timer
for stretches, and the session logged at the end. Channel-neutral; the channels run the timer.

Where the user is lives in the button data (`ses:<verb>:<date>:<anyway>:<exercise>:<set>`), so
there is nothing to lose on a restart. Pictures are optional: `picture_for(exercise_id)` (wired
in bot/app.py) may return image bytes the channel shows above the steps.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import actions
from bot.coaching.routine import Session, SessionItem
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.privacy import user_ref
from bot.replies import Button, Reply, ReplyKind

log = logging.getLogger(__name__)

MIN_TIMED_HOLD = 10  # shorter holds (a 2 s pause per rep) are counted by the user, not a timer
SessionFor = Callable[[int, dt.date, bool], Awaitable[Session]]
LogDone = Callable[[int, dt.date], Awaitable[Reply]]
PictureFor = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Timer:
    """A hold to count down; `after` is what to show when it is over."""

    seconds: int
    title: str
    after: Reply


@dataclass(frozen=True)
class GuideStep:
    reply: Reply
    timer: Timer | None = None
    picture: bytes | None = None
    finished: bool = False  # the session was logged


@dataclass(frozen=True)
class Place:
    day: dt.date
    anyway: bool  # a rest day on which the user asked for a session anyway
    index: int = 0  # which exercise, from 0
    set_number: int = 1

    def action(self, verb: str, index: int | None = None, set_number: int | None = None) -> str:
        return actions.session(
            verb,
            self.day.isoformat(),
            int(self.anyway),
            self.index if index is None else index,
            self.set_number if set_number is None else set_number,
        )


class SessionGuide:
    """Turns session buttons into the next screen of the walk-through."""

    def __init__(
        self,
        kb: KnowledgeBase,
        composer: Composer,
        session_for: SessionFor,
        log_done: LogDone,
        picture_for: PictureFor | None = None,
    ) -> None:
        self.kb = kb
        self.composer = composer
        self.session_for = session_for
        self.log_done = log_done
        self.picture_for = picture_for

    @staticmethod
    def handles(action: str) -> bool:
        return actions.parse(action).feature == actions.SESSION

    async def tap(self, user_id: int, action: str, today: dt.date) -> GuideStep:
        """The screen after a session button; stale or forged data gets a polite note."""
        tapped = actions.parse(action)
        place = _place(tapped.args, today)
        if place is None:
            return GuideStep(self._reply("gone", []))
        if tapped.verb == "any":
            place = Place(place.day, anyway=True)
        session = await self.session_for(user_id, place.day, place.anyway)
        if session.rest:
            return GuideStep(self._reply("rest", []))
        if tapped.verb == "any":
            return GuideStep(self._overview(session, place))
        if tapped.verb == "start":
            log.info("guided session started %s", user_ref(user_id))
            return self._exercise(session, place)
        if tapped.verb == "ex" and place.index < len(session.items):
            return self._exercise(session, place)
        if tapped.verb == "t" and place.index < len(session.items):
            return self._timer(session, place)
        if tapped.verb == "end":
            return await self._finish(user_id, session, place)
        return GuideStep(self._reply("gone", []))

    # -- screens ---------------------------------------------------------------------------

    def _overview(self, session: Session, place: Place) -> Reply:
        """A rest day's "do one anyway": the next session's exercises, to do today."""
        buttons = [
            Button("▶️ Start session", place.action("start", 0, 1)),
            Button("Done ✅", actions.remind("done", place.day.isoformat())),
        ]
        return self._reply("anyway", buttons, session=session)

    def _exercise(self, session: Session, place: Place) -> GuideStep:
        item = session.items[place.index]
        chunk = self.kb.get(item.exercise_id)
        sets = _sets(item)
        place = Place(place.day, place.anyway, place.index, min(place.set_number, sets))
        hold = _timed_hold(item)
        buttons = []
        if hold:
            buttons.append(Button(f"⏱ Start {hold} s timer", place.action("t")))
        buttons += self._next_buttons(session, place, sets)
        reply = self._reply(
            "exercise",
            buttons,
            item=item,
            steps=list(chunk.steps) if chunk else [],
            number=place.index + 1,
            count=len(session.items),
            set_number=place.set_number,
            sets=sets,
            per_side="per side" in item.dosage,
        )
        picture = self.picture_for(item.exercise_id) if self.picture_for else None
        return GuideStep(reply, picture=picture)

    def _next_buttons(self, session: Session, place: Place, sets: int) -> list[Button]:
        last_exercise = place.index + 1 >= len(session.items)
        if place.set_number < sets:
            done_set = place.action("ex", place.index, place.set_number + 1)
        elif last_exercise:
            done_set = place.action("end", 0, 1)
        else:
            done_set = place.action("ex", place.index + 1, 1)
        buttons = [Button("✅ Done set", done_set)]
        if last_exercise:
            buttons.append(Button("🏁 Finish session", place.action("end", 0, 1)))
        else:
            buttons.append(Button("Next ⏭", place.action("ex", place.index + 1, 1)))
        return buttons

    def _timer(self, session: Session, place: Place) -> GuideStep:
        item = session.items[place.index]
        sets = _sets(item)
        hold = _timed_hold(item) or 0
        after = self._reply(
            "hold_done",
            self._next_buttons(session, place, sets),
            item=item,
            set_number=place.set_number,
            sets=sets,
        )
        start = self._reply("hold", [], item=item, seconds=hold, left=hold)
        return GuideStep(start, timer=Timer(hold, item.title, after))

    def countdown(self, title: str, left: int) -> Reply:
        """The timer message with `left` seconds to go."""
        return self._reply("hold", [], item={"title": title}, seconds=left, left=left)

    async def _finish(self, user_id: int, session: Session, place: Place) -> GuideStep:
        logged = await self.log_done(user_id, place.day)
        end = self._reply("end", [], count=len(session.items))
        log.info("guided session finished %s", user_ref(user_id))
        reply = Reply(
            ReplyKind.INFO,
            f"{end.html}\n\n{logged.html}",
            f"{end.text}\n\n{logged.text}",
            (),
            logged.buttons,
        )
        return GuideStep(reply, finished=True)

    def _reply(self, case: str, buttons: list[Button], **context: object) -> Reply:
        rendered = self.composer.render("guide.j2", case=case, **context)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), tuple(buttons))


# Today's dose as the routine prescribes it (Dosage.describe: "3 × 30 s hold per side"); the
# routine's ladder moves it away from the knowledge file's, so it is read from the session.
SETS = re.compile(r"^(\d+) ×")
HOLD = re.compile(r"(\d+) s hold")


def _sets(item: SessionItem) -> int:
    found = SETS.match(item.dosage)
    return int(found.group(1)) if found else 1


def _timed_hold(item: SessionItem) -> int | None:
    found = HOLD.search(item.dosage)
    hold = int(found.group(1)) if found else 0
    return hold if hold >= MIN_TIMED_HOLD else None


def _place(args: tuple[str, ...], today: dt.date) -> Place | None:
    """Where a button points: a date no later than tomorrow, and small numbers."""
    if not args or len(args) not in (1, 4):
        return None
    try:
        day = dt.date.fromisoformat(args[0])
    except ValueError:
        return None
    if not today - dt.timedelta(days=7) <= day <= today + dt.timedelta(days=1):
        return None
    if len(args) == 1:
        return Place(day, anyway=False)
    if not all(re.fullmatch(r"[0-9]{1,2}", part) for part in args[1:]):
        return None
    anyway, index, set_number = (int(part) for part in args[1:])
    return Place(day, bool(anyway), index, max(1, set_number))
