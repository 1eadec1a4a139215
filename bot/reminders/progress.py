"""Progress from the session log: streak, counts, and a PNG chart of the last four weeks."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

# A bare Figure renders to PNG bytes without pyplot, so no global backend is ever switched.
from typing import TYPE_CHECKING

from bot.reminders.schedule import ALL_DAYS
from bot.storage.records import DONE, SKIPPED

if TYPE_CHECKING:
    from matplotlib.patches import Patch

CHART_DAYS = 28
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Progress:
    today: date
    streak: int
    streak_days: tuple[date, ...]  # the days that make up the current streak
    this_week: int  # done sessions since Monday
    last_30_days: int
    skipped_30_days: int
    days: tuple[tuple[date, str | None], ...]  # the chart window, oldest first

    @property
    def has_any(self) -> bool:
        return any(status for _, status in self.days) or self.last_30_days > 0


def compute_progress(
    history: dict[date, str], today: date, schedule_days: int = ALL_DAYS
) -> Progress:
    """Counts over `history` ({local date: "done" | "skipped"}) as seen on `today`.

    The streak counts done sessions back from today; a rest day (not in the reminder's days)
    and today itself (the session may still come) do not break it, a missed or skipped one does.
    """
    streak_days = _streak(history, today, schedule_days)
    monday = today - timedelta(days=today.weekday())
    month = [today - timedelta(days=n) for n in range(30)]
    window = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    return Progress(
        today=today,
        streak=len(streak_days),
        streak_days=tuple(sorted(streak_days)),
        this_week=sum(1 for day, s in history.items() if s == DONE and monday <= day <= today),
        last_30_days=sum(1 for day in month if history.get(day) == DONE),
        skipped_30_days=sum(1 for day in month if history.get(day) == SKIPPED),
        days=tuple((day, history.get(day)) for day in window),
    )


def _streak(history: dict[date, str], today: date, schedule_days: int) -> list[date]:
    days: list[date] = []
    day = today
    for _ in range(366 * 3):
        status = history.get(day)
        if status == DONE:
            days.append(day)
        elif day != today and (status == SKIPPED or schedule_days & (1 << day.weekday())):
            break  # a skipped day, or a training day without a session
        day -= timedelta(days=1)
    return days


def render_chart(progress: Progress, title: str) -> bytes:
    """Sessions per day over the last four weeks as a PNG; streak days stand out."""
    # Imported here: matplotlib costs a serving process ~0.3 s and ~30 MB until a chart is drawn.
    from matplotlib.figure import Figure

    streak = set(progress.streak_days)
    days = [day for day, _ in progress.days]
    heights = [
        1 if status == DONE else 0.25 if status == SKIPPED else 0 for _, status in progress.days
    ]
    colours = [_colour(day, status, streak) for day, status in progress.days]
    figure = Figure(figsize=(8, 3.2), dpi=100)
    axes = figure.subplots()
    axes.bar(range(len(days)), heights, color=colours, width=0.8)
    axes.set_xticks(range(0, len(days), 7), [day.strftime("%d %b") for day in days[::7]])
    axes.set_yticks([0, 1], ["", "done"])
    axes.set_ylim(0, 1.25)
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(handles=_legend(), loc="upper left", frameon=False, ncols=3, fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _colour(day: date, status: str | None, streak: set[date]) -> str:
    if day in streak:
        return "#e4572e"  # the current streak
    if status == DONE:
        return "#4c72b0"
    return "#bbbbbb"


def _legend() -> list[Patch]:
    from matplotlib.patches import Patch

    return [
        Patch(color="#e4572e", label="current streak"),
        Patch(color="#4c72b0", label="done"),
        Patch(color="#bbbbbb", label="skipped"),
    ]
