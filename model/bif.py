"""BIF (pgmpy's, pyAgrum's, bnlearn's dialect) read with the :mod:`model.textnet` tokenizer."""
from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from .textnet import Token, Tokens, checked_states, family_head, read_text


def read_bif(path: Path):
    """``(states, tables, parents)`` of a BIF file (tables shaped ``(*parents, child)``)."""
    text = read_text(path)
    tokens = Tokens(path, text, hash_comments=False)
    states, tables, parents = {}, {}, {}
    while tokens.peek() is not None:
        head = tokens.take()
        word = head.text.lower()
        if word == "network":
            tokens.name("the network's name")
            tokens.skip_block()
        elif word == "variable":
            node = tokens.name("a variable name")
            if node in states:
                tokens.fail(f"variable {node!r} is declared twice", head)
            states[node] = _bif_variable(tokens, node, head)
        elif word == "probability":
            node, table, ps = _bif_probability(tokens, states, len(text), head)
            if node in tables:
                tokens.fail(f"two probability blocks for {node!r}", head)
            tables[node], parents[node] = table, ps
        else:
            tokens.fail(f"expected 'network', 'variable' or 'probability', found {head.text!r}",
                        head)
    return states, tables, parents


def _bif_variable(tokens: Tokens, node: str, head: Token) -> list[str]:
    tokens.expect("{")
    found = None
    while (token := tokens.take("'}'")).text != "}":
        if token.text.lower() == "type":
            kind = tokens.name("'discrete'")
            if kind.lower() != "discrete":
                tokens.fail(f"variable {node!r} is {kind}: only discrete variables are supported",
                            token)
            tokens.expect("[")
            tokens.take("the number of states")
            tokens.expect("]")
            tokens.expect("{")
            found = []
            while True:
                found.append(tokens.name("a state name"))
                sep = tokens.take("',' or '}'")
                if sep.text == "}":
                    break
                if sep.text != ",":
                    tokens.fail(f"expected ',' or '}}' between states, found {sep.text!r}", sep)
            tokens.expect(";")
        else:  # property ... ; and anything else
            tokens.skip_statement()
    if found is None:
        tokens.fail(f"variable {node!r} has no 'type discrete' line", head)
    return checked_states(tokens, node, found, head)


def _bif_probability(tokens: Tokens, states: dict, file_chars: int, head: Token):
    node, ps, shape, _ = family_head(
        tokens, states, file_chars, head, block="probability", member="variable",
        commas=True,
        undeclared=" (declare variables before their probability blocks)")
    table = np.full(shape, np.nan)
    card = shape[-1]
    tokens.expect("{")
    while (token := tokens.take("'}'")).text != "}":
        word = token.text.lower()
        if word in ("table", "default"):
            values = _numbers_until_semicolon(tokens)
            if word == "default":
                if len(values) != card:
                    tokens.fail(f"default of {node!r}: {len(values)} numbers, expected {card}",
                                token)
                table[np.isnan(table[..., 0])] = values
                continue
            if len(values) != table.size:
                tokens.fail(f"table of {node!r}: {len(values)} numbers, expected {table.size}",
                            token)
            # BIF's "table" lists the child's state slowest, the last parent fastest
            flat = np.frombuffer(values, dtype=float)
            table[...] = np.moveaxis(flat.reshape([card] + shape[:-1]), 0, -1)
        elif token.text == "(":
            index = []
            while (t := tokens.take("')'")).text != ")":
                if t.text == ",":
                    continue
                p = ps[len(index)] if len(index) < len(ps) else None
                if p is None or t.text not in states[p]:
                    tokens.fail(f"probability of {node!r}: {t.text!r} is not a state of "
                                f"{p or 'any parent'}", t)
                index.append(states[p].index(t.text))
            if len(index) != len(ps):
                tokens.fail(f"probability of {node!r}: a row names {len(index)} parent states, "
                            f"expected {len(ps)}", token)
            values = _numbers_until_semicolon(tokens)
            if len(values) != card:
                tokens.fail(f"probability of {node!r}: {len(values)} numbers, expected {card}",
                            token)
            table[tuple(index)] = values
        elif word == "property":
            tokens.skip_statement()
        else:
            tokens.fail(f"unexpected {token.text!r} in the probability of {node!r}", token)
    if np.isnan(table).any():
        tokens.fail(f"probability of {node!r} does not give every parent combination", head)
    return node, table, ps


def _numbers_until_semicolon(tokens: Tokens) -> array:
    values = array("d")
    while True:
        values.append(tokens.number())
        sep = tokens.take("';'")
        if sep.text == ";":
            return values
        if sep.text != ",":
            tokens.back(sep)  # BIF allows numbers separated by white space only


