"""Refit the model's parameters to labelled runner cases, with the literature as the prior.

``Model.fit(frame)``: ``frame`` holds answers in natural units (NaN = not answered) and the true
condition(s) of each case in ``true_conditions`` (';'-separated condition ids, '' for none), e.g.
a clinic's final diagnoses or ``data/cases.csv``.

The prior
---------
Every parameter keeps its noisy-OR meaning (priors of causes, leaks, and the activation probability
of each cause -> condition, condition -> finding and condition -> pain link), so the fitted CPTs
stay noisy-ORs the engine can factorise. The literature value is a Beta (Dirichlet for multi-state
priors) prior worth ``pseudo_count`` runners, by evidence grade (``data/grades.yaml``): the
estimate is the posterior mean ``(expected count + pseudo_count * literature) / (expected trials +
pseudo_count)``, as pgmpy's ``BayesianEstimator(prior_type="dirichlet", pseudo_counts=...)`` would
compute for complete data. Structural parameters (the deterministic OR into leg pain) are fixed.

Missing answers: stochastic EM
------------------------------
Rows with missing answers are used, not dropped (Celeux & Diebolt 1985, stochastic EM):

* **E-step (causes).** Given the true conditions, the symptom answers carry no information about
  the causes (the conditions d-separate them), so each case's causes are drawn from
  ``P(causes | their answers, true conditions)`` by Gibbs sampling over the causes (a cause with a
  ``depends_on`` parent is sampled jointly with it). Unanswered causes are imputed, soft answers
  weight their states.
* **E-step (mechanisms).** With a family complete, the expected number of times each noisy-OR
  mechanism fired is closed-form: ``E[Z_i | y = 1, x] = a_i [x_i exposed] / P(y = 1 | x)``
  (Vomlel 2006), and 0 when ``y = 0``.
* **Findings and leg pain** count only in rows where they were answered: for an unobserved leaf
  the EM expected counts equal the current CPT, which leaves the fixed point unchanged.
* **M-step** as above; the parameters of the last half of the iterations are averaged.
"""
from __future__ import annotations

from functools import reduce

import numpy as np
import pandas as pd

from ._yaml import Node, read_yaml
from .expanded import activations, probability_from_activation
from .knowledge import DEFAULT_DATA_DIR, GRADES
from .network import build_network
from .synthetic import truth_matrix


def load_grades(path=None) -> pd.DataFrame:
    """``data/grades.yaml`` -> DataFrame indexed by grade: ``pseudo_count, logit_sd``."""
    path = DEFAULT_DATA_DIR / "grades.yaml" if path is None else path
    doc = Node(read_yaml(path), str(path)).mapping()
    doc.check_keys({"grades", "credible_level"})
    rows = {}
    for grade, node in doc.get("grades").items():
        node.check_keys({"pseudo_count", "logit_sd"})
        if grade not in GRADES:
            node.fail(f"unknown grade {grade!r}; grades: {', '.join(GRADES)}")
        rows[grade] = dict(pseudo_count=node.get("pseudo_count").number(0.0, low_open=True),
                           logit_sd=node.get("logit_sd").number(0.0, low_open=True))
    missing = set(GRADES) - set(rows)
    if missing:
        doc.get("grades").fail(f"no entry for grade(s) {', '.join(sorted(missing))}")
    table = pd.DataFrame(rows).T
    table.attrs["credible_level"] = doc.get("credible_level").number(0.5, 1.0, high_open=True)
    return table


def network_from_parameters(kb, rows: pd.DataFrame):
    """The network of ``rows`` (noisy-OR tables and cause priors both taken from ``rows``)."""
    from pgmpy.factors.discrete import TabularCPD
    net = build_network(kb, rows)
    for cause in kb.causes:
        pr = rows[(rows.node == cause.id) & (rows.kind == "prior")]
        if cause.depends_on is None:
            p = pr.set_index("parent_state")["probability"]
            values = np.array([[p[s]] for s in cause.state_ids])
            cpd = TabularCPD(cause.id, len(values), values,
                             state_names={cause.id: list(cause.state_ids)})
        else:
            parent = kb.cause(cause.depends_on)
            p = pr.set_index(["parent_state", "reference"])["probability"]
            values = np.array([[p[(ps, s)] for ps in parent.state_ids] for s in cause.state_ids])
            cpd = TabularCPD(cause.id, len(values), values, evidence=[parent.id],
                             evidence_card=[len(parent.states)],
                             state_names={cause.id: list(cause.state_ids),
                                          parent.id: list(parent.state_ids)})
        net.remove_cpds(net.get_cpds(cause.id))
        net.add_cpds(cpd)
    net.check_model()
    return net


# ----------------------------------------------------------------------------------------
def _two_sided(model) -> dict[str, set]:
    """Per node, the questions that can report it both present and absent.

    A node reported by one-sided questions only (pain location: the runner names one place, the
    others are not asked) is missing *not* at random, so those reports are not counted.
    """
    seen: dict[str, dict[str, set]] = {}
    for q in model.kb.questions:
        for mapping in q.mappings():
            for node, ev in mapping.evidence.items():
                if isinstance(ev, str):
                    seen.setdefault(node, {}).setdefault(q.id, set()).add(ev)
    return {node: {q for q, st in by_q.items() if len(st) > 1} for node, by_q in seen.items()}


def _evidence_arrays(model, frame: pd.DataFrame):
    """Likelihood arrays ``{node: (n, card)}`` from the answers (ones where unanswered), and
    ``{node: (n,) bool}``: answered by a question that could have said either state."""
    states = model.kb.states
    out = {v: np.ones((len(frame), len(s))) for v, s in states.items()}
    known = {v: np.zeros(len(frame), bool) for v in states}
    two_sided = _two_sided(model)
    answers = frame[[c for c in frame.columns if c in model.intake.by_id]]
    for i, (label, rec) in enumerate(zip(frame.index, answers.to_dict("records"))):
        try:
            clean = model.intake.validate(rec)
            vectors, sources = model.intake.evidence(clean)
        except ValueError as exc:
            raise ValueError(f"row {label!r}: {exc}") from None
        for node, vec in vectors.items():
            out[node][i] = vec
            known[node][i] = bool(set(sources[node]) & two_sided.get(node, set()))
    return out, known


def _sample_causes(model, cpts, priors, lik, truth, rng, sweeps):
    """Gibbs draws of every cause given its answers and the true conditions."""
    kb, n = model.kb, len(truth)
    present = {c: truth[:, j].astype(int) for j, c in enumerate(model.condition_ids)}
    children = {c.id: [] for c in kb.causes}
    for cond, (parents, _) in cpts.items():
        for p in parents:
            children[p].append(cond)
    blocks = []  # (variables, joint prior table over their states)
    dependent = {c.depends_on: c for c in kb.causes if c.depends_on}
    for c in kb.causes:
        if c.depends_on:
            continue
        prior = priors[c.id]
        names = [c.id]
        if c.id in dependent:  # sampled jointly: P(parent) P(dependent | parent)
            d = dependent[c.id]
            names.append(d.id)
            cond = priors[d.id].reshape(len(c.states), len(d.states))  # rows: parent states
            prior = prior[:, None] * cond
        blocks.append((names, prior))
    x = {}
    for names, prior in blocks:  # start: prior x answers, ignoring the conditions
        x.update(_draw_block(names, prior, lik, x, cpts, present, rng, n, children, False))
    for _ in range(sweeps):
        for names, prior in blocks:
            x.update(_draw_block(names, prior, lik, x, cpts, present, rng, n, children, True))
    return x


def _draw_block(names, prior, lik, x, cpts, present, rng, n, children, use_children):
    shape = prior.shape
    combos = list(np.ndindex(*shape))
    logp = np.tile(np.log(np.clip(prior.ravel(), 1e-300, None)), (n, 1))
    for k, combo in enumerate(combos):
        for name, s in zip(names, combo):
            logp[:, k] += np.log(np.clip(lik[name][:, s], 1e-300, None))
        if use_children:
            trial = dict(x)
            for name, s in zip(names, combo):
                trial[name] = np.full(n, s)
            for child in {c for name in names for c in children[name]}:
                parents, table = cpts[child]
                p = table[(present[child],) + tuple(trial[v] for v in parents)]
                logp[:, k] += np.log(np.clip(p, 1e-300, None))
    logp[:, prior.ravel() <= 0] = -np.inf
    logp -= logp.max(axis=1, keepdims=True)
    cum = np.cumsum(np.exp(logp), axis=1)
    pick = np.minimum((rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1), len(combos) - 1)
    idx = np.array(combos)[pick]
    return {name: idx[:, j] for j, name in enumerate(names)}


def _fit_noisy_or(y, exposed, a0, w, a_leak0, w_leak, iterations=30):
    """Posterior-mean activations of one noisy-OR family from complete rows.

    ``y``: (n,) child present; ``exposed``: (n, k) mechanism i's parent state present; ``a0``/``w``:
    literature activations and pseudo-counts (Beta prior); returns (activations, leak).
    """
    a, leak = a0.copy(), a_leak0
    trials = exposed.sum(axis=0)
    for _ in range(iterations):
        p_on = 1.0 - (1.0 - leak) * np.prod(1.0 - a[None, :] * exposed, axis=1)
        share = np.where(y, 1.0 / np.clip(p_on, 1e-300, None), 0.0)
        fired = (exposed * a[None, :] * share[:, None]).sum(axis=0)
        a = (fired + w * a0) / (trials + w)
        leak = ((leak * share).sum() + w_leak * a_leak0) / (len(y) + w_leak)
    return a, leak


def _condition_cpts(model, prob: np.ndarray, recs: list[dict]) -> dict[str, tuple]:
    """Noisy-OR CPTs of the conditions from the current probabilities (fast, no pgmpy)."""
    states = model.kb.states
    out = {}
    for cond in model.condition_ids:
        parents = list(model.network.get_cpds(cond).variables[1:])
        rows = [i for i, r in enumerate(recs) if r["node"] == cond]
        leak = next(prob[i] for i in rows if recs[i]["kind"] == "leak")
        qs = [np.ones(len(states[p])) for p in parents]
        for i in rows:
            r = recs[i]
            if r["kind"] == "link":
                qs[parents.index(r["parent"])][states[r["parent"]].index(r["parent_state"])] = \
                    (1.0 - prob[i]) / (1.0 - leak)
        off = (1.0 - leak) * reduce(np.multiply.outer, qs, np.array(1.0))
        out[cond] = (parents, np.stack([off, 1.0 - off]))
    return out


def fit(model, frame: pd.DataFrame, iterations: int = 6, sweeps: int = 4, seed: int = 0,
        grades: pd.DataFrame | None = None):
    """A new Model whose parameters are fitted to ``frame`` (see the module docstring)."""
    from .api import Model
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise ValueError("fit needs a non-empty pandas DataFrame of cases")
    if getattr(model, "kb", None) is None:
        raise ValueError("fit needs a model with a knowledge base (load_model() or "
                         "load_model(<data directory>)), not one read from a network file")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    truth = truth_matrix(frame, model.condition_ids)
    grades = model.grades if grades is None else grades  # the model's own data directory
    lit = model.parameters.reset_index(drop=True)
    recs = lit.to_dict("records")
    act0 = activations(lit).to_numpy()
    weight = lit.grade.map(lambda g: grades.pseudo_count.get(g, np.nan)).to_numpy()
    lik, known = _evidence_arrays(model, frame)
    rng = np.random.default_rng(seed)
    states = model.kb.states
    prob, kept = lit.probability.to_numpy(dtype=float).copy(), []
    families = {}
    for i, r in enumerate(recs):
        if r["kind"] in ("leak", "link"):
            families.setdefault(r["node"], []).append(i)
    for it in range(iterations):
        cpts = _condition_cpts(model, prob, recs)
        priors = {c.id: prob[[i for i, r in enumerate(recs)
                              if r["node"] == c.id and r["kind"] == "prior"]] for c in model.kb.causes}
        x = _sample_causes(model, cpts, priors, lik, truth, rng, sweeps)
        new = prob.copy()
        for cause in model.kb.causes:  # Dirichlet posterior mean of the priors
            pr = lit[(lit.node == cause.id) & (lit.kind == "prior")]
            for ps, group in (pr.groupby("parent_state") if cause.depends_on else [(None, pr)]):
                mask = np.ones(len(truth), bool) if ps is None else \
                    x[cause.depends_on] == states[cause.depends_on].index(ps)
                st = group.reference if cause.depends_on else group.parent_state
                counts = np.array([(x[cause.id][mask] == states[cause.id].index(s)).sum()
                                   for s in st])
                pseudo = lit.probability.to_numpy()[group.index] * weight[group.index]
                new[group.index] = (counts + pseudo) / (counts.sum() + pseudo.sum())
        for node, members in families.items():
            _update_family(node, members, new, recs, act0, weight, x, truth, lik, known, model)
        prob = new
        if it >= iterations // 2:
            kept.append(prob)
    rows = lit.copy()
    rows["literature"] = lit.probability
    rows["probability"] = np.mean(kept, axis=0)
    return Model(model.kb, parameters=rows)


def _update_family(node, members, new, recs, act0, weight, x, truth, lik, known, model):
    if node in model.group_ids:  # groups are fitted through leg pain
        return
    states = model.kb.states
    conds = {c: truth[:, j] for j, c in enumerate(model.condition_ids)}
    leak_row = next(i for i in members if recs[i]["kind"] == "leak")
    links = [i for i in members if recs[i]["kind"] == "link" and recs[i]["grade"] != "structural"]
    if node == "leg_pain":  # leg pain = noisy-OR of the conditions' pain links + leak
        links = [i for i, r in enumerate(recs) if r["kind"] == "link"
                 and r["node"] in model.group_ids]
    if node in model.condition_ids:
        y, use = conds[node], np.ones(len(truth), bool)
    else:
        ev = lik[node]
        use = known[node] & (ev.min(axis=1) == 0) & (ev.max(axis=1) > 0)  # hard, two-sided
        y = ev[:, 1] > 0
    if use.sum() == 0:
        return
    cols = []
    for i in links:
        r = recs[i]
        cols.append(conds[r["parent"]] if r["parent"] in conds
                    else x[r["parent"]] == states[r["parent"]].index(r["parent_state"]))
    exposed = np.stack(cols, axis=1).astype(float) if cols else np.zeros((len(y), 0))
    a, leak = _fit_noisy_or(y[use], exposed[use], act0[links], weight[links],
                            float(act0[leak_row]), weight[leak_row])
    new[leak_row] = leak
    for i, ai in zip(links, a):
        base = leak if recs[i]["node"] == node else 0.0  # pain links sit on groups (leak 0)
        new[i] = probability_from_activation(ai, base)
