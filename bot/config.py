"""Settings from the environment (and an optional .env file), in one place."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resource_root() -> Path:
    """Where knowledge/, prompts/ and migrations/ live: the source tree, or the installed copy.

    A checkout (or an editable install) reads them next to the package; a wheel installs them as
    data files under <prefix>/share/kneebot (see pyproject.toml).
    """
    if (PROJECT_ROOT / "knowledge").is_dir():
        return PROJECT_ROOT
    return Path(sys.prefix) / "share" / "kneebot"


RESOURCES = resource_root()


class Settings(BaseSettings):
    """Every knob of the bot; defaults let `make run` work untouched."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str | None = Field(default=None, alias="TELEGRAM_BASE_URL")
    data_dir: Path = Field(default=Path("data"), alias="KNEEBOT_DATA_DIR")
    database_url: str | None = Field(default=None, alias="KNEEBOT_DATABASE_URL")
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="KNEEBOT_ADMIN_IDS"
    )
    webhook_url: str | None = Field(default=None, alias="KNEEBOT_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="KNEEBOT_WEBHOOK_SECRET")
    webhook_listen: str = Field(default="127.0.0.1", alias="KNEEBOT_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, alias="KNEEBOT_WEBHOOK_PORT")

    knowledge_dir: Path = Field(default=RESOURCES / "knowledge", alias="KNEEBOT_KNOWLEDGE_DIR")
    # index/ in a checkout; an installed package keeps its generated index in the data dir.
    index_dir: Path | None = Field(default=None, alias="KNEEBOT_INDEX_DIR")
    prompts_dir: Path = Field(default=RESOURCES / "prompts", alias="KNEEBOT_PROMPTS_DIR")
    calibration_file: Path = Field(
        default=PROJECT_ROOT / "bot" / "calibration.json", alias="KNEEBOT_CALIBRATION_FILE"
    )
    ranking_file: Path = Field(
        default=PROJECT_ROOT / "bot" / "ranking.json", alias="KNEEBOT_RANKING_FILE"
    )

    # onnx: serving embeds with onnxruntime and never imports torch; torch: the reference
    # sentence-transformers model (always used to build the index). See bot/answering/embedding.py.
    embed_backend: Literal["onnx", "torch"] = Field(default="onnx", alias="KNEEBOT_EMBED_BACKEND")
    # The torch model's dtype. auto: bfloat16 where the CPU has native support, else float32.
    embed_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", alias="KNEEBOT_EMBED_DTYPE"
    )
    reminder_grace_minutes: int = Field(default=120, alias="KNEEBOT_REMINDER_GRACE_MINUTES")
    reminder_poll_seconds: float = Field(default=20.0, alias="KNEEBOT_REMINDER_POLL_SECONDS")
    # Shifts the reminder clock (tests and demos: "it is 07:29 tomorrow"); 0 in production.
    clock_offset_seconds: float = Field(default=0.0, alias="KNEEBOT_CLOCK_OFFSET_SECONDS")
    # Hold seconds the session timer counts per real second (tests and demos run it faster).
    timer_speed: float = Field(default=1.0, gt=0, alias="KNEEBOT_TIMER_SPEED")
    rate_overall_per_second: float = Field(default=30.0, alias="KNEEBOT_RATE_PER_SECOND")
    rate_per_chat_per_second: float = Field(default=1.0, alias="KNEEBOT_RATE_PER_CHAT")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept "1,2,3" as well as a list."""
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @model_validator(mode="after")
    def _default_index_dir(self) -> Settings:
        if self.index_dir is None:
            in_checkout = RESOURCES == PROJECT_ROOT
            self.index_dir = PROJECT_ROOT / "index" if in_checkout else self.data_dir / "index"
        return self

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'kneebot.sqlite3').resolve()}"


def use_offline_model() -> None:
    """The one place the Hugging Face variables are set: before any model library loads."""
    # The bundled model must never be fetched from a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # No weight-loading progress bars in the console chat or the logs.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
