"""Hugin NET: read with the :mod:`model.textnet` tokenizer, and written."""
from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from .textnet import Token, Tokens, checked_states, family_head, read_text

_UNSUPPORTED_HUGIN = {"continuous": "continuous nodes", "decision": "decision nodes",
                      "utility": "utility nodes", "function": "function nodes",
                      "class": "object-oriented (OOBN) classes", "temporal": "temporal nodes"}


def read_hugin(path: Path):
    """``(states, tables, parents)`` of a Hugin NET file (tables shaped ``(*parents, child)``)."""
    text = read_text(path)
    tokens = Tokens(path, text, hash_comments=True)
    states, tables, parents = {}, {}, {}
    while tokens.peek() is not None:
        head = tokens.take()
        word = head.text.lower()
        if word in _UNSUPPORTED_HUGIN:
            tokens.fail(f"{_UNSUPPORTED_HUGIN[word]} are not supported (discrete chance nodes "
                        "only)", head)
        if word == "net":
            tokens.skip_block()
        elif word in ("node", "discrete"):
            if word == "discrete":
                tokens.expect("node")
            node = tokens.name("a node name")
            if node in states:
                tokens.fail(f"node {node!r} is declared twice", head)
            states[node] = _hugin_node(tokens, node, head)
        elif word == "potential":
            node, table, ps = _hugin_potential(tokens, states, len(text), head)
            if node in tables:
                tokens.fail(f"two potentials for {node!r}", head)
            tables[node], parents[node] = table, ps
        else:
            tokens.fail(f"expected 'net', 'node' or 'potential', found {head.text!r}", head)
    return states, tables, parents


def _hugin_node(tokens: Tokens, node: str, head: Token) -> list[str]:
    tokens.expect("{")
    found = None
    while (token := tokens.take("'}'")).text != "}":
        if token.text == "states":
            tokens.expect("=")
            tokens.expect("(")
            found = []
            while (t := tokens.take("')'")).text != ")" or t.quoted:
                found.append(t.text)  # quoted, or bare as pyAgrum writes them
            tokens.expect(";")
        else:
            tokens.skip_statement()
    if found is None:
        tokens.fail(f"node {node!r} has no states", head)
    return checked_states(tokens, node, found, head)


def _hugin_potential(tokens: Tokens, states: dict, file_chars: int, head: Token):
    node, ps, shape, size = family_head(tokens, states, file_chars, head, block="potential",
                                        member="node", commas=False)
    tokens.expect("{")
    values = None
    while (token := tokens.take("'}'")).text != "}":
        if token.text == "data":
            tokens.expect("=")
            values = array("d")
            depth = 0
            while True:
                t = tokens.take("';'")
                if t.text == "(":
                    depth += 1
                elif t.text == ")":
                    depth -= 1
                elif t.text == ";" and depth == 0:
                    break
                else:
                    tokens.back(t)
                    values.append(tokens.number())
                    if len(values) > size:
                        tokens.fail(f"potential of {node!r}: more than {size} numbers", t)
                if depth < 0:
                    tokens.fail("unbalanced ')' in data", t)
        elif token.text in ("model_nodes", "model_data", "samples"):
            tokens.fail(f"potential of {node!r}: {token.text} (expressions) is not supported; "
                        "compile the tables in Hugin and save again", token)
        else:
            tokens.skip_statement()
    if values is None:
        tokens.fail(f"potential of {node!r} has no data", head)
    if len(values) != size:
        tokens.fail(f"potential of {node!r}: {len(values)} numbers, expected {size}", head)
    return node, np.frombuffer(values, dtype=float).reshape(shape).copy(), ps


def hugin_text(net) -> str:
    """Hugin NET: ``data`` nests the parents in order, the child's distribution innermost;
    17 significant digits (a double survives the round trip)."""
    lines = ["net", "{", '  name = "leg_pain_after_running";', "}", ""]
    for node in net.nodes():
        names = " ".join(f'"{s}"' for s in net.get_cpds(node).state_names[node])
        lines += [f"node {node}", "{", f'  label = "{node}";', f"  states = ({names});", "}", ""]
    for node in net.nodes():
        cpd = net.get_cpds(node)
        parents = list(cpd.variables[1:])
        table = np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1)  # (*parents, child)

        def nest(a):
            if a.ndim == 1:
                return "(" + " ".join(repr(float(x)) for x in a) + ")"
            return "(" + " ".join(nest(sub) for sub in a) + ")"

        head = f"potential ({node}" + (" | " + " ".join(parents) if parents else "") + ")"
        lines += [head, "{", f"  data = {nest(table)};", "}", ""]
    return "\n".join(lines)
