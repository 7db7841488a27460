"""A small least-recently-used mapping with a bound on entries and on bytes.

The engine keeps compiled junction trees, plans and per-pattern tables between calls (the
dashboard reruns on every widget change). Streamlit serves every session from threads of one
process that share the cached model, so every such cache must stay bounded; the engine
serialises its calls (see :class:`model.engine.Engine`), and the cache takes its own lock as well
so that a caller outside the engine cannot corrupt it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


def nbytes(value, _seen: set | None = None) -> int:
    """Bytes held by the numpy arrays inside ``value`` (tuples, lists, dicts, objects' dicts)."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes if value.base is None else nbytes(value.base, seen)
    if isinstance(value, dict):
        return sum(nbytes(v, seen) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(nbytes(v, seen) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return nbytes(vars(value), seen)
    return 0


class BoundedCache:
    """``dict``-like cache: at most ``max_entries`` entries and about ``max_bytes`` bytes of
    numpy arrays (measured when an entry is stored); the least recently used go first."""

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def __getitem__(self, key):
        with self._lock:
            value = self._data[key]
            self._data.move_to_end(key)
            return value

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key, value) -> None:
        size = nbytes(value) if self.max_bytes is not None else 0
        with self._lock:
            if key in self._data:
                self._bytes -= self._sizes.pop(key)
                del self._data[key]
            self._data[key] = value
            self._sizes[key] = size
            self._bytes += size
            while len(self._data) > self.max_entries or (
                    self.max_bytes is not None and self._bytes > self.max_bytes
                    and len(self._data) > 1):
                old, _ = self._data.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    def update(self, pairs) -> None:
        for key, value in pairs:
            self[key] = value

    def values(self) -> list:
        with self._lock:
            return list(self._data.values())

    def items(self) -> list:
        with self._lock:
            return list(self._data.items())

    def keys(self) -> list:
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """Bytes of arrays held (as measured when each entry was stored)."""
        return self._bytes

    def __getstate__(self):  # a pickled model starts with empty caches
        return {"max_entries": self.max_entries, "max_bytes": self.max_bytes}

    def __setstate__(self, state) -> None:
        self.__init__(state["max_entries"], state["max_bytes"])
