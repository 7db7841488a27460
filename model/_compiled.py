"""Numba kernels, imported on first use by :mod:`model.kernels` (``cache=True``: compiled once
per machine into numba's cache, loaded from there afterwards)."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def product_sum_rows_last(const, messages, index, out_pos, n_out):
    """See :func:`model.kernels.product_sum`; returns ``(n_out, rows)``."""
    rows = messages.shape[1]
    size = const.shape[0]
    n_msg = index.shape[1]
    out = np.zeros((n_out, rows))
    term = np.empty(rows)
    for e in range(size):
        c = const[e]
        for r in range(rows):
            term[r] = c
        for j in range(n_msg):
            m = messages[index[e, j]]
            for r in range(rows):
                term[r] *= m[r]
        acc = out[out_pos[e]]
        for r in range(rows):
            acc[r] += term[r]
    return out
