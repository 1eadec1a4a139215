"""The `kneebot` command line, run as a user would: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.config import PROJECT_ROOT

QUESTIONS = [
    "how do i do a clamshel",
    "why do my knees cave in when I squat?",
    "my knee locked and will not straighten",
    "what's a good pancake recipe?",
    "<b>{{ 7*7 }}</b>",
]


def _kneebot(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KNEEBOT_INDEX_DIR": str(settings.index_dir),
        "KNEEBOT_DATA_DIR": str(settings.data_dir),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def test_ask_json_reads_stdin_and_prints_one_object_per_line(settings, runtime):
    result = _kneebot(settings, "ask", "--json", "-", stdin="\n".join(QUESTIONS) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["question"] for row in rows] == QUESTIONS
    assert [row["kind"] for row in rows] == ["howto", "answer", "safety", "unknown", "unknown"]
    for row in rows:
        assert set(row) == {"question", "kind", "text", "sources", "latency_ms"}
        assert isinstance(row["latency_ms"], float) and row["latency_ms"] > 0
        assert "<b>" not in row["text"]
        for source in row["sources"]:
            assert set(source) == {"id", "title", "score"}
    assert rows[0]["sources"][0]["id"] == "clamshell"


def test_ask_prints_plain_text(settings, runtime):
    result = _kneebot(settings, "ask", "wall sit")
    assert result.returncode == 0, result.stderr
    assert "== Wall sit ==" in result.stdout
    assert "<b>" not in result.stdout


def test_broken_knowledge_gives_one_clear_line(settings, runtime, tmp_path):
    import shutil

    broken = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", broken)
    (broken / "clamshell.md").write_text("---\nid: clamshell\n---\nno title here at all, sorry\n")
    env_settings = settings.model_copy()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "clamshell"],
        capture_output=True,
        text=True,
        env={**os.environ, "KNEEBOT_KNOWLEDGE_DIR": str(broken), "HF_HUB_OFFLINE": "1"},
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert env_settings is not None
    assert result.returncode == 2
    assert result.stderr.strip().startswith("kneebot: clamshell.md: field 'title'")
    assert "Traceback" not in result.stderr


def test_chat_answers_and_numbered_choices(settings, runtime):
    # The how-to's first choice is "Tell me more"; the second its harder variant.
    script = "/help\nhow do I do a glute bridge\n2\n/quit\n"
    result = _kneebot(settings, "chat", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "/routine" in result.stdout
    assert "== Glute bridge ==" in result.stdout
    assert "[1] Tell me more" in result.stdout
    assert "[2] Harder: Single-leg glute bridge" in result.stdout
    assert "== Single-leg glute bridge ==" in result.stdout


def test_bad_setting_gives_one_clear_line(settings, runtime):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "clamshell"],
        capture_output=True,
        text=True,
        env={**os.environ, "KNEEBOT_ADMIN_IDS": "abc"},
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("kneebot: bad setting: KNEEBOT_ADMIN_IDS")
    assert "Traceback" not in result.stderr


def test_unusable_data_dir_gives_one_clear_line(settings, runtime, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    env = {
        **os.environ,
        "KNEEBOT_INDEX_DIR": str(settings.index_dir),
        "KNEEBOT_DATA_DIR": str(blocker / "data"),
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"],
        input="/quit\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert "kneebot: cannot use the data directory or database" in result.stderr
    assert "Traceback" not in result.stderr
