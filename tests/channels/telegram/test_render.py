"""Replies become valid Telegram messages: HTML cut to 4096 units, buttons within 64 bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answering.coach import Coach
from bot.channels.telegram.render import keyboard, messages, split_html, template_reply, units
from bot.devtools.botapi_stub import check_reply_markup, check_text, parse_html
from bot.replies import Button, Reply, ReplyKind


def assert_valid_message(html: str, markup) -> None:
    """What the stub (and Telegram) would accept for sendMessage."""
    check_text({"text": html, "parse_mode": "HTML"})
    check_reply_markup(markup.to_dict() if markup else None)


def plain_words(html: str) -> list[str]:
    return parse_html(html).split()


def test_short_html_is_one_unchanged_message() -> None:
    html = "<b>Title</b>\nSome text &amp; more.\n\n<i>Sources: A; B</i>"
    assert split_html(html) == [html]


def test_long_html_is_cut_at_paragraph_breaks() -> None:
    paragraphs = [f"<b>Para {n}</b>\n" + "lorem ipsum " * 40 + "end." for n in range(10)]
    parts = split_html("\n\n".join(paragraphs), limit=1200)
    assert len(parts) > 1
    for part in parts:
        assert units(part) <= 1200
        assert part.startswith("<b>Para ") and part.endswith("end.")
    assert plain_words("\n\n".join(parts)) == plain_words("\n\n".join(paragraphs))


def test_a_cut_inside_a_tag_closes_and_reopens_it() -> None:
    html = "<i>" + "word " * 100 + "</i>"
    parts = split_html(html, limit=120)
    assert len(parts) > 1
    for part in parts:
        parse_html(part)  # raises on unbalanced tags
        assert part.startswith("<i>") and part.endswith("</i>")
        assert units(part) <= 120


def test_emoji_count_as_two_units_as_telegram_counts_them() -> None:
    html = "🦵" * 3000  # 3,000 characters but 6,000 UTF-16 units
    parts = split_html(html)
    assert len(parts) == 2
    assert all(units(part) <= 4096 for part in parts)
    assert "".join(parts) == html


def test_entities_are_never_cut_in_half() -> None:
    html = "&lt;&amp;&gt;" * 50
    for part in split_html(html, limit=40):
        assert parse_html(part) == "<&>" * (len(parse_html(part)) // 3)


_piece = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="<>&\r"), max_size=60),
    st.sampled_from(["\n", "\n\n", " ", "&amp;", "&lt;", "🦵", "é"]),
    st.text(min_size=1, max_size=20).map(lambda t: "<b>" + _escape(t) + "</b>"),
    st.text(min_size=1, max_size=20).map(lambda t: "<i>x " + _escape(t) + "</i>"),
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(_piece, max_size=60), limit=st.integers(min_value=30, max_value=400))
def test_any_html_splits_into_valid_parts_within_the_limit(pieces: list[str], limit: int) -> None:
    html = "".join(pieces)
    parts = split_html(html, limit=limit)
    for part in parts:
        assert units(part) <= limit
        assert parse_html(part).strip()
    # Nothing is lost: the same words in the same order (cuts only add whitespace).
    assert "".join(plain_words("".join(parts))) == "".join(plain_words(html.strip()))


def test_buttons_become_one_per_row_with_their_actions() -> None:
    markup = keyboard([Button("How do I do: Clamshell", "howto:clamshell"), Button("Ask", "ask")])
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["howto:clamshell"],
        ["ask"],
    ]


def test_button_over_64_bytes_is_dropped_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    markup = keyboard([Button("ok", "topic:short"), Button("too long", "topic:" + "é" * 30)])
    assert markup is not None
    assert [row[0].callback_data for row in markup.inline_keyboard] == ["topic:short"]
    assert "button dropped" in caplog.text
    assert keyboard([]) is None


def test_keyboard_goes_under_the_last_part_only() -> None:
    html = "\n\n".join("paragraph " * 100 for _ in range(10))
    reply = Reply(ReplyKind.ANSWER, html, "", (), (Button("Ask", "ask"),))
    sent = messages(reply)
    assert len(sent) > 1
    assert [markup is not None for _, markup in sent] == [False] * (len(sent) - 1) + [True]


def test_every_knowledge_reply_is_a_valid_telegram_message(coach: Coach) -> None:
    """Every chunk a button can lead to, plus welcome and help, passes Telegram's checks."""
    replies = [coach.topic(chunk.id) for chunk in coach.kb.chunks]
    replies += [coach.welcome("Ann"), coach.help(), coach.unknown()]
    for reply in replies:
        for html, markup in messages(reply):
            assert_valid_message(html, markup)


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("non_text.j2", {"kind": "sticker"}),
        ("non_text.j2", {"kind": "<b>weird</b>"}),
        ("error.j2", {}),
        ("ask.j2", {"group": True, "username": "kneebot_test_bot"}),
        ("group_hint.j2", {"username": "a<b>&c"}),
        ("admin_error.j2", {"update_id": 5, "error": "BadRequest<x>"}),
    ],
)
def test_channel_templates_render_valid_html(coach: Coach, template: str, context: dict) -> None:
    reply = template_reply(coach, template, **context)
    assert_valid_message(reply.html, None)
    assert reply.text.strip()


def test_values_in_channel_templates_are_escaped_not_interpreted(coach: Coach) -> None:
    hint = template_reply(coach, "group_hint.j2", username="a<b>&c")
    assert "@a<b>&c why do my knees cave in?" in parse_html(hint.html)
    notice = template_reply(coach, "admin_error.j2", update_id=5, error="BadRequest<x>")
    assert "BadRequest<x>" in parse_html(notice.html)
