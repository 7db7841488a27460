"""``diagnose_many`` on a cluster: Dask ``map_partitions`` and Spark ``mapInPandas``.

The workers load the model themselves, once per process (:func:`worker_model`), so nothing
large is pickled with every task: a task carries only the knowledge base's directory. Results
are the same as one process's ``Model.diagnose_many`` on the whole frame (tested on a 2-worker
Dask LocalCluster). See docs/scaleout.md.

>>> import dask.dataframe as dd
>>> from model import scaleout
>>> cases = dd.read_csv("cases-*.csv")                                   # doctest: +SKIP
>>> results = scaleout.diagnose_dask(cases, keep="case")                 # doctest: +SKIP
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

_LOCK = threading.Lock()
_MODELS: dict = {}  # {data directory or None: Model}, at most a few per worker process


def worker_model(path: str | Path | None = None):
    """The model of knowledge base ``path`` (None: the shipped one), loaded once per process."""
    key = None if path is None else str(Path(path).resolve())
    with _LOCK:
        if key not in _MODELS:
            if len(_MODELS) >= 4:
                _MODELS.pop(next(iter(_MODELS)))
            from .api import load_model
            _MODELS[key] = load_model(key)
        return _MODELS[key]


def meta(path: str | Path | None = None, keep: dict | None = None) -> pd.DataFrame:
    """The empty frame ``diagnose_many`` returns: Dask's ``meta=``. ``keep``: ``{column:
    dtype}`` of the pass-through columns (e.g. ``{"case": "int64"}``)."""
    return worker_model(path).diagnose_many_meta(keep)


_TEXT_BOOLEANS = {"True": True, "False": False, "true": True, "false": False}


def _booleans_back(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Dask stores object columns as text (``dataframe.convert-string``) and Spark/CSV readers
    may too: a yes/no column with gaps arrives as "True"/"False" strings. Only those exact
    strings become booleans again, only in yes/no questions' columns; anything else is left
    for diagnose_many to refuse."""
    kinds = model.questions.set_index("id")["kind"]
    fixed = None
    for column in frame.columns:
        if kinds.get(column) != "bool" or frame[column].dtype.kind in "bfiu":
            continue
        values = frame[column]
        text = values.dropna()
        if len(text) and text.map(lambda v: isinstance(v, str) and v in _TEXT_BOOLEANS).all():
            fixed = frame.copy() if fixed is None else fixed
            fixed[column] = values.astype(object).map(
                lambda v: _TEXT_BOOLEANS.get(v, v) if isinstance(v, str) else v)
    return frame if fixed is None else fixed


def diagnose_partition(frame: pd.DataFrame, path: str | Path | None = None, keep=(),
                       chunk: int = 4096) -> pd.DataFrame:
    """``Model.diagnose_many`` on one partition, with the worker's own model (yes/no columns
    that arrive as "True"/"False" text, as Dask stores them, are read as booleans)."""
    model = worker_model(path)
    return model.diagnose_many(_booleans_back(model, frame), chunk=chunk, keep=keep)


def diagnose_dask(frame, path: str | Path | None = None, keep=()):
    """A Dask DataFrame of cases -> a Dask DataFrame of results (same index and partitions)."""
    keep = [keep] if isinstance(keep, str) else list(keep)
    dtypes = {c: frame[c].dtype for c in keep}
    return frame.map_partitions(diagnose_partition, path=None if path is None else str(path),
                                keep=keep, meta=meta(path, dtypes))


# ---- Spark ----------------------------------------------------------------------------------
def spark_schema(path: str | Path | None = None, keep: dict | None = None) -> str:
    """The DDL schema of :func:`diagnose_batches`' output for ``mapInPandas``; ``keep``:
    ``{column: Spark type}`` of the pass-through columns, e.g. ``{"case": "bigint"}``."""
    fields = [f"`{c}` {t}" for c, t in (keep or {}).items()]
    for column, dtype in meta(path).dtypes.items():
        fields.append(f"`{column}` {'double' if dtype.kind == 'f' else 'string'}")
    return ", ".join(fields)


def diagnose_batches(batches: Iterable[pd.DataFrame], path: str | Path | None = None,
                     keep=()) -> Iterator[pd.DataFrame]:
    """For Spark's ``mapInPandas``: each batch of cases -> its results, categories as text
    (Arrow) and the ``keep`` columns first, as :func:`spark_schema` lists them."""
    for batch in batches:
        out = diagnose_partition(batch.reset_index(drop=True), path, keep)
        for column in ("triage_level", "top_condition"):
            out[column] = out[column].astype(str)
        yield out
