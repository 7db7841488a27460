"""Write the network to other tools' formats and read it back.

Formats (chosen by the file suffix):

=========  ====================  ======================================================
suffix     tool                  written by / read by
=========  ====================  ======================================================
.bif       BIF (pgmpy, pyAgrum)  pgmpy BIFWriter / this module (pgmpy's parser takes ~15 s)
.xmlbif    XML-BIF (Weka, ...)   pgmpy XMLBIFWriter / pgmpy XMLBIFReader
.net       Hugin                 this module (pgmpy's writer rounds to 1e-8; its parser
                                 takes minutes, pyAgrum's keeps float32 precision)
.xdsl      GeNIe / SMILE         pgmpy XDSLWriter / pgmpy XDSLReader
=========  ====================  ======================================================

Why the detours: the round trip must reproduce every posterior to 1e-9, so probabilities are
written with 17 significant digits and parsed as doubles, fast enough for ``load_model(path)``.

GeNIe, SMILE and pyAgrum's BIF/DSL writers reject identifiers that start with a digit (our states
``10_to_30``, ``30_to_49`` ...). Such state ids are written with the prefix ``s_`` in every format
and the prefix is removed again on reading, so a model survives the round trip unchanged.
"""
from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

logging.getLogger("pgmpy").setLevel(logging.ERROR)

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork  # noqa: E402

FORMATS = (".bif", ".xmlbif", ".net", ".xdsl")
PREFIX = "s_"


def _allowed(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path.name!r}: the suffix must be one of {', '.join(FORMATS)}")
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
    if suffix == ".net":
        path.write_text(_hugin_text(net), encoding="utf-8")
        return path
    from pgmpy.readwrite import BIFWriter, XDSLWriter, XMLBIFWriter
    writer = {".bif": BIFWriter, ".xmlbif": XMLBIFWriter, ".xdsl": XDSLWriter}[suffix]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # write_* -> write in pgmpy 1.3
        writer(net).write(str(path))
    return path


def read_network(path: str | Path) -> DiscreteBayesianNetwork:
    """Read a network written by :func:`write_network` (or by GeNIe, Hugin, pyAgrum)."""
    path = Path(path)
    suffix = _allowed(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        if suffix in (".bif", ".net"):
            net = (_read_bif if suffix == ".bif" else _read_hugin)(path)
        else:
            from pgmpy.readwrite import XDSLReader, XMLBIFReader
            reader = {".xmlbif": XMLBIFReader, ".xdsl": XDSLReader}[suffix]
            net = reader(str(path)).get_model()
    except ValueError:
        raise
    except Exception as exc:  # parsers raise many types; the user needs the file and the cause
        raise ValueError(f"{path}: cannot read it as {suffix} ({exc})") from None
    net = _renamed(net, original_state)
    net.check_model()
    return net


# ----------------------------------------------------------------------------------------
def _num(x: float) -> str:
    return repr(float(x))


def _hugin_text(net) -> str:
    """Hugin NET: ``data`` nests the parents in order, the child's distribution innermost."""
    lines = ["net", "{", '  name = "leg_pain_after_running";', "}", ""]
    for node in net.nodes():
        states = " ".join(f'"{s}"' for s in net.get_cpds(node).state_names[node])
        lines += [f"node {node}", "{", f'  label = "{node}";', f"  states = ({states});", "}", ""]
    for node in net.nodes():
        cpd = net.get_cpds(node)
        parents = list(cpd.variables[1:])
        values = np.asarray(cpd.values, dtype=float)
        table = np.moveaxis(values, 0, -1)  # (*parents, child)

        def nest(a):
            if a.ndim == 1:
                return "(" + " ".join(_num(x) for x in a) + ")"
            return "(" + " ".join(nest(sub) for sub in a) + ")"

        head = f"potential ({node}" + (" | " + " ".join(parents) if parents else "") + ")"
        lines += [head, "{", f"  data = {nest(table)};", "}", ""]
    return "\n".join(lines)


def _build(states: dict, tables: dict, parents: dict) -> DiscreteBayesianNetwork:
    """A pgmpy network from ``{node: states}``, ``{node: (*parents, child) array}``, parents."""
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
    missing = set(states) - set(tables)
    if missing:
        raise ValueError(f"no probability table for {sorted(missing)}")
    net.add_cpds(*cpds)
    return net


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _read_hugin(path: Path) -> DiscreteBayesianNetwork:
    """Hugin NET: node blocks with ``states = ("a" "b")`` and potentials with nested ``data``."""
    text = path.read_text(encoding="utf-8")
    states, tables, parents = {}, {}, {}
    for m in re.finditer(r"\bnode\s+(\w+)\s*\{(.*?)\}", text, re.S):
        st = re.search(r"states\s*=\s*\((.*?)\)\s*;", m.group(2), re.S)
        if st is None:
            raise ValueError(f"node {m.group(1)} has no states")
        states[m.group(1)] = re.findall(r'"([^"]*)"', st.group(1))
    for m in re.finditer(r"\bpotential\s*\(\s*(\w+)\s*(?:\|([^)]*))?\)\s*\{(.*?)\}", text, re.S):
        node, ps = m.group(1), (m.group(2) or "").split()
        data = re.search(r"data\s*=\s*(.*?);", m.group(3), re.S)
        shape = [len(states[p]) for p in ps] + [len(states[node])]
        nums = [float(x) for x in _NUMBER.findall(data.group(1))]
        if len(nums) != int(np.prod(shape)):
            raise ValueError(f"potential of {node}: {len(nums)} numbers, expected {np.prod(shape)}")
        tables[node], parents[node] = np.array(nums).reshape(shape), ps
    return _build(states, tables, parents)


def _read_bif(path: Path) -> DiscreteBayesianNetwork:
    """BIF as pgmpy writes it: ``table`` rows or one ``( parent states ) p, q;`` row each."""
    text = path.read_text(encoding="utf-8")
    states, tables, parents = {}, {}, {}
    for m in re.finditer(r"\bvariable\s+(\S+)\s*\{.*?\{(.*?)\}\s*;", text, re.S):
        states[m.group(1)] = [s.strip() for s in m.group(2).split(",")]
    for m in re.finditer(r"\bprobability\s*\(\s*(\S+)\s*(?:\|([^)]*))?\)\s*\{(.*?)\}",
                         text, re.S):
        node = m.group(1)
        ps = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
        shape = [len(states[p]) for p in ps] + [len(states[node])]
        table = np.full(shape, np.nan)
        body = m.group(3)
        t = re.search(r"\btable\b(.*?);", body, re.S)
        if t:
            table = np.array([float(x) for x in _NUMBER.findall(t.group(1))])
            if not ps:
                table = table.reshape(shape)
            else:  # BIF "table" lists the child state slowest
                table = np.moveaxis(table.reshape([shape[-1]] + shape[:-1]), 0, -1)
        for row in re.finditer(r"\(([^)]*)\)\s*([^;]*);", body):
            idx = tuple(states[p].index(s.strip()) for p, s in zip(ps, row.group(1).split(",")))
            table[idx] = [float(x) for x in _NUMBER.findall(row.group(2))]
        if np.isnan(table).any():
            raise ValueError(f"probability of {node} does not give every parent combination")
        tables[node], parents[node] = table, ps
    return _build(states, tables, parents)


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
