"""Build the pgmpy network from the knowledge base.

Every conditional probability table is a noisy-OR generated from parameters in ``data/``:

* cause -> condition: the condition's base rate is the leak (everyone at the healthy state) and each
  exposed cause state contributes an inhibitor ``q = (1 - p_exposed) / (1 - p0)``, where
  ``p_exposed`` comes from the published odds ratio / relative risk (data/README.md,
  "How an odds ratio becomes a probability");
* condition -> finding: ``q = (1 - p) / (1 - leak)`` with ``p = P(finding | condition alone)``;
* condition -> tissue group -> leg pain: each condition's ``pain_link`` is its chance of causing
  pain after running; the group node is the noisy-OR of its conditions and leg pain is the
  deterministic OR of the groups plus a leak for pain from causes outside the model.

:func:`parameter_table` lists every parameter with its source and grade; :func:`noisy_or_table`
rebuilds a CPT from those rows, which is how the tests prove that each CPT traces back to data.
"""
from __future__ import annotations

import logging
from functools import reduce

import numpy as np
import pandas as pd

from .knowledge import BINARY_STATES, Knowledge

logging.getLogger("pgmpy").setLevel(logging.ERROR)

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork  # noqa: E402

STRUCTURAL = "structural: deterministic OR (no medical number)"


def parameter_table(kb: Knowledge) -> pd.DataFrame:
    """One row per parameter behind the network's CPTs.

    Columns: ``node, kind, parent, parent_state, reference, value, probability, source, grade``.
    ``kind`` is ``prior`` (a root's distribution), ``leak`` (the child's probability when every
    parent is at its reference state) or ``link`` (P(child | this parent state alone)).
    """
    rows = []

    def add(node, kind, parent, parent_state, reference, value, probability, source, grade):
        rows.append(dict(node=node, kind=kind, parent=parent, parent_state=parent_state,
                         reference=reference, value=value, probability=probability,
                         source=source, grade=grade))

    for cause in kb.causes:
        if cause.depends_on is None:
            for state, p in cause.prior.items():
                add(cause.id, "prior", None, state, None, p, p, cause.source, cause.grade)
        else:
            for pstate, dist in cause.prior.items():
                for state, p in dist.items():
                    add(cause.id, "prior", cause.depends_on, pstate, state, p, p,
                        cause.source, cause.grade)
    for cond in kb.conditions:
        add(cond.id, "leak", None, None, None, cond.base_rate, cond.base_rate,
            cond.base_rate_source, cond.base_rate_grade)
        for link in cond.links:
            add(cond.id, "link", link.cause, link.state, link.reference, link.value,
                link.exposed_probability(cond.base_rate), link.source, link.grade)
        add(cond.group, "link", cond.id, "present", "absent", cond.pain_link, cond.pain_link,
            cond.pain_link_source, cond.pain_link_grade)
    for finding in kb.findings:
        add(finding.id, "leak", None, None, None, finding.leak, finding.leak,
            finding.leak_source, finding.leak_grade)
        for link in finding.links:
            add(finding.id, "link", link.condition, "present", "absent", link.p, link.p,
                link.source, link.grade)
    for group in kb.pain.groups:
        add(group.id, "leak", None, None, None, 0.0, 0.0, STRUCTURAL, "structural")
        add("leg_pain", "link", group.id, "present", "absent", 1.0, 1.0, STRUCTURAL, "structural")
    add("leg_pain", "leak", None, None, None, kb.pain.leak, kb.pain.leak, kb.pain.source,
        kb.pain.grade)
    return pd.DataFrame(rows)


def parents_of(kb: Knowledge) -> dict[str, list[str]]:
    """Parents of every node, in a fixed order (the order of the knowledge files)."""
    cause_order = [c.id for c in kb.causes]
    parents: dict[str, list[str]] = {}
    for cause in kb.causes:
        parents[cause.id] = [cause.depends_on] if cause.depends_on else []
    for cond in kb.conditions:
        linked = {link.cause for link in cond.links}
        parents[cond.id] = [c for c in cause_order if c in linked]
    cond_order = [c.id for c in kb.conditions]
    for finding in kb.findings:
        linked = {link.condition for link in finding.links}
        parents[finding.id] = [c for c in cond_order if c in linked]
    for group in kb.pain.groups:
        parents[group.id] = [c.id for c in kb.conditions if c.group == group.id]
    parents["leg_pain"] = [g.id for g in kb.pain.groups]
    return parents


def noisy_or_table(rows: pd.DataFrame, node: str, parents: list[str],
                   states: dict[str, tuple[str, ...]]) -> np.ndarray:
    """CPT values, shape (2, *parent cards), of ``node`` rebuilt from its parameter rows."""
    leak = float(rows.loc[(rows.node == node) & (rows.kind == "leak"), "probability"].iloc[0])
    inhibitors = []
    for parent in parents:
        q = np.ones(len(states[parent]))
        links = rows[(rows.node == node) & (rows.kind == "link") & (rows.parent == parent)]
        for _, link in links.iterrows():
            q[states[parent].index(link.parent_state)] = (1.0 - link.probability) / (1.0 - leak)
        inhibitors.append(q)
    p_absent = (1.0 - leak) * reduce(np.multiply.outer, inhibitors, np.array(1.0))
    return np.stack([p_absent, 1.0 - p_absent])


def build_network(kb: Knowledge, rows: pd.DataFrame | None = None) -> DiscreteBayesianNetwork:
    """The pgmpy ``DiscreteBayesianNetwork`` of the knowledge base; ``check_model()`` passes."""
    rows = parameter_table(kb) if rows is None else rows
    parents = parents_of(kb)
    states = kb.states
    edges = [(p, child) for child, ps in parents.items() for p in ps]
    net = DiscreteBayesianNetwork(edges)
    net.add_nodes_from(states)  # roots without children stay in the model
    cpds = []
    for cause in kb.causes:
        if cause.depends_on is None:
            values = np.array([[cause.prior[s]] for s in cause.state_ids])
            cpds.append(TabularCPD(cause.id, len(cause.states), values,
                                   state_names={cause.id: list(cause.state_ids)}))
        else:
            parent = kb.cause(cause.depends_on)
            values = np.array([[cause.prior[ps][s] for ps in parent.state_ids]
                               for s in cause.state_ids])
            cpds.append(TabularCPD(cause.id, len(cause.states), values,
                                   evidence=[parent.id], evidence_card=[len(parent.states)],
                                   state_names={cause.id: list(cause.state_ids),
                                                parent.id: list(parent.state_ids)}))
    noisy = [c.id for c in kb.conditions] + [f.id for f in kb.findings] + \
        [g.id for g in kb.pain.groups] + ["leg_pain"]
    for node in noisy:
        ps = parents[node]
        table = noisy_or_table(rows, node, ps, states)
        cpds.append(TabularCPD(
            node, 2, table.reshape(2, -1), evidence=ps or None,
            evidence_card=[len(states[p]) for p in ps] or None,
            state_names={node: list(BINARY_STATES), **{p: list(states[p]) for p in ps}}))
    net.add_cpds(*cpds)
    net.check_model()
    return net
