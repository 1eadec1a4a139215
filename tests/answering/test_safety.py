"""Red flags are caught in many phrasings; everyday training questions are not alarmed."""

from __future__ import annotations

import pytest

from bot.replies import ReplyKind

RED_FLAGS = [
    ("my knee locked and I can't straighten it", "red-flags-injury"),
    ("it popped when I landed and swelled up within an hour", "red-flags-injury"),
    ("knee keeps giving way on the stairs", "red-flags-injury"),
    ("I cannot put weight on my leg since the fall", "red-flags-injury"),
    ("my knee is hot, red and swollen", "red-flags-medical"),
    ("I've had a fever since my knee started hurting", "red-flags-medical"),
    ("pins and needles in my foot after squats", "red-flags-medical"),
    ("the pain wakes me up at night", "red-flags-medical"),
    ("my calf is swollen after a long flight", "red-flags-medical"),
    ("my son limps and his knock knees are getting worse", "red-flags-children"),
    ("I injured my knee last week, can I do the exercises?", "red-flags-injury"),
    ("I twisted my knee playing football and it hurts", "red-flags-injury"),
    ("my knee hurts after an injury", "red-flags-injury"),
    ("knee pain at rest", "red-flags-medical"),
    ("my knee hurts even when I sit still", "red-flags-medical"),
    ("my knee gave out on the stairs", "red-flags-injury"),
    ("came off my bike and can barely put weight on that leg", "red-flags-injury"),
    ("my knee buckled under me on the last rep", "red-flags-injury"),
    ("the knee keeps giving out when I turn", "red-flags-injury"),
    ("my kneecap popped out and back in", "red-flags-injury"),
    ("my kneecap slipped out to the side during football", "red-flags-injury"),
    ("someone tackled me from the side and my knee hurts on the inside", "red-flags-injury"),
    ("got hit on the outside of my knee and now it hurts", "red-flags-injury"),
    ("my calf is red and warm and tender on one side", "red-flags-medical"),
    ("one leg is swollen and tender, can I foam roll it?", "red-flags-medical"),
    ("one calf is bigger than the other and it aches", "red-flags-medical"),
    ("numbness in my groin and trouble peeing", "red-flags-emergency"),
    ("my leg is getting weaker fast", "red-flags-emergency"),
    ("I can't control my bladder since my back started hurting", "red-flags-emergency"),
]

EVERYDAY = [
    "can I lock my knees during a wall sit?",
    "should I rest between sets?",
    "my knees cave in more when I'm tired",
    "my quads are sore after wall sits",
    "how long should I hold a stretch?",
    "do flat feet cause knock knees?",
    "should I rest if my knee hurts a little after squats?",
    "does knee valgus increase injury risk?",
    "my knees fall inward when I squat",
    "pain on the inside of my knee below the joint when I run",
    "my inner knee is tender a few centimetres below the joint line",
    "how do I push my knees out when I squat",
    "my knees collapse inward when I land",
    "knee collapsing on landing from jumps",
    "my calves are sore after calf raises",
    "my kneecap pain came back after a week off",
    "does a side kick help my hips",
    "my hips feel weak, will it get better",
    "my knees buckle inward on jumps",
    "my knee is wobbly and goes in on step downs",
]


@pytest.mark.parametrize(("text", "chunk_id"), RED_FLAGS)
async def test_red_flag_routes_to_a_professional(coach, text, chunk_id):
    reply = await coach.reply(text)
    assert reply.kind is ReplyKind.SAFETY
    assert reply.sources[0].id == chunk_id
    assert reply.buttons == ()


@pytest.mark.parametrize("text", EVERYDAY)
async def test_everyday_question_is_not_alarmed(coach, text):
    reply = await coach.reply(text)
    assert reply.kind is not ReplyKind.SAFETY


def test_a_none_of_group_keeps_a_rule_off(coach):
    # "buckle !in|inward|…": buckling is a knee giving way unless it says which way it went.
    buckled = coach.safety.stems("my knee buckled on the stairs")
    inward = coach.safety.stems("my knees buckle inward when i land")
    rules = [t for t in coach.safety.triggers if t.unless]
    assert rules, "the knowledge base has rules with a none-of group"
    assert any(t.matches(buckled) for t in rules)
    assert not any(t.matches(inward) for t in rules)


def test_exact_words_do_not_match_other_forms(coach):
    stems = coach.safety.stems("should i lock my knees")
    assert "=lock" in stems and "=locked" not in stems


async def test_a_red_flag_after_character_500_of_a_long_message_is_still_triaged(coach) -> None:
    # Telegram's path (Coach.reply) used to cut the message at 500 characters before triage.
    preamble = "I have been doing wall sits and clamshells every morning for a month. " * 9
    assert len(preamble) > 500
    reply = await coach.reply(preamble + "Yesterday my knee is hot, red and swollen.")
    assert reply.kind is ReplyKind.SAFETY


@pytest.mark.parametrize(
    "text",
    [
        "pain on the inside of my knee below the joint",
        "inner knee pain below the joint, a bit swollen",
    ],
)
async def test_inner_knee_pain_gets_the_pes_anserine_topic_not_a_red_flag(coach, text):
    reply = await coach.reply(text)
    assert reply.kind is not ReplyKind.SAFETY
    assert reply.sources[0].id == "pes-anserine-pain"


def test_the_side_of_the_hip_is_not_a_one_sided_knock_knee(coach):
    for text, flagged in (
        ("does a weak side of my bum make my knees knock together", False),
        ("knock knees on one side only", True),
    ):
        hits = coach.retriever.search(text)
        assert (coach.safety.red_flag([text], hits) is not None) is flagged, text
