"""Credible intervals: contain the point estimate, narrow with stronger evidence, reproducible."""
import numpy as np
import pytest

from model.learning import load_grades

CASE = {"pain_location": "shin", "tenderness": "pinpoint_bone", "weekly_km_increase_pct": 40}


@pytest.fixture(scope="module")
def table(model):
    return model.intervals(CASE, draws=40, seed=1)


def test_point_is_the_diagnosis_and_inside_the_interval(model, table):
    d = model.diagnose(CASE)
    conditions = table[table.kind == "condition"]
    np.testing.assert_allclose(conditions.point.reindex(d.conditions.index), d.conditions.values,
                               atol=1e-9)
    assert (table.low <= table.point + 1e-12).all() and (table.point <= table.high + 1e-12).all()
    assert ((table.low >= 0) & (table.high <= 1)).all()


def test_same_seed_same_intervals(model, table):
    again = model.intervals(CASE, draws=40, seed=1)
    np.testing.assert_array_equal(again[["low", "high"]].to_numpy(),
                                  table[["low", "high"]].to_numpy())
    other = model.intervals(CASE, draws=40, seed=2)
    assert not np.array_equal(other.low.to_numpy(), table.low.to_numpy())


def test_stronger_evidence_gives_narrower_intervals(model, table):
    from model.uncertainty import intervals
    grades = load_grades()
    sharper = grades.copy()
    sharper["logit_sd"] = grades.logit_sd / 4  # every parameter four times better known
    narrow = intervals(model, CASE, draws=40, seed=1, grades=sharper)
    width, narrow_width = table.high - table.low, narrow.high - narrow.low
    assert (narrow_width <= width + 1e-12).mean() > 0.95
    assert narrow_width.sum() < 0.5 * width.sum()
    assert grades.logit_sd["strong"] < grades.logit_sd["moderate"] < \
        grades.logit_sd["weak"] < grades.logit_sd["expert_opinion"]


def test_diagnosis_carries_low_high_columns(model):
    d = model.diagnose_with_intervals(CASE, draws=20, seed=1)
    assert {"low", "high"} <= set(d.causes.columns)
    assert {"low", "high"} <= set(d.condition_table().columns)


def test_bad_settings_are_refused(model):
    with pytest.raises(ValueError, match="draws"):
        model.intervals(CASE, draws=3)
    with pytest.raises(ValueError, match="level"):
        model.intervals(CASE, level=1.5)
    with pytest.raises(ValueError, match="scope"):
        model.intervals(CASE, scope="everything")
    with pytest.raises(ValueError, match="pain_location"):
        model.intervals({"pain_location": "moon"})


def sparse_runners_in_pain(model, n: int, seed: int) -> list[dict]:
    """Runners in pain as the dashboard sees them: about half the answers left "not sure"."""
    rng = np.random.default_rng(seed)
    frame = model.sample_cases(n, seed=seed, pain_only=True).drop(
        columns=["true_conditions", "gold_triage"], errors="ignore")
    return [{k: v for k, v in case.items() if v == v and v is not None and rng.random() < 0.5}
            for case in frame.to_dict("records")]


@pytest.mark.parametrize("backends", [None, ("mixture", "junction_tree")],
                         ids=["enumeration_or_tree", "tree_only"])
def test_draws_as_rows_of_the_network_equal_the_expanded_network(model, backends):
    """The fast way (parameter draws as per-row noisy-OR parameters of the conditions, in the
    cause enumeration or a junction tree) and the general way (soft evidence on the
    parameter-expanded network) give the same posteriors, draw for draw, to 1e-9: same seeded
    draws. Sparse runners in pain, the cases the dashboard's intervals panel meets (most of
    them too open for the enumeration: the tree takes them)."""
    from model import uncertainty
    from model.api import Model
    from model.expanded import mechanism_list
    from model.uncertainty import posterior_draws
    fast_model = model if backends is None else Model(model.kb, backends=backends)
    assert [m.u for m in mechanism_list(model, model.condition_ids)] == \
        [m.u for m in uncertainty.expanded(model).mechanisms]
    cases = sparse_runners_in_pain(model, 6, seed=4) + [
        {"tearing_or_pop": True, "cannot_stand_on_tiptoe": True, "age": 44},  # rare positives
        {}]
    for answers in cases:
        fast = posterior_draws(fast_model, answers, draws=30, seed=3)
        ref = posterior_draws(model, answers, draws=30, seed=3, way="expanded")
        assert list(fast.columns) == model.condition_ids + model.cause_ids
        np.testing.assert_allclose(fast.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9,
                                   err_msg=str(answers))
        point = model.diagnose(answers).conditions
        np.testing.assert_allclose(fast.loc[0, model.condition_ids].to_numpy(),
                                   point[model.condition_ids].to_numpy(), atol=1e-9)


def test_posterior_draws_refuses_an_unknown_way(model):
    from model.uncertainty import posterior_draws
    with pytest.raises(ValueError, match="way must be one of auto, expanded"):
        posterior_draws(model, {}, draws=10, way="fastest")


def test_a_per_row_tree_that_loses_precision_hands_the_case_to_the_expanded_network(
        model, monkeypatch):
    """The per-row tree runs in float64 and checks its literature row against the case's own
    posterior; a case failing the check (forced here) gets the expanded network's answer."""
    from model import uncertainty
    from model.uncertainty import posterior_draws
    answers = sparse_runners_in_pain(model, 3, seed=8)[0]
    ref = posterior_draws(model, answers, draws=20, seed=2, way="expanded")
    monkeypatch.setattr(uncertainty, "POINT_TOLERANCE", -1.0)
    got = posterior_draws(model, answers, draws=20, seed=2)
    np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())
