"""The parameter-expanded network: every uncertain noisy-OR parameter becomes a root node.

A noisy-OR link "cause X in state s raises Y" with activation probability ``a`` is equivalent to
two extra nodes (Diez & Druzdzel 2006, the "causal independence" decomposition):

* ``U`` (root, binary): the link's mechanism works in this runner, ``P(U = 1) = a``;
* ``W = AND(X == s, U)`` (binary): the link fires;

and ``Y = OR(W_1, ..., W_k, U_leak)``, where ``U_leak`` (root, ``P = leak``) is the leak. Structural
parts (the tissue groups' OR into leg pain, leak 0) stay as they are. Marginalising ``U`` and ``W``
gives back the original CPTs (to ``EPS``, below), so every posterior is the same.

Why: in this form a parameter is a *root prior*, and a root prior can be changed per case by soft
evidence: a draw ``a'`` of the parameter is the likelihood ``[(1 - a') / (1 - a), a' / a]`` on
``U``; a draw ``p'`` of a cause's prior is the likelihood ``p' / p`` on the cause. So the engine
answers many parameter draws for one case in *one batched call*, without recompiling
(:mod:`model.uncertainty`), and the EM statistics of a noisy-OR link are two single-node
marginals, ``P(W = 1 | case)`` and ``P(X = s | case)`` (:mod:`model.learning`; Vomlel 2006).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logging.getLogger("pgmpy").setLevel(logging.ERROR)

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork  # noqa: E402

from .engine import Engine  # noqa: E402
from .knowledge import BINARY_STATES  # noqa: E402

# The AND / OR of the mechanisms are written with EPS instead of exact 0 and 1: the engine treats
# every CPT containing a zero as a hard constraint and checks them all jointly per call, which does
# not scale to hundreds of mechanism nodes. The effect on any posterior is of order EPS (1e-14),
# far below the 1e-9 the tests require.
EPS = 1e-14


@dataclass(frozen=True)
class Mechanism:
    """One uncertain noisy-OR parameter: a link (``parent`` given) or a leak."""
    row: int             # index in Model.parameters
    node: str
    parent: str | None
    parent_state: str | None
    activation: float    # P(U = 1): link activation 1 - (1 - p) / (1 - leak), or the leak
    grade: str
    u: str               # name of the U node
    w: str | None        # name of the W node (links only)


def activations(parameters: pd.DataFrame) -> pd.Series:
    """Activation probability of every leak / link row (NaN for priors)."""
    leak = parameters[parameters.kind == "leak"].set_index("node")["probability"]
    out = pd.Series(np.nan, index=parameters.index)
    for i, r in parameters.iterrows():
        if r.kind == "leak":
            out[i] = r.probability
        elif r.kind == "link":
            out[i] = 1.0 - (1.0 - r.probability) / (1.0 - leak[r.node])
    return out


def probability_from_activation(activation: float, leak: float) -> float:
    """Inverse of :func:`activations` for a link: P(child | this parent state alone)."""
    return 1.0 - (1.0 - leak) * (1.0 - activation)


def mechanism_list(model, nodes: list[str] | None = None) -> list[Mechanism]:
    """The uncertain parameters of ``nodes`` (default: every noisy-OR node), in the order
    :class:`ExpandedNetwork` creates them (so seeded draws agree between the two uses)."""
    params = model.parameters
    act = activations(params)
    noisy = sorted(set(params.loc[params.kind.isin(["leak", "link"]), "node"]))
    if nodes is not None:
        noisy = [n for n in noisy if n in set(nodes)]
    out = []
    for node in noisy:
        for i, r in params[params.node == node].iterrows():
            if r.grade == "structural" or act[i] in (0.0, 1.0):
                continue
            a = float(act[i])
            if r.kind == "leak":
                out.append(Mechanism(i, node, None, None, a, r.grade, f"u__{node}__leak", None))
            else:
                out.append(Mechanism(i, node, r.parent, r.parent_state, a, r.grade,
                                     f"u__{node}__{r.parent}__{r.parent_state}",
                                     f"w__{node}__{r.parent}__{r.parent_state}"))
    return out


class ExpandedNetwork:
    """The parameter-expanded network of a :class:`~model.api.Model`, with its own engine."""

    def __init__(self, model, nodes: list[str] | None = None):
        """``nodes``: the noisy-OR nodes whose parameters are expanded (default: all)."""
        params = model.parameters
        act = activations(params)
        states = dict(model.kb.states)
        base = model.network
        self.mechanisms: list[Mechanism] = []
        edges, cpds = [], []
        noisy = sorted(set(params.loc[params.kind.isin(["leak", "link"]), "node"]))
        if nodes is not None:
            noisy = [n for n in noisy if n in set(nodes)]
        for node in base.nodes():
            if node not in noisy:
                cpd = base.get_cpds(node)
                cpds.append(cpd.copy())
                edges += [(p, node) for p in cpd.variables[1:]]
        for node in noisy:
            rows = params[params.node == node]
            parents, inhibitors = [], []
            leak = 0.0
            for i, r in rows.iterrows():
                structural = r.grade == "structural" or act[i] in (0.0, 1.0)
                if r.kind == "leak" and structural:
                    leak = float(r.probability)
                    continue
                u = f"u__{node}__" + ("leak" if r.kind == "leak" else f"{r.parent}__{r.parent_state}")
                if r.kind == "link" and structural:  # a deterministic OR input stays direct
                    q = np.ones(len(states[r.parent]))
                    q[states[r.parent].index(r.parent_state)] = 1.0 - act[i]
                    parents.append(r.parent)
                    inhibitors.append(q)
                    continue
                a = float(act[i])
                cpds.append(TabularCPD(u, 2, [[1.0 - a], [a]], state_names={u: list(BINARY_STATES)}))
                if r.kind == "leak":
                    self.mechanisms.append(Mechanism(i, node, None, None, a, r.grade, u, None))
                    parents.append(u)
                    inhibitors.append(np.array([1.0, EPS]))
                    continue
                w = f"w__{node}__{r.parent}__{r.parent_state}"
                card = len(states[r.parent])
                on = np.full((card, 2), EPS)
                on[states[r.parent].index(r.parent_state), 1] = 1.0 - EPS
                cpds.append(TabularCPD(w, 2, np.stack([1.0 - on.ravel(), on.ravel()]),
                                       evidence=[r.parent, u], evidence_card=[card, 2],
                                       state_names={w: list(BINARY_STATES),
                                                    r.parent: list(states[r.parent]),
                                                    u: list(BINARY_STATES)}))
                edges += [(r.parent, w), (u, w)]
                self.mechanisms.append(Mechanism(i, node, r.parent, r.parent_state, a, r.grade, u, w))
                parents.append(w)
                inhibitors.append(np.array([1.0, EPS]))
                states[u] = states[w] = BINARY_STATES
            states.setdefault(node, BINARY_STATES)
            off = (1.0 - max(leak, EPS)) * _outer(inhibitors)
            cards = [len(states[p]) if p in states else 2 for p in parents]
            cpds.append(TabularCPD(node, 2, np.stack([off, 1.0 - off]).reshape(2, -1),
                                   evidence=parents or None, evidence_card=cards or None,
                                   state_names={node: list(BINARY_STATES),
                                                **{p: list(states.get(p, BINARY_STATES))
                                                   for p in parents}}))
            edges += [(p, node) for p in parents]
        for m in self.mechanisms:
            states[m.u] = BINARY_STATES
            if m.w:
                states[m.w] = BINARY_STATES
        net = DiscreteBayesianNetwork(edges)
        net.add_nodes_from([c.variable for c in cpds])
        net.add_cpds(*cpds)
        self.network = net
        self.engine = Engine(net)
        self.states = states

    def posterior(self, likelihoods: dict[str, np.ndarray], batch: int,
                  variables: list[str]) -> dict[str, np.ndarray]:
        """Marginals ``{variable: (batch, card)}`` for likelihoods ``{node: (batch, card)}``."""
        lik = {self.engine.index[k]: np.broadcast_to(np.asarray(v, dtype=float),
                                                     (batch, len(self.states[k])))
               for k, v in likelihoods.items()}
        idx = [self.engine.index[v] for v in variables]
        marg, _ = self.engine.posterior(lik, batch, idx)
        return {self.engine.variables[i]: m for i, m in marg.items()}


def _outer(vectors) -> np.ndarray:
    out = np.array(1.0)
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out
