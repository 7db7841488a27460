"""evaluate(): proper scores, calibration table, top-k accuracy and triage confusion."""
import numpy as np
import pandas as pd
import pytest

from model.evaluation import evaluate, load_cases, report


@pytest.fixture(scope="module")
def frame(data_dir):
    return load_cases(data_dir / "cases.csv").iloc[:12]


@pytest.fixture(scope="module")
def result(model, frame):
    return model.evaluate(frame, bins=5)


def test_scores_match_their_definitions(model, frame, result):
    p = result.predictions[[f"p_{c}" for c in model.condition_ids]].to_numpy()
    y = np.array([[c in str(t).split(";") for c in model.condition_ids]
                  for t in frame["true_conditions"]], dtype=float)
    assert result.brier == pytest.approx(np.mean((p - y) ** 2))
    q = np.clip(p, 1e-15, 1 - 1e-15)
    assert result.log_loss == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    assert 0 <= result.top1 <= result.top3 <= 1


def test_calibration_table_accounts_for_every_forecast(model, frame, result):
    cal = result.calibration
    assert cal["count"].sum() == len(frame) * len(model.condition_ids)
    assert ((cal.mean_predicted >= 0) & (cal.mean_predicted <= 1)).all()
    assert ((cal.observed_rate >= 0) & (cal.observed_rate <= 1)).all()


def test_triage_confusion_counts_every_case(frame, result):
    assert result.triage_confusion is not None
    assert result.triage_confusion.to_numpy().sum() == len(frame)
    assert "| measure | value |" in report(result)


def test_a_perfect_forecaster_scores_zero(model):
    class Oracle:  # predicts the truth itself: Brier 0, log loss ~0, top-1 accuracy 1
        condition_ids = model.condition_ids

        def predict_states(self, answers):
            return truth

    frame = pd.DataFrame({"true_conditions": ["doms", "", "bone_stress_injury;doms"]})
    truth = pd.DataFrame({f"p_{c}": [float(c in t.split(";")) for t in frame.true_conditions]
                          for c in model.condition_ids})
    res = evaluate(Oracle(), frame)
    assert res.brier == 0 and res.log_loss < 1e-12 and res.top1 == 1


def test_bad_input_is_refused(model, frame):
    with pytest.raises(ValueError, match="true_conditions"):
        model.evaluate(frame.drop(columns="true_conditions"))
    with pytest.raises(ValueError, match="bins"):
        model.evaluate(frame, bins=1)
    with pytest.raises(ValueError, match="non-empty"):
        model.evaluate(frame.iloc[:0])
