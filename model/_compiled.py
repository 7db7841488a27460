"""Numba kernels, imported on first use by :mod:`model.kernels` (``cache=True``: compiled once
per machine into numba's cache, loaded from there afterwards)."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def run_steps(arena, consts, const_start, dims, dim_start, n_dims, in_strides, in_start,
              in_base, base_start, n_inputs, out_strides, out_base, n_out, scale, rescale,
              log_scale):
    """See :func:`model.kernels.run_steps`."""
    rows = arena.shape[1]
    term = np.empty(rows)
    for s in range(const_start.shape[0]):
        nd = n_dims[s]
        d0 = dim_start[s]
        k = n_inputs[s]
        i0 = in_start[s]
        b0 = base_start[s]
        o0 = out_base[s]
        no = n_out[s]
        c0 = const_start[s]
        size = 1
        for i in range(nd):
            size *= dims[d0 + i]
        for x in range(no):
            acc = arena[o0 + x]
            for r in range(rows):
                acc[r] = 0.0
        coord = np.zeros(nd, dtype=np.int64)
        off = np.empty(k, dtype=np.int64)
        for j in range(k):
            off[j] = in_base[b0 + j]
        oo = o0
        for e in range(size):
            c = consts[c0 + e]
            if c != 0.0:
                for r in range(rows):
                    term[r] = c
                for j in range(k):
                    m = arena[off[j]]
                    for r in range(rows):
                        term[r] *= m[r]
                acc = arena[oo]
                for r in range(rows):
                    acc[r] += term[r]
            # the next clique entry (C order): an odometer over the clique's variables
            i = nd - 1
            while i >= 0:
                coord[i] += 1
                for j in range(k):
                    off[j] += in_strides[i0 + j * nd + i]
                oo += out_strides[d0 + i]
                if coord[i] < dims[d0 + i]:
                    break
                for j in range(k):
                    off[j] -= in_strides[i0 + j * nd + i] * dims[d0 + i]
                oo -= out_strides[d0 + i] * dims[d0 + i]
                coord[i] = 0
                i -= 1
        if rescale and scale[s]:
            for r in range(rows):
                top = 0.0
                for x in range(no):
                    v = abs(arena[o0 + x, r])
                    if v > top:
                        top = v
                if top == 0.0:
                    top = 1.0
                for x in range(no):
                    arena[o0 + x, r] /= top
                log_scale[r] += np.log(top)


@njit(cache=True, nogil=True)
def eliminate(adj, cards, logc, rule):
    """See :func:`model.kernels.eliminate`."""
    n = adj.shape[0]
    adj = adj.copy()
    alive = np.ones(n, dtype=np.bool_)
    key1 = np.empty(n)
    key2 = np.empty(n)
    nb = np.empty(n, dtype=np.int64)
    members = np.zeros((n, n), dtype=np.bool_)  # the cliques kept so far, as membership rows
    n_kept = 0
    flat = np.empty(n * n, dtype=np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)

    def score(v):
        k = 0
        weight = logc[v]
        for u in range(n):
            if alive[u] and adj[v, u]:
                nb[k] = u
                k += 1
                weight += logc[u]
        fill = 0.0
        for x in range(k):
            a = nb[x]
            for y in range(x + 1, k):
                b = nb[y]
                if not adj[a, b]:
                    if rule == 2:
                        fill += cards[a] * cards[b]
                    else:
                        fill += 1.0
        if rule == 0:
            key1[v], key2[v] = weight, fill
        else:
            key1[v], key2[v] = fill, weight

    for v in range(n):
        score(v)
    touched = np.zeros(n, dtype=np.bool_)
    for _ in range(n):
        best = -1
        for v in range(n):  # the first strict minimum
            if alive[v] and (best < 0 or key1[v] < key1[best] or (
                    key1[v] == key1[best] and key2[v] < key2[best])):
                best = v
        k = 0
        for u in range(n):
            if alive[u] and adj[best, u]:
                nb[k] = u
                k += 1
        mine = nb[:k].copy()
        for x in range(k):  # connect the neighbours (fill edges)
            for y in range(k):
                if x != y:
                    adj[mine[x], mine[y]] = True
        alive[best] = False
        # keep the clique (best and its neighbours) unless an earlier one contains it
        contained = False
        for c in range(n_kept):
            inside = members[c, best]
            if inside:
                for x in range(k):
                    if not members[c, mine[x]]:
                        inside = False
                        break
            if inside:
                contained = True
                break
        if not contained:
            members[n_kept, best] = True
            for x in range(k):
                members[n_kept, mine[x]] = True
            pos = starts[n_kept]
            flat[pos] = best
            for x in range(k):
                flat[pos + 1 + x] = mine[x]
            n_kept += 1
            starts[n_kept] = pos + 1 + k
        # only the neighbours and their neighbours can see a new score
        touched[:] = False
        for x in range(k):
            a = mine[x]
            touched[a] = True
            for u in range(n):
                if alive[u] and adj[a, u]:
                    touched[u] = True
        for v in range(n):
            if touched[v] and alive[v]:
                score(v)
    return flat[:starts[n_kept]].copy(), starts[:n_kept + 1].copy()


@njit(cache=True, nogil=True)
def rows_times(a, b):
    """See :func:`model.kernels.rows_times`."""
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            x = a[i, j]
            if x != 0.0:
                for k in range(b.shape[1]):
                    out[i, k] += x * b[j, k]
    return out
