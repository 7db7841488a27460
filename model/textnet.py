"""BIF and Hugin NET as text: a tokenizer, two readers and the Hugin writer.

The readers tokenize the file in one pass (no backtracking regular expression spans more than
one token, so time is linear in the file size) and check every declared table against two
bounds before allocating it: at most :data:`MAX_TABLE` entries, and no more entries than the
file has characters (a complete table needs at least one character per number). Errors name
the file, the line and what is wrong.

Tolerated beyond what pgmpy writes: ``//`` and ``/* */`` comments (BIF), ``%`` comments
(Hugin), unquoted state names (pyAgrum's ``.net``), ``discrete node`` and ``default`` rows,
``property`` / other attributes (ignored). Refused with a clear message: continuous, decision,
utility and function nodes, OOBN classes.
"""
from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_TABLE = 10_000_000  # entries of one table (80 MB of float64)
MAX_STATES = 1_000
MAX_BYTES = 50_000_000

# one token at a time: blanks, a newline, a punctuation mark, a bare word (a number, a name)
_SPACE_OR_MARK = r"[ \t\r\f\v]+|\n|[{}()\[\];,|=]|/(?![/*])"
_TOKEN = {False: re.compile(_SPACE_OR_MARK + r"|[^\s{}()\[\];,|=\"/]+"),   # BIF
          True: re.compile(_SPACE_OR_MARK + r"|[^\s{}()\[\];,|=\"/%]+")}   # Hugin: % comments


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    quoted: bool = False


class Tokens:
    """The tokens of one file, with ``expect`` / ``take`` helpers that fail naming the line."""

    def __init__(self, path: Path, text: str, hash_comments: bool):
        self.path = path
        self._stream = _tokenize(path, text, hash_comments)  # lazily: memory stays flat
        self._next: Token | None = None
        self._line = 1

    def fail(self, problem: str, token: Token | None = None):
        line = token.line if token else self._line
        raise ValueError(f"{self.path}:{line}: {problem}")

    def peek(self) -> Token | None:
        if self._next is None:
            self._next = next(self._stream, None)
        return self._next

    def take(self, what: str = "more text") -> Token:
        token = self.peek()
        if token is None:
            self.fail(f"the file ends where {what} was expected")
        self._next = None
        self._line = token.line
        return token

    def back(self, token: Token) -> None:
        """Un-take the token just taken."""
        self._next = token

    def expect(self, text: str) -> Token:
        token = self.take(repr(text))
        if token.text != text or token.quoted:
            self.fail(f"expected {text!r}, found {token.text!r}", token)
        return token

    def name(self, what: str) -> str:
        token = self.take(what)
        if not token.quoted and (token.text in "{}()[];,|=" or not token.text):
            self.fail(f"expected {what}, found {token.text!r}", token)
        return token.text

    def skip_block(self) -> None:
        """Skip a ``{ ... }`` block (nested braces allowed)."""
        self.expect("{")
        depth = 1
        while depth:
            text = self.take("'}'").text
            depth += (text == "{") - (text == "}")

    def skip_statement(self) -> None:
        """Skip to the ``;`` ending this statement, parentheses and braces balanced."""
        depth = 0
        while True:
            token = self.take("';'")
            if token.text in "({" and not token.quoted:
                depth += 1
            elif token.text in ")}" and not token.quoted:
                depth -= 1
                if depth < 0:
                    self.fail(f"unbalanced {token.text!r}", token)
            elif token.text == ";" and depth == 0:
                return

    def number(self) -> float:
        token = self.take("a number")
        try:
            x = float(token.text)
        except ValueError:
            self.fail(f"expected a number, found {token.text!r}", token)
        if token.quoted or not np.isfinite(x) or x < 0:
            self.fail(f"expected a probability (a finite number >= 0), found {token.text!r}",
                      token)
        return x


def _tokenize(path: Path, text: str, hash_comments: bool):
    line, pos, n = 1, 0, len(text)
    match = _TOKEN[hash_comments].match
    while pos < n:
        c = text[pos]
        if c == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise ValueError(f"{path}:{line}: a string that never ends (missing '\"')")
            yield Token(text[pos + 1:end], line, quoted=True)
            line += text.count("\n", pos, end)
            pos = end + 1
            continue
        if text.startswith("//", pos) or (hash_comments and c == "%"):
            end = text.find("\n", pos)
            pos = n if end < 0 else end
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise ValueError(f"{path}:{line}: a /* comment that never ends")
            line += text.count("\n", pos, end)
            pos = end + 2
            continue
        m = match(text, pos)
        if m is None:
            raise ValueError(f"{path}:{line}: unexpected character {c!r}")
        token = m.group()
        if token == "\n":
            line += 1
        elif token[0] not in " \t\r\f\v":
            yield Token(token, line)
        pos = m.end()


def read_text(path: Path) -> str:
    """The file as text: UTF-8, else Latin-1 (Hugin and GeNIe on Windows write cp1252)."""
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES:,} bytes; not a network file")
    data = path.read_bytes()
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: a NUL byte: this is a binary file, not a network")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _check_size(tokens: Tokens, node: str, shape: list[int], file_chars: int, at: Token) -> int:
    """Refuse a table too large to hold, or larger than the file could fill, before
    allocating it (six 30-state variables declare 729 million entries in a 1 kB file)."""
    size = int(np.prod(shape, dtype=object))
    if size > MAX_TABLE or size > file_chars:
        limit = f"{MAX_TABLE:,}" if size > MAX_TABLE else "the file could hold"
        tokens.fail(f"the table of {node!r} would have {size:,} entries "
                    f"({' x '.join(map(str, shape))}); more than {limit}", at)
    return size


def _states(tokens: Tokens, node: str, states: list[str], at: Token) -> list[str]:
    if not states:
        tokens.fail(f"variable {node!r} has no states", at)
    if len(states) > MAX_STATES:
        tokens.fail(f"variable {node!r} has {len(states)} states (at most {MAX_STATES})", at)
    if len(set(states)) != len(states):
        tokens.fail(f"variable {node!r} lists a state twice", at)
    return states


# ---- BIF ------------------------------------------------------------------------------------
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
    return _states(tokens, node, found, head)


def _bif_probability(tokens: Tokens, states: dict, file_chars: int, head: Token):
    tokens.expect("(")
    node = tokens.name("a variable name")
    ps = []
    token = tokens.take("')'")
    if token.text == "|":
        while (token := tokens.take("')'")).text != ")":
            if token.text != ",":
                ps.append(token.text)
    elif token.text != ")":
        tokens.fail(f"expected '|' or ')', found {token.text!r}", token)
    for v in [node] + ps:
        if v not in states:
            tokens.fail(f"probability of {node!r} names {v!r}, which is not declared "
                        "(declare variables before their probability blocks)", head)
    shape = [len(states[p]) for p in ps] + [len(states[node])]
    _check_size(tokens, node, shape, file_chars, head)
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


# ---- Hugin NET ------------------------------------------------------------------------------
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
    return _states(tokens, node, found, head)


def _hugin_potential(tokens: Tokens, states: dict, file_chars: int, head: Token):
    tokens.expect("(")
    node = tokens.name("a node name")
    ps = []
    token = tokens.take("')'")
    if token.text == "|":
        while (token := tokens.take("')'")).text != ")":
            ps.append(token.text)
    elif token.text != ")":
        tokens.fail(f"expected '|' or ')', found {token.text!r}", token)
    for v in [node] + ps:
        if v not in states:
            tokens.fail(f"potential of {node!r} names {v!r}, which is not declared", head)
    shape = [len(states[p]) for p in ps] + [len(states[node])]
    size = _check_size(tokens, node, shape, file_chars, head)
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
