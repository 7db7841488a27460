"""Questions that do not apply, answers that cannot all be true: diagnose refuses them, the
rules-only triage still works, and explain_conflict says what to change in plain words."""
import re

import pandas as pd
import pytest

from model.evaluation import load_cases

MALE_PILL = {"sex": "male", "hormonal_contraception": True, "swelling": True,
             "pain_location": "calf", "breathless_or_chest_pain": True}


def test_question_table_has_step_warning_sign_and_applies_if(model):
    q = model.questions.set_index("id")
    assert set(q["step"]) == {"warning_signs", "pain", "running"}
    assert q["warning_sign"].dtype == bool
    assert (q.loc[q["warning_sign"], "step"] == "warning_signs").all()
    assert (q.loc[~q["warning_sign"], "step"] != "warning_signs").all()
    assert q.loc["hormonal_contraception", "applies_if"] == {"answer": "sex", "is": "female"}
    assert q.loc["age", "applies_if"] is None
    assert q.loc["age", "increment"] == 1


def test_every_red_flag_fires_on_a_warning_sign_question(model):
    from model.predicates import positive_answers
    marked = set(model.questions.loc[model.questions["warning_sign"], "id"])
    for rule in model.triage_rules.rules:
        if rule.red_flag:
            assert {a.question for a in positive_answers(rule.when)} & marked, rule.id


def test_applicable_questions_follow_applies_if(model):
    everything = list(model.questions["id"])
    assert model.applicable_questions() == everything            # unanswered: ask it
    assert "hormonal_contraception" in model.applicable_questions({"sex": "female"})
    male = model.applicable_questions({"sex": "male"})
    assert "hormonal_contraception" not in male
    assert male == [q for q in everything if q != "hormonal_contraception"]
    with pytest.raises(ValueError, match="unknown question"):
        model.applicable_questions({"shoe": 1})


def test_diagnose_refuses_a_question_that_does_not_apply(model):
    with pytest.raises(ValueError, match="hormonal_contraception.*sex"):
        model.diagnose({"sex": "male", "hormonal_contraception": False})


def test_diagnose_many_refuses_a_row_with_a_question_that_does_not_apply(model):
    frame = pd.DataFrame([{"sex": "female", "hormonal_contraception": True},
                          {"sex": "male", "hormonal_contraception": False}],
                         index=["anna", "ben"])
    with pytest.raises(ValueError, match="row 'ben'.*hormonal_contraception.*sex"):
        model.diagnose_many(frame)
    fine = model.diagnose_many(frame.iloc[:1])      # the applicable row alone is diagnosed
    assert fine.index.tolist() == ["anna"]


def test_the_shipped_cases_ask_only_questions_that_apply(model, data_dir):
    cases = load_cases(data_dir / "cases.csv")
    answers = cases[[c for c in cases.columns if c in set(model.questions["id"])]]
    assert len(model.diagnose_many(answers)) == len(cases)


def test_triage_still_shows_the_red_flags_on_answers_diagnose_rejects(model):
    with pytest.raises(ValueError):
        model.diagnose(MALE_PILL)
    t = model.triage(MALE_PILL)
    assert t.level == "urgent_care"
    assert {"possible_lung_clot", "clot_signs_one_calf"} <= {r.rule for r in t.reasons}
    impossible = {"pain_severity": 0, "pain_location": "calf", "cold_pale_foot": True}
    with pytest.raises(ValueError):
        model.diagnose(impossible)
    assert model.triage(impossible).level == "urgent_care"


@pytest.mark.parametrize("bad", [{"shoe": 1}, {"age": 500}, {"swelling": "yes"}])
def test_triage_still_rejects_unknown_or_malformed_answers(model, bad):
    with pytest.raises(ValueError):
        model.triage(bad)


@pytest.mark.parametrize("answers, words", [
    (MALE_PILL, ["Sex", "Female", "contraceptive pill"]),
    ({"pain_severity": 0, "pain_location": "calf"}, ["How bad is the pain", "Calf"]),
])
def test_explain_conflict_speaks_plain_words(model, answers, words):
    text = model.explain_conflict(answers)
    assert text and all(w in text for w in words)
    ids = set(model.questions["id"]) | {"True", "False"}
    assert not ids & set(re.findall(r"[A-Za-z_]+", text)), text   # no ids or field names
    assert "change" in text.lower() or "clear" in text.lower()


def test_explain_conflict_is_none_for_consistent_answers(model):
    assert model.explain_conflict({}) is None
    assert model.explain_conflict({"sex": "female", "hormonal_contraception": True}) is None
