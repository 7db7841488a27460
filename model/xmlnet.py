"""GeNIe XDSL and XML-BIF: writers and readers (xml.etree, no pgmpy detour).

* XDSL is written with the nodes in topological order (SMILE requires parents first), placed by
  layer (roots on top, each layer a row), and a header that names this package as the writer.
  Reading accepts ``cpt`` and ``noisymax`` nodes (GeNIe's noisy-MAX, expanded into its table).
* XML-BIF is written without empty ``PROPERTY`` elements (Weka's reader fails on them) and
  without the DTD: pyAgrum's reader (TinyXML) cannot read a file that carries one, and Weka
  loads the file without it (its validating parser prints two "no grammar found" lines).

Files declaring entities are refused (entity expansion can blow up memory); errors name the
file and the line (XML syntax) or the node (content).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import networkx as nx
import numpy as np

from .textnet import MAX_STATES, MAX_TABLE, read_text

WRITER = "leg-pain-model (model.exchange)"


def _layers(net) -> list[list[str]]:
    """Nodes by depth (longest path from a root), each layer in file order."""
    graph = nx.DiGraph(net.edges())
    graph.add_nodes_from(net.nodes())
    order = {n: i for i, n in enumerate(net.nodes())}
    depth = {}
    for node in nx.topological_sort(graph):
        depth[node] = max((depth[p] + 1 for p in graph.predecessors(node)), default=0)
    layers = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in sorted(depth, key=order.get):
        layers[depth[node]].append(node)
    return layers


def _numbers(values) -> str:
    return " ".join(repr(float(x)) for x in values)


def xdsl_text(net, name: str = "leg_pain_after_running") -> str:
    """GeNIe XDSL: ``cpt`` nodes in topological order, child states fastest in the table."""
    layers = _layers(net)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f"<!-- written by {WRITER}; not saved by GeNIe -->",
             f'<smile version="1.0" id="{escape(name)}" numsamples="10000" discsamples="10000">',
             "  <nodes>"]
    for node in (n for layer in layers for n in layer):
        cpd = net.get_cpds(node)
        parents = list(cpd.variables[1:])
        lines.append(f'    <cpt id="{escape(node)}">')
        lines += [f'      <state id="{escape(s)}" />' for s in cpd.state_names[node]]
        if parents:
            lines.append(f"      <parents>{' '.join(map(escape, parents))}</parents>")
        table = np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1)  # (*parents, child)
        lines.append(f"      <probabilities>{_numbers(table.ravel())}</probabilities>")
        lines.append("    </cpt>")
    lines += ["  </nodes>", "  <extensions>",
              f'    <genie version="1.0" app="{WRITER}" name="{escape(name)}">']
    width, height, gap_x, gap_y = 150, 40, 30, 90
    for row, layer in enumerate(layers):
        for col, node in enumerate(layer):
            left, top = 20 + col * (width + gap_x), 20 + row * (height + gap_y)
            lines += [f'      <node id="{escape(node)}">', f"        <name>{escape(node)}</name>",
                      '        <interior color="e5f6f7" />', '        <outline color="000080" />',
                      '        <font color="000000" name="Arial" size="8" />',
                      f"        <position>{left} {top} {left + width} {top + height}</position>",
                      "      </node>"]
    lines += ["    </genie>", "  </extensions>", "</smile>", ""]
    return "\n".join(lines)


def xmlbif_text(net, name: str = "leg_pain_after_running") -> str:
    """XML-BIF 0.3 (Weka, pgmpy, pyAgrum's .bifxml); only non-empty properties."""
    layers = _layers(net)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f"<!-- written by {WRITER} -->", '<BIF VERSION="0.3">', "<NETWORK>",
             f"<NAME>{escape(name)}</NAME>"]
    for row, layer in enumerate(layers):
        for col, node in enumerate(layer):
            lines += ['<VARIABLE TYPE="nature">', f"  <NAME>{escape(node)}</NAME>"]
            lines += [f"  <OUTCOME>{escape(s)}</OUTCOME>"
                      for s in net.get_cpds(node).state_names[node]]
            lines += [f"  <PROPERTY>position = ({40 + 180 * col}, {40 + 130 * row})</PROPERTY>",
                      "</VARIABLE>"]
    for node in (n for layer in layers for n in layer):
        cpd = net.get_cpds(node)
        table = np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1)
        lines += ["<DEFINITION>", f"  <FOR>{escape(node)}</FOR>"]
        lines += [f"  <GIVEN>{escape(p)}</GIVEN>" for p in cpd.variables[1:]]
        lines += [f"  <TABLE>{_numbers(table.ravel())}</TABLE>", "</DEFINITION>"]
    lines += ["</NETWORK>", "</BIF>", ""]
    return "\n".join(lines)


# ---- reading --------------------------------------------------------------------------------
def _parse(path: Path) -> ET.Element:
    text = read_text(path)
    if "<!entity" in text.lower():
        line = text[:text.lower().index("<!entity")].count("\n") + 1
        raise ValueError(f"{path}:{line}: an ENTITY declaration: not supported (entity "
                         "expansion can exhaust memory); network files do not need one")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else "?"
        raise ValueError(f"{path}:{line}: not well-formed XML ({exc})") from None


def _floats(path, node, text) -> np.ndarray:
    try:
        values = np.array((text or "").split(), dtype=float)
    except ValueError:
        raise ValueError(f"{path}: node {node!r}: the table has an entry that is not a "
                         "number") from None
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{path}: node {node!r}: probabilities must be finite and >= 0")
    return values


def _checked_states(path, node, states) -> list[str]:
    if not states or len(states) > MAX_STATES or len(set(states)) != len(states):
        raise ValueError(f"{path}: node {node!r}: needs 1 to {MAX_STATES} distinct states, got "
                         f"{len(states)}" + (" (one repeated)" if states else ""))
    return states


def _shape(path, node, parents, states) -> list[int]:
    missing = [p for p in parents if p not in states]
    if missing:
        raise ValueError(f"{path}: node {node!r}: parent(s) {missing} are not defined before it")
    shape = [len(states[p]) for p in parents] + [len(states[node])]
    if int(np.prod(shape, dtype=object)) > MAX_TABLE:
        raise ValueError(f"{path}: node {node!r}: a table of {np.prod(shape, dtype=object):,} "
                         f"entries (more than {MAX_TABLE:,})")
    return shape


def read_xdsl(path: Path):
    """``(states, tables, parents)`` of a GeNIe XDSL file (``cpt`` and ``noisymax`` nodes)."""
    root = _parse(path)
    nodes = root.find("nodes")
    if root.tag != "smile" or nodes is None:
        raise ValueError(f"{path}: not a GeNIe XDSL file (no <smile><nodes>)")
    states, tables, parents = {}, {}, {}
    for element in nodes:
        node = element.get("id")
        if element.tag not in ("cpt", "noisymax"):
            raise ValueError(f"{path}: node {node!r}: <{element.tag}> nodes are not supported "
                             "(chance nodes: cpt and noisymax)")
        if not node or node in states:
            raise ValueError(f"{path}: a node without an id, or {node!r} defined twice")
        states[node] = _checked_states(path, node, [s.get("id") for s in element.findall("state")])
        ps = (element.findtext("parents") or "").split()
        shape = _shape(path, node, ps, states)
        if element.tag == "cpt":
            values = _floats(path, node, element.findtext("probabilities"))
            if values.size != int(np.prod(shape)):
                raise ValueError(f"{path}: node {node!r}: {values.size} probabilities, expected "
                                 f"{int(np.prod(shape))}")
            tables[node] = values.reshape(shape)
        else:
            tables[node] = _noisy_max(path, node, element, ps, states)
        parents[node] = ps
    return states, tables, parents


def _noisy_max(path, node, element, ps, states) -> np.ndarray:
    """GeNIe's noisy-MAX as a full table ``(*parents, child)``.

    SMILE's layout: child states from the highest to the distinguished (absent) state, last;
    ``strengths`` orders each parent's states from strongest to the distinguished one;
    ``parameters`` gives, per parent and per position in that order, a distribution over the
    child's states, then the leak. P(child <= k | parents) = leak(<= k) x prod_i
    P_i(<= k | x_i), with "<= k" meaning "state k or a lower (later) one".
    """
    n = len(states[node])
    cards = [len(states[p]) for p in ps]
    strengths = np.array((element.findtext("strengths") or "").split(), dtype=int) \
        if element.findtext("strengths") else np.concatenate([np.arange(c) for c in cards]
                                                             ).astype(int)
    values = _floats(path, node, element.findtext("parameters"))
    if values.size != n * (sum(cards) + 1) or strengths.size != sum(cards):
        raise ValueError(f"{path}: noisy-MAX node {node!r}: expected {n * (sum(cards) + 1)} "
                         f"parameters and {sum(cards)} strengths, got {values.size} and "
                         f"{strengths.size}")
    blocks = values.reshape(-1, n)
    if not np.allclose(blocks.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"{path}: noisy-MAX node {node!r}: each parameter block must sum to 1")
    # cumulative from the distinguished state upwards: F[k] = P(state index >= k)
    cum = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    table = np.broadcast_to(cum[-1], cards + [n]).copy()
    start = 0
    for axis, card in enumerate(cards):
        order = strengths[start:start + card]
        if sorted(order.tolist()) != list(range(card)):
            raise ValueError(f"{path}: noisy-MAX node {node!r}: strengths of {ps[axis]!r} must "
                             f"be a permutation of 0..{card - 1}")
        per_state = np.empty((card, n))
        per_state[order] = cum[start:start + card]  # position in strengths -> parent state
        shape = [1] * len(cards) + [n]
        shape[axis] = card
        table *= per_state.reshape(shape)
        start += card
    # P(index = k) = F[k] - F[k + 1]
    return table - np.concatenate([table[..., 1:], np.zeros(cards + [1])], axis=-1)


def read_xmlbif(path: Path):
    """``(states, tables, parents)`` of an XML-BIF file."""
    root = _parse(path)
    network = root.find("NETWORK") if root.tag == "BIF" else None
    if network is None:
        raise ValueError(f"{path}: not an XML-BIF file (no <BIF><NETWORK>)")
    states, tables, parents = {}, {}, {}
    for var in network.findall("VARIABLE"):
        node = (var.findtext("NAME") or "").strip()
        if not node or node in states:
            raise ValueError(f"{path}: a VARIABLE without a NAME, or {node!r} twice")
        states[node] = _checked_states(path, node, [(o.text or "").strip()
                                                    for o in var.findall("OUTCOME")])
    for definition in network.findall("DEFINITION"):
        node = (definition.findtext("FOR") or "").strip()
        if node not in states:
            raise ValueError(f"{path}: DEFINITION for {node!r}, which is not a VARIABLE")
        if node in tables:
            raise ValueError(f"{path}: two DEFINITIONs for {node!r}")
        ps = [(g.text or "").strip() for g in definition.findall("GIVEN")]
        shape = _shape(path, node, ps, states)
        values = _floats(path, node, definition.findtext("TABLE"))
        if values.size != int(np.prod(shape)):
            raise ValueError(f"{path}: node {node!r}: {values.size} probabilities, expected "
                             f"{int(np.prod(shape))}")
        tables[node], parents[node] = values.reshape(shape), ps
    return states, tables, parents
