"""The posteriors one diagnosis needs, computed in as few inference passes as possible.

A diagnosis reports, besides the case's own marginals, how much each cause the runner reported
at a risk level contributes:

* ``lead_healthy``: P(leading condition | all answers, that cause at its healthy level), and
* ``pain_prospective``: P(leg pain | the training and background answers), then the same with
  each such cause at its healthy level.

Answers about causes that depend on the changed one are left out of its healthy row (a woman on
the pill re-imagined as a man, see :func:`model.explain.healthy`); a healthy row that is still
impossible gets no contribution.

These rows differ from the case in one or two causes, so :class:`model.mixture.ProductMixture`
answers all of them in two passes (the rows with every answer, then the rows with the cause
answers only). Cases it declines (too many open causes or terms, evidence it does not take,
too much cancellation, or a zero-probability case, whose conflicting answers the engine names)
run on the general engine in three batched calls, as before.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import explain
from .engine import ImpossibleEvidence


@dataclass
class CasePosteriors:
    """What :meth:`model.Model.diagnose` reads from inference.

    Attributes
    ----------
    present : dict
        Row 0 (the case): P(present) of every condition, tissue group and leg pain, and
        P(not at the healthy level) of every cause.
    cause_marginals : dict
        Row 0: each cause's marginal over its states.
    risky : list of str
        Reported risk causes whose healthy row is possible (their contributions are computed).
    lead : str
        The most likely condition (first in condition order on ties).
    lead_healthy : ndarray
        P(lead present) with each risky cause at its healthy level (all answers).
    pain_prospective : ndarray
        P(leg pain | cause answers), then with each risky cause at its healthy level.
    """
    present: dict
    cause_marginals: dict
    risky: list
    lead: str
    lead_healthy: np.ndarray
    pain_prospective: np.ndarray


def case_posteriors(model, vectors: dict) -> CasePosteriors:
    """The posteriors of a diagnosis for the evidence ``vectors`` (``{node: likelihood}``).

    Raises :class:`model.engine.ImpossibleEvidence` when the case itself has probability zero.
    """
    candidates = explain.risky_causes(model, vectors)
    kernel = model.engine.mixture if model.engine.use_mixture else None
    if kernel is not None:
        got = _by_mixture(model, kernel, vectors, candidates)
        if got is not None:
            return got
    return _by_engine(model, vectors, candidates)


def _by_mixture(model, kernel, vectors: dict, candidates: list) -> CasePosteriors | None:
    index = model.engine.index
    pain = index.get("leg_pain")
    if pain is None or pain != kernel.pain:
        return None
    layout = model.summary_layout
    row = np.ones(kernel.n_states + 1)
    if vectors:  # (one scatter: the nodes' columns side by side)
        row[np.concatenate([layout.columns[node] for node in vectors])] = \
            np.concatenate(list(vectors.values()))
    rows = np.repeat(row[None, :], 1 + len(candidates), axis=0)
    if candidates:  # the healthy rows (explain.healthy): each cause at its healthy state,
        # the answers about causes that depend on it left out
        at = [layout.healthy[c] for c in candidates]
        n = np.repeat(np.arange(1, 1 + len(candidates)), [len(cols) for cols, _ in at])
        rows[n, np.concatenate([cols for cols, _ in at])] = np.concatenate([v for _, v in at])
    got = kernel.case_with_variations(rows, model.summary_index, raw=True)
    if got is None:
        return None
    result, by_row, log_z, prospective = got
    if log_z[0] == -np.inf:
        return None  # impossible: the engine names the conflicting answers
    present = layout.read(result)
    causes = {c: result[a:b] for c, a, b in layout.cause_slices}
    cond = result[layout.condition_present]
    lead_pos = int(np.argmax(cond))
    lead = model.condition_ids[lead_pos]
    possible = log_z[1:] > -np.inf
    risky = [c for c, ok in zip(candidates, possible) if ok]
    lead_healthy = by_row[possible, kernel.cond_pos[index[lead]]]
    pain_prosp = prospective[np.concatenate([[True], possible])]
    return CasePosteriors(present, causes, risky, lead, np.asarray(lead_healthy),
                          np.asarray(pain_prosp))


class SummaryLayout:
    """Where a diagnosis's marginals sit in the kernel's result row: for the summary
    variables (conditions, causes, tissue groups, leg pain) the column of P(present), or for a
    cause of P(not at its healthy level) = 1 - the column of its healthy state."""

    def __init__(self, model, kernel):
        index, starts = model.engine.index, kernel.var_start
        self.names = list(model._summary_vars)
        cols = []
        for v in self.names:
            i = index[v]
            cols.append(starts[i] if v in model.cause_set else starts[i + 1] - 1)
        self.present = np.array(cols, dtype=np.intp)
        self.cause_first = [n for n, v in enumerate(self.names) if v in model.cause_set]
        self.cause_slices = [(c, starts[index[c]], starts[index[c] + 1])
                             for c in model.cause_ids]
        # every node's columns, and per cause the columns and values of its healthy row
        self.columns = {v: np.arange(starts[index[v]], starts[index[v] + 1])
                        for v in model.engine.variables}
        self.healthy = {}
        for c in model.cause_ids:
            cols = [self.columns[c]] + [self.columns[d] for d in model.dependants[c]]
            values = [np.eye(len(self.columns[c]))[0]] + [np.ones(len(self.columns[d]))
                                                          for d in model.dependants[c]]
            self.healthy[c] = (np.concatenate(cols), np.concatenate(values))
        self.condition_present = np.array([starts[index[c]] + 1 for c in model.condition_ids],
                                          dtype=np.intp)

    def read(self, result: np.ndarray) -> dict:
        values = result[self.present]
        values[self.cause_first] = 1.0 - values[self.cause_first]
        return dict(zip(self.names, values.tolist()))


def _by_engine(model, vectors: dict, candidates: list) -> CasePosteriors:
    """The general engine: the case, its healthy rows, its prospective rows (three calls)."""
    healthy = [explain.healthy(model, vectors, c) for c in candidates]
    possible = model._possible_many(healthy)
    risky = [c for c, ok in zip(candidates, possible) if ok]
    prospective = {k: v for k, v in vectors.items() if k in model.cause_set}
    # the case (all summary marginals); the case with each risk cause healthy (only the leading
    # condition: tissue groups there would cost four extra pseudo-cases per row); and the
    # prospective P(leg pain) with and without each cause, on the small tree without findings
    post = model._batch([vectors], model._summary_vars)
    present = {v: post[v][0, -1] if v not in model.cause_set else 1.0 - post[v][0, 0]
               for v in post}
    causes = {c: post[c][0] for c in model.cause_ids}
    cond = np.array([present[c] for c in model.condition_ids])
    lead = model.condition_ids[int(np.argmax(cond))]
    lead_healthy = np.zeros(0)
    pain_prosp = np.array([present.get("leg_pain", 0.0)])
    if risky:
        healthy_rows = [h for h, ok in zip(healthy, possible) if ok]
        # (rows already found possible, and their cause-only parts: no second check)
        lead_healthy = model._batch(healthy_rows, [lead], check=False)[lead][:, -1]
        prosp = [prospective] + [explain.healthy(model, prospective, c) for c in risky]
        pain_prosp = model._batch(prosp, ["leg_pain"], check=False)["leg_pain"][:, -1]
    return CasePosteriors(present, causes, risky, lead, lead_healthy, pain_prosp)


__all__ = ["CasePosteriors", "case_posteriors", "ImpossibleEvidence"]
