"""Export to every format and load back: same posteriors to 1e-9."""
import numpy as np
import pandas as pd
import pytest

from model import load_model
from model.exchange import FORMATS, original_state, read_network, safe_state

EVIDENCE = {"swelling": "present", "weekly_progression": "10_to_30", "location_calf": "present",
            "leg_pain": "present", "age_group": "30_to_49"}


@pytest.mark.parametrize("suffix", FORMATS)
def test_round_trip_keeps_posteriors(model, tmp_path, suffix):
    path = model.export(tmp_path / f"model{suffix}")
    back = load_model(path)
    before, after = model.infer(EVIDENCE), back.infer(EVIDENCE)
    assert set(before) == set(after)
    for var in before:
        np.testing.assert_allclose(after[var], before[var], atol=1e-9, rtol=0)


def test_states_starting_with_a_digit_are_written_safely(model, tmp_path):
    path = model.export(tmp_path / "model.xdsl")
    text = path.read_text()
    assert 'id="s_10_to_30"' in text and 'id="10_to_30"' not in text
    net = read_network(path)
    assert list(net.get_cpds("weekly_progression").state_names["weekly_progression"]) == \
        list(model.kb.states["weekly_progression"])
    assert original_state(safe_state("30_to_49")) == "30_to_49"
    assert safe_state("under_30") == "under_30"


def test_network_model_supports_infer_export_evaluate_only(model, tmp_path):
    back = load_model(model.export(tmp_path / "m.net"))
    with pytest.raises(ValueError, match="knowledge base"):
        back.diagnose({"swelling": True})
    with pytest.raises(ValueError, match="not a state"):
        back.predict_states(pd.DataFrame({"swelling": ["yes"]}))
    frame = pd.DataFrame({"swelling": ["present", "absent"], "leg_pain": ["present", "absent"],
                          "true_conditions": ["deep_vein_thrombosis", ""]})
    result = back.evaluate(frame)
    assert result.n_cases == 2 and 0 <= result.brier <= 1
    again = back.export(tmp_path / "again.bif")
    assert load_model(again).infer({})["doms"] == pytest.approx(model.infer({})["doms"], abs=1e-12)


def test_unknown_suffix_and_missing_file_are_refused(model, tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        model.export(tmp_path / "model.csv")
    with pytest.raises(ValueError, match="no such file"):
        read_network(tmp_path / "absent.bif")
