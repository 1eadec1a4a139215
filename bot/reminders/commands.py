"""The reminder feature's replies, channel-neutral: /remind, /timezone, /reminders, /stop, /forget,
/progress, and what the reminder's buttons do. Telegram and the console are thin over this, as
they are over the Coach; the reminder message itself is composed by bot.reminders.message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot import actions
from bot.clock import Clock, utc_now
from bot.coaching.builder import Routine, Session
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.privacy import user_ref
from bot.reminders.logbook import Logbook, parse_day
from bot.reminders.message import NO_CONTEXT, Plan, ReminderMessages
from bot.reminders.progress import CHART_DAYS, Progress, compute_progress, render_chart
from bot.reminders.request import (
    ReminderRequest,
    parse_reminder_request,
    parse_reminder_words,
)
from bot.reminders.schedule import (
    ALL_DAYS,
    WEEKDAYS,
    ScheduleError,
    describe_days,
    fire_instant,
    format_time,
    local_date,
    next_fire,
    parse_timezone,
    zone,
)
from bot.reminders.selfcheck import CHECK_EVERY, SelfCheckFlow
from bot.reminders.timezones import zone_at
from bot.replies import Button, Reply, ReplyKind
from bot.storage.checks import Prefs
from bot.storage.database import Database
from bot.storage.records import DONE, Delivery, PlannedDelivery, ReminderContext

log = logging.getLogger(__name__)

MAX_ECHO = 40  # how much of a user's bad input is quoted back
MENU_TIMES = ("07:00", "07:30", "08:00", "12:30", "18:00", "20:00")
MENU_DAYS = ((ALL_DAYS, "Every day"), (WEEKDAYS, "Weekdays"), (0b0010101, "Mon, Wed, Fri"))
MENU_ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)
HISTORY_DAYS = 400  # enough log for a long streak and the 30-day counts
MAX_ROW_ID = 2**63 - 1  # the largest id SQLite and PostgreSQL (BIGINT) can hold
FORGET_YES, FORGET_NO = actions.remind("forget", "yes"), actions.remind("forget", "no")
# Buttons that log a day: verb → (status, how it felt).
RECORDS = {
    "done": ("done", None),
    "easy": ("done", "easy"),
    "hard": ("done", "hard"),
    "skip": ("skipped", None),
}


@dataclass(frozen=True)
class ProgressReply:
    """The /progress text and its chart (PNG bytes; None when there is nothing to draw)."""

    reply: Reply
    chart_png: bytes | None


class Subscriptions:
    """Schedules, timezones, reminder messages and progress for one bot."""

    def __init__(
        self,
        db: Database,
        kb: KnowledgeBase,
        composer: Composer,
        clock: Clock = utc_now,
        snooze_minutes: int = 30,
    ) -> None:
        self.db = db
        self.kb = kb
        self.composer = composer
        self.clock = clock
        self.snooze = timedelta(minutes=snooze_minutes)
        self.on_change: Callable[[], None] = lambda: None  # wakes the dispatcher
        self.messages = ReminderMessages(kb, composer)
        self.logbook = Logbook(db, composer, clock, self.stats)
        self.checks = SelfCheckFlow(db, composer, clock)

    # -- commands --------------------------------------------------------------------------

    async def remind(self, user_id: int, chat_id: int, args: Sequence[str]) -> Reply:
        """/remind with a time, days and a zone in any order, "off" or "rest on|off"; bare
        /remind shows the current schedule (or the menu when there is none)."""
        if not args:
            return await self.show(user_id, with_menu=True)
        try:
            request = parse_reminder_words(list(args))
        except ScheduleError as error:
            return self._error(error)
        return await self.apply(user_id, chat_id, request)

    async def free_text(self, user_id: int, chat_id: int, text: str) -> Reply | None:
        """A message in the user's words that asks for a reminder, carried out; else None."""
        try:
            request = parse_reminder_request(text)
        except ScheduleError as error:
            return self._error(error)
        if request is None:
            return None
        log.info("reminder request in free text user=%s", user_ref(user_id))
        return await self.apply(user_id, chat_id, request)

    async def apply(self, user_id: int, chat_id: int, request: ReminderRequest) -> Reply:
        """Carry out a read reminder request (from /remind or from free text)."""
        if request.off:
            return await self.stop(user_id)
        if request.rest_days is not None:
            return await self.set_rest_days(user_id, request.rest_days)
        if request.timezone:
            await self._store_timezone(user_id, chat_id, request.timezone)
        schedule = await self.db.get_schedule(user_id)
        at = request.at
        if at is None and schedule is not None and (request.days or request.timezone):
            at = time.fromisoformat(schedule.local_time)  # "/remind weekdays" keeps the time
        if at is None:
            if request.timezone:
                return await self.set_timezone(user_id, chat_id, request.timezone)
            return await self.show(user_id, with_menu=True)
        days = request.days or (schedule.days if schedule and request.at is None else ALL_DAYS)
        return await self.subscribe(user_id, chat_id, at, days)

    async def subscribe(self, user_id: int, chat_id: int, at: time, days: int) -> Reply:
        """Save the schedule with its first fire, and confirm it in the user's local time."""
        user = await self.db.ensure_user(user_id, chat_id)
        first = await self.db.get_schedule(user_id) is None
        fire_at, day, reason = await self._first_fire(user_id, at, days, user.timezone)
        await self.db.save_schedule(
            user_id, chat_id, format_time(at), days, fire_at, day, now=self.clock()
        )
        log.info("reminder set user=%s", user_ref(user_id))
        self.on_change()
        prefs = await self._prefs(user_id)
        return self._reply(
            "schedule.j2",
            [
                Button("Change timezone", actions.remind("tzmenu")),
                self._rest_button(prefs) if days == ALL_DAYS else None,
                Button("Stop reminders", actions.remind("stop")),
            ],
            case="set",
            at=format_time(at),
            days=describe_days(days),
            timezone=user.timezone,
            when=self._when(fire_at, user.timezone),
            reason=reason,
            first=first,
            every_day=days == ALL_DAYS,
            rest_notes=prefs.rest_day_notes,
            timezone_chosen=prefs.timezone_chosen,
        )

    async def set_rest_days(self, user_id: int, wanted: bool) -> Reply:
        """Rest-day notes on (a short note on rest days) or off (rest days stay silent)."""
        await self.db.set_prefs(user_id, rest_day_notes=wanted)
        schedule = await self.db.get_schedule(user_id)
        when = None
        if schedule and schedule.enabled:
            at = time.fromisoformat(schedule.local_time)
            fire_at, day, _ = await self._first_fire(user_id, at, schedule.days, schedule.timezone)
            await self.db.move_schedule(user_id, fire_at, day)
            when = self._when(fire_at, schedule.timezone)
            self.on_change()
        return self._reply("schedule.j2", [], case="rest_days", wanted=wanted, when=when)

    def _rest_button(self, prefs: Prefs) -> Button:
        if prefs.rest_day_notes:
            return Button("Silent rest days", actions.remind("rest", 0))
        return Button("Notes on rest days too", actions.remind("rest", 1))

    async def _first_fire(
        self, user_id: int, at: time, days: int, tz_name: str
    ) -> tuple[datetime, date, str]:
        """The next fire that will really send something, and why it is not today if it is not:
        "passed" (the time has gone by), "sent" (today's went out), "not_chosen" (today is not
        one of the days) or "rest" (a rest day of the plan, and rest days are silent)."""
        now = self.clock()
        today = local_date(now, tz_name)
        plan, prefs = await self._plan_for(user_id, days), await self._prefs(user_id)
        fire_at, day = next_fire(at, days, tz_name, now)
        reason = await self._why_not_today(user_id, at, days, tz_name, plan, prefs)
        for _ in range(8):
            if await self.db.has_delivery(user_id, day) or self._silent(plan, prefs, day):
                fire_at, day = next_fire(at, days, tz_name, fire_at)
                continue
            break
        return fire_at, day, reason if day != today else ""

    async def _why_not_today(
        self, user_id: int, at: time, days: int, tz_name: str, plan: Plan, prefs: Prefs
    ) -> str:
        today = local_date(self.clock(), tz_name)
        if not days & (1 << today.weekday()):
            return "not_chosen"
        if fire_instant(today, at, zone(tz_name)) <= self.clock():
            return "passed"
        if await self.db.has_delivery(user_id, today):
            return "sent"
        return "rest" if self._silent(plan, prefs, today) else ""

    @staticmethod
    def _silent(plan: Plan, prefs: Prefs, day: date) -> bool:
        """A rest day of the plan the user did not ask to hear about."""
        return not prefs.rest_day_notes and plan.routine.session_for(day, plan.training).rest

    async def _plan_for(self, user_id: int, days: int | None = None) -> Plan:
        """The user's plan, with `days` in place of the stored reminder days when given."""
        context = (await self.db.reminder_context([user_id])).get(user_id) or NO_CONTEXT
        if days is not None:
            context = dataclasses.replace(context, days=days)
        return self._plan(context, user_id)

    async def _prefs(self, user_id: int) -> Prefs:
        return (await self.db.get_prefs([user_id]))[user_id]

    async def session_for(self, user_id: int, day: date, anyway: bool = False) -> Session:
        """The user's session for a day; `anyway` on a rest day gives the next session's work."""
        plan = await self._plan_for(user_id)
        session = plan.routine.session_for(day, plan.training)
        if not (anyway and session.rest):
            return session
        for ahead in range(1, 8):
            later = plan.routine.session_for(day + timedelta(days=ahead), plan.training)
            if not later.rest:
                return later.model_copy(update={"day": day})
        return session

    async def local_today(self, user_id: int) -> date:
        user = await self.db.get_user(user_id)
        return local_date(self.clock(), user.timezone if user else "UTC")

    async def timezone(self, user_id: int, chat_id: int, args: Sequence[str]) -> Reply:
        """/timezone NAME sets it (and moves the next reminder); no arguments shows it."""
        user = await self.db.ensure_user(user_id, chat_id)
        if not args:
            return self._reply(
                "schedule.j2",
                [Button("Pick a timezone", actions.remind("tzmenu"))],
                case="timezone_show",
                timezone=user.timezone,
                now=self._local_now(user.timezone),
            )
        try:
            name = parse_timezone(" ".join(args))
        except ScheduleError as error:
            return self._error(error)
        return await self.set_timezone(user_id, chat_id, name)

    async def set_timezone(
        self, user_id: int, chat_id: int, name: str, from_location: bool = False
    ) -> Reply:
        when = await self._store_timezone(user_id, chat_id, name)
        log.info("timezone set user=%s", user_ref(user_id))
        return self._reply(
            "schedule.j2",
            [],
            case="timezone_set",
            timezone=name,
            now=self._local_now(name),
            when=when,
            from_location=from_location,
        )

    async def timezone_at(
        self, user_id: int, chat_id: int, latitude: float, longitude: float
    ) -> Reply:
        """A shared location: the timezone there (found offline), set as the user's."""
        name = await asyncio.to_thread(zone_at, latitude, longitude)
        if name is None:
            return self._error(ScheduleError("timezone", ""))
        return await self.set_timezone(user_id, chat_id, name, from_location=True)

    async def _store_timezone(self, user_id: int, chat_id: int, name: str) -> dict | None:
        """Save a chosen zone and move the next reminder to it; the new next fire, if any."""
        await self.db.set_timezone(user_id, name, chat_id)
        await self.db.set_prefs(user_id, timezone_chosen=True)
        schedule = await self.db.get_schedule(user_id)
        if not (schedule and schedule.enabled):
            return None
        at = time.fromisoformat(schedule.local_time)
        fire_at, day, _ = await self._first_fire(user_id, at, schedule.days, name)
        await self.db.move_schedule(user_id, fire_at, day)
        self.on_change()
        return self._when(fire_at, name)

    async def show(self, user_id: int, with_menu: bool = False) -> Reply:
        """/reminders (and bare /remind): the schedule and its next send with the reason."""
        schedule = await self.db.get_schedule(user_id)
        if schedule is None or not schedule.enabled:
            if with_menu:
                return self.menu()
            blocked = schedule is not None and schedule.disabled_reason == "blocked"
            return self._reply(
                "schedule.j2", [Button("Set a reminder", "remind")], case="none", blocked=blocked
            )
        at = time.fromisoformat(schedule.local_time)
        reason = await self._why_not_today(
            user_id,
            at,
            schedule.days,
            schedule.timezone,
            await self._plan_for(user_id),
            await self._prefs(user_id),
        )
        when = (
            self._when(schedule.next_fire_at, schedule.timezone) if schedule.next_fire_at else None
        )
        if when and when["day"] == "today":
            reason = ""
        prefs = await self._prefs(user_id)
        return self._reply(
            "schedule.j2",
            [
                Button("Change time", "remind" if not with_menu else actions.remind("menu")),
                Button("Change timezone", actions.remind("tzmenu")),
                self._rest_button(prefs) if schedule.days == ALL_DAYS else None,
                Button("Stop reminders", actions.remind("stop")),
            ],
            case="show",
            at=schedule.local_time,
            days=describe_days(schedule.days),
            timezone=schedule.timezone,
            when=when,
            reason=reason,
            rest_notes=prefs.rest_day_notes,
            every_day=schedule.days == ALL_DAYS,
        )

    async def stop(self, user_id: int) -> Reply:
        """/stop: unsubscribe (the history stays until /forget)."""
        stopped = await self.db.disable_schedule(user_id, "stopped")
        if stopped:
            log.info("reminder stopped user=%s", user_ref(user_id))
            self.on_change()
        return self._reply("schedule.j2", [], case="stopped" if stopped else "not_subscribed")

    def forget_prompt(self) -> Reply:
        """/forget: ask first, with buttons."""
        buttons = [
            Button("Yes, delete everything", FORGET_YES),
            Button("No, keep my data", FORGET_NO),
        ]
        return self._reply("schedule_forget.j2", buttons, case="confirm")

    async def forget(self, user_id: int) -> Reply:
        """Delete every row about the user, then say so."""
        removed = await self.db.forget_user(user_id)
        log.info("forgot user=%s rows=%d", user_ref(user_id), removed)
        self.on_change()
        return self._reply("schedule_forget.j2", [], case="done", removed=removed)

    async def progress(self, user_id: int, chart_path: str | None = None) -> ProgressReply:
        """/progress: streak and counts as text, and the four-week chart with the self-checks
        (no chart at all when nothing is logged yet: the words say so)."""
        stats = await self.stats(user_id)
        schedule = await self.db.get_schedule(user_id)
        subscribed = schedule is not None and schedule.enabled
        checks = await self.db.check_history(user_id, stats.today - timedelta(days=CHART_DAYS - 1))
        drawn = stats.has_any or bool(checks)
        reply = self._reply(
            "progress.j2",
            [],
            p=stats,
            checks=checks,
            chart_path=chart_path if drawn else None,
            subscribed=subscribed,
        )
        if not drawn:
            return ProgressReply(reply, None)
        title = self.composer.render("progress_chart.j2", p=stats).text
        chart = await asyncio.to_thread(render_chart, stats, title, checks)
        return ProgressReply(reply, chart)

    async def stats(self, user_id: int) -> Progress:
        user = await self.db.get_user(user_id)
        tz_name = user.timezone if user else "UTC"
        today = local_date(self.clock(), tz_name)
        history = await self.db.session_history(user_id, today - timedelta(days=HISTORY_DAYS))
        context = (await self.db.reminder_context([user_id])).get(user_id)
        plan = self._plan(context, user_id)
        since = (
            local_date(context.subscribed_at, tz_name)
            if context and context.subscribed_at
            else None
        )
        return compute_progress(history, today, plan.training_mask, since)

    # -- menus (the /start "Daily reminder" button) ----------------------------------------

    def menu(self) -> Reply:
        buttons = [Button(at, actions.remind("t", at.replace(":", ""))) for at in MENU_TIMES]
        return self._reply("schedule.j2", buttons, case="menu_time")

    def timezone_prompt(self) -> Reply:
        return self._reply("schedule.j2", [], case="menu_timezone", zones=MENU_ZONES)

    def days_menu(self, hhmm: str) -> Reply:
        at = f"{hhmm[:2]}:{hhmm[2:]}"
        buttons = [Button(label, actions.remind("d", hhmm, mask)) for mask, label in MENU_DAYS]
        return self._reply("schedule.j2", buttons, case="menu_days", at=at)

    def timezone_menu(self) -> Reply:
        buttons = [
            Button(name.split("/")[-1].replace("_", " "), actions.remind("tz", name))
            for name in MENU_ZONES
        ]
        return self._reply("schedule.j2", buttons, case="menu_timezone", zones=MENU_ZONES)

    # -- helpers ---------------------------------------------------------------------------

    def _reply(self, template: str, buttons: Sequence[Button | None], **context: object) -> Reply:
        rendered = self.composer.render(template, **context)
        shown = tuple(button for button in buttons if button is not None)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), shown)

    def _error(self, error: ScheduleError) -> Reply:
        buttons = [Button(f"Use {name}", actions.remind("tz", name)) for name in error.suggestions]
        given = _echo(error.given)
        return self._reply(
            "schedule_error.j2",
            buttons,
            problem=error.problem,
            given=given,
            suggestions=error.suggestions,
        )

    def _when(self, instant: datetime, tz_name: str) -> dict[str, str]:
        """{"day": "today" | "tomorrow" | "Mon 6 Jan", "time": "07:30"} in the user's zone."""
        local = instant.astimezone(zone(tz_name))
        today = local_date(self.clock(), tz_name)
        offset = (local.date() - today).days
        day = {0: "today", 1: "tomorrow"}.get(offset) or f"{local:%a} {local.day} {local:%b}"
        return {"day": day, "time": f"{local:%H:%M}"}

    def _local_now(self, tz_name: str) -> str:
        return f"{self.clock().astimezone(zone(tz_name)):%H:%M}"

    # -- the reminder message and its buttons ----------------------------------------------

    async def reminder(self, delivery: Delivery) -> Reply | None:
        """Today's session for one delivery (see bot.reminders.message)."""
        return (await self.reminders([delivery]))[delivery.id]

    async def reminders(self, batch: Sequence[Delivery]) -> dict[int, Reply | None]:
        """The messages for a batch of deliveries, read from the database in a few queries;
        None for a rest day the user did not ask to hear about (nothing is sent)."""
        users = [d.user_id for d in batch]
        contexts = await self.db.reminder_context(users)
        prefs = await self.db.get_prefs(users)
        checked = await self.db.last_checks(users)
        replies: dict[int, Reply | None] = {}
        for d in batch:
            plan = self._plan(contexts.get(d.user_id), d.user_id)
            if d.slot == "daily" and self._silent(plan, prefs[d.user_id], d.local_date):
                replies[d.id] = None
                continue
            last = checked.get(d.user_id)
            due = last is None or (d.local_date - last).days >= CHECK_EVERY
            replies[d.id] = self.messages.compose(d, plan, check_due=due)
        return replies

    def _plan(self, context: ReminderContext | None, user_id: int) -> Plan:
        return self.messages.plan(context or NO_CONTEXT, user_ref(user_id))

    def starter_routine(self) -> Routine:
        return self.messages.starter_routine()

    async def record(
        self, user_id: int, day_text: str, status: str, effort: str | None = None
    ) -> Reply:
        """Done / Too easy / Too hard / Skip on a session view: log the day (see Logbook)."""
        day = await self._valid_day(user_id, day_text)
        if day is None:
            return self._reply("reminder_ack.j2", [], case="gone")
        return await self.logbook.record(user_id, day, status, effort)

    async def _valid_day(self, user_id: int, day_text: str) -> date | None:
        """A date from a button: well-formed, not in the future and within the chart's reach."""
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            return None
        today = await self.local_today(user_id)
        earliest = today - timedelta(days=HISTORY_DAYS)
        return day if earliest <= day <= today + timedelta(days=1) else None

    async def done(self, user_id: int, args: Sequence[str]) -> Reply:
        """/done [today|yesterday|a weekday|a date]: log a session without a reminder."""
        today = await self.local_today(user_id)
        day = parse_day(" ".join(args), today)
        if day is None or not today - timedelta(days=HISTORY_DAYS) <= day <= today:
            return self._reply("reminder_ack.j2", [], case="bad_day", given=_echo(" ".join(args)))
        return await self.logbook.record(user_id, day, DONE)

    async def undo(self, user_id: int) -> Reply:
        """/undo: take back the last logged entry."""
        return await self.logbook.undo(user_id)

    async def snooze_reminder(self, user_id: int, delivery_text: str) -> Reply:
        """Queue the same reminder again in 30 minutes (once per reminder message)."""
        delivery_id = _row_id(delivery_text)
        delivery = await self.db.get_delivery(delivery_id) if delivery_id is not None else None
        if delivery is None or delivery.user_id != user_id:
            return self._reply("reminder_ack.j2", [], case="gone")
        due = self.clock() + self.snooze
        planned = PlannedDelivery(
            user_id, delivery.chat_id, delivery.local_date, f"snooze-{delivery.id}", due
        )
        queued = await self.db.add_delivery(planned)
        self.on_change()
        user = await self.db.get_user(user_id)
        when = self._when(due, user.timezone if user else "UTC")
        return self._reply(
            "reminder_ack.j2",
            [],
            case="snoozed" if queued else "snooze_again",
            when=when,
            minutes=int(self.snooze.total_seconds() // 60),
        )

    async def button(self, user_id: int, chat_id: int, action: str) -> Reply | ProgressReply | None:
        """What a reminder-feature button does; None for an action that is not ours."""
        tapped = actions.parse(action)
        if tapped.feature == actions.REMIND_ENTRY:
            return self.menu()
        if tapped.feature == actions.CHECK:
            return await self.checks.tap(user_id, tapped)
        if tapped.feature != actions.REMIND:
            return None
        kind, value = tapped.verb, ":".join(tapped.args)
        if kind == "tzmenu":
            return self.timezone_menu()
        return await self._rem_button(user_id, chat_id, kind, value)

    async def _rem_button(
        self, user_id: int, chat_id: int, kind: str, value: str
    ) -> Reply | ProgressReply | None:
        if kind in RECORDS:
            status, effort = RECORDS[kind]
            return await self.record(user_id, value, status, effort)
        if kind == "undo":
            return await self.undo(user_id)
        if kind == "progress":
            return await self.progress(user_id)
        if kind == "menu":
            return self.menu()
        if kind == "rest" and value in ("0", "1"):
            return await self.set_rest_days(user_id, value == "1")
        if kind == "snz":
            return await self.snooze_reminder(user_id, value)
        if kind == "t" and re.fullmatch(r"([01][0-9]|2[0-3])[0-5][0-9]", value):
            return self.days_menu(value)
        if kind == "d":
            return await self._menu_subscribe(user_id, chat_id, value)
        if kind == "tz":
            try:
                # A button names a zone the user picked or confirmed: no abbreviation check.
                name = parse_timezone(value, abbreviations=False)
                return await self.set_timezone(user_id, chat_id, name)
            except ScheduleError as error:
                return self._error(error)
        if kind == "stop":
            return await self.stop(user_id)
        if kind == "forget":
            if value == "yes":
                return await self.forget(user_id)
            return self._reply("schedule_forget.j2", [], case="kept")
        return None

    async def _menu_subscribe(self, user_id: int, chat_id: int, value: str) -> Reply | None:
        match = re.fullmatch(r"([01][0-9]|2[0-3])([0-5][0-9]):([0-9]{1,3})", value)
        if not match or not 0 < int(match[3]) <= ALL_DAYS:
            return None
        at = time(int(match[1]), int(match[2]))
        return await self.subscribe(user_id, chat_id, at, int(match[3]))


def _row_id(text: str) -> int | None:
    """A database id from button data, or None if it is not one (forged data included)."""
    if not re.fullmatch(r"[0-9]{1,19}", text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ROW_ID else None


def _echo(text: str) -> str:
    """A user's input quoted back: one line, cut short."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ECHO else flat[: MAX_ECHO - 1] + "…"
