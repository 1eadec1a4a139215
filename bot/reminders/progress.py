"""Progress from the session log and the self-checks: streak, counts, and a PNG chart of the last
four weeks (done, skipped, missed and rest days told apart, today marked, self-checks beside)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot.reminders.schedule import ALL_DAYS
from bot.storage.checks import CAVING, SelfCheck
from bot.storage.records import DONE, SKIPPED

if TYPE_CHECKING:
    from matplotlib.patches import Patch

CHART_DAYS = 28
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSED, REST, OPEN = "missed", "rest", "open"  # chart-only kinds of day (nothing was logged)
COLOURS = {
    "streak": "#e4572e",
    DONE: "#4c72b0",
    SKIPPED: "#f2a541",
    MISSED: "#c03221",
    REST: "#dddddd",
    OPEN: "#ffffff",
}
HEIGHTS = {DONE: 1.0, SKIPPED: 0.5, MISSED: 0.25, REST: 0.08, OPEN: 0.0}


@dataclass(frozen=True)
class Progress:
    today: date
    streak: int
    streak_days: tuple[date, ...]  # the days that make up the current streak
    this_week: int  # done sessions since Monday
    last_30_days: int
    skipped_30_days: int
    days: tuple[tuple[date, str | None], ...]  # the chart window, oldest first
    kinds: tuple[str, ...] = ()  # per chart day: done, skipped, missed, rest or open
    window_done: int = 0  # done sessions in the chart window

    @property
    def has_any(self) -> bool:
        return any(status for _, status in self.days) or self.last_30_days > 0

    @property
    def missed(self) -> int:
        return self.kinds.count(MISSED)

    @property
    def window(self) -> tuple[date, date]:
        return self.days[0][0], self.days[-1][0]


def compute_progress(
    history: dict[date, str],
    today: date,
    schedule_days: int = ALL_DAYS,
    since: date | None = None,
) -> Progress:
    """Counts over `history` ({local date: "done" | "skipped"}) as seen on `today`.

    The streak counts done sessions back from today; a rest day (not in the reminder's days)
    and today itself (the session may still come) do not break it, a missed or skipped one does.
    A training day before today with nothing logged is "missed", but only from `since` (the
    subscription) on: days before the user started are not theirs to miss.
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
        kinds=tuple(_kind(day, history.get(day), today, schedule_days, since) for day in window),
        window_done=sum(1 for day in window if history.get(day) == DONE),
    )


def _kind(day: date, status: str | None, today: date, days: int, since: date | None) -> str:
    if status:
        return status
    if not days & (1 << day.weekday()):
        return REST
    started = since is None or day >= since
    return MISSED if day < today and started else OPEN


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


def render_chart(progress: Progress, title: str, checks: Sequence[SelfCheck] = ()) -> bytes:
    """The four weeks as a PNG: a bar per day by kind, today marked; self-checks underneath."""
    # Imported here: matplotlib costs a serving process ~0.3 s and ~30 MB until a chart is drawn.
    # A bare Figure renders to PNG bytes without pyplot, so no global backend is ever switched.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.4 if checks else 3.2), dpi=100)
    if checks:
        sessions, knees = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    else:
        sessions, knees = figure.subplots(), None
    _draw_sessions(sessions, progress)
    sessions.set_title(title)
    if knees is not None:
        _draw_checks(knees, progress, checks)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_sessions(axes, progress: Progress) -> None:
    days = [day for day, _ in progress.days]
    kinds = progress.kinds or tuple(status or OPEN for _, status in progress.days)
    streak = set(progress.streak_days)
    colours = [
        COLOURS["streak" if day in streak else kind] for day, kind in zip(days, kinds, strict=True)
    ]
    heights = [HEIGHTS[kind] for kind in kinds]
    axes.bar(range(len(days)), heights, color=colours, width=0.8, edgecolor="#999999", lw=0.3)
    today = len(days) - 1
    axes.axvline(today, color="#222222", lw=1, ls="--")
    axes.text(today, 1.18, "today", ha="right", va="top", fontsize=8)
    axes.set_xticks(range(0, len(days), 7), [day.strftime("%d %b") for day in days[::7]])
    axes.set_yticks([0, 1], ["", "done"])
    axes.set_ylim(0, 1.25)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(handles=_legend(), loc="upper left", frameon=False, ncols=5, fontsize=8)


def _draw_checks(axes, progress: Progress, checks: Sequence[SelfCheck]) -> None:
    """Pain 0-10 as a line; caving per leg as markers on the same scale (none 0 … clear 10)."""
    first = progress.days[0][0]
    xs = [(check.local_date - first).days for check in checks]
    axes.plot(xs, [c.pain for c in checks], "o-", color="#6a4c93", label="pain 0-10")
    for leg, marker, colour in (("left", "<", "#1982c4"), ("right", ">", "#8ac926")):
        caving = [CAVING.index(getattr(c, leg)) * 5 for c in checks]
        axes.plot(xs, caving, marker, color=colour, ms=8, ls="", label=f"{leg} knee caving")
    axes.set_ylim(-0.5, 10.5)
    axes.set_yticks([0, 5, 10], ["none / 0", "slight / 5", "clear / 10"], fontsize=7)
    axes.set_xlim(-0.6, len(progress.days) - 0.4)
    axes.axvline(len(progress.days) - 1, color="#222222", lw=1, ls="--")
    axes.set_title("self-checks", fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", frameon=False, ncols=3, fontsize=7)


def _legend() -> list[Patch]:
    from matplotlib.patches import Patch

    return [
        Patch(color=COLOURS["streak"], label="current streak"),
        Patch(color=COLOURS[DONE], label="done"),
        Patch(color=COLOURS[SKIPPED], label="skipped"),
        Patch(color=COLOURS[MISSED], label="missed"),
        Patch(facecolor=COLOURS[REST], edgecolor="#999999", label="rest day"),
    ]
