"""The knowledge base validates, and a broken file is named with its field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.knowledge import Kind, KnowledgeError, load_chunk, load_knowledge

KNOWLEDGE = PROJECT_ROOT / "knowledge"


def test_every_knowledge_file_validates():
    kb = load_knowledge(KNOWLEDGE)
    assert len(kb.chunks) >= 40
    assert {chunk.kind for chunk in kb.chunks} == set(Kind)


def test_every_exercise_is_complete():
    kb = load_knowledge(KNOWLEDGE)
    exercises = kb.of_kind(Kind.EXERCISE)
    assert len(exercises) >= 20
    for exercise in exercises:
        assert exercise.steps and exercise.mistakes and exercise.muscles, exercise.id
        assert exercise.dosage is not None and exercise.dosage.seconds() > 0, exercise.id
        assert exercise.easier and exercise.harder, exercise.id


def test_every_cause_is_addressed_by_an_exercise():
    kb = load_knowledge(KNOWLEDGE)
    addressed = {cause for ex in kb.of_kind(Kind.EXERCISE) for cause in ex.addresses}
    assert {cause.id for cause in kb.of_kind(Kind.CAUSE)} <= addressed


def test_red_flag_chunks_have_triggers():
    kb = load_knowledge(KNOWLEDGE)
    flags = [chunk for chunk in kb.of_kind(Kind.SAFETY) if chunk.triggers]
    assert len(flags) >= 3


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_missing_field_names_file_and_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "title: Clamshell\n", "")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'title'"):
        load_knowledge(directory)


def test_wrong_kind_names_file_and_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "kind: exercise", "kind: recipe")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'kind'"):
        load_knowledge(directory)


def test_bad_dosage_names_nested_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "  sets: 2", "  sets: many")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'dosage\.sets'"):
        load_knowledge(directory)


def test_invalid_yaml_names_file(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "aliases: [", "aliases: [[")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: front matter is not valid YAML"):
        load_knowledge(directory)


def test_unknown_reference_names_file_and_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "addresses: [weak-hip-abductors", "addresses: [bad-hips")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'addresses'.*bad-hips"):
        load_knowledge(directory)


def test_id_must_match_file_name(tmp_path):
    directory = _copy(tmp_path)
    (directory / "clamshell.md").rename(directory / "clam.md")
    with pytest.raises(KnowledgeError, match=r"clam\.md: field 'id'"):
        load_chunk(directory / "clam.md")


def test_exercise_without_steps_is_rejected(tmp_path):
    directory = _copy(tmp_path)
    path = directory / "clamshell.md"
    text = path.read_text()
    start, end = text.index("steps:"), text.index("mistakes:")
    path.write_text(text[:start] + text[end:])
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: .*needs steps"):
        load_knowledge(directory)


def test_every_chunk_has_example_questions():
    kb = load_knowledge(KNOWLEDGE)
    for chunk in kb.chunks:
        assert 6 <= len(chunk.questions) <= 14, chunk.id


def test_a_trigger_of_none_of_groups_only_is_rejected(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "red-flags-injury.md", "triggers:\n", 'triggers:\n  - "!in|inward"\n')
    with pytest.raises(KnowledgeError, match=r"red-flags-injury\.md: field 'triggers'.*only '!'"):
        load_knowledge(directory)


def test_blank_example_question_names_file_and_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "questions:\n", 'questions:\n  - "  "\n')
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'questions'"):
        load_knowledge(directory)


def test_repeated_example_question_is_rejected(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "clamshell.md", "questions:\n", 'questions:\n  - "Clams?"\n  - "clams?"\n')
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'questions'.*twice"):
        load_knowledge(directory)


def test_hubs_are_overviews_that_link_their_area():
    kb = load_knowledge(KNOWLEDGE)
    hubs = {chunk.id: chunk for chunk in kb.chunks if chunk.hub}
    assert set(hubs) == {"causes-at-a-glance", "how-to-fix-it", "exercises-by-goal"}
    causes = {chunk.id for chunk in kb.of_kind(Kind.CAUSE)}
    assert causes <= set(hubs["causes-at-a-glance"].related)
    linked = {kb.by_id(ref).kind for ref in hubs["exercises-by-goal"].related}
    assert linked == {Kind.EXERCISE}


def test_a_hub_that_is_not_an_overview_names_file_and_field(tmp_path):
    directory = _copy(tmp_path)
    _break(directory / "causes-at-a-glance.md", "kind: overview", "kind: faq")
    with pytest.raises(KnowledgeError, match=r"causes-at-a-glance\.md: field 'hub'"):
        load_knowledge(directory)


def test_synonyms_load_and_a_broken_entry_names_file_and_field(tmp_path):
    from bot.knowledge import load_synonyms

    assert load_synonyms(KNOWLEDGE)["butt"] == ("gluteus", "glute")
    directory = _copy(tmp_path)
    _break(directory / "synonyms.yaml", "  butt: [gluteus, glute]", "  butt: gluteus")
    with pytest.raises(KnowledgeError, match=r"synonyms\.yaml: field 'synonyms\.butt'"):
        load_synonyms(directory)
    (directory / "synonyms.yaml").unlink()
    assert load_synonyms(directory) == {}
