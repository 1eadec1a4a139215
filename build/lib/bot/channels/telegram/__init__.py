"""The Telegram channel: a thin adapter over the conversation core (see app.py for the wiring)."""

from .app import FEATURES, build_application
from .serve import run_telegram, serve

__all__ = ["FEATURES", "build_application", "run_telegram", "serve"]
