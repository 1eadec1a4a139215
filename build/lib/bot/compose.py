"""Render replies from the Jinja2 templates in prompts/, as Telegram HTML and as plain text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


class Composer:
    """Two environments over the same templates: HTML (autoescaped) and plain text.

    Templates branch on the `html` flag only for markup, so both outputs carry the same content.
    User and knowledge text only ever enter as variables, never as template source.
    """

    def __init__(self, prompts_dir: Path) -> None:
        common = {
            "loader": FileSystemLoader(str(prompts_dir)),
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        self._html = Environment(autoescape=select_autoescape(default=True), **common)
        self._text = Environment(autoescape=False, **common)
        for env, is_html in ((self._html, True), (self._text, False)):
            env.globals["html"] = is_html

    def render(self, template: str, **context: Any) -> Rendered:
        """Render `template` (e.g. "howto.j2") both ways."""
        html = self._html.get_template(template).render(**context)
        text = self._text.get_template(template).render(**context)
        return Rendered(html=_tidy(html), text=_tidy(text))


def _tidy(text: str) -> str:
    """At most one blank line between paragraphs, no trailing spaces."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
