"""Checks at the public boundary: arguments of :class:`model.api.Model`'s methods.

Every check raises ``ValueError`` naming the argument and what is allowed (``TypeError`` too
for a wrong container: :class:`ContainerError` is both, so callers may catch either), before
anything is computed, so bad input never reaches the engine (no uninitialised memory, no NaN,
no numpy error message without the argument's name).
"""
from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


class ContainerError(TypeError, ValueError):
    """The wrong kind of container (a list where a mapping is needed, ...)."""


def whole_number(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number{_range(low, high)}, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be a whole number{_range(low, high)}, got {value!r}")
    return value


def _range(low, high) -> str:
    return f" from {low} to {high}" if high is not None else f" of at least {low}"


def frame_of_answers(name: str, frame, known, keep=()) -> tuple[pd.DataFrame, list]:
    """``(answer columns, pass-through columns)`` of a DataFrame of cases.

    Columns are question ids (``known``); ``keep`` names extra columns carried through to the
    result unchanged (an id column, for Dask and Spark). Duplicate column names are refused
    (one of them would be dropped silently).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ContainerError(f"{name} needs a pandas DataFrame (one row per case, one column "
                             f"per question id), got {type(frame).__name__}")
    if isinstance(keep, str):
        keep = [keep]
    if not isinstance(keep, Iterable):
        raise ContainerError(f"keep must be a column name or a list of them, got {keep!r}")
    keep = list(keep)
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise ValueError(f"{name}: column(s) {duplicated} appear more than once")
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise ValueError(f"keep: column(s) {missing} are not in the frame")
    clash = [c for c in keep if c in known]
    if clash:
        raise ValueError(f"keep: {clash} are question ids (answers), not pass-through columns")
    unknown = [c for c in frame.columns if c not in known and c not in keep]
    if unknown:
        hint = ("; an id column such as 'case' belongs in the index (read_csv(..., "
                "index_col='case')) or in keep=") if any(
            str(c).lower() in ("case", "id", "case_id") for c in unknown) else ""
        raise ValueError(f"{name}: unknown question column(s) {unknown}{hint}; see "
                         "model.questions for the question ids")
    answers = frame[[c for c in frame.columns if c not in keep]]
    return answers, keep


def answers_mapping(answers):
    """``answers`` as a plain dict (a Series with a repeated question id is refused)."""
    if answers is None:
        return None
    if isinstance(answers, pd.Series):
        repeated = sorted({str(k) for k in answers.index[answers.index.duplicated()]})
        if repeated:
            raise ValueError(f"answers: question(s) {repeated} appear more than once")
        return answers.to_dict()
    if not isinstance(answers, Mapping):
        raise ContainerError(f"answers must be a mapping of question id -> value (a dict), "
                             f"got {type(answers).__name__}")
    return answers


def engine_evidence(evidence, states: dict) -> dict:
    """Check ``{variable: state | likelihood vector | {state: weight}}`` for ``Model.infer``
    and return it as ``{variable: state or float vector}``."""
    if evidence is None:
        return {}
    if isinstance(evidence, pd.Series):
        evidence = evidence.to_dict()
    if not isinstance(evidence, Mapping):
        raise ContainerError(f"evidence must be a mapping {{variable: state}}, got "
                             f"{type(evidence).__name__}")
    out = {}
    for var, value in evidence.items():
        if var not in states:
            raise ValueError(f"unknown variable {var!r}; the variables are the network's "
                             "nodes (model.network.nodes())")
        names = states[var]
        allowed = (f"a state ({', '.join(names)}), a likelihood vector of {len(names)} "
                   "non-negative numbers, or a mapping {state: weight}")
        if isinstance(value, str):
            if value not in names:
                raise ValueError(f"evidence on {var!r}: {value!r} is not a state of {var}; "
                                 f"allowed: {allowed}")
            out[var] = value
            continue
        if isinstance(value, Mapping):
            bad = [k for k in value if k not in names]
            if bad:
                raise ValueError(f"evidence on {var!r}: {bad} are not states of {var}; "
                                 f"allowed: {allowed}")
            value = [value.get(s, 0.0) for s in names]
        if isinstance(value, pd.Series):
            value = value.to_numpy()
        if not isinstance(value, (list, tuple, np.ndarray)) or any(
                isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real)
                for x in np.asarray(value, dtype=object).ravel()) or np.ndim(value) != 1:
            raise ValueError(f"evidence on {var!r}: got {value!r}; allowed: {allowed}")
        vec = np.asarray(value, dtype=float)
        if len(vec) != len(names) or not np.all(np.isfinite(vec)) or (vec < 0).any():
            raise ValueError(f"evidence on {var!r}: got {value!r}; allowed: {allowed}")
        if not vec.any():
            raise ValueError(f"evidence on {var!r}: every weight is zero; allowed: {allowed}")
        out[var] = vec
    return out


def question_ids(name: str, value, known) -> list[str] | None:
    """``None``, one question id or an iterable of them, each known."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ContainerError(f"{name} must be a question id or a list of question ids, got "
                             f"{value!r}")
    value = list(value)
    unknown = [q for q in value if not isinstance(q, str) or q not in known]
    if unknown:
        raise ValueError(f"{name}: unknown question id(s) {unknown}; see model.questions")
    return value


def quiet_numpy(function):
    """Run a public method with numpy's floating-point warnings off (``np.errstate`` is per
    thread, unlike ``warnings.catch_warnings``: the dashboard serves sessions from threads).
    Results are checked instead: the kernels detect underflow themselves, and a NaN left in a
    result is an error, not a warning."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return wrapper


def probability(name: str, value, low: float, high: float, high_open: bool = True) -> float:
    """A real number in ``[low, high)`` (or ``[low, high]``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a number in [{low}, {high}), got {value!r}")
    x = float(value)
    if not low <= x <= high or (high_open and x == high):
        raise ValueError(f"{name} must be a number in [{low}, {high}{')' if high_open else ']'},"
                         f" got {value!r}")
    return x
