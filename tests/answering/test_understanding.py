"""Understanding real people: context, small talk, language, sticky safety, phone-sized replies."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bot.answering.conversation import Conversations
from bot.answering.dialogue import DatabaseDialogue, MemoryDialogue, State
from bot.devtools import realistic
from bot.replies import ReplyKind
from tests.support.clock import FakeClock


@pytest.fixture
def chat(coach):
    return Conversations(coach, MemoryDialogue())


async def test_follow_up_harder_uses_the_last_exercise(chat, kb):
    first = await chat.reply("u", "how do I do a glute bridge")
    assert first.sources[0].id == "glute-bridge"
    harder = await chat.reply("u", "too easy, whats the harder version?")
    assert harder.kind is ReplyKind.HOWTO
    assert harder.sources[0].id == kb.by_id("glute-bridge").harder


async def test_follow_up_without_context_is_not_guessed(coach):
    reply = await Conversations(coach, MemoryDialogue()).reply("new", "too easy, what next?")
    assert reply.kind is not ReplyKind.HOWTO


async def test_small_talk_gets_a_friendly_reply(chat):
    for text in ("hello", "thanks!", "what can you do?"):
        reply = await chat.reply("u", text)
        assert reply.kind is ReplyKind.SMALLTALK, text
        assert "/routine" in reply.text


async def test_non_english_is_declined_politely(chat):
    for text in (
        "¿por qué se me juntan las rodillas al correr?",
        "膝が痛いです",
        "ginocchia valghe esercizi",
        "waarom doet mijn knie zo veel pijn",
    ):
        reply = await chat.reply("u", text)
        assert reply.kind is ReplyKind.UNKNOWN
        assert "only understand English" in reply.text


async def test_english_with_exercise_names_is_not_declined(chat):
    for text in ("copenhagen plank easier version", "plantar fasciitis cure"):
        reply = await chat.reply("u", text)
        assert "only understand English" not in reply.text, text


async def test_safety_is_sticky(chat):
    warning = await chat.reply("u", "my knee gave way on the stairs and now it is swollen")
    assert warning.kind is ReplyKind.SAFETY
    still = await chat.reply("u", "can I still do my exercises?")
    assert still.kind is ReplyKind.SAFETY
    assert "exercise" not in " ".join(b.label for b in still.buttons).lower()


async def test_warning_sign_found_by_meaning(chat):
    reply = await chat.reply(
        "u", "my calf is warm and sore and that leg looks bigger than the other"
    )
    assert reply.kind is ReplyKind.SAFETY


async def test_benign_acl_question_is_not_an_alarm(chat):
    reply = await chat.reply("u", "why do women tear their acl more often than men?")
    assert reply.kind is ReplyKind.ANSWER


async def test_warning_at_the_end_of_a_long_message_is_caught(chat):
    text = "I like running and squats. " * 40 + "Yesterday my knee buckled and I fell."
    assert (await chat.reply("u", text)).kind is ReplyKind.SAFETY


async def test_first_message_is_under_700_chars(chat):
    for text in ("why do my knees cave in when I squat?", "do flat feet cause knock knees?"):
        reply = await chat.reply("u", text)
        assert reply.kind is ReplyKind.ANSWER
        assert len(reply.text) < 700, text
        assert reply.buttons[0].label == "Tell me more"


async def test_tell_me_more_has_the_detail_and_sources(chat, coach):
    reply = await chat.reply("u", "do flat feet cause knock knees?")
    more = coach.more(reply.sources[0].id)
    assert len(more.text) > len(reply.text)
    assert "Sources:" in more.text


async def test_all_causes_hub_has_a_button_per_cause(chat, kb):
    reply = await chat.reply("u", "what are all the reasons knees cave in?")
    assert reply.sources[0].id == "causes-at-a-glance"
    tapped = {b.action.partition(":")[2] for b in reply.buttons}
    causes = {chunk.id for chunk in kb.chunks if chunk.kind.value == "cause"}
    assert len(tapped & causes) >= 5


async def test_command_in_words_routes_to_the_feature(chat):
    reply = await chat.reply("u", "can you remind me every day at 7pm")
    assert reply.command == "remind 19:00"
    assert (await chat.reply("u", "please delete all my data")).command == "forget"


async def test_close_off_topic_is_declined(chat):
    reply = await chat.reply("u", "what exercises fix bow legs in adults?")
    assert reply.kind is ReplyKind.UNKNOWN


async def test_state_survives_a_restart(coach, db):
    user = 4242
    await Conversations(coach, DatabaseDialogue(db)).reply(user, "how do I do a clamshell")
    restarted = Conversations(coach, DatabaseDialogue(db))  # a new process, same database
    reply = await restarted.reply(user, "too easy, what's next?")
    assert reply.kind is ReplyKind.HOWTO and "harder" in reply.text.lower()


async def test_state_expires_after_30_idle_minutes(coach, db):
    clock = FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    store = DatabaseDialogue(db, clock)
    await Conversations(coach, store).reply(7, "how do I do a clamshell")
    assert (await store.load(7)).exercise == "clamshell"
    clock.advance(minutes=31)
    assert (await store.load(7)).exercise is None


async def test_state_saves_only_over_the_version_it_read(db):
    store = DatabaseDialogue(db)
    assert await store.save(8, State(topic="flat-feet"), 0)
    assert not await store.save(8, State(topic="tight-adductors"), 0)  # a stale writer loses
    current = await store.load(8)
    assert current.topic == "flat-feet" and current.version == 1
    assert await store.save(8, State(topic="weak-quads"), current.version)


async def test_forget_deletes_conversation_state(coach, db):
    await Conversations(coach, DatabaseDialogue(db)).reply(9, "how do I do a clamshell")
    assert (await db.rows_about(9))["conversation_state"] == 1
    await db.forget_user(9)
    assert await DatabaseDialogue(db).load(9) is None


@pytest.fixture(scope="module")
def test_split(coach):
    """The realistic test split (never tuned on), scored with context."""
    import asyncio

    chat = Conversations(coach, MemoryDialogue())
    messages = realistic.load_messages(split="test")
    dialogues = realistic.load_dialogues(split="test")
    coach.prime([c.q for c in messages] + [c.q for d in dialogues for c in d])

    async def score():
        scored = await realistic.score_messages(chat.reply, messages)
        return realistic.rates(scored, await realistic.score_dialogues(chat.reply, dialogues))

    return asyncio.run(score())


# Measured 2026-12-02 21:05 UTC on the test split: red flags (21/21), small talk (14/14) and
# follow-up turns (39/44) meet their bars; these two do not yet, with the figure each reached.
NOT_YET = {
    "in_domain": "115/128 = 89.8%, bar 90%",
    "off_topic": "21/24 = 87.5%, bar 90%",
}


@pytest.mark.parametrize(
    "bar",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True, reason=f"below the bar (issue 11): {NOT_YET[name]}"
            ),
        )
        if name in NOT_YET
        else name
        for name in sorted(realistic.BARS)
    ],
)
def test_realistic_test_split_meets_the_bar(test_split, bar):
    right, total = test_split[bar]
    assert total and right / total >= realistic.BARS[bar], f"{bar}: {right}/{total}"


def test_the_intent_model_serves_what_scikit_learn_fitted_and_is_fitted_once(
    coach, tmp_path, caplog
):
    from sklearn.linear_model import LogisticRegression

    from bot.answering.understanding import C, fit_intents

    examples = coach.understanding.intents.examples
    questions = examples.vectors[:0]
    with caplog.at_level("INFO", logger="bot.answering.understanding"):
        model = fit_intents(examples, questions, tmp_path)
        cached = fit_intents(examples, questions, tmp_path)
    assert caplog.text.count("fitted the intent model") == 1  # the second came from the cache
    assert len(list(tmp_path.glob("intent-model-*.npz"))) == 1
    np.testing.assert_array_equal(cached.coef, model.coef)
    reference = LogisticRegression(C=C, max_iter=500, class_weight="balanced")
    reference.fit(examples.vectors, examples.labels)
    expected = reference.predict_proba(examples.vectors[:50])
    served = np.array([model.probabilities(vector) for vector in examples.vectors[:50]])
    assert model.classes == tuple(reference.classes_)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_a_two_class_intent_model_gives_the_sigmoid_probabilities(coach, tmp_path):
    from bot.answering.examples import Examples
    from bot.answering.understanding import fit_intents

    intents = coach.understanding.intents.examples
    keep = [i for i, label in enumerate(intents.labels) if label in ("greeting", "thanks")]
    two = Examples(
        tuple(intents.texts[i] for i in keep),
        tuple(intents.labels[i] for i in keep),
        intents.vectors[keep],
    )
    model = fit_intents(two, two.vectors[:0], tmp_path)
    greeting = model.probabilities(two.vectors[two.labels.index("greeting")])
    assert greeting.sum() == pytest.approx(1.0) and greeting.argmax() == 0


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("its too easy", "harder"),
        ("can i make it tougher", "harder"),
        ("next level pls", "harder"),
        ("way too hard for me", "easier"),
        ("something less intense?", "easier"),
        ("is there a beginner version", "easier"),
        ("i cant do it", "easier"),
        ("harder or easier, which first?", None),
        ("how many reps", None),
    ],
)
def test_the_words_say_which_way_a_variant_request_points(text, direction):
    from bot.answering.understanding import variant_wanted

    assert variant_wanted(text) == direction


async def test_too_easy_after_a_how_to_puts_the_harder_version_first(chat, kb):
    await chat.reply("u", "how do i do the side plank hip lift")
    reply = await chat.reply("u", "its too easy")
    first_lines = reply.text.splitlines()[:3]
    assert any(kb.by_id("side-plank-hip-lift").harder[:40] in line for line in first_lines)


async def test_too_hard_after_a_how_to_gets_the_easier_version_whatever_else_it_says(chat, kb):
    await chat.reply("u", "how do i do a step down")
    reply = await chat.reply("u", "too hard, my knee wobbles all over the place")
    step_down = kb.by_id("step-down")
    assert reply.kind is ReplyKind.HOWTO
    easier = kb.get(step_down.easier)
    if easier is not None and easier.kind.value == "exercise":
        assert reply.sources[0].id == easier.id
    else:
        assert step_down.easier[:40] in reply.text


async def test_show_me_the_described_one_picks_it_among_the_offered_exercises(chat, kb):
    await chat.reply("u", "how do i do the side plank hip lift")
    offered = {ex.id for ex in chat.coach.offered_exercises(kb.by_id("side-plank-hip-lift"))}
    assert "side-lying-hip-abduction" in offered
    reply = await chat.reply("u", "show me the lying leg lift one")
    assert reply.kind is ReplyKind.HOWTO
    assert reply.sources[0].id == "side-lying-hip-abduction"
    again = await chat.reply("u", "show me that one")
    assert again.sources[0].id == "side-lying-hip-abduction"


async def test_how_long_until_it_works_is_not_the_hold_time(chat):
    await chat.reply("u", "how do i do a glute bridge")
    reply = await chat.reply("u", "and how long till it actually works")
    assert reply.sources[0].id == "how-long-to-improve"
    hold = await chat.reply("u", "how long do i hold it at the top")
    assert hold.sources[0].id != "how-long-to-improve"


async def test_a_fix_follow_up_offers_the_topics_own_exercises(chat, kb):
    await chat.reply("u", "whats a good running form if my knees cave")
    topic = kb.by_id("running-gait")
    reply = await chat.reply("u", "ok how do i fix that")
    exercises = {c.id for c in map(kb.get, topic.related) if c and c.kind.value == "exercise"}
    assert exercises
    assert {button.action.split(":")[-1] for button in reply.buttons} & exercises


async def test_a_follow_up_with_nothing_to_follow_is_about_valgus_in_general(coach):
    reply = await Conversations(coach, MemoryDialogue()).reply("new", "ok so how do i fix it")
    assert reply.sources[0].id == "how-to-fix-it"


async def test_thanks_after_a_warning_is_acknowledged_and_the_stance_stays(chat):
    await chat.reply("u", "my knee gave way on the stairs and now it is swollen")
    thanks = await chat.reply("u", "ok fine thanks")
    assert thanks.kind is ReplyKind.SMALLTALK
    still = await chat.reply("u", "can i still do squats")
    assert still.kind is ReplyKind.SAFETY


async def test_an_off_topic_joint_mid_conversation_is_declined_not_followed_up(chat):
    await chat.reply("u", "how do i stretch tight calves")
    reply = await chat.reply("u", "oh and my elbow aches after tennis, any tips")
    assert reply.kind is ReplyKind.UNKNOWN


@pytest.mark.parametrize(
    ("first_text", "topic", "sign", "warning"),
    [
        (
            "is it normal for a 3 year old to be knock kneed",
            "children-knock-knees",
            "she limps a bit in the mornings though",
            "red-flags-children",
        ),
        (
            "knock knees in adults",
            "adult-genu-valgum",
            "mine is only the right one, and it is getting worse",
            "red-flags-adults",
        ),
    ],
)
async def test_a_warning_sign_about_whoever_the_conversation_is_about_is_caught(
    chat, first_text, topic, sign, warning
):
    first = await chat.reply("u", first_text)
    assert first.sources[0].id == topic
    reply = await chat.reply("u", sign)
    assert reply.kind is ReplyKind.SAFETY
    assert reply.sources[0].id == warning


async def test_an_unclear_message_near_a_topic_we_do_not_cover_is_no_follow_up(chat):
    await chat.reply("u", "how often should i do the exercises")
    reply = await chat.reply("u", "my neck has been stiff from the desk too, anything for that")
    assert reply.kind is ReplyKind.UNKNOWN


async def test_a_warning_page_ranked_first_gets_the_safety_reply(coach):
    hits = coach.retriever.search("one knee is turning in more and more these past months")
    assert hits[0].chunk.id == "red-flags-adults"
    reply = coach.respond("x", coach.retriever.prepare("x"), hits)
    assert reply.kind is ReplyKind.SAFETY


@pytest.mark.parametrize(
    ("text", "qtype"),
    [
        ("my knees go in on squats, what do i do", "fix"),
        ("right, what should i do about that", "fix"),
        ("would weak glutes affect my knees", "cause"),
        ("can stiff ankles be making my knees go in", "cause"),
        ("why should i bother if it doesnt hurt", "cause"),
        ("what exercises should i be doing for it", "choice"),
        ("which moves are best for the outer hip", "choice"),
        ("what muscle is it that stops my foot rolling flat", "cause"),
        ("which muscles do i need to work on for this", "cause"),
        ("how do i keep my knees from rolling in on lunges", "fix"),
        ("how can i prevent the caving when i land", "fix"),
    ],
)
def test_question_types_from_casual_wording(text, qtype):
    from bot.answering.understanding import question_type

    assert question_type(text) == qtype


async def test_an_exercise_that_has_not_worked_yet_gets_how_long_it_takes(coach):
    chat = Conversations(coach, MemoryDialogue())
    for text in (
        "two weeks of glute bridges and still no difference",
        "on side planks since monday, when will it kick in",
    ):
        reply = await chat.reply(text, text)
        assert reply.sources[0].id == "how-long-to-improve", text


async def test_a_general_fix_question_mid_conversation_fixes_the_cause_it_is_on(chat):
    await chat.reply("u", "could stiff ankles be the reason my knees cave")
    reply = await chat.reply("u", "ok what can i do to fix my ankles")
    assert reply.sources[0].id == "limited-ankle-dorsiflexion"
    assert "knee-to-wall" in reply.text[:700].lower()


async def test_the_whole_plan_asked_for_mid_conversation_is_still_the_whole_plan(chat):
    await chat.reply("u", "could stiff ankles be the reason my knees cave")
    reply = await chat.reply("u", "ok and how do i fix knee valgus overall")
    assert reply.sources[0].id == "how-to-fix-it"


async def test_a_message_that_is_a_chunk_name_is_covered_however_little_it_says(chat):
    reply = await chat.reply("u", "PFPS??")
    assert reply.kind is ReplyKind.ANSWER
    assert reply.sources[0].id in ("runners-knee", "patellofemoral-pain")


async def test_what_about_a_word_of_the_current_topic_quotes_that_topic(chat):
    first = await chat.reply("u", "knock knees in adults")
    assert first.sources[0].id == "adult-genu-valgum"
    reply = await chat.reply("u", "what about surgery")
    assert reply.sources[0].id == "adult-genu-valgum"
    assert "surg" in reply.text[:700].lower()


async def test_a_list_question_that_names_one_stretch_gets_the_hub_that_lists_them(chat):
    reply = await chat.reply("u", "stretches for the inner thigh pls")
    assert reply.sources[0].id == "exercises-by-goal"
    assert "butterfly" in reply.text[:700].lower()


def test_the_topics_the_conversation_falls_back_on_exist(kb):
    from bot.answering import conversation

    for chunk_id in (*conversation.GENERAL_TOPIC.values(), conversation.TIME_TO_RESULTS_TOPIC):
        assert kb.get(chunk_id) is not None, chunk_id


async def test_a_message_that_points_back_leans_on_the_current_topic(chat):
    # Alone, "when do they normally straighten" ranks the adult bone-shape topic first.
    await chat.reply("u", "my son has knock knees, hes 4")
    reply = await chat.reply("u", "when do they normally straighten")
    assert reply.sources[0].id == "children-knock-knees"
