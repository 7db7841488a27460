"""How well the model's probabilities match labelled cases: ``Model.evaluate(frame)``.

``frame`` holds answers (question ids as columns, NaN = not answered) and ``true_conditions``
(';'-separated condition ids present); ``gold_triage`` is optional. Every condition is scored as
a yes/no forecast for every case (a runner can have several conditions or none):

* **Brier score**: mean squared difference between P(condition) and 1/0 (0 is perfect; always
  answering the base rate scores about the base rate's variance);
* **log loss**: mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15];
* **calibration table**: forecasts grouped in ``bins`` equal-width bins of predicted probability,
  with the mean prediction and the observed frequency per bin (the reliability diagram);
* **top-1 / top-3 accuracy** over cases with at least one true condition: the most likely (any of
  the three most likely) condition is one of the true ones;
* **triage confusion matrix**: gold level (rows) against the model's level (columns).

Run on the shipped data set: ``python -m model.evaluation data/cases.csv``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .synthetic import GOLD, TRUTH, truth_matrix

LEVELS = ("self_care", "see_clinician_soon", "urgent_care")


@dataclass
class Evaluation:
    """Scores of one model on one labelled data set (see the module docstring)."""
    n_cases: int
    brier: float
    log_loss: float
    top1: float
    top3: float
    calibration: pd.DataFrame
    per_condition: pd.DataFrame
    triage_confusion: pd.DataFrame | None
    predictions: pd.DataFrame

    def summary(self) -> pd.Series:
        out = {"cases": self.n_cases, "brier": self.brier, "log_loss": self.log_loss,
               "top1_accuracy": self.top1, "top3_accuracy": self.top3}
        if self.triage_confusion is not None:
            c = self.triage_confusion.to_numpy()
            out["triage_agreement"] = float(np.trace(c) / c.sum()) if c.sum() else float("nan")
        return pd.Series(out)

    def _repr_html_(self) -> str:
        return (self.summary().to_frame("value")._repr_html_()
                + self.calibration._repr_html_())


def load_cases(path: str | Path) -> pd.DataFrame:
    """Read a case file written by :mod:`model.synthetic` (booleans and blanks kept)."""
    frame = pd.read_csv(path, index_col=0, keep_default_na=True)
    if TRUTH in frame.columns:
        frame[TRUTH] = frame[TRUTH].fillna("")
    return frame


def predict(model, frame: pd.DataFrame) -> pd.DataFrame:
    """``p_<condition>`` per case (and ``triage_level`` when the model has an intake)."""
    answers = frame.drop(columns=[c for c in (TRUTH, GOLD) if c in frame.columns])
    if hasattr(model, "predict_states"):  # a model read from a network file
        return model.predict_states(answers)
    return model.diagnose_many(answers)


def evaluate(model, frame: pd.DataFrame, bins: int = 10) -> Evaluation:
    """Score ``model`` on the labelled cases in ``frame``."""
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise ValueError("evaluate needs a non-empty pandas DataFrame of cases")
    if not isinstance(bins, int) or not 2 <= bins <= 100:
        raise ValueError(f"bins must be an integer from 2 to 100, got {bins!r}")
    conditions = list(model.condition_ids)
    truth = truth_matrix(frame, conditions).astype(float)
    if GOLD in frame.columns:
        given = frame[GOLD]
        bad = given.notna() & ~given.isin(LEVELS)
        if bad.any():
            rows = list(frame.index[bad.to_numpy()][:5])
            raise ValueError(f"{GOLD}: {given[bad].iloc[0]!r} (row(s) {rows}) is not a triage "
                             f"level; allowed: {', '.join(LEVELS)} or blank")
    pred = predict(model, frame)
    p = pred[[f"p_{c}" for c in conditions]].to_numpy(dtype=float)
    brier = float(np.mean((p - truth) ** 2))
    q = np.clip(p, 1e-15, 1 - 1e-15)
    nll = -(truth * np.log(q) + (1 - truth) * np.log(1 - q))
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p.ravel(), edges[1:-1]), 0, bins - 1)
    cal = pd.DataFrame({"bin": which, "predicted": p.ravel(), "observed": truth.ravel()})
    cal = cal.groupby("bin").agg(count=("predicted", "size"), mean_predicted=("predicted", "mean"),
                                 observed_rate=("observed", "mean"))
    cal.insert(0, "range", [f"{edges[b]:.1f}-{edges[b + 1]:.1f}" for b in cal.index])
    has = truth.sum(axis=1) > 0
    order = np.argsort(-p, axis=1, kind="stable")
    hit1 = truth[np.arange(len(p)), order[:, 0]] > 0
    hit3 = np.take_along_axis(truth, order[:, :3], axis=1).max(axis=1) > 0
    per = pd.DataFrame({"cases_with": truth.sum(axis=0).astype(int),
                        "mean_predicted": p.mean(axis=0),
                        "brier": ((p - truth) ** 2).mean(axis=0),
                        "log_loss": nll.mean(axis=0)}, index=conditions)
    confusion = None
    if GOLD in frame.columns and "triage_level" in pred.columns:
        labelled = frame[GOLD].notna().to_numpy()  # a blank gold level is not scored
        gold = pd.Categorical(frame[GOLD][labelled], categories=LEVELS)
        said = pd.Categorical(pred["triage_level"][labelled], categories=LEVELS)
        index = frame.index[labelled]
        confusion = pd.crosstab(pd.Series(gold, name="gold", index=index),
                                pd.Series(said, name="model", index=index), dropna=False)
    return Evaluation(n_cases=len(frame), brier=brier, log_loss=float(nll.mean()),
                      top1=float(hit1[has].mean()) if has.any() else float("nan"),
                      top3=float(hit3[has].mean()) if has.any() else float("nan"),
                      calibration=cal, per_condition=per, triage_confusion=confusion,
                      predictions=pred)


def report(result: Evaluation) -> str:
    """Markdown tables of an evaluation (used for docs/calibration.md)."""
    lines = ["| measure | value |", "|---|---|"]
    for k, v in result.summary().items():
        lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", "| predicted range | forecasts | mean predicted | observed rate |", "|---|---|---|---|"]
    for r in result.calibration.itertuples():
        lines.append(f"| {r.range} | {r.count} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |")
    if result.triage_confusion is not None:
        c = result.triage_confusion
        lines += ["", "| gold \\ model | " + " | ".join(c.columns) + " |",
                  "|---" * (len(c.columns) + 1) + "|"]
        for level, row in c.iterrows():
            lines.append(f"| {level} | " + " | ".join(str(int(v)) for v in row) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Calibration of the model on labelled cases.")
    parser.add_argument("cases", type=Path)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--rows", type=int, default=None, help="only the first ROWS cases")
    args = parser.parse_args(argv)
    from .api import load_model
    frame = load_cases(args.cases)
    if args.rows is not None:
        frame = frame.iloc[:args.rows]
    print(report(evaluate(load_model(), frame, bins=args.bins)))


if __name__ == "__main__":
    main()
