"""Progress: streak and counts from the session log, and the chart as a real PNG."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import matplotlib.image
import pytest

from bot.compose import Composer
from bot.config import PROJECT_ROOT, Settings
from bot.knowledge import load_knowledge
from bot.reminders.commands import Subscriptions
from bot.reminders.progress import CHART_DAYS, PNG_SIGNATURE, compute_progress, render_chart
from bot.reminders.schedule import ALL_DAYS, parse_days
from bot.storage.database import Database
from bot.storage.records import DONE, SKIPPED

TODAY = date(2025, 6, 11)  # a Wednesday


def days_ago(*offsets: int) -> list[date]:
    return [TODAY - timedelta(days=n) for n in offsets]


def test_a_daily_streak_counts_back_from_today() -> None:
    history = dict.fromkeys(days_ago(0, 1, 2, 4), DONE)
    progress = compute_progress(history, TODAY)
    assert progress.streak == 3
    assert progress.streak_days == tuple(sorted(days_ago(0, 1, 2)))


def test_today_not_yet_done_does_not_break_the_streak() -> None:
    history = dict.fromkeys(days_ago(1, 2), DONE)
    assert compute_progress(history, TODAY).streak == 2


def test_a_skipped_or_missed_session_day_breaks_the_streak() -> None:
    skipped = {**dict.fromkeys(days_ago(1, 3), DONE), TODAY - timedelta(days=2): SKIPPED}
    assert compute_progress(skipped, TODAY).streak == 1
    missed = dict.fromkeys(days_ago(1, 3), DONE)
    assert compute_progress(missed, TODAY).streak == 1


def test_rest_days_of_the_plan_do_not_break_the_streak() -> None:
    mon_wed_fri = parse_days("mon,wed,fri")
    history = dict.fromkeys([date(2025, 6, 2), date(2025, 6, 4), date(2025, 6, 6)], DONE)
    history[date(2025, 6, 9)] = DONE  # Mon; Tue 10 is a rest day; Wed 11 (today) is still open
    assert compute_progress(history, TODAY, mon_wed_fri).streak == 4
    assert compute_progress(history, TODAY, ALL_DAYS).streak == 0  # Tue 10 was missed


def test_week_and_thirty_day_counts() -> None:
    history = {
        **dict.fromkeys(days_ago(0, 2, 5, 29), DONE),
        **dict.fromkeys(days_ago(1, 30, 40), SKIPPED),
        TODAY - timedelta(days=31): DONE,
    }
    progress = compute_progress(history, TODAY)
    assert progress.this_week == 2  # Mon 9 and Wed 11
    assert progress.last_30_days == 4
    assert progress.skipped_30_days == 1
    assert len(progress.days) == CHART_DAYS and progress.days[-1] == (TODAY, DONE)


def test_the_chart_is_a_valid_png_of_the_four_weeks() -> None:
    history = dict.fromkeys(days_ago(0, 1, 2, 6, 9), DONE)
    png = render_chart(compute_progress(history, TODAY), "Sessions, last 4 weeks")
    assert png.startswith(PNG_SIGNATURE)
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    assert (width, height) == (800, 320)
    assert len({tuple(row) for row in pixels.reshape(-1, pixels.shape[2])[::97]}) > 3


def test_an_empty_history_still_draws_a_chart() -> None:
    png = render_chart(compute_progress({}, TODAY), "nothing yet")
    assert png.startswith(PNG_SIGNATURE)


def test_chart_marks_today_and_missed_vs_rest() -> None:
    mon_wed_fri = parse_days("mon,wed,fri")
    history = {date(2025, 6, 2): DONE, date(2025, 6, 6): SKIPPED}  # Mon done, Fri skipped
    since = date(2025, 6, 1)  # subscribed on Sunday 1 June
    progress = compute_progress(history, TODAY, mon_wed_fri, since)
    kinds = dict(zip((day for day, _ in progress.days), progress.kinds, strict=True))
    assert kinds[date(2025, 6, 4)] == "missed"  # Wed, nothing logged
    assert kinds[date(2025, 6, 3)] == "rest"  # Tue is no training day
    assert kinds[date(2025, 5, 28)] == "open"  # a Wednesday before the user started
    assert kinds[TODAY] == "open"  # today's session may still come
    assert progress.missed == 2  # Wed 4 and Mon 9
    png = render_chart(progress, "one window")
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[:, :, :3]
    colours = {tuple(int(round(v * 255)) for v in px) for px in pixels.reshape(-1, 3)}
    assert (0xC0, 0x32, 0x21) in colours and (0xDD, 0xDD, 0xDD) in colours  # missed ≠ rest
    assert (0x22, 0x22, 0x22) in colours  # the dashed line that marks today


def test_the_chart_title_names_one_window(composer: Composer) -> None:
    progress = compute_progress(dict.fromkeys(days_ago(0, 1), DONE), TODAY)
    title = composer.render("progress_chart.j2", p=progress).text
    assert title == "15 May – 11 Jun: 2 sessions done, streak 2"


@pytest.fixture
async def subs(tmp_path: Path):
    db = Database.from_settings(Settings(KNEEBOT_DATA_DIR=tmp_path))
    await db.migrate()
    clock = lambda: datetime(2025, 6, 11, 20, 0, tzinfo=UTC)  # noqa: E731
    kb = load_knowledge(PROJECT_ROOT / "knowledge")
    yield Subscriptions(db, kb, Composer(PROJECT_ROOT / "prompts"), clock=clock)
    await db.close()


async def test_done_twice_counts_once_in_progress(subs: Subscriptions) -> None:
    first = await subs.button(1, 1, "rem:done:2025-06-11")
    again = await subs.button(1, 1, "rem:done:2025-06-11")
    await subs.button(1, 1, "rem:done:2025-06-10")
    assert "logged" in first.text and "counts once" in again.text
    result = await subs.progress(1)
    assert result.chart_png.startswith(PNG_SIGNATURE)
    assert "Streak: 2 sessions" in result.reply.text
    assert "Last 30 days: 2 done" in result.reply.text


@pytest.mark.parametrize(
    "action", ["rem:done:2099-01-01", "rem:done:yesterday", "rem:skip:{{7*7}}", "rem:snz:abc"]
)
async def test_forged_or_stale_button_data_changes_nothing(
    subs: Subscriptions, action: str
) -> None:
    reply = await subs.button(1, 1, action)
    assert "no longer available" in reply.text
    assert await subs.db.session_history(1, date(2000, 1, 1)) == {}
