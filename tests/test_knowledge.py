"""Loading the knowledge base: the shipped files load; every malformed file fails with its name,
line, key and problem."""
import re
import shutil

import pytest

from model import KnowledgeError, load_model
from model.knowledge import load_knowledge


def test_shipped_knowledge_loads(data_dir):
    kb = load_knowledge(data_dir)
    assert len(kb.causes) >= 16 and len(kb.conditions) >= 16 and len(kb.findings) >= 20
    assert {q.group for q in kb.questions} == {"training", "background", "symptoms"}
    for cond in kb.conditions:
        assert cond.base_rate_source and cond.links or cond.id == "acute_limb_ischaemia" or cond.links


@pytest.fixture()
def kb_copy(tmp_path, data_dir):
    target = tmp_path / "data"
    shutil.copytree(data_dir, target)
    return target


# (file, text to replace, replacement, key path in the message, words of the problem)
CASES = [
    ("conditions.yaml", "odds_ratio: 4.99", "odds_ratio: 0.8", "odds_ratio", "must be >= 1"),
    ("conditions.yaml", "odds_ratio: 4.99", "odds_ratio: lots", "odds_ratio", "expected a number"),
    ("conditions.yaml", "base_rate: 0.031", "base_rate: 1.7", "base_rate", "must be < 1"),
    ("conditions.yaml", "grade: strong", "grade: very strong", "grade", "not allowed"),
    ("conditions.yaml", "cause: previous_injury", "cause: moon_phase", "cause", "not allowed"),
    ("causes.yaml", "prior: {trained: 0.7, untrained: 0.3}", "prior: {trained: 0.7, untrained: 0.4}",
     "prior", "sum to 1"),
    ("causes.yaml", "prior: {trained: 0.7, untrained: 0.3}", "prior: {trained: 1.0}", "prior",
     "missing untrained"),
    ("causes.yaml", "{id: adequate, label:", "{id: yes, label:", "id", "boolean"),
    ("causes.yaml", "    modifiable: false\n", "", "modifiable", "missing required key"),
    ("findings.yaml", "achilles_rupture: {p: 0.95", "achilles_rupture: {p: 0.001",
     "p", "below the leak"),
    ("findings.yaml", "achilles_rupture: {p: 0.95", "no_such_condition: {p: 0.95",
     "no_such_condition", "not a condition"),
    ("pain.yaml", "leak: 0.04", "leak: -0.04", "leak", "must be > 0"),
    ("questions.yaml", "{below: 30, evidence: {weekly_progression: 10_to_30}}",
     "{below: 5, evidence: {weekly_progression: 10_to_30}}", "below", "must increase"),
    ("questions.yaml", "evidence: {weekly_progression: over_30}",
     "evidence: {weekly_progression: enormous}", "weekly_progression", "not allowed"),
    ("questions.yaml", "kind: number", "kind: slider", "kind", "not allowed"),
    ("questions.yaml", "group: training", "grup: training", "grup", "unknown key"),
]


@pytest.mark.parametrize("name, old, new, key, problem", CASES,
                         ids=[f"{c[0]}:{c[3]}:{c[4]}" for c in CASES])
def test_malformed_file_names_file_line_key_and_problem(kb_copy, corrupt, name, old, new, key,
                                                       problem):
    corrupt(kb_copy, name, old, new)
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kb_copy)
    message = str(err.value)
    assert name in message, message
    assert re.search(rf"{re.escape(name)}:\d+:", message), f"no line number: {message}"
    assert key in message, message
    assert problem in message, message


def test_duplicate_key_is_reported(kb_copy, corrupt):
    corrupt(kb_copy, "pain.yaml", "  leak: 0.04\n", "  leak: 0.04\n  leak: 0.05\n")
    with pytest.raises(KnowledgeError, match=r"pain.yaml:\d+: key 'leak' appears twice"):
        load_knowledge(kb_copy)


def test_invalid_yaml_is_reported_with_line(kb_copy, corrupt):
    corrupt(kb_copy, "findings.yaml", "findings:\n", "findings: [\n")
    with pytest.raises(KnowledgeError, match=r"findings.yaml:\d+: not valid YAML"):
        load_knowledge(kb_copy)


def test_missing_file_is_reported(kb_copy):
    (kb_copy / "causes.yaml").unlink()
    with pytest.raises(KnowledgeError, match="causes.yaml: cannot read"):
        load_knowledge(kb_copy)


def test_not_a_directory(tmp_path):
    with pytest.raises(KnowledgeError, match="not a directory"):
        load_model(tmp_path / "nowhere")


def test_knowledge_error_is_a_value_error():
    assert issubclass(KnowledgeError, ValueError)
