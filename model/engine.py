"""Fast exact inference: a numpy junction tree compiled once from the pgmpy network.

Why it is fast
--------------
* **Noisy-OR factorisation.** Every binary CPD whose "off" column factorises as
  ``P(Y=off | x) = L * prod_i g_i(x_i)`` (every noisy-OR does; the check is numerical, so networks
  read back from BIF files or fitted to data are handled too) is rewritten with one auxiliary binary
  variable ``A`` (Diez & Galan 2003, multiplicative factorisation):
  ``P(y | x) = sum_A W(y, A) * prod_i f_i(A, x_i)`` with ``f_i(0, x) = g_i(x)``, ``f_i(1, x) = 1``,
  ``W(off, .) = [L, 0]`` and ``W(on, .) = [-L, 1]``. The parents are no longer married to each other,
  so the cliques stay small although findings and leg pain have many parents.
* **Batching.** Every potential carries a leading case axis, so one pass of ``einsum`` calls
  answers thousands of cases; single cases run the same code with a batch of one.
* **Shafer-Shenoy messages** with per-case rescaling (log-scale kept for ``log P(evidence)``).

Impossible evidence is detected exactly, not by a floating-point threshold: only CPDs that contain
zeros can make evidence impossible, so a boolean check over those factors and the evidence masks
decides it.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

_LETTERS = string.ascii_letters


@dataclass
class _Factor:
    scope: tuple[int, ...]
    table: np.ndarray


class ImpossibleEvidence(ValueError):
    """The evidence has probability zero under the model."""

    def __init__(self, cases: np.ndarray):
        self.cases = cases
        super().__init__(f"evidence has probability zero in case(s) {cases.tolist()[:10]}")


class Engine:
    """Exact inference for a discrete Bayesian network.

    Parameters
    ----------
    network : pgmpy DiscreteBayesianNetwork
        Compiled once; later changes to the network are not seen.
    decompose_min_parents : int
        Noisy-OR CPDs with at least this many parents are factorised.

    Leaves whose CPD is a noisy-OR (the findings and leg pain) are handled per case: evidence
    "absent" becomes a product of per-parent likelihoods (no coupling), no evidence drops the leaf
    (barren), and only "present" or soft evidence keeps the auxiliary variable in the junction
    tree. Junction trees are compiled lazily for each such pattern and cached.
    """

    def __init__(self, network, decompose_min_parents: int = 1, cache_size: int = 512):
        self.variables: list[str] = list(network.nodes())
        self.index = {v: i for i, v in enumerate(self.variables)}
        self.states: dict[str, tuple[str, ...]] = {}
        cpds = {v: network.get_cpds(v) for v in self.variables}
        for var, cpd in cpds.items():
            self.states[var] = tuple(cpd.state_names[var])
        self.cards = np.array([len(self.states[v]) for v in self.variables])
        self._constraints: list[_Factor] = []
        self._specs = []  # (kind, scope, payload) per variable
        self.decomposed: list[str] = []
        children = {v: [] for v in self.variables}
        for v in self.variables:
            for p in network.get_parents(v):
                children[p].append(v)
        split_of = {}
        for var in self.variables:
            cpd = cpds[var]
            scope = tuple(self.index[v] for v in cpd.variables)
            table = np.asarray(cpd.values, dtype=float).reshape([self.cards[i] for i in scope])
            if np.any(table == 0):
                self._constraints.append(_Factor(scope, (table > 0).astype(float)))
            split = None
            if len(scope) - 1 >= decompose_min_parents and self.cards[scope[0]] == 2:
                split = _noisy_or_split(table)
            if split is None:
                self._specs.append(("tab", scope, table))
                continue
            self.decomposed.append(var)
            self._specs.append(("nor", scope, split))
            off, leak, gs = split
            split_of[var] = (off, leak, list(zip(scope[1:], gs)))
        # "Outer" nodes (findings, tissue groups, leg pain): noisy-OR nodes whose children are all
        # outer and tie them deterministically (inhibitor 0 or 1), so folding their children
        # leaves them with hard evidence. They are folded or expanded per case (Quickscore).
        outer: dict[str, tuple] = {}
        for var in reversed(list(_topological(self.variables, network))):
            if var not in split_of:
                continue
            ok = True
            for child in children[var]:
                if child not in outer:
                    ok = False
                    break
                g = dict(outer[child][2])[self.index[var]]
                if not np.all((g == 0) | (g == 1)):
                    ok = False
                    break
            if ok:
                outer[var] = split_of[var]
        # children before parents, so folding flows upwards
        self.foldable: dict[int, tuple] = {
            self.index[v]: (outer[v][0], outer[v][1], [(p, g) for p, g in outer[v][2]])
            for v in reversed(list(_topological(self.variables, network))) if v in outer}
        # Quickscore is cheap for one or two positive findings; beyond that its signed terms
        # cancel badly, so positives keep their aux variable in the junction tree instead.
        self.max_expanded = 2
        self._trees: dict[frozenset, _Tree] = {}
        self._cache_size = cache_size

    # ------------------------------------------------------------------------------------
    def tree(self, pattern: frozenset = frozenset()) -> "_Tree":
        """The junction tree in which the foldable leaves in ``pattern`` keep their aux variable."""
        tree = self._trees.get(pattern)
        if tree is None:
            if len(self._trees) >= self._cache_size:
                self._trees.pop(next(iter(self._trees)))
            factors, cards = [], list(self.cards)
            for kind, scope, payload in self._specs:
                if kind == "tab":
                    factors.append(_Factor(scope, payload))
                    continue
                if scope[0] in self.foldable and scope[0] not in pattern:
                    continue  # folded into per-case likelihoods, expanded, or barren
                off, leak, gs = payload
                aux = len(cards)
                cards.append(2)
                w = np.zeros((2, 2))
                w[off, 0], w[1 - off, 0], w[1 - off, 1] = leak, -leak, 1.0
                factors.append(_Factor((scope[0], aux), w))
                for parent, g in zip(scope[1:], gs):
                    factors.append(_Factor((aux, parent), np.stack([g, np.ones_like(g)])))
            live = {v for f in factors for v in f.scope}
            tree = _Tree(factors, np.array(cards), [v for v in range(len(self.variables)) if v in live])
            self._trees[pattern] = tree
        return tree

    @property
    def max_clique_size(self) -> int:
        return self.tree().max_clique_size

    # ------------------------------------------------------------------------------------
    def likelihoods(self, evidence: dict, batch: int = 1) -> dict[int, np.ndarray]:
        """Turn ``{var: state | index | likelihood vector}`` into ``{index: (batch, card)}``."""
        out = {}
        for var, value in evidence.items():
            if var not in self.index:
                raise ValueError(f"unknown variable {var!r}; variables: {', '.join(self.variables)}")
            i = self.index[var]
            card = self.cards[i]
            if isinstance(value, str):
                if value not in self.states[var]:
                    raise ValueError(f"{value!r} is not a state of {var}; states: "
                                     f"{', '.join(self.states[var])}")
                vec = np.zeros(card)
                vec[self.states[var].index(value)] = 1.0
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                if not 0 <= value < card:
                    raise ValueError(f"state index {value} out of range for {var} (0..{card - 1})")
                vec = np.zeros(card)
                vec[value] = 1.0
            else:
                vec = np.asarray(value, dtype=float)
                if (vec.shape[-1:] != (card,) or np.any(vec < 0) or not np.all(np.isfinite(vec))):
                    raise ValueError(f"likelihood for {var} must be {card} non-negative numbers "
                                     f"(one per state: {', '.join(self.states[var])})")
            out[i] = np.broadcast_to(vec, (batch, card)) if vec.ndim == 1 else vec
        return out

    def check_possible(self, lik: dict[int, np.ndarray], batch: int) -> np.ndarray:
        """Boolean per case: does the evidence have positive probability?"""
        ok = np.ones(batch, dtype=bool)
        for vec in lik.values():
            ok &= vec.max(axis=1) > 0
        if not self._constraints:
            return ok
        involved = sorted({v for f in self._constraints for v in f.scope})
        letters = {v: _LETTERS[k + 1] for k, v in enumerate(involved)}
        ops, subs = [], []
        for f in self._constraints:
            ops.append(f.table)
            subs.append("".join(letters[v] for v in f.scope))
        for v, vec in lik.items():
            if v in letters:
                ops.append((vec > 0).astype(float))
                subs.append("a" + letters[v])
        if not any("a" in s for s in subs):
            return ok & (np.einsum(",".join(subs) + "->", *ops, optimize=True) > 0)
        return ok & (np.einsum(",".join(subs) + "->a", *ops, optimize=True) > 0)

    def _expand(self, lik: dict[int, np.ndarray], batch: int, keep: frozenset):
        """Fold the outer nodes not in ``keep`` into likelihoods on their parents.

        Returns ``(rows, case, coef)``: per-row likelihoods, the case each row belongs to, and the
        row's coefficient. ``P(e) = sum over a case's rows of coef * Z(row)`` (Quickscore: a
        positive or soft noisy-OR finding splits into "drop it" with weight ``w_on`` and "it is
        absent" with weight ``w_off - w_on``).
        """
        rows = dict(lik)
        case = np.arange(batch)
        coef = np.ones(batch)
        for node, (off, leak, links) in self.foldable.items():
            if node in keep:
                continue
            vec = rows.pop(node, None)
            if vec is None:
                continue  # barren
            w_off, w_on = vec[:, off], vec[:, 1 - off]
            positive = (w_on > 0) & (w_on != w_off)
            negative = w_on == 0
            # uninformative rows (w_on == w_off) only scale; negative rows fold
            coef = coef * np.where(negative, w_off * leak, np.where(positive, 1.0, w_off))
            pos = np.flatnonzero(positive)
            if len(pos):  # "absent" copies of the positive rows
                absent_coef = coef[pos] * (w_off[pos] - w_on[pos]) * leak
                coef[pos] *= w_on[pos]  # the kept rows become the "drop" term
                rows = {k: np.concatenate([a, a[pos]]) for k, a in rows.items()}
                case = np.concatenate([case, case[pos]])
                coef = np.concatenate([coef, absent_coef])
                negative = np.concatenate([negative, np.ones(len(pos), dtype=bool)])
            for parent, g in links:
                factor = np.where(negative[:, None], g[None, :], 1.0)
                rows[parent] = rows[parent] * factor if parent in rows else factor
        return rows, case, coef

    def _positive_outer(self, lik: dict[int, np.ndarray]) -> list[int]:
        out = []
        for node, (off, _, _) in self.foldable.items():
            vec = lik.get(node)
            if vec is not None and np.any((vec[:, 1 - off] > 0) & (vec[:, 1 - off] != vec[:, off])):
                out.append(node)
        return out

    def _keep_set(self, positives: list[int]) -> frozenset:
        if len(positives) <= self.max_expanded:
            return frozenset()
        keep = set(positives)
        changed = True
        while changed:  # a kept node's outer parents must stay too
            changed = False
            for node in list(keep):
                for parent, _ in self.foldable[node][2]:
                    if parent in self.foldable and parent not in keep:
                        keep.add(parent)
                        changed = True
        return frozenset(keep)

    def posterior(self, lik: dict[int, np.ndarray], batch: int,
                  variables: list[int] | None = None):
        """Marginals of ``variables`` (default: all) for a batch of likelihoods.

        Returns ``(marginals, log_z)``: ``{index: (batch, card)}`` and ``log P(evidence)``.
        """
        possible = self.check_possible(lik, batch)
        if not possible.all():
            raise ImpossibleEvidence(np.flatnonzero(~possible))
        variables = list(range(len(self.variables))) if variables is None else list(variables)
        keep = self._keep_set(self._positive_outer(lik))
        outer = [v for v in variables if v in self.foldable and v not in keep]
        inner = [v for v in variables if v not in self.foldable or v in keep]
        # extra pseudo-cases for outer marginals: P(Y = off | e without Y) = Z(.., off) / Z(..)
        cases = [lik]
        plan = []
        for v in outer:
            vec = lik.get(v)
            off = self.foldable[v][0]
            without = {k: a for k, a in lik.items() if k != v}
            forced = dict(without)
            forced[v] = np.broadcast_to(np.eye(self.cards[v])[off], (batch, self.cards[v]))
            base = 0
            if vec is not None:
                cases.append(without)
                base = len(cases) - 1
            cases.append(forced)
            plan.append((v, vec, base, len(cases) - 1))
        n = batch * len(cases)
        if len(cases) > 1:
            stacked = {}
            for k in set().union(*cases):
                ones = np.ones((batch, self.cards[k]))
                stacked[k] = np.concatenate([c.get(k, ones) for c in cases])
        else:
            stacked = lik
        rows, case, coef = self._expand(stacked, n, keep)
        marg, row_log_z = self.tree(keep).run(rows, len(case), inner)
        # combine the signed terms of each case in a numerically safe way
        live = coef != 0
        peak = np.full(n, -np.inf)
        np.maximum.at(peak, case[live], row_log_z[live])
        peak[~np.isfinite(peak)] = 0.0
        weight = coef * np.exp(row_log_z - peak[case])
        z = np.zeros(n)
        np.add.at(z, case, weight)
        if np.any(z <= 0):
            raise ImpossibleEvidence(np.unique(np.flatnonzero(z <= 0) % batch))
        log_z = np.log(z) + peak
        out = {}
        for v, m in marg.items():
            acc = np.zeros((n, m.shape[1]))
            np.add.at(acc, case, weight[:, None] * m)
            acc = np.clip(acc[:batch], 0.0, None)
            out[v] = acc / acc.sum(axis=1, keepdims=True)
        for v, vec, base, forced in plan:
            off = self.foldable[v][0]
            ratio = np.exp(log_z[forced * batch:(forced + 1) * batch]
                           - log_z[base * batch:(base + 1) * batch])
            p = np.empty((batch, 2))
            p[:, off] = np.clip(ratio, 0.0, 1.0)
            p[:, 1 - off] = 1.0 - p[:, off]
            if vec is not None:
                p = p * vec
                p /= p.sum(axis=1, keepdims=True)
            out[v] = p
        return out, log_z[:batch]

    def infer(self, evidence: dict | None = None, variables: list[str] | None = None
              ) -> dict[str, np.ndarray]:
        """Single case: ``{var: state or likelihood}`` -> ``{var: marginal vector}``."""
        lik = self.likelihoods(evidence or {}, 1)
        idx = None if variables is None else [self.index[v] for v in variables]
        marg, _ = self.posterior(lik, 1, idx)
        return {self.variables[i]: m[0] for i, m in marg.items()}

    def infer_batch(self, likelihoods: dict[str, np.ndarray], variables: list[str] | None = None,
                    chunk: int = 4096):
        """Many cases: ``{var: (n, card) likelihoods}`` -> ``({var: (n, card)}, log_z)``.

        Cases are grouped by the set of leaves with positive evidence, so each group runs on the
        smallest junction tree that is exact for it.
        """
        n = len(next(iter(likelihoods.values()))) if likelihoods else 1
        names = self.variables if variables is None else list(variables)
        idx = [self.index[v] for v in names]
        out = {v: np.empty((n, self.cards[self.index[v]])) for v in names}
        log_z = np.empty(n)
        arrays = {self.index[v]: np.asarray(a, dtype=float) for v, a in likelihoods.items()}
        # group cases by their number of positive outer nodes: similar expansion sizes batch well
        key = np.zeros(n, dtype=np.int64)
        for leaf, (off, _, _) in self.foldable.items():
            if leaf in arrays:
                a = arrays[leaf]
                key += (a[:, 1 - off] > 0) & (a[:, 1 - off] != a[:, off])
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        for group in np.split(order, bounds):
            for start in range(0, len(group), chunk):
                rows = group[start:start + chunk]
                lik = {i: a[rows] for i, a in arrays.items()}
                try:
                    marg, lz = self.posterior(lik, len(rows), idx)
                except ImpossibleEvidence as exc:
                    raise ImpossibleEvidence(rows[exc.cases]) from None
                for i, m in marg.items():
                    out[self.variables[i]][rows] = m
                log_z[rows] = lz
        return out, log_z


class _Tree:
    """A calibrated-on-demand junction tree over a fixed list of factors."""

    def __init__(self, factors: list[_Factor], cards: np.ndarray, real: list[int]):
        self.cards = cards
        n = len(cards)
        adj = [set() for _ in range(n)]
        for f in factors:
            for a in f.scope:
                adj[a].update(b for b in f.scope if b != a)
        live = sorted({v for f in factors for v in f.scope})
        cliques = _triangulate(adj, cards, live)
        self.cliques = cliques
        edges = _max_spanning_tree(cliques)
        nbrs = [[] for _ in cliques]
        for a, b in edges:
            nbrs[a].append(b)
            nbrs[b].append(a)
        static = [np.ones(cards[list(c)]) for c in cliques]
        for f in factors:
            host = min((i for i, c in enumerate(cliques) if set(f.scope) <= set(c)),
                       key=lambda i: static[i].size)
            static[host] = static[host] * _expand(f.table, f.scope, cliques[host])
        self.static = static
        self.home = {v: min((i for i, c in enumerate(cliques) if v in c),
                            key=lambda i: static[i].size) for v in real}
        root = max(range(len(cliques)), key=lambda i: static[i].size)
        order, parent = [root], {root: None}
        for c in order:
            for k in nbrs[c]:
                if k not in parent:
                    parent[k] = c
                    order.append(k)
        self.root, self.order, self.parent = root, order, parent
        self.children = {c: [k for k in nbrs[c] if parent.get(k) == c] for c in range(len(cliques))}
        self.sep = {}
        for c in order[1:]:
            p = parent[c]
            self.sep[(c, p)] = self.sep[(p, c)] = tuple(v for v in cliques[c] if v in cliques[p])
        self.letters = [{v: _LETTERS[k + 1] for k, v in enumerate(c)} for c in cliques]
        self._paths: dict[str, list] = {}

    @property
    def max_clique_size(self) -> int:
        return max(s.size for s in self.static)

    @property
    def total_size(self) -> int:
        return sum(s.size for s in self.static)

    def run(self, lik: dict[int, np.ndarray], batch: int, variables: list[int]):
        ev_at: dict[int, list] = {}
        for v, vec in lik.items():
            ev_at.setdefault(self.home[v], []).append((v, vec))
        msgs: dict[tuple[int, int], np.ndarray] = {}
        log_z = np.zeros(batch)

        def combine(c, exclude, out_vars):
            letters = self.letters[c]
            ops = [self.static[c]]
            subs = ["".join(letters[v] for v in self.cliques[c])]
            for v, vec in ev_at.get(c, ()):
                ops.append(vec)
                subs.append("a" + letters[v])
            for k in self.children[c] + ([self.parent[c]] if self.parent[c] is not None else []):
                if k != exclude and (k, c) in msgs:
                    ops.append(msgs[(k, c)])
                    subs.append("a" + "".join(letters[v] for v in self.sep[(k, c)]))
            out = "".join(letters[v] for v in out_vars)
            if len(ops) == 1:  # nothing case-specific reaches this clique
                r = np.einsum(subs[0] + "->" + out, ops[0])
                return np.broadcast_to(r, (batch,) + r.shape)
            expr = ",".join(subs) + "->a" + out
            if len(ops) <= 2:
                return np.einsum(expr, *ops)
            path = self._paths.get(expr)
            if path is None:  # contraction order depends only on the expression: plan it once
                path = self._paths[expr] = np.einsum_path(expr, *ops, optimize="greedy")[0]
            return np.einsum(expr, *ops, optimize=path)

        def rescale(m):
            scale = np.abs(m.reshape(batch, -1)).max(axis=1)
            scale[scale == 0] = 1.0
            return m / scale.reshape((batch,) + (1,) * (m.ndim - 1)), np.log(scale)

        for c in reversed(self.order[1:]):  # collect towards the root
            p = self.parent[c]
            msgs[(c, p)], ls = rescale(combine(c, p, self.sep[(c, p)]))
            log_z += ls
        for c in self.order:  # distribute away from the root
            for k in self.children[c]:
                msgs[(c, k)], _ = rescale(combine(c, k, self.sep[(c, k)]))
        wanted = {}
        for v in variables:
            wanted.setdefault(self.home[v], []).append(v)
        wanted.setdefault(self.root, [])
        marginals = {}
        for c, hosted in wanted.items():
            belief = combine(c, None, self.cliques[c])
            if c == self.root:
                log_z += np.log(np.abs(belief.reshape(batch, -1).sum(axis=1)))
            axes = self.cliques[c]
            for v in hosted:
                pos = axes.index(v)
                m = belief.sum(axis=tuple(1 + i for i in range(len(axes)) if i != pos))
                m = np.clip(m, 0.0, None)  # signed potentials can leave -1e-18 after rounding
                marginals[v] = m / m.sum(axis=1, keepdims=True)
        return marginals, log_z


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def _noisy_or_split(table: np.ndarray, rtol: float = 1e-11):
    """If ``table[off]`` is a product of per-parent vectors, return ``(off, L, [g_i])``."""
    for off in (0, 1):
        p = table[off]
        ref = np.unravel_index(np.argmax(p), p.shape)
        leak = p[ref]
        if leak <= 0:
            continue
        gs = []
        for axis in range(p.ndim):
            idx = list(ref)
            idx[axis] = slice(None)
            gs.append(p[tuple(idx)] / leak)
        rebuilt = leak * _outer(gs)
        if np.allclose(rebuilt, p, rtol=rtol, atol=1e-15):
            return off, leak, gs
    return None


def _topological(variables, network):
    """Variables in an order where parents come before children."""
    seen, order = set(), []

    def visit(v):
        if v in seen:
            return
        seen.add(v)
        for p in network.get_parents(v):
            visit(p)
        order.append(v)

    for v in variables:
        visit(v)
    return order


def _outer(vectors):
    out = np.array(1.0)
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out


def _expand(table, scope, target):
    """Broadcast ``table`` over ``scope`` to the axes of ``target`` (a superset)."""
    perm = sorted(range(len(scope)), key=lambda i: target.index(scope[i]))
    t = np.transpose(table, perm)
    placed = [scope[i] for i in perm]
    shape = [t.shape[placed.index(v)] if v in placed else 1 for v in target]
    return t.reshape(shape)


def _triangulate(adj: list[set], cards: np.ndarray, live: list[int]) -> list[tuple[int, ...]]:
    """Greedy min-weight (ties: min fill) elimination; returns the maximal cliques."""
    adj = [set(a) for a in adj]
    remaining = set(live)
    cliques = []
    while remaining:
        best, best_key = None, None
        for v in remaining:
            nb = adj[v] & remaining
            fill = sum(1 for a in nb for b in nb if a < b and b not in adj[a])
            weight = float(np.prod([cards[u] for u in nb | {v}]))
            key = (weight, fill)
            if best_key is None or key < best_key:
                best, best_key = v, key
        nb = adj[best] & remaining
        for a in nb:
            adj[a].update(nb - {a})
        clique = tuple(sorted(nb | {best}))
        if not any(set(clique) <= set(c) for c in cliques):
            cliques.append(clique)
        remaining.remove(best)
    return cliques


def _max_spanning_tree(cliques):
    """Kruskal on separator size: the running-intersection junction tree."""
    cand = []
    for i in range(len(cliques)):
        for j in range(i + 1, len(cliques)):
            w = len(set(cliques[i]) & set(cliques[j]))
            cand.append((-w, i, j))
    cand.sort()
    root = list(range(len(cliques)))

    def find(x):
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    edges = []
    for _, i, j in cand:
        a, b = find(i), find(j)
        if a != b:
            root[a] = b
            edges.append((i, j))
    return edges
