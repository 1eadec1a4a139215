"""The reminder feature's replies, channel-neutral: /remind, /timezone, /reminders, /stop, /forget,
/progress, and what the reminder's buttons do. Telegram and the console are thin over this, as
they are over the Coach; the reminder message itself is composed by bot.reminders.message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot import actions
from bot.clock import Clock, utc_now
from bot.coaching.builder import Routine
from bot.compose import Composer
from bot.knowledge import KnowledgeBase
from bot.privacy import user_ref
from bot.reminders.message import NO_CONTEXT, Plan, ReminderMessages, day_label
from bot.reminders.progress import Progress, compute_progress, render_chart
from bot.reminders.schedule import (
    ALL_DAYS,
    WEEKDAYS,
    ScheduleError,
    describe_days,
    format_time,
    local_date,
    next_fire,
    parse_reminder,
    parse_timezone,
    zone,
)
from bot.replies import Button, Reply, ReplyKind
from bot.storage.database import Database
from bot.storage.records import DONE, SKIPPED, Delivery, PlannedDelivery, ReminderContext

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


@dataclass(frozen=True)
class ProgressReply:
    """The /progress text and its chart (PNG bytes)."""

    reply: Reply
    chart_png: bytes


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

    # -- commands --------------------------------------------------------------------------

    async def remind(self, user_id: int, chat_id: int, args: Sequence[str]) -> Reply:
        """/remind HH:MM [days]: subscribe or change the time; no arguments shows the menu."""
        if not args:
            return self.menu()
        try:
            at, days = parse_reminder(args)
        except ScheduleError as error:
            return self._error(error)
        return await self.subscribe(user_id, chat_id, at, days)

    async def subscribe(self, user_id: int, chat_id: int, at: time, days: int) -> Reply:
        """Save the schedule with its first fire, and confirm it in the user's local time."""
        user = await self.db.ensure_user(user_id, chat_id)
        first = await self.db.get_schedule(user_id) is None
        fire_at, day = await self._first_fire(user_id, at, days, user.timezone)
        await self.db.save_schedule(
            user_id, chat_id, format_time(at), days, fire_at, day, now=self.clock()
        )
        log.info("reminder set user=%s", user_ref(user_id))
        self.on_change()
        return self._reply(
            "schedule.j2",
            [
                Button("Change timezone", actions.remind("tzmenu")),
                Button("Stop reminders", actions.remind("stop")),
            ],
            case="set",
            at=format_time(at),
            days=describe_days(days),
            timezone=user.timezone,
            when=self._when(fire_at, user.timezone),
            first=first,
            every_day=days == ALL_DAYS,
        )

    async def _first_fire(
        self, user_id: int, at: time, days: int, tz_name: str
    ) -> tuple[datetime, date]:
        """The next fire, skipping a local date whose reminder already went out."""
        fire_at, day = next_fire(at, days, tz_name, self.clock())
        if await self.db.has_delivery(user_id, day):
            fire_at, day = next_fire(at, days, tz_name, fire_at)
        return fire_at, day

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

    async def set_timezone(self, user_id: int, chat_id: int, name: str) -> Reply:
        await self.db.set_timezone(user_id, name, chat_id)
        schedule = await self.db.get_schedule(user_id)
        when = None
        if schedule and schedule.enabled:
            at = time.fromisoformat(schedule.local_time)
            fire_at, day = await self._first_fire(user_id, at, schedule.days, name)
            await self.db.move_schedule(user_id, fire_at, day)
            when = self._when(fire_at, name)
            self.on_change()
        log.info("timezone set user=%s", user_ref(user_id))
        return self._reply(
            "schedule.j2",
            [],
            case="timezone_set",
            timezone=name,
            now=self._local_now(name),
            when=when,
        )

    async def show(self, user_id: int) -> Reply:
        """/reminders: the schedule and when it fires next, in local time."""
        schedule = await self.db.get_schedule(user_id)
        if schedule is None or not schedule.enabled:
            blocked = schedule is not None and schedule.disabled_reason == "blocked"
            return self._reply(
                "schedule.j2", [Button("Set a reminder", "remind")], case="none", blocked=blocked
            )
        when = (
            self._when(schedule.next_fire_at, schedule.timezone) if schedule.next_fire_at else None
        )
        return self._reply(
            "schedule.j2",
            [
                Button("Change time", "remind"),
                Button("Change timezone", actions.remind("tzmenu")),
                Button("Stop reminders", actions.remind("stop")),
            ],
            case="show",
            at=schedule.local_time,
            days=describe_days(schedule.days),
            timezone=schedule.timezone,
            when=when,
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
        """/progress: streak and counts as text, and the four-week chart (saved at chart_path)."""
        stats = await self.stats(user_id)
        schedule = await self.db.get_schedule(user_id)
        subscribed = schedule is not None and schedule.enabled
        reply = self._reply(
            "progress.j2", [], p=stats, chart_path=chart_path, subscribed=subscribed
        )
        title = self.composer.render("progress_chart.j2", p=stats).text
        chart = await asyncio.to_thread(render_chart, stats, title)
        return ProgressReply(reply, chart)

    async def stats(self, user_id: int) -> Progress:
        user = await self.db.get_user(user_id)
        tz_name = user.timezone if user else "UTC"
        today = local_date(self.clock(), tz_name)
        history = await self.db.session_history(user_id, today - timedelta(days=HISTORY_DAYS))
        context = (await self.db.reminder_context([user_id])).get(user_id)
        return compute_progress(history, today, self._plan(context, user_id).training_mask)

    # -- menus (the /start "Daily reminder" button) ----------------------------------------

    def menu(self) -> Reply:
        buttons = [Button(at, actions.remind("t", at.replace(":", ""))) for at in MENU_TIMES]
        return self._reply("schedule.j2", buttons, case="menu_time")

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

    def _reply(self, template: str, buttons: Sequence[Button], **context: object) -> Reply:
        rendered = self.composer.render(template, **context)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), tuple(buttons))

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

    async def reminder(self, delivery: Delivery) -> Reply:
        """Today's session for one delivery (see bot.reminders.message)."""
        return (await self.reminders([delivery]))[delivery.id]

    async def reminders(self, batch: Sequence[Delivery]) -> dict[int, Reply]:
        """The messages for a batch of deliveries, with one database read for all of them."""
        contexts = await self.db.reminder_context([d.user_id for d in batch])
        return {
            d.id: self.messages.compose(d, self._plan(contexts.get(d.user_id), d.user_id))
            for d in batch
        }

    def _plan(self, context: ReminderContext | None, user_id: int) -> Plan:
        return self.messages.plan(context or NO_CONTEXT, user_ref(user_id))

    def starter_routine(self) -> Routine:
        return self.messages.starter_routine()

    async def record(self, user_id: int, day_text: str, status: str) -> Reply:
        """Done / Skip on a reminder: log the day once (tapping twice counts once)."""
        day = await self._valid_day(user_id, day_text)
        if day is None:
            return self._reply("reminder_ack.j2", [], case="gone")
        changed = await self.db.record_session(user_id, day, status)
        if not changed:  # a repeat, or a Skip after Done: say what the day is logged as
            status = (await self.db.session_history(user_id, day)).get(day, status)
        stats = await self.stats(user_id)
        case = ("done" if status == DONE else "skipped") if changed else "again"
        return self._reply(
            "reminder_ack.j2", [], case=case, status=status, day=day_label(day), p=stats
        )

    async def _valid_day(self, user_id: int, day_text: str) -> date | None:
        """A date from a button: well-formed, not in the future and within the chart's reach."""
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            return None
        user = await self.db.get_user(user_id)
        today = local_date(self.clock(), user.timezone if user else "UTC")
        return (
            day
            if today - timedelta(days=HISTORY_DAYS) <= day <= today + timedelta(days=1)
            else None
        )

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
        if tapped.feature != actions.REMIND:
            return None
        kind, value = tapped.verb, ":".join(tapped.args)
        if kind == "tzmenu":
            return self.timezone_menu()
        return await self._rem_button(user_id, chat_id, kind, value)

    async def _rem_button(self, user_id: int, chat_id: int, kind: str, value: str) -> Reply | None:
        if kind == "done" or kind == "skip":
            return await self.record(user_id, value, DONE if kind == "done" else SKIPPED)
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
