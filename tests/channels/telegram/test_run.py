"""`kneebot run`: started the way a user starts it, webhook mode, and one-line start-up errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot import cli
from bot.app import Runtime
from bot.channels.telegram import run_telegram
from bot.channels.telegram.app import api_urls
from bot.config import Settings, get_settings
from bot.devtools.botapi_stub import BotApiStub
from tests.support.telegram import private_chat, running_bot

# pytest fixtures shared by the Telegram tests

QUESTION = "how do I do a clamshell?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kneebot_command() -> list[str]:
    """The installed console script, as a user runs it (falls back to the module)."""
    script = Path(sys.executable).parent / "kneebot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def run_env(settings: Settings, stub: BotApiStub, data_dir: Path, token: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KNEEBOT_")}
    env.update(
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_BASE_URL=stub.url,
        KNEEBOT_KNOWLEDGE_DIR=str(settings.knowledge_dir),
        KNEEBOT_PROMPTS_DIR=str(settings.prompts_dir),
        KNEEBOT_INDEX_DIR=str(settings.index_dir),
        KNEEBOT_DATA_DIR=str(data_dir),
        KNEEBOT_RATE_PER_SECOND="1000",
        KNEEBOT_RATE_PER_CHAT="1000",
        HF_HUB_OFFLINE="1",
    )
    return env


async def test_kneebot_run_answers_and_stops_cleanly_on_sigterm(
    botapi: BotApiStub, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    log_file = tmp_path / "stderr.log"
    with log_file.open("wb") as stderr:  # a file, not a pipe: -v output must never block it
        process = await asyncio.create_subprocess_exec(
            *kneebot_command(), "-v", "run",
            env=run_env(settings, botapi, tmp_path / "data", botapi.token),
            cwd=tmp_path, stdout=stderr, stderr=stderr,
        )  # fmt: skip
        try:
            await botapi.wait_for("deleteWebhook", timeout=120)  # model loaded, polling starts
            chat = private_chat(botapi)
            [welcome] = await chat.ask("/start")
            assert welcome.callback_data == ["ask", "routine", "remind"]
            # SIGTERM while a question is being answered: the answer still goes out.
            since = botapi.mark()
            chat.send(QUESTION)
            await botapi.wait_for("sendChatAction", since=since)
            process.send_signal(signal.SIGTERM)
            [answer] = await chat.replies(since)
            code = await asyncio.wait_for(process.wait(), timeout=20)
        finally:
            if process.returncode is None:
                process.kill()
    output = log_file.read_text()
    assert code == 0, output[-3000:]
    assert "Clamshell" in answer.text
    assert "stopped cleanly" in output
    assert botapi.token not in output
    assert "<token>" in output  # PTB logs its URLs at debug level: redacted, not absent
    assert "Traceback" not in output


async def test_kneebot_run_with_a_rejected_token_says_so_in_one_line(
    botapi: BotApiStub, settings: Settings, tmp_path: Path
) -> None:
    token = "987654321:AAE-not-the-right-token"
    process = await asyncio.create_subprocess_exec(
        *kneebot_command(), "run",
        env=run_env(settings, botapi, tmp_path, token),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    lines = stderr.decode().strip().splitlines()
    assert lines == ["kneebot: Telegram rejected the token (401 Unauthorized)"]
    assert token not in stdout.decode() + stderr.decode()
    assert [call.status for call in botapi.calls] == [401]


@pytest.mark.parametrize(
    ("configured", "api"),
    [
        (None, "https://api.telegram.org/bot"),
        ("http://localhost:8081", "http://localhost:8081/bot"),
        ("http://localhost:8081/", "http://localhost:8081/bot"),
        ("http://localhost:8081/bot", "http://localhost:8081/bot"),
    ],
)
def test_base_url_takes_a_server_root_or_a_bot_url(configured: str | None, api: str) -> None:
    assert api_urls(configured) == (api, api.replace("/bot", "/file/bot"))


def test_unreachable_api_is_one_line_and_exit_1(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "123:AAE-secret-token-value"
    port = free_port()  # nothing listens there
    unreachable = settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(token),
            "telegram_base_url": f"http://127.0.0.1:{port}",
        }
    )
    assert run_telegram(unreachable) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"kneebot: cannot reach the Telegram Bot API at 127.0.0.1:{port}")
    assert token not in err[0]


def test_broken_knowledge_base_is_one_line_and_nonzero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.md").write_text("---\nid: broken\nkind: nonsense\n---\nbody\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:AAE-secret-token-value")
    monkeypatch.setenv("KNEEBOT_KNOWLEDGE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        code = cli.main(["run"])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("kneebot: broken.md:")
    assert "secret-token" not in err[0]


async def test_webhook_mode_checks_the_secret_token_header(
    botapi: BotApiStub, runtime: Runtime, settings: Settings
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    webhook = {"webhook_url": url, "webhook_listen": "127.0.0.1", "webhook_port": port}
    async with running_bot(
        botapi, runtime, settings, webhook_secret=SecretStr("s3cret_Token-1"), **webhook
    ):
        assert botapi.webhook == {"url": url, "secret_token": "s3cret_Token-1"}
        [reply] = await private_chat(botapi).ask("/help")  # delivered by POST with the header
        assert "/start" in reply.text
        update = {"update_id": 999, "message": botapi.new_message(
            {"id": 77, "type": "private", "first_name": "Eve"},
            {"id": 77, "is_bot": False, "first_name": "Eve"}, text="/help")}  # fmt: skip
        async with aiohttp.ClientSession() as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with client.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
    assert not botapi.sent(chat_id=77)
    assert 200 in botapi.webhook_responses


async def test_webhook_without_a_configured_secret_still_gets_one(
    botapi: BotApiStub, runtime: Runtime, settings: Settings
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    async with running_bot(
        botapi, runtime, settings, webhook_url=url, webhook_listen="127.0.0.1", webhook_port=port
    ):
        assert len(botapi.webhook["secret_token"]) >= 32
        [reply] = await private_chat(botapi).ask("/help")
        assert "/start" in reply.text
