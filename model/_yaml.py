"""YAML reading that remembers line numbers, so knowledge errors can say where they are."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class KnowledgeError(ValueError):
    """A knowledge file is malformed. The message names the file, line, key and problem."""


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


def read_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except KnowledgeError as exc:
        raise KnowledgeError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise KnowledgeError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


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
        x = float(self.value)
        if x != x:
            self.fail("expected a number, got NaN")
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
