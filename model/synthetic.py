"""Seeded synthetic runner cases sampled from the model itself.

Why: the model's numbers come from the literature, not from data. A generator that samples cases
from a (possibly modified) model gives data with a known truth, so learning (:mod:`model.learning`)
and evaluation (:mod:`model.evaluation`) can be tested, and the shipped example ``data/cases.csv``
can be regenerated exactly::

    python -m model.synthetic --n 3000 --seed 7 --out data/cases.csv

How a case is made
------------------
1. **Ancestral sampling** of every node in topological order from the network's CPTs (causes ->
   conditions -> findings, tissue groups -> leg pain): a cohort of runners, about a third with
   leg pain. ``pain_only=True`` keeps only runners with pain (rejection sampling), like the people
   who open a "leg pain after running" checker.
2. **States -> answers.** For each intake question every possible answer (a bin, option, yes/no)
   is weighted by the evidence it would give at the sampled states (hard evidence: 1 or 0; soft
   evidence ``{state: w}``: w divided by its largest weight) and one answer is drawn with
   probability proportional to that weight. So every answer is consistent with the true states and
   no case is impossible under the model. Numbers are drawn uniformly inside the chosen bin on the
   question's step grid (the last, open bin is capped by the question's ``max``). A question no
   answer is consistent with (e.g. pain location when no location finding is present) is left blank.
3. **Missing answers** completely at random with rates per question group (runners skip
   questions; the symptom page is skipped most), plus ``partial_rows`` of rows that stop after the
   training page. These rates are simulation settings, not medical knowledge.

The truth is kept in ``true_conditions`` (';'-separated ids of the conditions present, '' if none)
and ``gold_triage``: the triage rules applied to the complete answers with the true conditions as
posteriors (see :func:`gold_triage`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from ._yaml import Node, read_yaml
from .knowledge import DEFAULT_DATA_DIR


def read_gaps(data_dir=DEFAULT_DATA_DIR) -> tuple[dict, float]:
    """``synthetic.yaml`` of a data directory: the share of blank answers per question group
    and of rows that stop after page one."""
    path = Path(data_dir) / "synthetic.yaml"
    doc = Node(read_yaml(path), str(path)).mapping()
    doc.check_keys({"missing", "partial_rows"})
    missing = {g: node.probability(open_interval=False) for g, node in doc.get("missing").items()}
    return missing, doc.get("partial_rows").probability(open_interval=False)


DEFAULT_MISSING, DEFAULT_PARTIAL_ROWS = read_gaps()  # the shipped knowledge base's
TRUTH = "true_conditions"
GOLD = "gold_triage"


def sample_states(network, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Ancestral sample of ``n`` joint configurations; returns state indices per node."""
    out: dict[str, np.ndarray] = {}
    for node in nx.topological_sort(network):
        cpd = network.get_cpds(node)
        values = np.asarray(cpd.values, dtype=float)  # (card, *parent cards)
        parents = list(cpd.variables[1:])
        probs = values[(slice(None),) + tuple(out[p] for p in parents)] if parents \
            else np.broadcast_to(values[:, None], (values.shape[0], n))
        cum = np.cumsum(probs, axis=0)
        u = rng.random(n) * cum[-1]
        out[node] = np.minimum((u[None, :] >= cum).sum(axis=0), values.shape[0] - 1)
    return pd.DataFrame(out)


def _candidates(q) -> list[tuple[object, dict, tuple | None]]:
    """Every possible answer to ``q``: (answer, evidence mapping, numeric interval or None)."""
    if q.kind == "number":
        out, lo = [], q.min
        for b in q.bins:
            last = b.below is None
            hi = q.max if last else min(b.below, q.max)
            if hi > lo or (last and hi >= lo):  # bins outside [min, max] cannot be answered
                out.append((None, b.mapping.evidence, (lo, hi, last)))
            if not last:
                lo = max(lo, b.below)
        return out
    if q.kind == "bool":
        return [(v, m.evidence, None) for v, m in ((True, q.if_yes), (False, q.if_no))
                if m is not None]
    return [(o.id, o.mapping.evidence, None) for o in q.options]


def _weight(evidence: dict, states: pd.DataFrame, names: dict) -> np.ndarray:
    """Weight of one answer at each row's sampled states (product over the nodes it touches)."""
    w = np.ones(len(states))
    for node, ev in evidence.items():
        s = states[node].to_numpy()
        if isinstance(ev, str):
            w *= (s == names[node].index(ev))
        else:
            vec = np.array([float(ev.get(x, 0.0)) for x in names[node]])
            w *= vec[s] / vec.max()
    return w


def _number_in(interval, q, rng) -> float:
    lo, hi, closed = interval
    if q.increment:
        grid = np.arange(q.min, q.max + q.increment / 2, q.increment)
        inside = grid[(grid >= lo) & ((grid <= hi) if closed else (grid < hi))]
        if len(inside):
            return float(rng.choice(inside))
    return float(np.round(rng.uniform(lo, hi), 2))


def answers_from_states(model, states: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Draw one consistent answer per question and row (blank when none is consistent)."""
    names = model.kb.states
    cols = {}
    for q in model.kb.questions:
        cands = _candidates(q)
        weights = np.stack([_weight(ev, states, names) for _, ev, _ in cands], axis=1)
        total = weights.sum(axis=1)
        cum = np.cumsum(weights, axis=1)
        pick = (rng.random(len(states))[:, None] * total[:, None] >= cum).sum(axis=1)
        pick = np.minimum(pick, len(cands) - 1)
        values = []
        for i, k in enumerate(pick):
            if total[i] <= 0:
                values.append(None)
                continue
            answer, _, interval = cands[k]
            values.append(_number_in(interval, q, rng) if q.kind == "number" else answer)
        cols[q.id] = pd.Series(values, dtype=float if q.kind == "number" else object)
    frame = pd.DataFrame(cols)
    for q in model.kb.questions:  # booleans with gaps: pandas' nullable boolean
        if q.kind == "bool":
            frame[q.id] = frame[q.id].astype("boolean")
    return frame


def sample_cases(model, n: int = 1000, seed: int = 0, missing: dict | None = None,
                 partial_rows: float | None = None, pain_only: bool = False) -> pd.DataFrame:
    """Sample ``n`` runner cases (answers in natural units + ``true_conditions``).

    Parameters
    ----------
    model : Model
        The model to sample from (a fitted or modified model gives different data).
    n : int
        Number of cases.
    seed : int
        The same seed gives the same frame.
    missing : dict
        Probability that an answer is left blank, per question group
        (default: the model's own ``synthetic.yaml``, in its data directory).
    partial_rows : float
        Share of rows that stop after the training page (background and symptoms blank).
    pain_only : bool
        Keep only cases with leg pain (rejection sampling). The default keeps every runner, as
        in a prospective cohort: :func:`model.learning.fit` needs that, because selecting on
        pain (a descendant of every cause) would bias the fitted priors and base rates.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    own_missing, own_partial = read_gaps(model.kb.path)
    missing = dict(own_missing if missing is None else missing)
    for group, rate in missing.items():
        if group not in own_missing or not 0 <= rate < 1:
            raise ValueError(f"missing rate for {group!r} must be in [0, 1) and the group one of "
                             f"{', '.join(own_missing)}; got {rate!r}")
    partial_rows = own_partial if partial_rows is None else partial_rows
    if not 0 <= partial_rows < 1:
        raise ValueError(f"partial_rows must be in [0, 1), got {partial_rows!r}")
    rng = np.random.default_rng(seed)
    pain = model.kb.states["leg_pain"].index("present")
    parts, have = [], 0
    while have < n:
        s = sample_states(model.network, max(2 * (n - have), 256), rng)
        if pain_only:
            s = s[s["leg_pain"] == pain]
        parts.append(s)
        have += len(s)
    states = pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)
    frame = answers_from_states(model, states, rng)
    present = model.kb.states[model.condition_ids[0]].index("present")
    truth = np.stack([states[c].to_numpy() == present for c in model.condition_ids], axis=1)
    gold = gold_triage(model, frame, truth)
    group_of = {q.id: q.group for q in model.kb.questions}
    for qid in frame.columns:
        blank = rng.random(n) < missing.get(group_of[qid], 0.0)
        frame.loc[blank, qid] = None
    stop = rng.random(n) < partial_rows
    later = [q for q in frame.columns if group_of[q] != "training"]
    frame.loc[stop, later] = None
    # questions that do not apply to a runner (the pill for men) are not asked: left blank
    conditional = [q for q, cond in zip(model.questions["id"], model.questions["applies_if"])
                   if cond is not None and q in frame.columns]
    if conditional:
        for label, record in zip(frame.index, frame.to_dict("records")):
            answered = {k: v for k, v in record.items()
                        if v is not None and not (isinstance(v, float) and np.isnan(v))}
            allowed = set(model.applicable_questions(answered))
            drop = [q for q in conditional if q in answered and q not in allowed]
            if drop:
                frame.loc[label, drop] = None
    frame[TRUTH] = [";".join(c for c, t in zip(model.condition_ids, row) if t) for row in truth]
    if gold is not None:
        frame[GOLD] = gold
    frame.index.name = "case"
    return frame


def gold_triage(model, frame: pd.DataFrame, truth: np.ndarray) -> list[str] | None:
    """The triage rules applied to the complete answers with the *true* conditions as
    posteriors (1 or 0): what the rules would advise if the diagnosis were known. ``None`` when
    the model has no triage rules."""
    rules = getattr(model, "triage_rules", None)
    if rules is None or not getattr(rules, "rules", None):
        return None
    out = []
    for rec, row in zip(frame.to_dict("records"), truth):
        clean = model.intake.validate(rec)
        vectors, _ = model.intake.evidence(clean)
        conditions = pd.Series(row.astype(float), index=model.condition_ids)
        out.append(rules.assess(clean, conditions, vectors).level)
    return out


def truth_matrix(frame: pd.DataFrame, condition_ids: list[str]) -> np.ndarray:
    """``true_conditions`` -> boolean matrix (cases x conditions)."""
    if TRUTH not in frame.columns:
        raise ValueError(f"the frame needs a {TRUTH!r} column (';'-separated condition ids)")
    sets = [set(str(v).split(";")) - {""} if isinstance(v, str) else set()
            for v in frame[TRUTH]]
    unknown = set().union(*sets) - set(condition_ids) if sets else set()
    if unknown:
        raise ValueError(f"{TRUTH} names unknown condition(s) {sorted(unknown)}; "
                         f"known: {', '.join(condition_ids)}")
    return np.array([[c in s for c in condition_ids] for s in sets], dtype=bool).reshape(
        len(sets), len(condition_ids))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Sample synthetic runner cases from the model.")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from .api import load_model
    frame = sample_cases(load_model(), args.n, seed=args.seed)
    frame.to_csv(args.out, float_format="%.6g")
    print(f"wrote {len(frame)} cases to {args.out}")


if __name__ == "__main__":
    main()
