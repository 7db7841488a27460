"""Credible intervals for every condition and cause posterior, from parameter uncertainty.

Every parameter carries the uncertainty of its evidence grade (``logit_sd`` in
``data/grades.yaml``): a draw of the parameter set perturbs each noisy-OR activation and leak on
the log-odds scale, ``logit(a') = logit(a) + logit_sd * z``, and each cause prior on the log scale
(renormalised). The normal is centred on the literature value, so the literature value is the
median draw of every parameter. (A Beta with the same mean is not used: for rare events such as a
base rate of 1e-4 its central interval can exclude the point value itself.)

Propagation is Monte Carlo and exact per draw, all draws of one case in one batched engine call
on the model's own network: the draws are rows, each with its own noisy-OR parameters for the
conditions. The cause enumeration (:mod:`model.enumeration`) takes the case when its cost rule
says so; otherwise a junction tree over the model's own nodes whose condition factors are
per-row tables (it compiles like the case's diagnosis tree, far quicker than the expanded
network's), in float64, its literature row checked against the case's exact posterior to
``POINT_TOLERANCE``. A case failing that check, a case with evidence on a condition itself, and
``scope='all'`` use the parameter-expanded network (:mod:`model.expanded`), where a draw is
soft evidence on the mechanism and cause nodes. The interval is the central ``level`` quantile
range of the draws. Same seed, same intervals (the ways give the same posteriors draw for draw,
tested: :func:`posterior_draws` with ``way='expanded'`` is the reference).

Scope: by default the priors, base rates and cause -> condition links are uncertain (285-node
expanded network); ``scope='all'`` adds every symptom likelihood (about 700 nodes, much slower to
compile, always the expanded network). ``bench/bench_intervals.py`` measures the time per case.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .expanded import ExpandedNetwork, activations, mechanism_list

SCOPES = ("conditions", "all")


def expanded(model, scope: str = "conditions") -> ExpandedNetwork:
    """The model's parameter-expanded network for ``scope``, built once per model.

    ``'conditions'``: priors, base rates and cause -> condition links (the epidemiological
    parameters) are uncertain; ``'all'`` adds the symptom likelihoods, finding leaks and pain
    links (about 700 nodes instead of 285: each new pattern of positive answers compiles a
    junction tree for 25-45 s instead of about 3 s with the current engine).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    cache = model.__dict__.setdefault("_expanded_networks", {})
    if scope not in cache:
        cache[scope] = ExpandedNetwork(model, None if scope == "all" else model.condition_ids)
    return cache[scope]


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _draw(model, draws: int, seed: int, grades: pd.DataFrame | None, scope: str):
    """Seeded draws: ``(mechanisms, activations (n_mechanisms, draws), {cause: p' / p})``."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    mechanisms, logit_a, sd = _mechanism_arrays(model, scope, grades)
    rng = np.random.default_rng(seed)
    # one normal per mechanism and draw, mechanism by mechanism (row-major: the same stream as
    # drawing them one mechanism at a time)
    z = rng.standard_normal((len(mechanisms), draws))
    acts = 1.0 / (1.0 + np.exp(-(logit_a[:, None] + sd[:, None] * z)))
    grades = _grades(model) if grades is None else grades
    priors = {}
    for cause in model.kb.causes:
        if cause.depends_on:  # a conditional prior (contraception given sex) stays fixed
            continue
        sd_c = float(grades.logit_sd[cause.grade])
        p = np.array([cause.prior[s] for s in cause.state_ids])
        log_k = np.log(p)[None, :] + sd_c * rng.standard_normal((draws, len(p)))
        p_k = np.exp(log_k - log_k.max(axis=1, keepdims=True))
        p_k /= p_k.sum(axis=1, keepdims=True)
        priors[cause.id] = p_k / p[None, :]
    return mechanisms, acts, priors


def _grades(model) -> pd.DataFrame:
    """The model's own ``grades.yaml`` (``Model.grades``: its data directory's, read once)."""
    return model.grades


def _mechanism_arrays(model, scope: str, grades: pd.DataFrame | None):
    """``(mechanisms, logit of their activations, their logit sd)``; cached per model for the
    shipped grades (reading the parameter table row by row is slow)."""
    cache = model.__dict__.setdefault("_mechanism_lists", {})
    if scope not in cache:
        mechanisms = mechanism_list(model, None if scope == "all" else model.condition_ids)
        logit_a = _logit(np.array([m.activation for m in mechanisms]))
        cache[scope] = (mechanisms, logit_a, _grade_sd(mechanisms, _grades(model)))
    mechanisms, logit_a, sd = cache[scope]
    if grades is not None:  # grades given by the caller: their sd, not the cached one
        sd = _grade_sd(mechanisms, grades)
    return mechanisms, logit_a, sd


def _grade_sd(mechanisms, grades: pd.DataFrame) -> np.ndarray:
    sd = grades.logit_sd
    return np.array([float(sd[m.grade]) for m in mechanisms])


def parameter_draws(model, draws: int, seed: int = 0, grades: pd.DataFrame | None = None,
                    scope: str = "conditions") -> dict[str, np.ndarray]:
    """Likelihoods ``{node: (draws, card)}`` that turn the expanded model into ``draws``
    parameter draws (soft evidence on the mechanism and cause nodes)."""
    mechanisms, acts, priors = _draw(model, draws, seed, grades, scope)
    out = {}
    for m, a_k in zip(mechanisms, acts):
        a = m.activation
        out[m.u] = np.stack([(1.0 - a_k) / (1.0 - a), a_k / a], axis=1)
    out.update(priors)
    return out


def _parameter_slots(model) -> tuple:
    """Where each leak / link parameter of a condition goes in the enumeration's per-row arrays:
    ``[(row, kind, condition position, cause index or None, state index, activation)]``
    (built once per model: reading the parameter table row by row is slow)."""
    cache = model.__dict__.get("_parameter_slots")
    if cache is not None:
        return cache
    engine = model.engine
    enum = engine.enumeration
    params = model.parameters
    act = activations(params)
    position = {engine.variables[k]: j for j, k in enumerate(enum.conditions)}
    slots = []
    for i, r in params[params.node.isin(list(position))].iterrows():
        if r.kind == "leak":
            slots.append((i, "leak", position[r.node], None, None, float(act[i])))
        elif r.kind == "link":
            slots.append((i, "link", position[r.node], engine.index[r.parent],
                          engine.states[r.parent].index(r.parent_state), float(act[i])))
    model.__dict__["_parameter_slots"] = slots
    return slots


def condition_parameters(model, mechanisms, acts) -> dict:
    """Per-row noisy-OR parameters of the conditions for the cause enumeration
    (:meth:`model.enumeration.CauseEnumeration.run`): row 0 the literature values, then one row
    per draw. ``P(condition absent | causes) = (1 - leak) * prod (1 - activation)`` over the
    linked cause states, as the network is built (:mod:`model.network`)."""
    engine = model.engine
    n_k = len(engine.enumeration.conditions)
    n = acts.shape[1] + 1
    drawn = {m.row: j for j, m in enumerate(mechanisms)}
    leak = np.ones((n, n_k))
    inhibitors = {}
    for row, kind, j, cause, state, point in _parameter_slots(model):
        a = np.full(n, point)
        if row in drawn:
            a[1:] = acts[drawn[row]]
        if kind == "leak":
            leak[:, j] = 1.0 - a
        else:
            if cause not in inhibitors:
                inhibitors[cause] = np.ones((n, int(engine.cards[cause]), n_k))
            inhibitors[cause][:, state, j] = 1.0 - a
    return {"leak": leak, "inhibitors": inhibitors}


#: how far the float64 per-row tree's literature row may be from the case's exact posterior
POINT_TOLERANCE = 1e-10


def _on_the_network(model, vectors: dict, draws: int, seed: int, grades, names):
    """All draws of one case in one engine call on the model's own network, the draws as rows
    with their own condition parameters: the cause enumeration when its cost rule takes the
    case, else a junction tree whose condition factors are per-row tables. ``None`` when the
    engine cannot take per-row parameters here (then the expanded network is used)."""
    engine = model.engine
    if engine.enumeration is None:
        return None
    mechanisms, acts, priors = _draw(model, draws, seed, grades, "conditions")
    batch = draws + 1
    lik = engine.likelihoods(vectors, batch)
    for cause, ratio in priors.items():
        i = engine.index[cause]
        scaled = np.vstack([np.ones((1, ratio.shape[1])), ratio])
        lik[i] = lik[i] * scaled if i in lik else scaled
    if not engine.takes_parameters(lik):
        return None
    keep = engine._keep_set(engine._positive_outer(lik))
    enumerate_ = engine.use_enumeration and \
        engine._enumeration_for(lik, batch, keep, with_parameters=True)[0] is not None
    wanted = [engine.index[v] for v in names]
    marg, _ = engine.posterior(lik, batch, wanted,
                               params=condition_parameters(model, mechanisms, acts),
                               enumerate=enumerate_)
    if not enumerate_:
        # the per-row tree runs in float64: its literature row must match the case's own
        # (extended-precision) posterior, else the signed terms of rare positive findings
        # cancelled too much and the expanded network takes the case
        point, _ = engine.posterior({i: a[:1] for i, a in lik.items()}, 1, wanted)
        if any(np.abs(marg[i][0] - point[i][0]).max() > POINT_TOLERANCE for i in wanted):
            return None
    return {engine.variables[i]: m for i, m in marg.items()}


WAYS = ("auto", "expanded")


def posterior_draws(model, answers: dict | None = None, draws: int = 100, seed: int = 0,
                    grades: pd.DataFrame | None = None, scope: str = "conditions",
                    way: str = "auto") -> pd.DataFrame:
    """The posterior of every condition and cause under each parameter draw of one case.

    Returns a DataFrame with one row per draw, row 0 the literature values (the point
    estimate), and one column per node: P(present) of a condition, P(not at its healthy state)
    of a cause. ``way='auto'``: the model's own network with per-row parameters where it can
    (``scope='conditions'``), else the parameter-expanded network; ``'expanded'``: always the
    expanded network (the reference the tests hold the fast way to).
    """
    if getattr(model, "kb", None) is None:
        raise ValueError("intervals need the evidence grades of the knowledge base; this model "
                         "was read from a network file")
    if not isinstance(draws, (int, np.integer)) or not 10 <= draws <= 10000:
        raise ValueError(f"draws must be an integer from 10 to 10000, got {draws!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if way not in WAYS:
        raise ValueError(f"way must be one of {', '.join(WAYS)}, got {way!r}")
    clean, vectors, _ = model._evidence(answers)
    names = model.condition_ids + model.cause_ids
    post = None
    if scope == "conditions" and way == "auto":  # draws as rows on the model's own network
        try:
            post = _on_the_network(model, vectors, draws, seed, grades, names)
        except ValueError:
            raise model._conflict(clean) from None
    if post is None:  # the general way: the parameter-expanded network
        net = expanded(model, scope)
        lik = parameter_draws(model, draws, seed, grades, scope)
        batch = draws + 1  # row 0: the literature values (the point estimate)
        full = {}
        for node, arr in lik.items():
            full[node] = np.vstack([np.ones((1, arr.shape[1])), arr])
        for node, vec in vectors.items():
            full[node] = full[node] * vec[None, :] if node in full else \
                np.broadcast_to(vec, (batch, len(vec)))
        try:
            post = net.posterior(full, batch, names)
        except ValueError:
            raise model._conflict(clean) from None
    causes = set(model.cause_ids)
    return pd.DataFrame({node: 1.0 - post[node][:, 0] if node in causes else post[node][:, -1]
                         for node in names}, index=pd.RangeIndex(draws + 1, name="draw"))


def intervals(model, answers: dict | None = None, draws: int = 100,
              level: float | None = None,
              seed: int = 0, grades: pd.DataFrame | None = None,
              scope: str = "conditions") -> pd.DataFrame:
    """Point posterior and credible interval of every condition and cause for one case.

    Returns a DataFrame indexed by node id with ``kind`` ('condition' | 'cause'), ``point``,
    ``low`` and ``high``. For a cause the probability is P(not at its healthy state | answers),
    as in ``Diagnosis.causes.posterior``. ``scope`` chooses which parameters are uncertain
    (see :func:`expanded`).
    """
    if level is None and getattr(model, "kb", None) is not None:
        level = float(_grades(model).attrs["credible_level"])  # lives in data/grades.yaml
    if level is not None and not 0.5 <= level < 1:
        raise ValueError(f"level must be in [0.5, 1), got {level!r}")
    frame = posterior_draws(model, answers, draws, seed, grades, scope)
    p = frame.to_numpy()
    names = list(frame.columns)
    causes = set(model.cause_ids)
    low, high = np.quantile(p[1:], [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return pd.DataFrame({"kind": ["cause" if node in causes else "condition" for node in names],
                         "point": p[0], "low": low, "high": high},
                        index=pd.Index(names, name="id"))
