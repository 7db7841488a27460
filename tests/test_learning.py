"""fit(): the literature is the prior; data from a changed model pull the CPTs towards it."""
import pytest

from model.api import Model
from model.expanded import activations
from model.learning import load_grades


def _changed_parameters(model):
    rows = model.parameters.copy()
    act = activations(rows)
    leak = rows.index[(rows.node == "doms") & (rows.kind == "leak")][0]
    new_leak = rows.at[leak, "probability"] * 2.5
    rows.at[leak, "probability"] = new_leak
    for i in rows.index[(rows.node == "doms") & (rows.kind == "link")]:
        rows.at[i, "probability"] = 1 - (1 - new_leak) * (1 - act[i])  # same mechanisms
    prior = rows.index[(rows.node == "training_status") & (rows.kind == "prior")]
    rows.loc[prior, "probability"] = [0.4, 0.6]
    hop = rows.index[(rows.node == "painful_hop") & (rows.parent == "bone_stress_injury")][0]
    rows.at[hop, "probability"] = 0.6
    return rows, [leak, *prior, hop]


@pytest.fixture(scope="module")
def fitted(model):
    rows, changed = _changed_parameters(model)
    truth_model = Model(model.kb, parameters=rows)
    # the hop link is graded moderate (worth ~100 runners): enough runners with a bone stress
    # injury must answer the hop question for the data to outweigh it
    cases = truth_model.sample_cases(6000, seed=5)
    before = model.parameters.copy()
    result = model.fit(cases, iterations=4)
    assert model.parameters.equals(before)  # fit does not mutate the model
    return result, rows, changed


def test_fit_moves_changed_parameters_towards_the_data(model, fitted):
    result, truth, changed = fitted
    for i in changed:
        before = abs(model.parameters.at[i, "probability"] - truth.at[i, "probability"])
        after = abs(result.parameters.at[i, "probability"] - truth.at[i, "probability"])
        assert after < 0.5 * before, model.parameters.loc[i, ["node", "kind", "parent"]].tolist()


def test_fit_returns_a_new_working_model_and_keeps_the_old(model, fitted):
    result, _, _ = fitted
    assert result is not model
    assert "literature" in result.parameters
    result.network.check_model()
    d = result.diagnose({"pain_location": "shin", "tenderness": "pinpoint_bone"})
    assert 0 < d.conditions.sum()
    # the fitted CPTs are still noisy-ORs the engine factorises
    assert set(model.engine.decomposed) <= set(result.engine.decomposed)


def test_strong_evidence_moves_less_than_expert_opinion(model):
    grades = load_grades()
    assert grades.pseudo_count["strong"] > grades.pseudo_count["moderate"] > \
        grades.pseudo_count["weak"] > grades.pseudo_count["expert_opinion"]
    rows, _ = _changed_parameters(model)
    cases = Model(model.kb, parameters=rows).sample_cases(600, seed=9)
    light = grades.copy()
    heavy = grades.copy()
    heavy["pseudo_count"] = grades.pseudo_count * 100
    i = rows.index[(rows.node == "training_status") & (rows.kind == "prior")][0]
    moved_light = abs(model.fit(cases, iterations=2, grades=light).parameters.at[i, "probability"]
                      - model.parameters.at[i, "probability"])
    moved_heavy = abs(model.fit(cases, iterations=2, grades=heavy).parameters.at[i, "probability"]
                      - model.parameters.at[i, "probability"])
    assert moved_heavy < moved_light


def test_fit_refuses_unlabelled_or_bad_frames(model):
    frame = model.sample_cases(20, seed=1)
    with pytest.raises(ValueError, match="true_conditions"):
        model.fit(frame.drop(columns="true_conditions"))
    bad = frame.copy()
    bad.loc[bad.index[0], "true_conditions"] = "gout"
    with pytest.raises(ValueError, match="gout"):
        model.fit(bad)
    bad = frame.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[bad.index[0], "age"] = 500
    with pytest.raises(ValueError, match="age"):
        model.fit(bad)
