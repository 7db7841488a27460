"""Hostile and malformed input to the public API: a clear ValueError (TypeError too for a wrong
container) naming the argument or question, nothing computed from garbage, no NaN, no
uninitialised memory, no numpy warning. Each case reported on issue 22 is named here."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = dict(deadline=None, max_examples=60, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def frame(rows):
    return pd.DataFrame(rows)


# ---- diagnose_many ----------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [-1, 0, 1.5, True, "10", None])
def test_diagnose_many_chunk_must_be_a_positive_whole_number(model, chunk):
    with pytest.raises(ValueError, match=r"chunk must be a whole number from 1"):
        model.diagnose_many(frame([{"age": 30}, {"age": 40}]), chunk=chunk)


def test_diagnose_many_rows_without_columns(model):
    out = model.diagnose_many(pd.DataFrame([{}, {}]))
    none = model.diagnose({})
    assert len(out) == 2 and np.isfinite(out.select_dtypes("number").to_numpy()).all()
    assert out["pain_probability"].tolist() == pytest.approx([none.pain_probability] * 2, abs=1e-12)


def test_diagnose_many_small_chunks_equal_one_chunk(model):
    rows = frame([{"age": 30}, {"pain_location": "calf", "swelling": True}, {}, {"bmi": 31}])
    one = model.diagnose_many(rows)
    pd.testing.assert_frame_equal(model.diagnose_many(rows, chunk=1), one)


def test_diagnose_many_duplicate_columns(model):
    rows = pd.DataFrame([[30, 40]], columns=["age", "age"])
    with pytest.raises(ValueError, match=r"column\(s\) \['age'\] appear more than once"):
        model.diagnose_many(rows)


def test_diagnose_many_names_an_id_column_and_keep_passes_it_through(model):
    rows = frame([{"case": "a", "age": 30}, {"case": "b", "age": None}])
    with pytest.raises(ValueError, match=r"unknown question column\(s\) \['case'\].*keep="):
        model.diagnose_many(rows)
    out = model.diagnose_many(rows, keep="case")
    assert out.columns[0] == "case" and out["case"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=r"keep: .*not in the frame"):
        model.diagnose_many(rows, keep=["id"])


@pytest.mark.parametrize("bad", [[{"age": 30}], {"age": [30]}, "age=30", None])
def test_diagnose_many_needs_a_data_frame(model, bad):
    with pytest.raises(TypeError, match="diagnose_many needs a pandas DataFrame"):
        model.diagnose_many(bad)


def test_evaluate_on_a_frame_with_only_labels(model):
    labels = frame({"true_conditions": ["doms", ""], "gold_triage": ["self_care", "self_care"]})
    result = model.evaluate(labels)
    assert result.n_cases == 2 and math.isfinite(result.brier)


def test_evaluate_refuses_an_invalid_gold_triage_label(model):
    labels = frame({"age": [30, 40], "true_conditions": ["", ""],
                    "gold_triage": ["self_care", "see a doctor"]})
    with pytest.raises(ValueError, match=r"gold_triage: 'see a doctor' \(row\(s\) \[1\]\) is not "
                                         r"a triage level"):
        model.evaluate(labels)


def test_evaluate_skips_blank_gold_rows_instead_of_counting_them(model):
    labels = frame({"age": [30, 40], "true_conditions": ["", ""],
                    "gold_triage": ["self_care", None]})
    assert int(model.evaluate(labels).triage_confusion.to_numpy().sum()) == 1


# ---- answers ----------------------------------------------------------------------------
def test_huge_integer_is_out_of_range_not_overflow(model):
    with pytest.raises(ValueError, match=r"'pain_severity'.*out of range; allowed: a number "
                                         r"from 0 to 10$"):
        model.diagnose({"pain_severity": 10**400})


@pytest.mark.parametrize("value", [10**400, -10**400, 2])
def test_huge_or_other_integer_for_a_yes_no_question_is_a_named_error(model, value):
    with pytest.raises(ValueError, match=r"question 'hot_weather' .*needs"):
        model.diagnose({"hot_weather": value})


@pytest.mark.parametrize("value", [1, 0, 1.0, 0.0, np.int64(1), np.float64(0.0)])
def test_yes_no_question_takes_one_and_zero_as_data_frames_store_them(model, value):
    assert model.diagnose({"hot_weather": value}).answers["hot_weather"] is bool(value)


def test_range_message_does_not_repeat_the_range(model):
    with pytest.raises(ValueError) as info:
        model.diagnose({"pain_severity": 11})
    assert "0 to 10 0-10" not in str(info.value) and "from 0 to 10" in str(info.value)


def test_duplicated_answer_keys_are_refused(model):
    with pytest.raises(ValueError, match=r"question\(s\) \['age'\] appear more than once"):
        model.diagnose(pd.Series([30, 40], index=["age", "age"]))


@pytest.mark.parametrize("bad", [[("age", 30)], "age=30", 30, {("age",): 30}.keys()])
def test_answers_must_be_a_mapping(model, bad):
    with pytest.raises((TypeError, ValueError), match="answers must be a mapping"):
        model.diagnose(bad)


def test_intervals_negative_seed_is_named(model):
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0"):
        model.intervals({"age": 30}, seed=-1)


@pytest.mark.parametrize("kwargs, words", [({"draws": 5}, "draws"), ({"level": 1.0}, "level"),
                                           ({"level": float("nan")}, "level"),
                                           ({"scope": "most"}, "scope")])
def test_intervals_arguments_are_checked(model, kwargs, words):
    with pytest.raises(ValueError, match=words):
        model.intervals({"age": 30}, **kwargs)


def test_what_would_help_refuses_impossible_answers(model):
    with pytest.raises(ValueError, match="cannot all be true together"):
        model.what_would_help({"sex": "male", "hormonal_contraception": True})


def test_evidence_weights_top_zero(model):
    with pytest.raises(ValueError, match=r"top must be a whole number from 1"):
        model.evidence_weights({"age": 30}, top=0)


@pytest.mark.parametrize("bad", [5, 5.0, {"age": 1}])
def test_next_questions_questions_must_be_ids(model, bad):
    with pytest.raises((TypeError, ValueError), match="questions must be a question id"):
        model.next_questions({}, questions=bad)
    with pytest.raises(ValueError, match=r"unknown question id\(s\) \['spleen'\]"):
        model.next_questions({}, questions=["spleen"])


# ---- infer ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [[("sex", "female")], "sex=female", 3])
def test_infer_evidence_must_be_a_mapping(model, bad):
    with pytest.raises(TypeError, match="evidence must be a mapping"):
        model.infer(bad)


def test_infer_accepts_a_series_like_a_dict(model):
    got = model.infer(pd.Series({"sex": "female"}))
    assert got["sex"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("value", [[[0.5, 0.5]], {"present": 1}, [1.0], [1, 2, 3], [np.nan, 1],
                                   [-1, 1], [np.inf, 1], [0, 0], [True, False], "maybe", 7,
                                   None, {"female": -1}])
def test_infer_bad_evidence_names_the_variable(model, value):
    with pytest.raises(ValueError, match=r"evidence on 'sex'"):
        model.infer({"sex": value})


def test_infer_soft_evidence_as_state_weights(model):
    a = model.infer({"sex": {"female": 3.0, "male": 1.0}})
    b = model.infer({"sex": [1.0, 3.0]})
    for var in a:
        np.testing.assert_allclose(a[var], b[var], atol=1e-12)


# ---- property tests over arbitrary values -------------------------------------------------
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**500, 10**500), st.floats(allow_nan=True),
    st.text(max_size=12), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from([np.nan, np.inf, -np.inf, pd.NA, np.int64(3), np.float32(2.5),
                     "shin", "calf", "female", "hours_after_run"]))


@st.composite
def hostile_answers(draw, model):
    ids = list(model.intake.by_id) + ["spleen", "", "Age"]
    return draw(st.dictionaries(st.sampled_from(ids), ANY_VALUE, max_size=6))


@given(data=st.data())
@settings(**SETTINGS)
def test_diagnose_any_answers_gives_a_finite_result_or_a_named_error(model, data,
                                                                    diagnose_or_refuse):
    answers = data.draw(hostile_answers(model))
    diagnose_or_refuse(model, answers, lambda message: any(repr(k) in message for k in answers)
                       or "cannot all be true" in message or "contradict" in message)


@given(data=st.data())
@settings(**SETTINGS)
def test_diagnose_many_any_frame_gives_finite_rows_or_a_named_error(model, data):
    rows = data.draw(st.lists(hostile_answers(model), min_size=1, max_size=4))
    try:
        out = model.diagnose_many(pd.DataFrame(rows, dtype=object))
    except ValueError as exc:
        assert "row " in str(exc) or "column" in str(exc), str(exc)
        return
    assert len(out) == len(rows)
    assert np.isfinite(out.select_dtypes("number").to_numpy()).all()


@given(value=ANY_VALUE, variable=st.sampled_from(["sex", "doms", "leg_pain", "spleen"]))
@settings(**SETTINGS)
def test_infer_any_value_gives_marginals_or_a_named_error(model, value, variable):
    try:
        out = model.infer({variable: value})
    except ValueError as exc:
        assert repr(variable) in str(exc) or "probability zero" in str(exc), str(exc)
        return
    assert all(np.isfinite(m).all() and abs(m.sum() - 1) < 1e-9 for m in out.values())
