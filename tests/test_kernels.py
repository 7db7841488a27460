"""The compiled kernels (model.kernels) against plain numpy and Python references."""
import numpy as np
import pytest

from model import kernels
from model.junction_tree import Program


def random_steps(rng, rows):
    """A few steps over random cliques whose operands are evidence slots and earlier outputs,
    in the plan's form: ``(dst, einsum expression, (const slot, operand slots...), scale)``."""
    slots, steps, batched = [], [], {}  # batched: slot -> letters
    letters = "bcdef"
    dims = {c: int(rng.integers(2, 4)) for c in letters}
    for _ in range(3):  # evidence operands
        sub = "".join(sorted(rng.choice(list(letters), 2, replace=False)))
        slots.append(None)
        batched[len(slots) - 1] = sub
    evidence = list(batched.items())
    for _ in range(4):
        clique = "".join(sorted(rng.choice(list(letters), 4, replace=False)))
        usable = [(s, sub) for s, sub in batched.items() if set(sub) <= set(clique)]
        if not usable:
            continue
        ops = usable[:3]
        const = rng.uniform(-1, 1, [dims[c] for c in clique])  # signed, as aux factors are
        const[rng.random(const.shape) < 0.2] = 0.0  # zeros are skipped
        slots.append(const)
        cslot = len(slots) - 1
        out = "".join(rng.choice(list(clique), 2, replace=False))
        slots.append(None)
        dst = len(slots) - 1
        expr = ",".join([clique] + ["a" + sub for _, sub in ops]) + "->a" + out
        steps.append((dst, expr, (cslot,) + tuple(s for s, _ in ops), bool(rng.random() < .5)))
        batched[dst] = out
    vectors = {s: rng.uniform(0.1, 2, (rows,) + tuple(dims[c] for c in sub))
               for s, sub in evidence}
    return slots, steps, vectors


def run_both(slots, steps, vectors, rows, rescale):
    program = Program.of(steps, slots)
    arena = np.zeros((program.size, rows))
    for slot, vec in vectors.items():
        if slot in program.where:
            start, n = program.where[slot]
            arena[start:start + n] = vec.reshape(rows, n).T
    log_scale = np.zeros(rows)
    kernels.run_steps(arena, program, rescale, log_scale)
    buf, ref_scale = list(slots), np.zeros(rows)
    for slot, vec in vectors.items():
        buf[slot] = vec
    for dst, expr, args, scale in steps:
        r = np.einsum(expr, *[buf[i] for i in args])
        if rescale and scale:
            top = np.abs(r.reshape(rows, -1)).max(axis=1)
            top[top == 0] = 1.0
            r = r / top.reshape((rows,) + (1,) * (r.ndim - 1))
            ref_scale += np.log(top)
        buf[dst] = r
    return program, arena, log_scale, buf, ref_scale


@pytest.mark.parametrize("rescale", [False, True])
def test_run_steps_matches_numpy(rescale):
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = int(rng.integers(1, 9))
        slots, steps, vectors = random_steps(rng, rows)
        program, arena, log_scale, buf, ref_scale = run_both(slots, steps, vectors, rows,
                                                             rescale)
        for dst, *_ in steps:
            start, n = program.where[dst]
            np.testing.assert_allclose(arena[start:start + n].T, buf[dst].reshape(rows, n),
                                       rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(log_scale, ref_scale, rtol=1e-13, atol=1e-13)


def test_a_row_gives_the_same_bits_in_any_batch():
    """Rows are independent: the engine's results must not depend on how rows are chunked."""
    rng = np.random.default_rng(1)
    slots, steps, vectors = random_steps(rng, 33)
    program, whole, *_ = run_both(slots, steps, vectors, 33, True)
    for rows in (slice(0, 1), slice(5, 6), slice(3, 20), slice(32, 33)):
        part = {s: v[rows] for s, v in vectors.items()}
        n = rows.stop - rows.start
        _, arena, *_ = run_both(slots, steps, part, n, True)
        np.testing.assert_array_equal(arena, whole[:, rows])


def brute_force_cliques(adj, cards, rule):
    """The same greedy elimination in plain Python."""
    n = len(adj)
    adj = [set(np.flatnonzero(adj[v])) for v in range(n)]
    logc = np.log2(cards.astype(float))
    alive, cliques = set(range(n)), []

    def key(v):
        nb = sorted(adj[v] & alive)
        weight = logc[v] + sum(logc[u] for u in nb)
        missing = [(a, b) for i, a in enumerate(nb) for b in nb[i + 1:] if b not in adj[a]]
        fill = sum(cards[a] * cards[b] for a, b in missing) if rule == 2 else len(missing)
        return (weight, fill) if rule == 0 else (fill, weight)
    while alive:
        best = min(sorted(alive), key=key)
        nb = adj[best] & alive
        for a in nb:
            adj[a] |= nb - {a}
        alive.remove(best)
        members = nb | {best}
        if not any(members <= c for c in cliques):
            cliques.append(members)
    return cliques


@pytest.mark.parametrize("rule", [0, 1, 2])
def test_eliminate_matches_the_python_greedy(rule):
    rng = np.random.default_rng(rule)
    for _ in range(30):
        n = int(rng.integers(2, 25))
        adj = rng.random((n, n)) < rng.uniform(0.1, 0.5)
        adj = adj | adj.T
        np.fill_diagonal(adj, False)
        cards = rng.integers(2, 5, n)
        got = [set(c.tolist()) for c in kernels.eliminate(adj, cards, rule)]
        assert got == brute_force_cliques(adj, cards, rule)
        for a, b in zip(*np.nonzero(adj)):  # a triangulation: every edge in some clique
            assert any(a in c and b in c for c in got)
