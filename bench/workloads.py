"""The cases the benchmarks time.

``runners_in_pain`` is the dashboard's real user: a runner who already has leg pain and answers
a few questions. Cases are sampled from the model with leg pain (:func:`model.synthetic.sample_cases`
with ``pain_only=True``, every answer drawn), then thinned as people answer: per runner, a share
drawn from 60-90 % of the cause answers (training and background) and 30-60 % of the symptom
answers is left "not sure", and runners keep 5-15 answers (a random subset when more remain;
runners with fewer than 5 are redrawn).
"""
from __future__ import annotations

import numpy as np


def runners_in_pain(model, n: int = 200, seed: int = 0) -> list[dict]:
    """``n`` answer dicts of runners in pain with sparse answers (see the module docstring)."""
    rng = np.random.default_rng(seed)
    group = {q.id: q.group for q in model.kb.questions}
    out: list[dict] = []
    batch = 0
    while len(out) < n:
        frame = model.sample_cases(max(2 * n, 50), seed=seed * 1000 + batch, pain_only=True,
                                   missing={"training": 0, "background": 0, "symptoms": 0},
                                   partial_rows=0)
        batch += 1
        cols = [c for c in frame.columns if c in group]
        for record in frame[cols].to_dict("records"):
            blank_causes, blank_symptoms = rng.uniform(0.6, 0.9), rng.uniform(0.3, 0.6)
            answers = {}
            for q, value in record.items():
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                blank = blank_symptoms if group[q] == "symptoms" else blank_causes
                if rng.random() >= blank:
                    answers[q] = value.item() if hasattr(value, "item") else value
            if len(answers) < 5:
                continue
            keys = list(answers)
            if len(keys) > 15:
                keys = [keys[i] for i in sorted(rng.choice(len(keys), 15, replace=False))]
            out.append({k: answers[k] for k in keys})
            if len(out) == n:
                break
    return out


def cohort(model, n: int = 1000, seed: int = 0):
    """A prospective cohort as :func:`model.synthetic.sample_cases` draws it (answers frame, about
    a third with leg pain, default missing rates)."""
    return model.sample_cases(n, seed=seed)
