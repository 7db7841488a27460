"""The network as Graphviz DOT text, for ``st.graphviz_chart`` and notebooks.

Layers are drawn left to right (causes -> conditions -> findings and tissue groups -> leg pain).
What the runner answered "yes" to (a symptom present, a risk factor at its risky level) is
highlighted, what they answered "no" to is drawn distinctly (dashed, marked "no"), and the leading
condition stands out, so a runner sees which answers the model used and how they connect to the
likely condition. Answers that only rule out the other options of a choice (a pain in the calf is
"not in the shin") are not highlighted. The full
network has about 80 nodes; the *focused* view keeps only what explains the leading conditions.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

# Colours of the drawing (presentation, not knowledge).
STYLE = {
    "cause": dict(shape="box", style="rounded,filled", fillcolor="#e3f2fd", color="#90caf9"),
    "condition": dict(shape="ellipse", style="filled", fillcolor="#f3e5f5", color="#ce93d8"),
    "finding": dict(shape="note", style="filled", fillcolor="#f5f5f5", color="#bdbdbd"),
    "group": dict(shape="hexagon", style="filled", fillcolor="#fff8e1", color="#ffcc80"),
    "pain": dict(shape="doubleoctagon", style="filled", fillcolor="#ffebee", color="#e57373"),
}
EVIDENCE_STYLE = dict(fillcolor="#fff59d", color="#f9a825", penwidth="2.5",
                      fontname="Helvetica-Bold")
DENIED_STYLE = dict(fillcolor="#ffffff", color="#607d8b", style="dashed", penwidth="1.5",
                    fontcolor="#455a64")
LEADING_STYLE = dict(fillcolor="#c62828", color="#8e0000", fontcolor="white", penwidth="3",
                     fontname="Helvetica-Bold")


def _quote(text: str) -> str:
    # backslash and quote escaped; a line break becomes DOT's centred-line escape
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


def _attrs(attrs: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def _wrap(text: str, width: int = 24) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def answer_highlights(per_answer: Mapping[str, tuple[str, Mapping[str, object]]]
                      ) -> tuple[set[str], set[str]]:
    """The nodes an answer says yes to and those it says no to.

    ``per_answer``: question id -> (question kind, that answer's evidence vectors by node), where
    a node's first state is its absent or healthy state. A node whose evidence favours another
    state is a "yes"; one held at its first state is a "no" when the answer was a yes/no or a
    number, or a choice setting only that node. A node that is a yes for one answer stays a yes.
    """
    yes, no = set(), set()
    for kind, vectors in per_answer.values():
        for node, vec in vectors.items():
            vec = [float(x) for x in vec]
            if max(vec[1:], default=0.0) > vec[0]:
                yes.add(node)
            elif kind in ("bool", "number") or len(vectors) == 1:
                no.add(node)
    return yes, no - yes


def focus_nodes(edges: Iterable[tuple[str, str]], leading: str, evidence: Iterable[str],
                conditions: Iterable[str], pain: str = "leg_pain") -> set[str]:
    """The nodes that explain the leading conditions.

    The given ``conditions`` (the leading few), the parents (causes) of the leading one, the
    answered (evidence) nodes, and the tissue groups between the conditions and leg pain. The
    leading condition's unanswered signs are left out: they are many and explain nothing yet.
    """
    edges = list(edges)
    keep = set(conditions) | {leading, pain} | set(evidence)
    keep |= {u for u, v in edges if v == leading}
    # tissue groups of the shown conditions: the nodes on a condition -> group -> pain path
    groups = {u for u, v in edges if v == pain}
    keep |= {v for u, v in edges if u in keep and v in groups}
    return keep


def network_dot(edges: Iterable[tuple[str, str]], layers: Mapping[str, str],
                labels: Mapping[str, str], evidence: Iterable[str] = (),
                leading: str | None = None, probabilities: Mapping[str, float] | None = None,
                nodes: Iterable[str] | None = None, denied: Iterable[str] = ()) -> str:
    """Graphviz DOT text of the network.

    Parameters
    ----------
    edges : iterable of (parent, child)
    layers : dict
        node -> 'cause' | 'condition' | 'finding' | 'group' | 'pain' (drawing style and rank).
    labels : dict
        node -> plain-language label.
    evidence : iterable of str
        Nodes the runner said yes to (highlighted in yellow).
    leading : str, optional
        The leading condition (highlighted in red).
    probabilities : dict, optional
        node -> probability, printed under the label (e.g. condition posteriors).
    nodes : iterable of str, optional
        Draw only these nodes and the edges between them (default: all).
    denied : iterable of str
        Nodes the runner said no to (dashed, labelled "no: ...").
    """
    edges = list(edges)
    shown = set(nodes) if nodes is not None else {n for e in edges for n in e} | set(layers)
    evidence = set(evidence)
    denied = set(denied) - evidence
    probabilities = probabilities or {}
    lines = ["digraph network {",
             '  graph [rankdir="LR", bgcolor="transparent", nodesep="0.12", ranksep="0.9", '
             'fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize="10", margin="0.08,0.04"];',
             '  edge [color="#9e9e9e", arrowsize="0.5"];']
    by_layer: dict[str, list[str]] = {}
    for node in layers:
        if node in shown:
            by_layer.setdefault(layers[node], []).append(node)
    for layer, members in by_layer.items():
        # causes share the first column; the other layers find their own ranks
        rank = " rank=same;" if layer == "cause" else ""
        lines.append(f"  subgraph layer_{layer} {{{rank}")
        for node in members:
            attrs = dict(STYLE.get(layer, {}))
            text = _wrap(("no: " if node in denied else "") + labels.get(node, node))
            if node in probabilities:
                text += f"\n{probabilities[node]:.0%}"
            attrs["label"] = text
            attrs["tooltip"] = labels.get(node, node)
            if node in evidence:
                attrs.update(EVIDENCE_STYLE)
            elif node in denied:
                attrs.update(DENIED_STYLE)
            if node == leading:
                attrs.update(LEADING_STYLE)
            lines.append(f"    {_quote(node)} [{_attrs(attrs)}];")
        lines.append("  }")
    for u, v in edges:
        if u in shown and v in shown:
            strong = u == leading or v == leading
            style = ' [color="#8e0000", penwidth="1.6"]' if strong else ""
            lines.append(f"  {_quote(u)} -> {_quote(v)}{style};")
    lines.append("}")
    return "\n".join(lines)
