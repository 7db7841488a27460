"""Why the model says what it says: cause attribution, evidence for and against, what-if.

Everything here is computed from the network by exact inference, in batches (one engine call per
explanation). What each number means:

* **Cause attribution** (:func:`attribution`). For each cause the runner reported at a risk state,
  ``contribution`` is ``P(leg pain | training and background answers)`` minus the same with that
  cause set to its healthy state (answers about causes that depend on it, such as contraception
  on sex, left unknown) (the *prospective* risk: the symptom answers are left out, so it
  says how much the cause adds to the chance of pain after running). ``by_condition`` is the same
  difference for every condition. ``condition_contribution`` is the difference for the leading
  condition given *all* answers (symptoms included). For causes the runner did not report,
  ``posterior`` is P(cause not at its healthy state | all answers).
* **Evidence weights** (:func:`evidence_weights`). For each answer and condition, the log
  likelihood ratio of that answer's evidence for the condition present vs absent given all the
  *other* answers: ``logit P(c | all answers) - logit P(c | all answers but this one)``, in nats.
  Positive = the answer points towards the condition, negative = away from it.
* **What-if** (:func:`what_if`, :func:`what_would_help`). The same case with some answers about
  modifiable causes changed; P(leg pain) and the condition probabilities before and after
  (prospective by default: the risk on future runs).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import ImpossibleEvidence

GRADE_ORDER = ("strong", "moderate", "weak", "expert_opinion")


# ----------------------------------------------------------------------------------- batching
def merge(vectors: dict, extra: dict) -> dict | None:
    """Evidence ``vectors`` with ``extra`` multiplied in; ``None`` if they contradict."""
    out = dict(vectors)
    for node, vec in extra.items():
        if node in out:
            vec = out[node] * vec
            if not vec.any():
                return None
        out[node] = vec
    return out


def run_cases(model, rows: list[dict], variables: list[str]):
    """Posterior marginals of ``variables`` for every evidence dict in ``rows``, in one batch.

    Returns ``(marginals, log_z, possible)``: ``{variable: (n, card)}``, ``log P(evidence)`` per
    row and a boolean mask of the rows whose evidence has positive probability. Impossible rows
    (``None`` or contradicting the model) get ``log_z = -inf`` and zero marginals.
    """
    n = len(rows)
    states = model.kb.states
    possible = np.array([r is not None for r in rows], dtype=bool)
    # rows share most vectors (the case's own answers): each distinct vector is written once,
    # into all its rows (stacking row by row cost more than the inference on small cases)
    where: dict = {}
    for i, r in enumerate(rows):
        for k, vec in (r.items() if r is not None else ()):
            got = where.get((k, id(vec)))
            if got is None:
                where[(k, id(vec))] = (k, vec, [i])
            else:
                got[2].append(i)
    keys = sorted({k for k, _, _ in where.values()}, key=model.engine.index.get)
    arrays = {k: np.ones((n, len(states[k]))) for k in keys}
    for k, vec, at in where.values():
        arrays[k][at] = vec
    if keys:
        lik = {model.engine.index[k]: a for k, a in arrays.items()}
        possible &= model.engine.check_possible(lik, n)
    marg = {v: np.zeros((n, len(states[v]))) for v in variables}
    log_z = np.full(n, -np.inf)
    live = np.flatnonzero(possible)
    while len(live):  # one engine call for every row (it groups rows by tree itself)
        try:  # the rows are variations of one case: cut what they all observe hard
            m, lz = model.engine.infer_batch({k: a[live] for k, a in arrays.items()}, variables,
                                             slice_common=True, check=False)
        except ImpossibleEvidence as exc:  # rounding can hide a zero from the exact check
            possible[live[exc.cases]] = False
            live = live[possible[live]]
            continue
        for v in variables:
            marg[v][live] = m[v]
        log_z[live] = lz
        break
    return marg, log_z, possible


def run_outcomes(model, vectors: dict, extras: list[dict], variables: list[str]):
    """Like :func:`run_cases` for the rows ``[vectors] + [vectors with extra, ...]``: one case
    and the same case with each ``extra`` evidence dict multiplied in (its candidate answers).

    Scored from the case's own cause enumeration when it runs there
    (:meth:`model.engine.Engine.outcomes`); the candidates it cannot take, or every row when
    the case runs on a junction tree, go through :func:`run_cases`. Same return value.
    """
    engine = model.engine
    index = engine.index
    rows = [vectors] + [merge(vectors, e) for e in extras]
    n = len(rows)
    lik = {index[k]: np.asarray(v, dtype=float)[None, :] for k, v in vectors.items()}
    cands = [{}] + [{index[k]: np.asarray(v, dtype=float) for k, v in e.items()}
                    for e in extras]
    try:  # None: the case does not run in the enumeration (or the variables are not there)
        got = engine.outcomes(lik, cands, [index[v] for v in variables])
    except ImpossibleEvidence:
        return ({v: np.zeros((n, len(model.kb.states[v]))) for v in variables},
                np.full(n, -np.inf), np.zeros(n, dtype=bool))
    if got is None:
        return run_cases(model, rows, variables)
    marg_i, log_z, done = got
    marg = {v: marg_i[index[v]] for v in variables}
    for c, r in enumerate(rows):
        if r is None:  # the extra evidence contradicts the case's own
            done[c] = True
            log_z[c] = -np.inf
            for v in variables:
                marg[v][c] = 0.0
    rest = np.flatnonzero(~done)
    if len(rest):
        m2, lz2, ok2 = run_cases(model, [rows[c] for c in rest], variables)
        for v in variables:
            marg[v][rest] = m2[v]
        log_z[rest] = np.where(ok2, lz2, -np.inf)
    return marg, log_z, np.isfinite(log_z)


def p_present(model, marg: dict, node: str) -> np.ndarray:
    """P(node not at its first state): 'present' for conditions, 'risk state' for causes."""
    return 1.0 - marg[node][:, 0]


def prospective(model, vectors: dict) -> dict:
    """Only the evidence on causes: the case as it was before any symptom."""
    return {k: v for k, v in vectors.items() if k in model.cause_ids}


def healthy(model, vectors: dict, cause: str) -> dict:
    """The case with ``cause`` at its healthy state.

    Answers about causes that depend on it (``depends_on``, e.g. contraception on sex) are left
    out, since they may be impossible at the healthy state (a man on the combined pill).
    """
    dependants = {c.id for c in model.kb.causes if c.depends_on == cause}
    out = {k: v for k, v in vectors.items() if k not in dependants}
    out[cause] = np.eye(len(model.kb.states[cause]))[0]
    return out


def risky_causes(model, vectors: dict) -> list[str]:
    """Reported causes whose evidence is not simply "at the healthy state"."""
    # (risky unless all of the evidence is on the healthy state, the first)
    return [c for c in model.cause_ids if c in vectors
            and (vectors[c][0] == 0 or vectors[c][1:].any())]


def _case(model, answers):
    clean, vectors, _ = model._evidence(answers)
    return clean, vectors


# -------------------------------------------------------------------------------- attribution
@dataclass
class Attribution:
    """Cause attribution for one case (see the module docstring for what is computed).

    Attributes
    ----------
    causes : pandas.DataFrame
        Indexed by cause id: ``label, state, posterior, reported, contribution,
        condition_contribution`` (the columns of ``Diagnosis.causes``).
    by_condition : pandas.DataFrame
        Rows: reported risk causes; columns: conditions; values: rise of the prospective
        P(condition) over the same case with that cause at its healthy state.
    leading_condition : str
    """
    causes: pd.DataFrame
    by_condition: pd.DataFrame
    leading_condition: str
    labels: dict

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.label))}</td><td>{html.escape(str(r.state))}</td>"
            f"<td>{'reported' if r.reported else 'inferred'}</td>"
            f"<td style='text-align:right'>{r.posterior:.0%}</td>"
            f"<td style='text-align:right'>{r.contribution:+.1%}</td>"
            f"<td style='text-align:right'>{r.condition_contribution:+.1%}</td></tr>"
            for r in self.causes.sort_values(["contribution", "posterior"],
                                             ascending=False).itertuples())
        lead = html.escape(self.labels.get(self.leading_condition, self.leading_condition))
        return ("<table><tr><th>cause</th><th>state</th><th></th><th>P(risk state)</th>"
                "<th>adds to P(leg pain)</th>"
                f"<th>adds to P({lead})</th></tr>{rows}</table>")


def attribution(model, answers) -> Attribution:
    """Cause attribution for ``answers`` (one batched inference)."""
    _, vectors = _case(model, answers)
    risky = risky_causes(model, vectors)
    pros = prospective(model, vectors)
    rows = [vectors] + [healthy(model, vectors, c) for c in risky]
    rows += [pros] + [healthy(model, pros, c) for c in risky]
    variables = model.condition_ids + model.cause_ids + ["leg_pain"]
    marg, _, possible = run_cases(model, rows, variables)
    if not possible[0]:
        raise model._conflict(model.intake.validate(answers))
    k = len(risky)
    cond = np.column_stack([p_present(model, marg, c) for c in model.condition_ids])
    lead_i = int(np.argmax(cond[0]))
    lead = model.condition_ids[lead_i]
    pain = p_present(model, marg, "leg_pain")
    rows_out = []
    for c in model.cause_ids:
        m0 = marg[c][0]
        state = int(np.argmax(m0))
        contribution = condition_contribution = 0.0
        if c in risky:
            i = risky.index(c) + 1
            contribution = pain[k + 1] - pain[k + 1 + i]
            condition_contribution = cond[0, lead_i] - cond[i, lead_i]
        rows_out.append(dict(id=c, label=model.labels[c],
                             state=model.kb.cause(c).states[state].label,
                             state_id=model.kb.states[c][state], posterior=1.0 - m0[0],
                             reported=c in vectors, contribution=float(contribution),
                             condition_contribution=float(condition_contribution)))
    causes = pd.DataFrame(rows_out).set_index("id")
    by_condition = pd.DataFrame(cond[k + 1] - cond[k + 2:], index=pd.Index(risky, name="cause"),
                                columns=model.condition_ids)
    return Attribution(causes, by_condition, lead, model.labels)


# ---------------------------------------------------------------------------- evidence weights
def log_odds_shift(p_with: np.ndarray, p_without: np.ndarray) -> np.ndarray:
    """``logit(p_with) - logit(p_without)``; 0 where equal, +-inf where an answer decides."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.log(p_with) - np.log1p(-p_with)) - (np.log(p_without) - np.log1p(-p_without))
    out = np.where(p_with == p_without, 0.0, out)
    # an answer that rules a condition in or out has an infinite weight, never NaN
    with np.errstate(invalid="ignore"):
        decided = np.sign(p_with - p_without) * np.inf
    out = np.where(np.isnan(out), decided, out)
    return out


def item_weights(model, base: dict, items: dict, conditions: list[str]) -> pd.DataFrame:
    """Log likelihood ratio of each evidence item for each condition, given ``base``.

    ``base`` is ``{node: likelihood}`` (the other evidence) and ``items`` is ``{name: {node:
    likelihood}}``; the weight of item ``a`` for condition ``c`` is ``logit P(c | base, a) -
    logit P(c | base)``. Returns a DataFrame (rows: items, columns: conditions).
    """
    names = list(items)
    rows = [base] + [merge(base, items[a]) for a in names]
    marg, _, possible = run_cases(model, rows, conditions)
    if not possible.all():
        bad = [names[i - 1] for i in np.flatnonzero(~possible) if i]
        raise ValueError(f"evidence {bad or 'base'} has probability zero under the model")
    p = np.column_stack([marg[c][:, 1] for c in conditions])
    return pd.DataFrame(log_odds_shift(p[1:], p[:1]), index=names, columns=conditions)


@dataclass
class EvidenceWeights:
    """Each answer's signed weight for the leading conditions.

    ``frame`` has one row per (answer, condition): ``question, label, value, condition,
    condition_label, posterior, weight`` where ``weight`` is the log likelihood ratio in nats
    (see the module docstring). ``pivot()`` gives answers x conditions.
    """
    frame: pd.DataFrame

    def pivot(self) -> pd.DataFrame:
        return self.frame.pivot(index="question", columns="condition", values="weight")

    def _repr_html_(self) -> str:
        parts = []
        for _condition, block in self.frame.groupby("condition", sort=False):
            block = block.sort_values("weight", ascending=False)
            label = html.escape(block.condition_label.iloc[0])
            items = "".join(
                f"<tr><td>{html.escape(str(r.label))}</td><td>{html.escape(str(r.value))}</td>"
                f"<td style='text-align:right;color:{'#1b5e20' if r.weight > 0 else '#b71c1c'}'>"
                f"{r.weight:+.2f}</td></tr>" for r in block.itertuples() if r.weight != 0)
            parts.append(f"<b>{label}</b> ({block.posterior.iloc[0]:.1%})"
                         f"<table><tr><th>answer</th><th>value</th><th>weight (nats)</th></tr>"
                         f"{items}</table>")
        return "<div>" + "".join(parts) + "</div>"


def evidence_weights(model, answers, conditions=None, top: int = 3) -> EvidenceWeights:
    """Signed weight of every answer for ``conditions`` (default: the ``top`` most likely)."""
    clean, vectors = _case(model, answers)
    if conditions is None:
        marg, _, possible = run_cases(model, [vectors], model.condition_ids)
        if not possible[0]:
            raise model._conflict(clean)
        post = pd.Series({c: marg[c][0, 1] for c in model.condition_ids})
        conditions = list(post.sort_values(ascending=False, kind="stable").index[:top])
    else:
        conditions = [conditions] if isinstance(conditions, str) else list(conditions)
        unknown = [c for c in conditions if c not in model.condition_ids]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; allowed: "
                             f"{', '.join(model.condition_ids)}")
    # each answer's weight given all the others: remove one answer at a time
    rows = [vectors] + [model.intake.evidence({k: v for k, v in clean.items() if k != q})[0]
                        for q in clean]
    marg, _, possible = run_cases(model, rows, conditions)
    if not possible[0]:
        raise model._conflict(clean)
    p = np.column_stack([marg[c][:, 1] for c in conditions])
    weights = log_odds_shift(p[:1], p[1:])
    by_id = model.intake.by_id
    out = []
    for j, c in enumerate(conditions):
        for i, q in enumerate(clean):
            out.append(dict(question=q, label=by_id[q].label, value=clean[q], condition=c,
                            condition_label=model.labels[c], posterior=float(p[0, j]),
                            weight=float(weights[i, j])))
    frame = pd.DataFrame(out, columns=["question", "label", "value", "condition",
                                       "condition_label", "posterior", "weight"])
    return EvidenceWeights(frame)
