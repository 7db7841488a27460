"""Compiled inner loops of the junction tree (numba).

Only the clique step that dominates a run is compiled: a clique's constant potential times
several batched messages, summed onto the separator (:meth:`model.junction_tree.Plan._gathered`).
Numpy does it as one gather per message onto every clique entry, each a temporary array of
``rows x entries``; the kernel reads each message entry where it is needed and adds each product
straight into the output, rows innermost (contiguous, vectorised), so nothing of the clique's size
is allocated. Each row sees the same operations in the same order whatever the other rows are:
the same row gives the same bits in any batch or chunking.

Numba has no ``longdouble``: extended-precision trees keep the numpy path. The kernel lives in
:mod:`model._compiled` and is imported (compiled, or loaded from numba's on-disk cache) on first
use, so a start that never runs a big step never pays for numba.
"""
from __future__ import annotations

import numpy as np


def product_sum(const: np.ndarray, messages: np.ndarray, index: np.ndarray,
                out_pos: np.ndarray, n_out: int) -> np.ndarray:
    """``out[r, out_pos[e]] += const[e] * prod_j messages[index[e, j], r]`` over every entry ``e``.

    Parameters
    ----------
    const : (entries,) float64
        The clique's constant potential, flattened.
    messages : (total, rows) float64, C-contiguous
        The batched messages, each flattened, stacked one above the other (rows last).
    index : (entries, n_messages) intp, C-contiguous
        Where in ``messages`` each message's entry for clique entry ``e`` sits.
    out_pos : (entries,) intp
        The output entry (separator configuration) that clique entry ``e`` adds to.
    n_out : int
        Output entries per row.

    Returns
    -------
    (rows, n_out) float64
    """
    from ._compiled import product_sum_rows_last
    return product_sum_rows_last(const, messages, index, out_pos, n_out).T
