"""Each reply kind, through the real model, index and templates."""

from __future__ import annotations

import asyncio

import pytest

from bot.knowledge import Kind
from bot.replies import ReplyKind

ALLOWED_TAGS = ("<b>", "</b>", "<i>", "</i>")


async def test_howto_names_steps_dose_and_variants(coach):
    reply = await coach.reply("how do I do the kneeling adductor lunge stretch?")
    assert reply.kind is ReplyKind.HOWTO
    assert reply.sources[0].id == "kneeling-adductor-stretch"
    exercise = coach.kb.by_id("kneeling-adductor-stretch")
    assert exercise.steps[0] in reply.text
    assert exercise.dosage.describe() in reply.text
    labels = " ".join(button.label for button in reply.buttons)
    assert "Tell me more" in labels
    detail = coach.more(exercise.id)
    assert "Easier" in detail.html and "Harder" in detail.html


async def test_misspelt_exercise_is_found(coach):
    reply = await coach.reply("pereonus strech")
    assert reply.kind is ReplyKind.HOWTO
    assert reply.sources[0].id == "peroneus-stretch"


async def test_cause_question_gets_answer_with_sources(coach):
    reply = await coach.reply("do flat feet make my knees cave in?")
    assert reply.kind is ReplyKind.ANSWER
    assert reply.sources[0].id == "flat-feet"
    assert "Sources:" in coach.more("flat-feet").text
    assert any(button.action.startswith("howto:") for button in reply.buttons)


async def test_red_flag_wins_over_exercise_request(coach):
    reply = await coach.reply("I heard a pop when I landed and my knee swelled up. Which stretch?")
    assert reply.kind is ReplyKind.SAFETY
    assert reply.buttons == ()
    assert "professional" in reply.text


async def test_off_topic_is_declined_honestly(coach):
    reply = await coach.reply("what is the capital of australia?")
    assert reply.kind is ReplyKind.UNKNOWN
    assert reply.sources == ()
    assert "not something I cover" in reply.text


async def test_html_in_question_is_escaped(coach):
    reply = await coach.reply("<script>alert(1)</script> how do I do a clamshell?")
    assert "<script>" not in reply.html


@pytest.mark.parametrize(
    "text", ["{{ 7*7 }} clamshell", "{% raw %}", "x" * 5000, "🦵🏽 knees ̶c̶a̶v̶e̶ 膝", "\x00\u200b"]
)
async def test_hostile_text_gets_a_reply(coach, text):
    reply = await coach.reply(text)
    assert reply.text and reply.html
    assert "49" not in reply.text


def test_every_chunk_renders_without_stray_markup(coach):
    """Knowledge text is escaped; the only tags are the templates' own."""
    for chunk in coach.kb.chunks:
        reply = coach.topic(chunk.id)
        stripped = reply.html
        for tag in ALLOWED_TAGS:
            stripped = stripped.replace(tag, "")
        assert "<" not in stripped and ">" not in stripped, chunk.id
        assert "<b>" not in reply.text


def test_exercise_buttons_fit_telegram_callback_limit(coach):
    for chunk in coach.kb.of_kind(Kind.EXERCISE):
        for button in coach.topic(chunk.id).buttons:
            assert len(button.action.encode()) <= 64


async def test_concurrent_replies_each_get_their_own_answer(coach):
    questions = ["clamshell", "wall sit", "do flat feet cause knock knees"]
    replies = await asyncio.gather(*(coach.reply(q) for q in questions))
    assert [r.sources[0].id for r in replies] == ["clamshell", "wall-sit", "flat-feet"]


def test_query_tokens_match_the_bm25s_tokenizer(coach):
    import bm25s

    from bot.devtools import evaluation

    lexical = coach.retriever._lexical
    for question in evaluation.load_questions()[:80]:
        text = question.q.lower()
        expected = bm25s.tokenize(
            [text], stemmer=lexical._stemmer, return_ids=False, show_progress=False
        )[0]
        tokens = lexical.query_tokens(text)
        # Everyday words add the knowledge base's own words for them after the message's tokens.
        assert tokens[: len(expected)] == expected, text
        extra = {w for word in text.split() for w in lexical._synonyms.get(word.strip("?!.,"), ())}
        assert set(tokens[len(expected) :]) <= set(lexical._stemmer.stemWords(sorted(extra))), text


async def test_answer_offers_related_topics_as_buttons(coach):
    reply = await coach.reply("why do my knees cave in when I squat?")
    assert reply.kind is ReplyKind.ANSWER
    related = set(coach.kb.by_id(reply.sources[0].id).related)
    assert reply.buttons
    assert {button.action.partition(":")[2] for button in reply.buttons} & related


def test_an_everyday_word_also_searches_the_knowledge_bases_word(runtime):
    lexical = runtime.retriever._lexical
    assert "gluteus" in lexical.query_tokens("my butt is weak")
    assert "gluteus" not in lexical.query_tokens("my hips are weak")


@pytest.mark.parametrize(
    ("text", "kind", "topic"),
    [
        ("my arches are pretty flat, where do i even start", ReplyKind.ANSWER, "flat-feet"),
        ("how do i do the short foot thing", ReplyKind.HOWTO, "short-foot"),
    ],
)
async def test_an_unnamed_exercise_gives_way_to_the_explanation_that_offers_it(
    coach, text, kind, topic
):
    # Without the rule the first message gets the short-foot how-to; the explanation ranked
    # just behind answers "where do i start" and offers that exercise as a button.
    reply = await coach.reply(text)
    assert (reply.kind, reply.sources[0].id) == (kind, topic)
    if kind is ReplyKind.ANSWER:
        assert "howto:short-foot" in {button.action for button in reply.buttons}
