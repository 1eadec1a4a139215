"""A plain `pip install .` (not editable) gives a bot that answers, with its data shipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy (setuptools writes build/ next to the sources)."""
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"
    for name in ("bot", "knowledge", "prompts", "migrations"):
        shutil.copytree(PROJECT_ROOT / name, source / name, ignore=IGNORED)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-q", "-w", str(out), str(source)], check=True)
    return next(out.glob("kneebot-*.whl"))


def fresh_venv(root: Path) -> Path:
    """A new virtualenv that borrows this one's dependencies (torch and all) but not kneebot."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next(root.glob("lib/python*/site-packages"))
    # A plain path line: the borrowed dir's own .pth files (our editable install) are not run.
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root / "bin" / "python"


def test_an_installed_wheel_answers_a_question(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    # --ignore-installed: with --prefix alone, pip would uninstall the running env's kneebot.
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed"]
    subprocess.run([*install, "--prefix", str(tmp_path / "venv"), str(wheel)], check=True)
    env = {**os.environ, "KNEEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": ""}
    env = {k: v for k, v in env.items() if not k.startswith("KNEEBOT_") or k == "KNEEBOT_DATA_DIR"}
    where = subprocess.run(
        [python, "-c", "import bot, bot.config as c; print(bot.__file__); print(c.RESOURCES)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(tmp_path / "venv") in where[0] and where[1].endswith("share/kneebot")
    answer = subprocess.run(
        [python, "-m", "bot.cli", "ask", "how do i do a clamshell"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "Clamshell" in answer.stdout and "calibration unavailable" not in answer.stderr
    assert (tmp_path / "data" / "index").is_dir()  # the generated index lives in the data dir
