"""What logs may say about a user: a short stable hash, never the raw id or their text."""

from __future__ import annotations

import hashlib


def user_ref(user_id: int | None) -> str:
    """A short stable hash of a user id, the same in every module's log lines."""
    if user_id is None:
        return "u:-"
    return "u:" + hashlib.sha256(f"kneebot:{user_id}".encode()).hexdigest()[:10]
