"""The result of one diagnosis: triage, conditions, causes, pain probability and advice."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import views
from .triage import Triage


@dataclass
class Diagnosis:
    """What the model concludes for one set of answers.

    Attributes
    ----------
    triage : Triage
        ``level`` ('urgent_care' | 'see_clinician_soon' | 'self_care') and ``reasons``.
    conditions : pandas.Series
        Condition id -> posterior probability, sorted descending.
    causes : pandas.DataFrame
        Indexed by cause id: ``label, state, posterior, reported, contribution,
        condition_contribution`` (see :meth:`model.Model.diagnose`).
    pain_probability : float
        P(leg pain after running | answers).
    advice : list
        Objects with ``action, why, evidence, source, kind``.
    must_rule_out : pandas.DataFrame
        Indexed by condition id: ``label, posterior, rank, rule, level, reason``; one row per
        condition a fired red-flag rule names, whatever its posterior (empty when none).
    out_of_scope : bool
        True when something the runner reported fits no modelled condition.
    out_of_scope_reason : str or None
        In plain words: what did not fit, and when to see a clinician.
    """
    answers: dict
    triage: Triage
    conditions: pd.Series
    causes: pd.DataFrame
    pain_probability: float
    advice: list
    labels: dict = field(repr=False, default_factory=dict)
    groups: pd.Series | None = field(repr=False, default=None)
    # credible intervals (Model.diagnose_with_intervals): index = condition and cause ids,
    # columns kind, point, low, high; None when not computed
    intervals: pd.DataFrame | None = field(repr=False, default=None)
    # conditions a fired red flag names (model.scope.must_rule_out): label, posterior, rank,
    # rule, level, reason; most urgent first, then by posterior
    must_rule_out: pd.DataFrame | None = field(repr=False, default=None)
    # True when a reported finding is accounted for by no plausible modelled condition
    out_of_scope: bool = False
    out_of_scope_reason: str | None = None

    def __repr__(self) -> str:
        top = ", ".join(f"{c} {p:.0%}" for c, p in self.conditions.head(3).items())
        return (f"<Diagnosis: {self.triage.level}; P(leg pain) {self.pain_probability:.0%}; "
                f"most likely {top}>")

    @property
    def leading_condition(self) -> str:
        return str(self.conditions.index[0])

    def condition_table(self) -> pd.DataFrame:
        """Conditions with plain-language labels, sorted by posterior (with ``low``/``high``
        credible bounds when the diagnosis was made with intervals)."""
        table = pd.DataFrame({"label": [self.labels.get(c, c) for c in self.conditions.index],
                              "posterior": self.conditions.values}, index=self.conditions.index)
        if self.intervals is not None:
            table = table.join(self.intervals[["low", "high"]])
        return table

    def to_frame(self) -> pd.DataFrame:
        """One row: triage, pain probability, leading condition, every posterior."""
        row = {"triage_level": self.triage.level,
               "triage_reasons": "; ".join(r.rule for r in self.triage.reasons),
               "pain_probability": self.pain_probability,
               "top_condition": self.leading_condition}
        row.update({f"p_{c}": p for c, p in self.conditions.items()})
        row.update({f"cause_{c}": p for c, p in self.causes["posterior"].items()})
        return pd.DataFrame([row])

    # -- notebooks -------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        return views.diagnosis_html(self)
