"""Junction trees for the engine: triangulation, compiled message-passing plans.

A :class:`JunctionTree` is built once per list of factors (the engine caches one per pattern of
kept leaves, sliced hard answers and undecomposed CPTs, see :meth:`model.engine.Engine.tree`);
each (evidence variables, wanted marginals, pseudo-cases) compiles once into a :class:`Plan`, a
flat list of steps over batched arrays that one compiled call runs (:class:`Program`).
Triangulation: best of three greedy eliminations (compiled); neighbouring small cliques merged.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import kernels
from .bounded_cache import BoundedCache

LETTERS = string.ascii_letters


@dataclass
class Factor:
    """A table over ``scope`` (variable indices, one axis each, in order)."""
    scope: tuple[int, ...]
    table: np.ndarray


class JunctionTree:
    """A junction tree over a fixed list of factors, run through compiled plans.

    A plan is compiled once per (evidence variables, wanted marginals): Shafer-Shenoy messages
    that no evidence reaches are constants, computed at compile time and multiplied into the
    static clique potentials, so a run is a flat list of ``einsum`` calls over batched arrays.
    """

    def __init__(self, factors: list[Factor], cards: np.ndarray, real: list[int],
                 gathered: list[Factor] = (), sliced: frozenset = frozenset(),
                 row_scopes: list[tuple[int, ...]] = ()):
        self.cards = cards
        self.sliced = sliced
        n = len(cards)
        # per-row factors (a table per row, given at run time: parameter draws), by the scope
        # that remains once sliced variables are gathered at their observed state
        self.row_factors = []  # (full scope, remaining scope, cut axes, kept axes)
        for scope in row_scopes:
            cut = [i for i, v in enumerate(scope) if v in sliced]
            keep = [i for i, v in enumerate(scope) if v not in sliced]
            if not keep:
                raise ValueError("a per-row factor must keep a variable that is not sliced")
            self.row_factors.append((tuple(scope), tuple(scope[i] for i in keep), cut, keep))
        # per-case factors of sliced variables, grouped by what remains of their scope
        groups: dict[tuple, list] = {}
        for f in gathered:
            rest = tuple(v for v in f.scope if v not in sliced)
            cut = [i for i, v in enumerate(f.scope) if v in sliced]
            keep = [i for i, v in enumerate(f.scope) if v not in sliced]
            table = np.transpose(f.table, cut + keep)  # sliced axes first, for gathering
            groups.setdefault(rest, []).append((tuple(f.scope[i] for i in cut), table))
        adj = [set() for _ in range(n)]
        row_rest = [rest for _, rest, _, _ in self.row_factors]
        for scope in [f.scope for f in factors] + list(groups) + row_rest:
            for a in scope:
                adj[a].update(b for b in scope if b != a)
        live = sorted({v for f in factors for v in f.scope} | {v for g in groups for v in g}
                      | {v for r in row_rest for v in r})
        cliques = _triangulate(adj, cards, live)
        cliques, edges = _merge_small(cliques, _max_spanning_tree(cliques), cards)
        self.cliques = cliques
        nbrs = [[] for _ in cliques]
        for a, b in edges:
            nbrs[a].append(b)
            nbrs[b].append(a)
        self.nbrs = nbrs
        static = [np.ones(cards[list(c)]) for c in cliques]
        member = np.zeros((len(cliques), n), dtype=bool)
        for i, c in enumerate(cliques):
            member[i, list(c)] = True
        sizes = np.array([s.size for s in static])

        def host(scope):  # the smallest clique holding ``scope`` (the first on ties)
            holding = np.flatnonzero(member[:, list(scope)].all(axis=1))
            return int(holding[np.argmin(sizes[holding])])
        for f in factors:
            h = host(f.scope)
            static[h] = static[h] * _expand(f.table, f.scope, cliques[h])
        self.static = static
        self.home = {v: host((v,)) for v in real}
        self.gathered = []  # (scope, home clique or None for a per-case scalar, [(cut, table)])
        for rest, parts in groups.items():
            self.gathered.append((rest, host(rest) if rest else None, parts))
        self.row_hosts = [host(rest) for rest in row_rest]
        root = max(range(len(cliques)), key=lambda i: static[i].size)
        order, parent = [root], {root: None}
        for c in order:
            for k in nbrs[c]:
                if k not in parent:
                    parent[k] = c
                    order.append(k)
        self.root, self.order, self.parent = root, order, parent
        self.children = {c: [k for k in nbrs[c] if parent.get(k) == c] for c in range(len(cliques))}
        self.letters = [{v: LETTERS[k + 1] for k, v in enumerate(c)} for c in cliques]
        self._plans = BoundedCache(16)  # per evidence pattern and wanted marginals

    @cached_property
    def max_clique_size(self) -> int:
        return max(s.size for s in self.static)

    @property
    def total_size(self) -> int:
        return sum(s.size for s in self.static)

    # ------------------------------------------------------------------------------------
    def plan(self, ev_vars: tuple[int, ...], wanted: tuple[int, ...], pseudo=None) -> "Plan":
        key = (ev_vars, wanted, pseudo is not None and tuple(pseudo))
        plan = self._plans.get(key)
        if plan is None:
            plan = Plan(self, ev_vars, wanted, pseudo)
            self._plans[key] = plan
        return plan

    BUDGET = 1 << 21  # clique entries per call (times the rows): bounds memory for any batch

    def run(self, lik: dict[int, np.ndarray], batch: int, variables: list[int],
            pseudo: dict | None = None, row_tables: list[np.ndarray] | None = None):
        """Run in chunks of rows so that ``rows * largest clique`` stays within ``BUDGET``.

        ``row_tables``: one ``(batch, *cards of its scope)`` table per per-row factor of the
        tree (``row_scopes`` at construction), in that order."""
        if len(row_tables or ()) != len(self.row_factors):
            raise ValueError(f"this tree takes {len(self.row_factors)} per-row tables, "
                             f"got {len(row_tables or ())}")
        step = max(1, self.BUDGET // self.max_clique_size)
        if batch <= step:
            return self._run_rows(lik, batch, variables, pseudo, row_tables)
        parts = [self._run_rows({v: a[i:i + step] for v, a in lik.items()},
                                min(step, batch - i), variables, pseudo,
                                [t[i:i + step] for t in row_tables or ()])
                 for i in range(0, batch, step)]
        marg = {v: np.concatenate([p[0][v] for p in parts]) for v in parts[0][0]}
        log_z = np.concatenate([p[1] for p in parts])
        ratios = None
        if all(p[2] is not None for p in parts):
            ratios = {y: np.concatenate([p[2][y] for p in parts]) for y in parts[0][2]}
        return marg, log_z, ratios

    def _run_rows(self, lik: dict[int, np.ndarray], batch: int, variables: list[int],
                  pseudo: dict | None = None, row_tables: list[np.ndarray] | None = None):
        """Marginals of ``variables`` and ``log Z`` per row; empty ``variables``: ``log Z`` only.

        ``pseudo`` maps a name to constant likelihoods ``{var: vector}``; the ratios
        ``Z(e and those likelihoods) / Z(e)`` per row are returned as a third element (``None``
        when the rows needed rescaling, then the caller computes them another way)."""
        sl = self.sliced
        ev_vars = tuple(sorted(v for v in lik if v not in sl))
        at_state = {}  # sliced variable -> observed state per row
        log_z = np.zeros(batch)
        with np.errstate(divide="ignore"):
            for v in sl:
                vec = lik[v]
                at_state[v] = state = vec.argmax(axis=1)
                log_z += np.log(vec[np.arange(batch), state])  # -inf: a row of probability 0
        side = {}  # pseudo likelihoods on sliced variables are per-row constants
        if pseudo:
            pseudo_in = {}
            for y, vecs_y in pseudo.items():
                f = np.ones(batch)
                for v, vec in vecs_y.items():
                    if v in sl:
                        f = f * vec[at_state[v]]
                side[y] = f
                rest = {v: vec for v, vec in vecs_y.items() if v not in sl}
                if rest:
                    pseudo_in[y] = rest
            pseudo = pseudo_in
        plan = self.plan(ev_vars, tuple(variables), pseudo)
        # likelihoods are defined up to scale: bring each row to max 1, remember the scale
        vecs = []
        for v in ev_vars:
            vec = lik[v]
            top = np.abs(vec).max(axis=1)
            top[top == 0] = 1.0
            vecs.append(vec / top[:, None])
            log_z += np.log(top)
        for rest, host, parts in self.gathered:
            arr = None
            for cut, table in parts:
                g = table[tuple(at_state[v] for v in cut)]
                arr = g if arr is None else arr * g
            if host is None:  # nothing left of the scope: a per-row scalar
                with np.errstate(divide="ignore"):
                    log_z += np.log(arr)
            else:
                vecs.append(arr)
        rows = np.arange(batch)
        for (scope, _, cut, keep), table in zip(self.row_factors, row_tables or ()):
            if cut:  # sliced axes at each row's observed state
                table = np.transpose(table, [0] + [1 + i for i in cut + keep])
                table = table[(rows,) + tuple(at_state[scope[i]] for i in cut)]
            vecs.append(table)
        pseudo_z = {}
        marg, z = plan.run(vecs, batch, pseudo_out=pseudo_z)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = {y: side[y] * (np.where(z != 0, pseudo_z[y] / np.where(
                z != 0, z, 1.0), 0.0) if y in pseudo_z else 1.0) for y in side}
        small = ~(np.abs(z) > 1e-250)
        if small.any():
            ratios = None  # very improbable evidence: rerun those rows rescaling every message
            rows = np.flatnonzero(small)
            sub = [a[rows] for a in vecs]
            if variables:
                m2, _ = plan.run(sub, len(rows), rescale=True)
                for v in marg:
                    marg[v][rows] = m2[v]
            _, z2, lz2 = self.plan(ev_vars, ()).run(sub, len(rows), rescale=True, log=True)
            z = z.copy()
            z[rows] = z2
            log_z[rows] += lz2
        with np.errstate(divide="ignore"):
            log_z += np.log(np.abs(z)).astype(float)
        marg = {v: m.astype(float) for v, m in marg.items()}
        if ratios is not None:
            ratios = {y: np.asarray(r, dtype=float) for y, r in ratios.items()}
        return marg, log_z, ratios


class Plan:
    """Flat schedule of einsum steps for one tree, evidence pattern and set of wanted marginals."""

    # tests: run the steps as plain numpy einsums (the reference the compiled executor is
    # held to); extended-precision operands always run that way
    reference: bool = False

    def __init__(self, tree: JunctionTree, ev_vars: tuple[int, ...], wanted: tuple[int, ...],
                 pseudo: dict | None = None):
        t = self._tree = tree
        pseudo = pseudo or {}
        self.slots: list = []  # constants live in slots; evidence and messages fill the rest
        self.steps: list = []
        ev_at: dict[int, list] = {}  # clique -> [(slot, scope)] of per-row operands
        self.ev_slots = []
        for v in ev_vars:
            self.ev_slots.append(self._slot(None))
            ev_at.setdefault(t.home[v], []).append((self.ev_slots[-1], (v,)))
        for rest, host, _ in t.gathered:
            if host is not None:
                self.ev_slots.append(self._slot(None))
                ev_at.setdefault(host, []).append((self.ev_slots[-1], rest))
        for (_, rest, _, _), host in zip(t.row_factors, t.row_hosts):
            self.ev_slots.append(self._slot(None))
            ev_at.setdefault(host, []).append((self.ev_slots[-1], rest))
        # messages: (src, dst) -> ("c", array) constant or ("b", slot) batched
        msgs: dict = {}

        def combine(c, exclude, out_vars, scale=False, over=None, extra=()):
            letters = t.letters[c]
            axes = "".join(letters[v] for v in t.cliques[c])
            const = t.static[c]
            for v, vec in extra:  # constant likelihoods of a pseudo-case
                const = np.einsum(axes + "," + letters[v] + "->" + axes, const, vec)
            ops, subs = [], []
            for slot, scope in ev_at.get(c, ()):
                ops.append(slot)
                subs.append("a" + "".join(letters[v] for v in scope))
            for k in t.nbrs[c]:
                if k == exclude:
                    continue
                kind, val = over[(k, c)] if over and (k, c) in over else msgs[(k, c)]
                sep = "".join(letters[v] for v in _sep(t, k, c))
                if kind == "c":  # evidence-free message: fold it into the static potential now
                    const = np.einsum(axes + "," + sep + "->" + axes, const, val)
                else:
                    ops.append(val)
                    subs.append("a" + sep)
            out = "".join(letters[v] for v in out_vars)
            if not ops:
                return ("c", np.einsum(axes + "->" + out, const))
            cslot = self._slot(const)
            expr = ",".join([axes] + subs) + "->a" + out
            dst = self._slot(None)
            self.steps.append((dst, expr, tuple([cslot] + ops), scale))
            return ("b", dst)

        for c in reversed(t.order[1:]):  # collect towards the root
            p = t.parent[c]
            msgs[(c, p)] = combine(c, p, _sep(t, c, p), scale=True)
        self.z_slot = None
        self.marg_slots = {}
        self.pseudo_slots = {}
        if not wanted:
            kind, val = combine(t.root, None, ())
            self.z_slot = self._slot(val) if kind == "c" else val
            return
        hosts: dict[int, list[int]] = {}
        for v in wanted:
            hosts.setdefault(t.home[v], []).append(v)
        # pseudo-cases (Z with constant extra likelihoods) run on the smallest subtree spanning
        # the cliques that host their likelihoods, fed by the calibrated messages around it
        spans = {y: _span(t, {t.home[v] for v in vecs}) for y, vecs in pseudo.items()}
        # distribute only along the paths from the root to the cliques that need it
        need = set()
        for h in list(hosts) + [top for _, top in spans.values()]:
            while h is not None:
                need.add(h)
                h = t.parent[h]
        for c in t.order:
            for k in t.children[c]:
                if k in need:
                    msgs[(c, k)] = combine(c, k, _sep(t, c, k), scale=True)
        for c, vs in hosts.items():
            for v in vs:  # one call per marginal: cheaper than the full belief for small cards
                kind, val = combine(c, None, (v,))
                self.marg_slots[v] = self._slot(val) if kind == "c" else val
        self.pseudo_slots = {}
        for y, vecs in pseudo.items():
            members, top = spans[y]
            at: dict[int, list] = {}
            for v, vec in vecs.items():
                at.setdefault(t.home[v], []).append((v, vec))
            over = {}
            for c in reversed(t.order):  # children first
                if c in members and c != top:
                    p = t.parent[c]
                    over[(c, p)] = combine(c, p, _sep(t, c, p), over=over, extra=at.get(c, ()))
            kind, val = combine(top, None, (), over=over, extra=at.get(top, ()))
            self.pseudo_slots[y] = self._slot(val) if kind == "c" else val

    @cached_property
    def program(self) -> "Program | None":
        """The steps as flat arrays for the compiled executor; ``None`` in extended precision."""
        if any(isinstance(s, np.ndarray) and s.dtype != np.float64 for s in self.slots):
            return None
        return Program.of(self.steps, self.slots)

    def _run_compiled(self, program: "Program", vecs: list[np.ndarray], batch: int,
                      rescale: bool, log: bool, pseudo_out: dict | None):
        arena = np.empty((program.size, batch))
        for slot, vec in zip(self.ev_slots, vecs):
            if slot in program.where:  # (an operand no step reads: its clique is not needed)
                start, n = program.where[slot]
                arena[start:start + n] = vec.reshape(vec.shape[0], n).T
        log_scale = np.zeros(batch)
        kernels.run_steps(arena, program, rescale, log_scale)

        def value(slot):
            if slot in program.where:
                start, n = program.where[slot]
                return np.ascontiguousarray(arena[start:start + n].T)
            return self.slots[slot]  # a constant
        marg = {}
        z = None
        for v, slot in self.marg_slots.items():
            m = value(slot)
            if m.ndim == 1:
                m = np.broadcast_to(m, (batch,) + m.shape)
            if z is None:  # every marginal sums to the same Z
                z = m.sum(axis=1)
            marg[v] = m
        if z is None:
            z = value(self.z_slot)
            z = np.full(batch, float(z)) if np.size(z) == 1 and np.ndim(z) < 2 else z[:, 0]
        if pseudo_out is not None:
            for y, slot in self.pseudo_slots.items():
                p = value(slot)
                pseudo_out[y] = np.broadcast_to(p[:, 0] if np.ndim(p) == 2 else p, (batch,))
        if log:
            return marg, z, log_scale
        return marg, z

    def _slot(self, value) -> int:
        self.slots.append(value)
        return len(self.slots) - 1

    def run(self, vecs: list[np.ndarray], batch: int, rescale: bool = False, log: bool = False,
            pseudo_out: dict | None = None):
        """Execute the steps. Marginals are unnormalised; with ``rescale`` every message is
        divided by its per-row maximum (only a per-row constant, so marginals stay right) and
        ``log=True`` also returns the summed log-scales of the collect messages for ``log Z``.
        ``pseudo_out`` receives ``Z`` of every pseudo-case per row (an argument, not state on
        the plan, which is shared by every caller of the tree, Streamlit's threads included).

        In float64 every step runs in one compiled call (:func:`model.kernels.run_steps`), each
        row with the same operations in the same order whatever the other rows are; extended
        precision (and the tests' ``reference``) runs one numpy ``einsum`` per step."""
        program = self.program
        if program is not None and not self.reference and all(
                v.dtype == np.float64 for v in vecs):
            return self._run_compiled(program, vecs, batch, rescale, log, pseudo_out)
        buf = list(self.slots)
        for slot, vec in zip(self.ev_slots, vecs):
            buf[slot] = vec
        log_scale = np.zeros(batch)
        for dst, expr, args, scale in self.steps:
            r = np.einsum(expr, *[buf[i] for i in args], optimize="greedy")
            if rescale and scale:
                top = np.abs(r.reshape(batch, -1)).max(axis=1)
                top[top == 0] = 1.0
                r = r / top.reshape((batch,) + (1,) * (r.ndim - 1))
                log_scale += np.log(top)
            buf[dst] = r
        marg = {}
        z = None
        for v, slot in self.marg_slots.items():
            m = buf[slot]
            if m.ndim == 1:
                m = np.broadcast_to(m, (batch,) + m.shape)
            if z is None:  # every marginal sums to the same Z
                z = m.sum(axis=1)
            marg[v] = m
        if z is None:
            z = buf[self.z_slot]
            z = np.full(batch, float(z)) if np.ndim(z) == 0 else z
        if pseudo_out is not None:
            pseudo_out.update({y: np.broadcast_to(buf[slot], (batch,))
                               for y, slot in self.pseudo_slots.items()})
        if log:
            return marg, z, log_scale
        return marg, z


@dataclass(frozen=True)
class Program:
    """A plan's steps as flat arrays, for :func:`model.kernels.run_steps`.

    Per step ``s``: its clique's constant potential (``consts`` from ``const_start[s]``, C
    order over the clique's variables, whose cards are ``dims`` from ``dim_start[s]``, ``n_dims``
    of them); ``n_inputs[s]`` batched operands, each at ``in_base`` (from ``base_start[s]``) in
    the arena with one stride per clique variable (``in_strides`` from ``in_start[s]``, 0 for
    a variable the operand does not have); the output at ``out_base[s]``, ``n_out[s]``
    entries, strides ``out_strides`` (aligned with ``dims``); ``scale[s]``: a message that
    ``rescale`` divides by its per-row maximum. ``where``: arena ``(start, entries)`` of every
    batched slot of the plan; ``size``: the arena's entries per row."""
    consts: np.ndarray
    const_start: np.ndarray
    dims: np.ndarray
    dim_start: np.ndarray
    n_dims: np.ndarray
    in_strides: np.ndarray
    in_start: np.ndarray
    in_base: np.ndarray
    base_start: np.ndarray
    n_inputs: np.ndarray
    out_strides: np.ndarray
    out_base: np.ndarray
    n_out: np.ndarray
    scale: np.ndarray
    where: dict
    size: int

    @classmethod
    def of(cls, steps: list, slots: list) -> "Program":
        where: dict[int, tuple[int, int]] = {}
        size = 0

        def place(slot, n):
            nonlocal size
            if slot not in where:
                where[slot] = (size, n)
                size += n
            return where[slot][0]

        def strides(letters, dims, clique):
            at, stride = {}, 1
            for c in reversed(letters):
                at[c] = stride
                stride *= dims[c]
            return [at.get(c, 0) for c in clique], stride

        consts, dims_all, in_strides, in_base, out_strides = [], [], [], [], []
        meta = {k: [] for k in ("const_start", "dim_start", "n_dims", "in_start", "base_start",
                                "n_inputs", "out_base", "n_out", "scale")}
        n_const = 0
        for dst, expr, args, scale in steps:
            inputs, out = expr.split("->")
            clique, *subs = inputs.split(",")
            const = np.ascontiguousarray(slots[args[0]], dtype=np.float64).reshape(-1)
            dims = dict(zip(clique, np.shape(slots[args[0]])))
            meta["const_start"].append(n_const)
            meta["dim_start"].append(len(dims_all))
            meta["n_dims"].append(len(clique))
            meta["in_start"].append(len(in_strides))
            meta["base_start"].append(len(in_base))
            meta["n_inputs"].append(len(subs))
            consts.append(const)
            n_const += const.size
            dims_all.extend(dims[c] for c in clique)
            for slot, sub in zip(args[1:], subs):
                st, n = strides(sub[1:], dims, clique)
                in_base.append(place(slot, n))
                in_strides.extend(st)
            st, n = strides(out[1:], dims, clique)
            meta["out_base"].append(place(dst, n))
            meta["n_out"].append(n)
            meta["scale"].append(bool(scale))
            out_strides.extend(st)
        ints = {k: np.asarray(v, dtype=np.int64) for k, v in meta.items() if k != "scale"}
        return cls(consts=np.concatenate(consts) if consts else np.zeros(0),
                   dims=np.asarray(dims_all, dtype=np.int64),
                   in_strides=np.asarray(in_strides, dtype=np.int64),
                   in_base=np.asarray(in_base, dtype=np.int64),
                   out_strides=np.asarray(out_strides, dtype=np.int64),
                   scale=np.asarray(meta["scale"], dtype=np.bool_), where=where, size=size,
                   **ints)


def _span(t: JunctionTree, hosts: set[int]) -> tuple[set[int], int]:
    """The cliques on the tree paths between ``hosts`` and their lowest common ancestor."""
    paths = []
    for h in hosts:
        path = []
        while h is not None:
            path.append(h)
            h = t.parent[h]
        paths.append(path[::-1])  # root first
    top = 0
    while all(len(p) > top + 1 for p in paths) and len({p[top + 1] for p in paths}) == 1:
        top += 1
    members = {c for p in paths for c in p[top:]}
    return members, paths[0][top]


def _sep(t: JunctionTree, a: int, b: int) -> tuple[int, ...]:
    cb = set(t.cliques[b])
    return tuple(v for v in t.cliques[a] if v in cb)


def _expand(table, scope, target):
    """Broadcast ``table`` over ``scope`` to the axes of ``target`` (a superset)."""
    perm = sorted(range(len(scope)), key=lambda i: target.index(scope[i]))
    t = np.transpose(table, perm)
    placed = [scope[i] for i in perm]
    shape = [t.shape[placed.index(v)] if v in placed else 1 for v in target]
    return t.reshape(shape)


def _triangulate(adj: list[set], cards: np.ndarray, live: list[int]) -> list[tuple[int, ...]]:
    """Best of three greedy eliminations (min weight, min fill, weighted min fill), judged by
    the total size of the cliques; returns maximal cliques."""
    logc = np.log2(np.asarray(cards, dtype=float))
    best, best_cost = None, np.inf
    for rule in (0, 1, 2):
        cliques = _eliminate(adj, cards, logc, live, rule)
        cost = sum(2.0 ** sum(logc[v] for v in c) for c in cliques)
        if cost < best_cost:
            best, best_cost = cliques, cost
    return best


def _eliminate(adj, cards, logc, live, rule):
    """Greedy elimination order under ``rule`` (0 min weight, 1 min fill, 2 weighted min
    fill: the summed sizes of the fill edges), compiled (:func:`model.kernels.eliminate`);
    returns the maximal cliques it creates."""
    live = list(live)
    at = {v: i for i, v in enumerate(live)}
    matrix = np.zeros((len(live), len(live)), dtype=bool)
    for v in live:
        for u in adj[v]:
            if u in at:
                matrix[at[v], at[u]] = True
    cliques = kernels.eliminate(matrix, np.asarray(cards)[live], rule)
    return [tuple(sorted(live[i] for i in c)) for c in cliques]


def _merge_small(cliques, edges, cards, limit: int = 1024):
    """Merge neighbouring cliques while the union stays small: fewer, larger steps cost less
    Python per run than many tiny ones (merging neighbours keeps the running intersection).
    Each round merges the edge with the smallest union (the first such edge on ties); only the
    unions of the edges at the merged clique change, so only those are recomputed."""
    cliques = [set(c) for c in cliques]
    edges = [tuple(e) for e in edges]
    card = [int(c) for c in cards]

    def size(vs):
        return math.prod(card[v] for v in vs)

    sizes = [size(c) for c in cliques]
    unions = [size(cliques[a] | cliques[b]) for a, b in edges]
    while True:
        best = None
        for k, ((a, b), u) in enumerate(zip(edges, unions)):
            if u <= max(limit, sizes[a], sizes[b]) and (best is None or u < best[0]):
                best = (u, k)
        if best is None:
            break
        a, b = edges.pop(best[1])
        unions.pop(best[1])
        cliques[a] |= cliques[b]
        cliques[b] = None
        sizes[a] = best[0]
        kept_edges, kept_unions = [], []
        for (x, y), u in zip(edges, unions):
            x, y = (a if x == b else x), (a if y == b else y)
            if x == y:
                continue
            kept_edges.append((x, y))
            kept_unions.append(size(cliques[x] | cliques[y]) if a in (x, y) else u)
        edges, unions = kept_edges, kept_unions
    alive = [i for i, c in enumerate(cliques) if c is not None]
    new = {old: k for k, old in enumerate(alive)}
    return ([tuple(sorted(cliques[i])) for i in alive],
            [(new[a], new[b]) for a, b in edges])


def _max_spanning_tree(cliques):
    """Kruskal on separator size (larger first, then by clique numbers): the
    running-intersection junction tree."""
    n = 1 + max((v for c in cliques for v in c), default=0)
    member = np.zeros((len(cliques), n), dtype=np.int32)
    for i, c in enumerate(cliques):
        member[i, list(c)] = 1
    shared = member @ member.T
    first, second = np.triu_indices(len(cliques), 1)
    order = np.lexsort((second, first, -shared[first, second]))
    root = list(range(len(cliques)))

    def find(x):
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    edges = []
    for k in order.tolist():
        if len(edges) == len(cliques) - 1:
            break
        i, j = int(first[k]), int(second[k])
        a, b = find(i), find(j)
        if a != b:
            root[a] = b
            edges.append((i, j))
    return edges
