"""Malformed and hostile knowledge files: each fails at load with a KnowledgeError naming the
file and the line, quickly, whatever the bytes (never a bare UnicodeDecodeError, RecursionError,
TypeError, or a silent acceptance)."""
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import KnowledgeError
from model.knowledge import load_knowledge

SETTINGS = dict(deadline=None, max_examples=40, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture()
def kb_copy(tmp_path, data_dir):
    target = tmp_path / "data"
    shutil.copytree(data_dir, target)
    return target


def load_fails(directory, file, pattern):
    start = time.perf_counter()
    with pytest.raises(KnowledgeError, match=pattern) as info:
        load_knowledge(directory)
    assert time.perf_counter() - start < 10
    assert file in str(info.value)
    return str(info.value)


def replace(directory, file, old, new):
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(directory, file, text):
    lines = (directory / file).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_infinite_soft_evidence_weight_is_refused(kb_copy):
    line = line_of(kb_copy, "questions.yaml", "{trained: 0.3, untrained: 0.7}")
    replace(kb_copy, "questions.yaml", "{trained: 0.3, untrained: 0.7}",
            "{trained: .inf, untrained: 0.7}")
    load_fails(kb_copy, "questions.yaml", rf"questions.yaml:{line}: .*expected a finite number")


def test_a_list_as_key_names_file_and_line(kb_copy):
    (kb_copy / "pain.yaml").write_text("? [a, b]\n: 1\n", encoding="utf-8")
    load_fails(kb_copy, "pain.yaml", r"pain.yaml:1: a key must be plain text, not a list")


def test_latin1_file_names_file_and_line(kb_copy):
    path = kb_copy / "causes.yaml"
    text = path.read_text(encoding="utf-8").replace("# ", "# caf\u00e9 ", 1)
    path.write_bytes(text.encode("latin-1", errors="replace"))
    load_fails(kb_copy, "causes.yaml", r"causes.yaml:\d+: not UTF-8 text")


def test_binary_file_names_the_file(kb_copy):
    (kb_copy / "conditions.yaml").write_bytes(bytes(range(256)) * 40)
    load_fails(kb_copy, "conditions.yaml", r"conditions.yaml:\d+: (not UTF-8|a NUL)")


def test_very_deep_nesting_is_refused_quickly(kb_copy):
    (kb_copy / "pain.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    load_fails(kb_copy, "pain.yaml", r"pain.yaml:1: .*(nest|depth)")


def test_deep_block_nesting_is_refused(kb_copy):
    (kb_copy / "pain.yaml").write_text("".join(" " * i + "k:\n" for i in range(500)),
                                       encoding="utf-8")
    load_fails(kb_copy, "pain.yaml", r"pain.yaml:41: nested more than 40 levels deep")


def test_alias_bomb_is_refused(kb_copy):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (kb_copy / "pain.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_fails(kb_copy, "pain.yaml", r"pain.yaml:1: YAML anchors and aliases")


def test_huge_file_is_refused_without_reading_it_all(kb_copy):
    with open(kb_copy / "findings.yaml", "ab") as handle:
        handle.write(b"#" * 5_000_000)
    load_fails(kb_copy, "findings.yaml", r"larger than")


def test_grades_and_synthetic_of_a_custom_directory_are_used(kb_copy):
    from model import load_model
    replace(kb_copy, "grades.yaml", "credible_level: 0.9", "credible_level: 0.8")
    replace(kb_copy, "synthetic.yaml", "partial_rows: ", "partial_rows: 0.0 #")
    model = load_model(kb_copy)
    assert model.grades.attrs["credible_level"] == 0.8
    table = model.intervals({"age": 30}, draws=20)
    assert ((table["high"] - table["low"]) >= 0).all()
    frame = model.sample_cases(300, seed=1)
    training = [q.id for q in model.kb.questions if q.group == "training"]
    later = [c for c in frame.columns if c not in training and c in model.intake.by_id]
    assert not frame[later].isna().all(axis=1).any()  # no row stopped after page one


@given(position=st.integers(0, 10_000), junk=st.binary(min_size=1, max_size=40))
@settings(**SETTINGS)
def test_random_corruption_fails_with_file_or_loads(data_dir, tmp_path_factory, position, junk):
    target = tmp_path_factory.mktemp("kb") / "data"
    shutil.copytree(data_dir, target)
    path = target / "questions.yaml"
    data = path.read_bytes()
    at = position % len(data)
    path.write_bytes(data[:at] + junk + data[at:])
    start = time.perf_counter()
    try:
        load_knowledge(target)
    except KnowledgeError as exc:
        assert "questions.yaml" in str(exc), exc
    assert time.perf_counter() - start < 10
