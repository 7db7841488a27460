"""The public contract of design.md: load_model, questions, diagnose, diagnose_many, infer."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgmpy.inference import VariableElimination

from model.evaluation import load_cases

LEVELS = {"urgent_care", "see_clinician_soon", "self_care"}

SHIN_CASE = {"pain_location": "shin", "tenderness": "pinpoint_bone", "days_since_onset": 20,
             "sex": "female", "bmi": 19.0, "low_energy_signs": True,
             "longest_run_increase_pct": 50}


def test_questions_frame(model):
    q = model.questions
    assert list(q.columns[:9]) == ["id", "label", "group", "kind", "unit", "min", "max", "step",
                                   "options"]
    assert q.id.is_unique
    assert set(q.group) == {"training", "background", "symptoms"}
    assert set(q.kind) == {"number", "bool", "choice"}
    numbers = q[q.kind == "number"]
    assert (numbers["min"] < numbers["max"]).all() and numbers.unit.str.len().gt(0).all()
    for opts in q[q.kind == "choice"].options:
        assert len(opts) >= 2 and all(isinstance(o, tuple) for o in opts)


def test_diagnose_result_shape(model):
    d = model.diagnose(SHIN_CASE)
    assert d.triage.level in LEVELS
    assert isinstance(d.conditions, pd.Series)
    assert list(d.conditions.index.sort_values()) == sorted(model.condition_ids)
    assert d.conditions.is_monotonic_decreasing
    assert d.conditions.between(0, 1).all()
    assert d.conditions.index[0] == "bone_stress_injury"
    assert {"posterior", "reported", "contribution"} <= set(d.causes.columns)
    assert set(d.causes.index) == set(model.cause_ids)
    assert d.causes.loc["energy_availability", "reported"]
    assert d.causes.loc["energy_availability", "posterior"] == pytest.approx(1.0)
    assert d.causes.loc["energy_availability", "contribution"] > 0
    assert 0.99 < d.pain_probability <= 1.0  # a painful spot was reported
    frame = d.to_frame()
    assert len(frame) == 1 and frame.loc[0, "top_condition"] == "bone_stress_injury"
    assert not frame.select_dtypes("number").isna().any().any()
    html = d._repr_html_()
    assert "Stress fracture of the shin or foot" in html and "not a diagnosis" in html


def test_no_answers_gives_the_prospective_population_picture(model):
    d = model.diagnose({})
    assert 0.2 < d.pain_probability < 0.5
    assert not d.causes.reported.any()
    riskier = model.diagnose({"longest_run_increase_pct": 150, "runs_per_week_last_3_months": 0.5})
    assert riskier.pain_probability > d.pain_probability


def _hard_evidence(model, answers):
    clean = model.intake.validate(answers)
    vectors, _ = model.intake.evidence(clean)
    evidence = {}
    for node, vec in vectors.items():
        assert np.count_nonzero(vec) == 1, "test cases use hard evidence only"
        evidence[node] = model.kb.states[node][int(np.argmax(vec))]
    return evidence


@pytest.mark.parametrize("answers", [
    SHIN_CASE,
    {"pain_location": "calf", "swelling": True, "warmth_redness": True,
     "long_travel_or_immobility": True, "both_legs": False, "sex": "female"},
    {"weekly_km_increase_pct": 50, "warm_up_minutes": 0, "flat_feet": "flat"},
])
def test_diagnose_matches_pgmpy_variable_elimination(model, answers):
    evidence = _hard_evidence(model, answers)
    d = model.diagnose(answers)
    ve = VariableElimination(model.network)
    for cond in model.condition_ids[:8] + ["deep_vein_thrombosis"]:
        q = ve.query([cond], evidence=evidence, show_progress=False)
        expected = q.values[q.state_names[cond].index("present")]
        assert d.conditions[cond] == pytest.approx(expected, abs=1e-9), cond
    if "leg_pain" in evidence:
        assert d.pain_probability == pytest.approx(1.0)
    else:
        q = ve.query(["leg_pain"], evidence=evidence, show_progress=False)
        assert d.pain_probability == pytest.approx(q.values[1], abs=1e-9)


# ---- bad input: a clear ValueError, nothing changes --------------------------------------
@pytest.mark.parametrize("answers, words", [
    ({"shoe_size": 42}, "unknown question 'shoe_size'"),
    ({"age": 200}, "out of range"),
    ({"age": -1}, "out of range"),
    ({"age": float("inf")}, "out of range"),
    ({"age": "forty"}, "needs a number from 12 to 90"),
    ({"age": True}, "needs a number"),
    ({"sex": "other"}, "is not an option"),
    ({"swelling": "yes"}, "needs True or False"),
    ({"swelling": 2}, "needs True or False"),
    ({"sex": "male", "hormonal_contraception": True}, "cannot all be true together"),
    ({"pain_severity": 0, "pain_location": "calf"}, "contradict each other"),
])
def test_bad_input_raises_a_value_error_naming_the_question(model, answers, words):
    before = model.diagnose(SHIN_CASE).conditions
    with pytest.raises(ValueError, match=words) as err:
        model.diagnose(answers)
    for qid in answers:
        if qid != "shoe_size" and "contradict" not in words:
            assert qid in str(err.value)
    pd.testing.assert_series_equal(model.diagnose(SHIN_CASE).conditions, before)


def test_answers_must_be_a_mapping(model):
    with pytest.raises(ValueError, match="mapping"):
        model.diagnose([("age", 30)])


def test_none_and_nan_mean_not_sure(model):
    plain = model.diagnose({"age": 30})
    with_gaps = model.diagnose({"age": 30, "swelling": None, "bmi": float("nan")})
    pd.testing.assert_series_equal(plain.conditions, with_gaps.conditions)


def _answer_strategy(model):
    """Random answers: valid values, plus occasional invalid ones."""
    qs = model.questions.set_index("id")

    def value(qid):
        row = qs.loc[qid]
        if row.kind == "number":
            valid = st.floats(row["min"], row["max"], allow_nan=False)
            return st.one_of(valid, valid, st.floats(allow_nan=False), st.none())
        if row.kind == "bool":
            return st.one_of(st.booleans(), st.booleans(), st.none(), st.just("maybe"))
        return st.one_of(st.sampled_from([o for o, _ in row.options]), st.just("nonsense"),
                         st.none())

    return st.lists(st.sampled_from(list(qs.index)), max_size=10, unique=True).flatmap(
        lambda ids: st.fixed_dictionaries({q: value(q) for q in ids}))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_answers_diagnose_or_raise_the_documented_error(model, data, diagnose_or_refuse):
    documented = ("out of range", "needs", "not an option", "contradict", "cannot all be true")
    diagnose_or_refuse(model, data.draw(_answer_strategy(model)),
                       lambda message: any(w in message for w in documented))


# ---- many cases at once -------------------------------------------------------------------
def test_diagnose_many_matches_diagnose_row_by_row(model):
    frame = pd.DataFrame([
        SHIN_CASE,
        {"pain_location": "calf", "downhill_or_unusual_session": True, "both_legs": True},
        {},
        {"age": 45.0, "sex": "male", "pain_location": "achilles", "tearing_or_pop": True},
    ], index=["a", "b", "c", "d"])
    out = model.diagnose_many(frame)
    assert list(out.index) == ["a", "b", "c", "d"]
    for label, row in frame.iterrows():
        d = model.diagnose(row.to_dict())
        assert out.loc[label, "top_condition"] == d.conditions.index[0]
        assert out.loc[label, "triage_level"] == d.triage.level
        assert out.loc[label, "pain_probability"] == pytest.approx(d.pain_probability, abs=1e-9)
        for cond, p in d.conditions.items():
            assert out.loc[label, f"p_{cond}"] == pytest.approx(p, abs=1e-9)
    # in chunks (two of them, the last one short): each row lands in its own place
    chunked = model.diagnose_many(frame, chunk=3)
    pd.testing.assert_frame_equal(chunked, out, check_exact=True)


def _runners_in_pain(model, n, seed):
    from bench.workloads import runners_in_pain
    return pd.DataFrame(runners_in_pain(model, n, seed=seed))


def _cohort(model, n, seed):
    """Sampled runners, most without pain, every question answered: rows the mixture kernel,
    the cause enumeration and the junction trees each take."""
    cases = load_cases(model.data_dir / "cases.csv")
    answers = cases[[c for c in cases.columns if c in set(model.questions["id"])]]
    return answers.sample(n, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("workload", [_runners_in_pain, _cohort])
def test_diagnose_many_gives_a_row_the_same_bits_whatever_else_is_in_the_frame(model, workload):
    """Any chunking and any order of the rows, other rows around it, or copies of it, give each
    row the same result bit for bit (a row is never answered differently for its neighbours)."""
    frame = workload(model, 40, 21)
    whole = model.diagnose_many(frame)
    for chunk in (1, 7):
        pd.testing.assert_frame_equal(model.diagnose_many(frame, chunk=chunk), whole,
                                      check_exact=True)
    shuffled = frame.sample(frac=1.0, random_state=5)
    pd.testing.assert_frame_equal(model.diagnose_many(shuffled, chunk=9).loc[frame.index],
                                  whole, check_exact=True)
    with_others = pd.concat([frame, workload(model, 25, 22), frame.iloc[:10]],
                            ignore_index=True)
    got = model.diagnose_many(with_others)
    pd.testing.assert_frame_equal(got.iloc[:len(frame)], whole, check_exact=True)
    np.testing.assert_array_equal(got.iloc[-10:].to_numpy(), whole.iloc[:10].to_numpy())


def test_diagnose_many_names_the_bad_row(model):
    frame = pd.DataFrame([{"age": 30}, {"age": 300}], index=["ok", "bad"])
    with pytest.raises(ValueError, match="row 'bad'.*out of range"):
        model.diagnose_many(frame)
    with pytest.raises(ValueError, match="unknown question column"):
        model.diagnose_many(pd.DataFrame([{"colour": "red"}]))


# ---- engine level -------------------------------------------------------------------------
def test_infer_returns_every_marginal(model):
    out = model.infer({"doms": "present"})
    assert set(out) == set(model.network.nodes())
    for var, m in out.items():
        assert m.shape == (len(model.kb.states[var]),) and m.sum() == pytest.approx(1.0)
    assert out["doms"][1] == pytest.approx(1.0)


def test_infer_rejects_unknown_and_impossible_evidence(model):
    with pytest.raises(ValueError, match="unknown variable 'spleen'"):
        model.infer({"spleen": "present"})
    with pytest.raises(ValueError, match="not a state of doms"):
        model.infer({"doms": "maybe"})
    with pytest.raises(ValueError, match="probability zero"):
        model.infer({"sex": "male", "hormonal_contraception": "present"})


def test_asking_for_fewer_variables_never_changes_their_marginals(model):
    """Regression: a query for leg pain alone once dropped the conditions' contribution."""
    for evidence in ({}, {"sex": "female", "energy_availability": "low"},
                     {"leg_pain": "present", "swelling": "present"}):
        full = model.engine.infer(evidence)
        for var in ("leg_pain", "bone", "doms", "swelling", "training_status"):
            alone = model.engine.infer(evidence, [var])[var]
            np.testing.assert_allclose(alone, full[var], atol=1e-12, err_msg=f"{var} | {evidence}")


def test_an_impossible_counterfactual_does_not_break_the_diagnosis(model):
    """A woman on the pill is re-imagined as a man without the pill answer (not impossible)."""
    answers = {"sex": "female", "hormonal_contraception": True,
               "pain_location": "calf", "swelling": True, "warmth_redness": True}
    d = model.diagnose(answers)
    assert np.isfinite(d.causes.loc["sex", "contribution"])
    assert d.causes.loc["sex", "contribution"] == pytest.approx(
        model.attribution(answers).causes.loc["sex", "contribution"], abs=1e-9)
    assert d.causes.loc["hormonal_contraception", "reported"]
    assert d.triage.level == "urgent_care"


def test_evidence_below_an_unobserved_node_constrains_it(model):
    """Regression: leg pain absent forces every tissue group absent (deterministic OR)."""
    out = model.engine.infer({"leg_pain": "absent", "sex": "male"}, ["bone", "muscle"])
    for group in ("bone", "muscle"):
        assert out[group][1] == pytest.approx(0.0, abs=1e-12)
