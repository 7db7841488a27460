"""BIF and Hugin NET as text: the tokenizer and the checks both readers share
(:mod:`model.bif`, :mod:`model.hugin`).

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


def family_head(tokens: Tokens, states: dict, file_chars: int, head: Token, *, block: str,
                member: str, commas: bool, undeclared: str = "",
                ) -> tuple[str, list[str], list[int], int]:
    """Read ``( child | parent parent ... )`` of a BIF ``probability`` or a Hugin ``potential``
    block: ``(child, parents, shape, size)``, the table's shape ``(*parents, child)`` checked by
    :func:`check_size`. ``block`` and ``member`` name the block and what the file declares in
    errors ("probability" / "variable", "potential" / "node"); ``commas`` lets commas separate
    the parents (BIF); ``undeclared`` ends the message for a name not declared before the
    block."""
    tokens.expect("(")
    node = tokens.name(f"a {member} name")
    parents = []
    token = tokens.take("')'")
    if token.text == "|":
        while (token := tokens.take("')'")).text != ")":
            if not (commas and token.text == ","):
                parents.append(token.text)
    elif token.text != ")":
        tokens.fail(f"expected '|' or ')', found {token.text!r}", token)
    for v in [node] + parents:
        if v not in states:
            tokens.fail(f"{block} of {node!r} names {v!r}, which is not declared{undeclared}", head)
    shape = [len(states[p]) for p in parents] + [len(states[node])]
    size = check_size(tokens, node, shape, file_chars, head)
    return node, parents, shape, size


def check_size(tokens: Tokens, node: str, shape: list[int], file_chars: int, at: Token) -> int:
    """Refuse a table too large to hold, or larger than the file could fill, before
    allocating it (six 30-state variables declare 729 million entries in a 1 kB file)."""
    size = int(np.prod(shape, dtype=object))
    if size > MAX_TABLE or size > file_chars:
        limit = f"{MAX_TABLE:,}" if size > MAX_TABLE else "the file could hold"
        tokens.fail(f"the table of {node!r} would have {size:,} entries "
                    f"({' x '.join(map(str, shape))}); more than {limit}", at)
    return size


def checked_states(tokens: Tokens, node: str, states: list[str], at: Token) -> list[str]:
    if not states:
        tokens.fail(f"variable {node!r} has no states", at)
    if len(states) > MAX_STATES:
        tokens.fail(f"variable {node!r} has {len(states)} states (at most {MAX_STATES})", at)
    if len(set(states)) != len(states):
        tokens.fail(f"variable {node!r} lists a state twice", at)
    return states
