"""YAML reading that remembers line numbers, so knowledge errors can say where they are."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml


class KnowledgeError(ValueError):
    """A knowledge file is malformed. The message names the file, line, key and problem."""


# a knowledge file is tens of kB; these bound the memory and time a hostile file can take
MAX_BYTES = 4_000_000
MAX_DEPTH = 40


class _LineDict(dict):
    lines: dict


class _LineList(list):
    lines: list


# libyaml's parser is ~7x faster and keeps the same node marks (line numbers)
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


def _mapping(loader, node):
    loader.flatten_mapping(node)
    out = _LineDict()
    out.lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # "? [a, b]": a list or mapping as key
            raise KnowledgeError(f"line {key_node.start_mark.line + 1}: a key must be plain "
                                 f"text, not a {'list' if key_node.id == 'sequence' else 'mapping'}")
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise KnowledgeError(
                f"line {key_node.start_mark.line + 1}: key {key!r} appears twice")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader, node):
    out = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _check_shape(text: str) -> None:
    """Refuse what the knowledge files never need and a hostile file could abuse: nesting
    deeper than MAX_DEPTH (the constructor recurses) and anchors/aliases (``&a`` / ``*a``:
    a few lines can expand to gigabytes). One linear pass over the parser's events."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise KnowledgeError(f"line {event.start_mark.line + 1}: YAML anchors and aliases "
                                 "(&name, *name) are not supported; write the value out")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise KnowledgeError(f"line {event.start_mark.line + 1}: nested more than "
                                     f"{MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def read_yaml(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read the file ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise KnowledgeError(f"{path}: larger than {MAX_BYTES:,} bytes; not a knowledge file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise KnowledgeError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                             f"offset {exc.start}); save the file as UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise KnowledgeError(f"{path}:{line}: a NUL character: this is not a text file")
    try:
        _check_shape(text)
        return yaml.load(text, Loader=_Loader)
    except KnowledgeError as exc:  # "line N: problem" from the checks above
        line, _, problem = str(exc).partition(": ")
        raise KnowledgeError(f"{path}:{line.removeprefix('line ')}: {problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise KnowledgeError(f"{path}{where}: not valid YAML "
                             f"({getattr(exc, 'problem', None) or exc})") from None


class Node:
    """A position in a YAML document: value, file, key path and line, for exact error messages."""

    def __init__(self, value: Any, file: str, path: str = "", line: int | None = None):
        self.value, self.file, self.path, self.line = value, file, path, line

    def fail(self, problem: str):
        where = f"{self.file}:{self.line}" if self.line else self.file
        raise KnowledgeError(f"{where}: {self.path or '<top>'}: {problem}")

    # -- navigation -------------------------------------------------------------------------
    def _child(self, key, value, line):
        sep = "" if not self.path else "."
        path = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}{sep}{key}"
        return Node(value, self.file, path, line or self.line)

    def mapping(self) -> "Node":
        if not isinstance(self.value, dict):
            self.fail(f"expected a mapping (key: value), got {_kind(self.value)}")
        return self

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def get(self, key: str, default: Any = ...) -> "Node":
        self.mapping()
        if key not in self.value:
            if default is ...:
                self.fail(f"missing required key {key!r}")
            return Node(default, self.file, f"{self.path}.{key}" if self.path else key, self.line)
        return self._child(key, self.value[key], getattr(self.value, "lines", {}).get(key))

    def items(self):
        self.mapping()
        lines = getattr(self.value, "lines", {})
        for key, value in self.value.items():
            if not isinstance(key, str):
                self._child(str(key), value, lines.get(key)).fail(
                    f"key {key!r} is not text (YAML reads bare yes/no/on/off/true/false and "
                    "numbers as non-text: quote it)")
            yield key, self._child(key, value, lines.get(key))

    def list(self, allow_empty: bool = False) -> list["Node"]:
        if not isinstance(self.value, list):
            self.fail(f"expected a list, got {_kind(self.value)}")
        if not self.value and not allow_empty:
            self.fail("the list is empty")
        lines = getattr(self.value, "lines", [None] * len(self.value))
        return [self._child(i, v, lines[i]) for i, v in enumerate(self.value)]

    def check_keys(self, allowed: set[str]):
        for key, child in self.items():
            if key not in allowed:
                child.fail(f"unknown key {key!r}; allowed keys: {', '.join(sorted(allowed))}")

    # -- typed values ----------------------------------------------------------------------
    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            self.fail(f"expected non-empty text, got {_kind(self.value)}"
                      + (" (YAML reads bare yes/no/on/off/true/false as booleans: quote it)"
                         if isinstance(self.value, bool) else ""))
        return self.value.strip()

    def ident(self) -> str:
        value = self.text()
        if not all(c.isalnum() or c == "_" for c in value) or value[0].isupper():
            self.fail(f"{value!r} is not a valid id (lower-case letters, digits and _)")
        return value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail(f"expected true or false, got {_kind(self.value)}")
        return self.value

    def number(self, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.fail(f"expected a number, got {_kind(self.value)}")
        try:
            x = float(self.value)
        except OverflowError:  # an integer beyond float range
            x = math.inf
        if not math.isfinite(x):
            self.fail(f"expected a finite number, got {_kind(self.value)[:60]}")
        if low is not None and (x < low or (low_open and x == low)):
            self.fail(f"must be {'>' if low_open else '>='} {low:g} (got {x:g})")
        if high is not None and (x > high or (high_open and x == high)):
            self.fail(f"must be {'<' if high_open else '<='} {high:g} (got {x:g})")
        return x

    def probability(self, open_interval: bool = True) -> float:
        return self.number(0.0, 1.0, low_open=open_interval, high_open=open_interval)

    def choice(self, allowed: list[str] | tuple[str, ...]) -> str:
        value = self.text()
        if value not in allowed:
            self.fail(f"{value!r} is not allowed; expected one of: {', '.join(allowed)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
