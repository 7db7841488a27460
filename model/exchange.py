"""Write the network to other tools' formats and read it back.

Formats (chosen by the file suffix):

=========  =======================  ==================================================
suffix     opened by                written / read here by
=========  =======================  ==================================================
.bif       pgmpy, pyAgrum, bnlearn  pgmpy BIFWriter / :mod:`model.bif`
.xmlbif    Weka, pgmpy, pyAgrum*    :mod:`model.xmlnet` (no empty PROPERTY elements)
.net       Hugin, pyAgrum, SamIam   :mod:`model.hugin` (17 significant digits)
.xdsl      GeNIe, SMILE, pyAgrum    :mod:`model.xmlnet` (parents first, nodes placed by layer)
=========  =======================  ==================================================

(*) pyAgrum reads XML-BIF under the suffix ``.bifxml``.

The round trip must reproduce every posterior to 1e-9, so probabilities are written with 17
significant digits (``repr``) and parsed as doubles. The readers are tokenizers that take time
linear in the file and refuse tables above a size cap before allocating them; every error
names the file and the line (or node).

GeNIe, SMILE and pyAgrum's BIF/DSL writers reject identifiers that start with a digit (our states
``10_to_30``, ``30_to_49`` ...). Such state ids are written with the prefix ``s_`` in every format
and the prefix is removed again on reading, so a model survives the round trip unchanged.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

logging.getLogger("pgmpy").setLevel(logging.ERROR)

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork  # noqa: E402

from .bif import read_bif  # noqa: E402
from .hugin import hugin_text, read_hugin  # noqa: E402
from .xmlnet import read_xdsl, read_xmlbif, xdsl_text, xmlbif_text  # noqa: E402

FORMATS = (".bif", ".xmlbif", ".net", ".xdsl")
PREFIX = "s_"
# what other tools write that we do not read, and what to do instead
OTHER_FORMATS = {
    ".dsl": "GeNIe's older text format: open it in GeNIe and save as .xdsl",
    ".uai": "UAI: convert it with pyAgrum (gum.saveBN(gum.loadBN(path), 'x.bif'))",
    ".dne": "Netica: export it from Netica as .net (Hugin) or convert with pyAgrum",
    ".bifxml": "XML-BIF: rename it to .xmlbif",
    ".xml": "if it is XML-BIF, rename it to .xmlbif; if XDSL, to .xdsl",
    ".o3prm": "pyAgrum's O3PRM: convert with gum.saveBN(gum.loadBN(path), 'x.bif')",
    ".hugin": "Hugin: rename it to .net",
}


def _allowed(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        hint = OTHER_FORMATS.get(suffix)
        raise ValueError(f"{path.name!r}: unsupported network format {suffix or '(no suffix)'!r}"
                         f"; supported: {', '.join(FORMATS)}" + (f" ({hint})" if hint else ""))
    return suffix


def safe_state(state: str) -> str:
    """A state id every tool accepts: ``10_to_30`` -> ``s_10_to_30``."""
    return PREFIX + state if state[:1].isdigit() else state


def original_state(state: str) -> str:
    """Undo :func:`safe_state`."""
    if state.startswith(PREFIX) and state[len(PREFIX):][:1].isdigit():
        return state[len(PREFIX):]
    return state


def _renamed(network, rename) -> DiscreteBayesianNetwork:
    """A copy of ``network`` whose state names went through ``rename``."""
    net = DiscreteBayesianNetwork(network.edges())
    net.add_nodes_from(network.nodes())
    cpds = []
    for node in network.nodes():
        cpd = network.get_cpds(node)
        names = {v: [rename(s) for s in cpd.state_names[v]] for v in cpd.variables}
        parents = list(cpd.variables[1:])
        cpds.append(TabularCPD(node, cpd.variable_card,
                               np.asarray(cpd.values, dtype=float).reshape(cpd.variable_card, -1),
                               evidence=parents or None,
                               evidence_card=[len(names[p]) for p in parents] or None,
                               state_names=names))
    net.add_cpds(*cpds)
    return net


# ----------------------------------------------------------------------------------------
def write_network(network, path: str | Path) -> Path:
    """Write ``network`` in the format of ``path``'s suffix; return the path."""
    path = Path(path)
    suffix = _allowed(path)
    net = _renamed(network, safe_state)
    if suffix == ".bif":
        from pgmpy.readwrite import BIFWriter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # write_* -> write in pgmpy 1.3
            BIFWriter(net).write(str(path))
        return path
    text = {".net": hugin_text, ".xdsl": xdsl_text, ".xmlbif": xmlbif_text}[suffix](net)
    path.write_text(text, encoding="utf-8")
    return path


_READERS = {".bif": read_bif, ".net": read_hugin, ".xdsl": read_xdsl, ".xmlbif": read_xmlbif}


def read_network(path: str | Path) -> DiscreteBayesianNetwork:
    """Read a network written by :func:`write_network` (or by GeNIe, Hugin, pyAgrum)."""
    path = Path(path)
    suffix = _allowed(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    states, tables, parents = _READERS[suffix](path)
    net = _build(path, states, tables, parents)
    return _renamed(net, original_state)


def _build(path: Path, states: dict, tables: dict, parents: dict) -> DiscreteBayesianNetwork:
    """A pgmpy network from ``{node: states}``, ``{node: (*parents, child) array}``, parents."""
    if not states:
        raise ValueError(f"{path}: no variables: not a network file")
    missing = [n for n in states if n not in tables]
    if missing:
        raise ValueError(f"{path}: no probability table for {missing[:5]}")
    for node, table in tables.items():
        sums = table.sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
            worst = np.unravel_index(np.argmax(np.abs(sums - 1)), sums.shape)
            given = ", ".join(f"{p}={states[p][i]}" for p, i in zip(parents[node], worst))
            raise ValueError(f"{path}: the probabilities of {node!r}"
                             f"{' given ' + given if given else ''} sum to "
                             f"{sums[worst]:.6g}, not 1")
    net = DiscreteBayesianNetwork([(p, n) for n in states for p in parents[n]])
    net.add_nodes_from(states)
    cpds = []
    for node, table in tables.items():
        ps = parents[node]
        card = len(states[node])
        values = np.moveaxis(np.asarray(table, dtype=float), -1, 0).reshape(card, -1)
        cpds.append(TabularCPD(node, card, values, evidence=ps or None,
                               evidence_card=[len(states[p]) for p in ps] or None,
                               state_names={v: list(states[v]) for v in [node] + ps}))
    net.add_cpds(*cpds)
    try:
        net.check_model()
    except ValueError as exc:  # a cycle, or another structural problem
        raise ValueError(f"{path}: not a valid Bayesian network ({exc})") from None
    return net


# ----------------------------------------------------------------------------------------
_NEEDS_KB = ("diagnose", "diagnose_many", "next_questions", "what_if", "what_would_help",
             "fit", "intervals", "sample_cases", "questions", "attribution")


class NetworkModel:
    """A model read from a network file (``load_model("model.xdsl")``): no knowledge base.

    It supports :meth:`infer` (evidence on the network's own variables and states),
    :meth:`export` and :meth:`evaluate` (columns = network variables holding state names, plus
    ``true_conditions``). The intake questions, triage, advice, fitting and intervals need the
    knowledge base; calling them raises ``ValueError`` saying so.
    """
    kb = None

    def __init__(self, network, condition_ids: list[str] | None = None, source: str = ""):
        from .engine import Engine
        self.network = network
        self.engine = Engine(network)
        self.source = source
        if condition_ids is None:  # the shipped model's conditions, if this is that network
            from .knowledge import load_knowledge
            condition_ids = [c.id for c in load_knowledge().conditions]
        self.condition_ids = [c for c in condition_ids if c in self.engine.index]

    @classmethod
    def from_file(cls, path, condition_ids: list[str] | None = None) -> "NetworkModel":
        return cls(read_network(path), condition_ids, source=str(path))

    def __repr__(self) -> str:
        return (f"<NetworkModel from {self.source or 'a network'}: "
                f"{len(self.engine.variables)} variables, no knowledge base>")

    def __getattr__(self, name):
        if name in _NEEDS_KB:
            raise ValueError(f"{name} needs the knowledge base (questions, triage rules, "
                             "evidence grades); this model was read from a network file. Use "
                             "load_model() or load_model(<data directory>), or call infer() "
                             "with evidence on the network's variables")
        raise AttributeError(name)

    def infer(self, evidence: dict | None = None) -> dict[str, np.ndarray]:
        """``{variable: state}`` -> ``{variable: marginals}`` (see ``Model.infer``)."""
        from .engine import ImpossibleEvidence
        try:
            return self.engine.infer(evidence or {})
        except ImpossibleEvidence:
            raise ValueError(f"the evidence {evidence} has probability zero under the model") \
                from None

    def export(self, path) -> Path:
        return write_network(self.network, path)

    def predict_states(self, frame) -> "pd.DataFrame":
        """``p_<condition>`` for rows of node states (NaN = unknown)."""
        unknown = [c for c in frame.columns if c not in self.engine.index]
        if unknown:
            raise ValueError(f"unknown variable column(s) {unknown}; this model's variables "
                             f"are its network nodes, e.g. {self.engine.variables[:3]}")
        lik = {}
        for col in frame.columns:
            states = self.engine.states[col]
            vals = frame[col].to_numpy(dtype=object)
            arr = np.ones((len(frame), len(states)))
            for i, v in enumerate(vals):
                if isinstance(v, str):
                    if v not in states:
                        raise ValueError(f"row {frame.index[i]!r}: {v!r} is not a state of "
                                         f"{col}; states: {', '.join(states)}")
                    arr[i] = 0.0
                    arr[i, states.index(v)] = 1.0
            lik[col] = arr
        marg, _ = self.engine.infer_batch(lik, self.condition_ids) if lik else \
            ({c: np.tile(self.engine.infer({})[c], (len(frame), 1)) for c in self.condition_ids},
             None)
        return pd.DataFrame({f"p_{c}": marg[c][:, 1] for c in self.condition_ids},
                            index=frame.index)

    def evaluate(self, frame, bins: int = 10):
        if not self.condition_ids:
            raise ValueError("this network has no condition variables to evaluate; pass "
                             "condition_ids to NetworkModel.from_file")
        from .evaluation import evaluate
        return evaluate(self, frame, bins=bins)
