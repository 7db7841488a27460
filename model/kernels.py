"""Compiled inner loops of the junction tree (numba).

* :func:`run_steps`: every step of a float64 plan in one call. A step is a clique's constant
  potential times its batched operands (evidence, messages), summed onto its output; the
  kernel walks the clique's entries with an odometer, rows innermost (contiguous), so nothing of
  the clique's size is allocated and each row sees the same operations in the same order
  whatever the other rows are: the same row gives the same bits in any batch or chunking.
* :func:`eliminate`: the greedy triangulation of a tree compile.

The kernels live in :mod:`model._compiled`, imported on first use (compiled, or loaded from
numba's on-disk cache) under one fixed module name whatever the package is imported as
(``model`` or ``leg_pain_model``): numba's cache records the module's name and imports it
when it loads a kernel, and importing ``model`` by name could pick up a user's own ``model.py``.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np

_NAME = "leg_pain_model_compiled_kernels"
_loading = threading.Lock()


def _kernels():
    """The compiled module, imported once per process under :data:`_NAME`."""
    module = sys.modules.get(_NAME)
    if module is None:
        with _loading:
            module = sys.modules.get(_NAME)
            if module is None:
                spec = importlib.util.spec_from_file_location(
                    _NAME, Path(__file__).with_name("_compiled.py"))
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[_NAME] = module
    return module


def run_steps(arena: np.ndarray, program, rescale: bool, log_scale: np.ndarray) -> None:
    """Run a junction-tree plan's steps in one compiled call, in place on ``arena``.

    Every step is ``out[o(e), r] = sum_e const[e] * prod_j arena[in_j(e), r]`` over the entries
    ``e`` of one clique (C order), where ``in_j`` and ``o`` are linear in the clique's
    coordinates (``base + sum_i coord_i * stride_i``): an odometer walks them, so no per-entry
    index is stored. ``arena`` is ``(entries of every batched operand, rows)``, rows last; the
    evidence operands are filled in, each step's output is overwritten. With ``rescale``, the
    outputs of the steps flagged ``scale`` are divided by their per-row maximum and its log
    added to ``log_scale``.

    Parameters
    ----------
    arena : (entries, rows) float64, C-contiguous
    program : model.junction_tree.Program
    rescale : bool
    log_scale : (rows,) float64, added to in place
    """
    compiled = _kernels().run_steps
    p = program
    compiled(arena, p.consts, p.const_start, p.dims, p.dim_start, p.n_dims, p.in_strides,
             p.in_start, p.in_base, p.base_start, p.n_inputs, p.out_strides, p.out_base,
             p.n_out, p.scale, rescale, log_scale)


def eliminate(adj: np.ndarray, cards: np.ndarray, rule: int) -> list[np.ndarray]:
    """The maximal cliques of a greedy elimination of the graph ``adj`` (boolean, symmetric).

    At each step the vertex with the smallest score goes (the first on ties): ``rule`` 0 by
    (clique weight, fill edges), 1 by (fill edges, weight), 2 by (summed sizes of the fill
    edges, weight); the weight is the log2 size of the vertex and its neighbours. Only the
    scores of the eliminated vertex's neighbours and of theirs are recomputed.

    Parameters
    ----------
    adj : (n, n) bool
    cards : (n,) int
    rule : int

    Returns
    -------
    list of int arrays, the cliques (vertex numbers, the eliminated vertex first) not contained
    in an earlier one, in elimination order.
    """
    compiled = _kernels().eliminate
    cards = np.asarray(cards, dtype=np.float64)
    flat, starts = compiled(np.ascontiguousarray(adj, dtype=np.bool_), cards, np.log2(cards),
                           int(rule))
    return [flat[a:b] for a, b in zip(starts[:-1], starts[1:])]


def rows_times(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with each row summed in the same order whatever the other rows are (BLAS
    picks its kernel by the matrix shapes, so a row's last bits would depend on its batch).

    Parameters
    ----------
    a : (rows, n) float64
    b : (n, k) float64

    Returns
    -------
    (rows, k) float64
    """
    return _kernels().rows_times(np.ascontiguousarray(a, dtype=np.float64),
                                 np.ascontiguousarray(b, dtype=np.float64))
