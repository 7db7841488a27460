"""Fast exact inference: junction trees compiled from the pgmpy network, run by numba kernels.

Why it is fast
--------------
* **Noisy-OR factorisation.** Every binary CPD whose "off" column factorises as
  ``P(Y=off | x) = L * prod_i g_i(x_i)`` (every noisy-OR does; the check is numerical, so networks
  read back from BIF files or fitted to data are handled too) is rewritten with one auxiliary binary
  variable ``A`` (Diez & Galan 2003, multiplicative factorisation):
  ``P(y | x) = sum_A W(y, A) * prod_i f_i(A, x_i)`` with ``f_i(0, x) = g_i(x)``, ``f_i(1, x) = 1``,
  ``W(off, .) = [L, 0]`` and ``W(on, .) = [-L, 1]``. The parents are no longer married to each other,
  so the cliques stay small although findings and leg pain have many parents.
* **Positive terms where it matters.** A rare finding observed present would make that signed
  factor cancel (``1 - L * prod g`` for a small result), so a kept rare finding with few parents
  keeps its CPT and one with many becomes a chain of "has a cause fired yet" variables, every
  term positive (:func:`_fired_chain`). Trees therefore always compute in float64.
* **Compiled plans.** A tree compiles once per evidence pattern into a flat list of steps that
  one numba call runs (:mod:`model.kernels`), rows innermost: each row sees the same operations
  in the same order whatever rows run with it. Triangulation is compiled too.
* **Batching.** Every potential carries a leading case axis, so one call answers thousands of
  cases; single cases run the same code with a batch of one.
* **Shafer-Shenoy messages** with per-case rescaling (log-scale kept for ``log P(evidence)``).

Impossible evidence is detected exactly, not by a floating-point threshold: only CPDs that contain
zeros can make evidence impossible, so a boolean check over those factors and the evidence masks
decides it.

Three exact back ends behind the same calls
-------------------------------------------
A single case runs first on the **mixture kernel** (:mod:`model.mixture`: the
posterior as a mixture of product distributions over the conditions, one fixed pass of numpy
operations, no compile) when its open cause states times Quickscore terms stay within
``Engine.MIXTURE_WORK``. Otherwise, after the outer layer is folded, it runs on the **cause
enumeration** (:mod:`model.enumeration`: sums over the joint states of the causes the answers
leave open, no compile, float64, all terms positive, a fired-state pass for rare positive
findings) when that is cheap (open states x Quickscore rows x fired states within
``CauseEnumeration.MAX_WORK``), else on a **junction tree** compiled for its pattern and cached.
Unrelated batch rows (``diagnose_many``) each take the same rule alone, as a batch of one
(identical rows once); the rows it sends to a junction tree run grouped with the rows of their
own pattern on that pattern's tree, so a row's bits never depend on the other rows
(:meth:`Engine.infer_batch`).
``Engine(network, backends=(...))`` restricts an engine to some of them (the junction tree is
always allowed); the tests hold each back end to the oracle that way. Since the trees run
compiled, the junction tree alone is faster on the dashboard's runners (bench/README); the
other two stay the default until the junction tree keeps the relative precision they give a
very unlikely condition (a log-odds shift of 1.4e-9 where 0 is exact, P = 1e-6, with a
symptom present expanded by Quickscore).
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import kernels
from .bounded_cache import BoundedCache
from .enumeration import CauseEnumeration, is_hard, positive_or_soft
from .junction_tree import LETTERS, Factor, JunctionTree


class ImpossibleEvidence(ValueError):
    """The evidence has probability zero under the model."""

    def __init__(self, cases: np.ndarray):
        self.cases = cases
        super().__init__(f"evidence has probability zero in case(s) {cases.tolist()[:10]}")


BACKENDS = ("mixture", "enumeration", "junction_tree")


@dataclass(frozen=True)
class Answer:
    """What :meth:`Engine.query` returns.

    Attributes
    ----------
    marginals : dict
        ``{variable name: (rows, states) array}``, each row normalised.
    log_z : numpy.ndarray
        ``log P(evidence)`` per row.
    backends : tuple of str
        The back ends that answered (some of :data:`BACKENDS`), in that order.
    """

    marginals: dict
    log_z: np.ndarray
    backends: tuple


def serialised(method):
    """Run ``method`` holding the engine's lock: Streamlit serves every session from threads of
    one process sharing the cached model, and the engine's caches (trees, plans, per-pattern
    tables) are filled during calls."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return locked


class Engine:
    """Exact inference for a discrete Bayesian network.

    Parameters
    ----------
    network : pgmpy DiscreteBayesianNetwork
        Compiled once; later changes to the network are not seen.
    decompose_min_parents : int
        Noisy-OR CPDs with at least this many parents are factorised.
    cache_size : int
        Compiled junction trees kept (least recently used first out; also at most
        ``CACHE_BYTES``). Ranking every unanswered question of one runner in pain needs 40-80
        trees, so a smaller cache recompiles them all on the page's next rerun.
    backends : sequence of str, optional
        The back ends the engine may use (default all of :data:`BACKENDS`); the junction tree is
        always allowed, as it takes every network and evidence. The tests hold each back end
        to the oracle by building an engine restricted to it.

    Leaves whose CPD is a noisy-OR (the findings and leg pain) are handled per case: evidence
    "absent" becomes a product of per-parent likelihoods (no coupling), no evidence drops the leaf
    (barren), and only "present" or soft evidence keeps the auxiliary variable in the junction
    tree. Junction trees are compiled lazily for each such pattern and cached.
    """

    def __init__(self, network, decompose_min_parents: int = 1, cache_size: int = 128,
                 backends=BACKENDS):
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"unknown back end(s) {sorted(unknown)}; choose from {BACKENDS}")
        self.backends = tuple(b for b in BACKENDS if b in backends or b == "junction_tree")
        self.lock = threading.RLock()
        self.network = network
        self._answered: set = set()  # back ends used by the current call (under the lock)
        self.variables: list[str] = list(network.nodes())
        self.index = {v: i for i, v in enumerate(self.variables)}
        self.states: dict[str, tuple[str, ...]] = {}
        cpds = {v: network.get_cpds(v) for v in self.variables}
        for var, cpd in cpds.items():
            self.states[var] = tuple(cpd.state_names[var])
        self.cards = np.array([len(self.states[v]) for v in self.variables])
        self._constraints: list[Factor] = []
        self._specs = []  # (kind, scope, payload) per variable
        self._full_tables: dict[int, np.ndarray] = {}  # CPT of each decomposed variable
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
            sums = table.sum(axis=0)
            if np.all(sums > 0) and np.any(sums != 1.0):
                # files round their tables (pgmpy's sachs.bif: columns off by 1e-7); an exact
                # answer needs columns that sum to one (barren nodes are dropped)
                table = table / sums
            if np.any(table == 0):
                self._constraints.append(Factor(scope, (table > 0).astype(float)))
            split = None
            if len(scope) - 1 >= decompose_min_parents and self.cards[scope[0]] == 2:
                split = _noisy_or_split(table)
            if split is None:
                self._specs.append(("tab", scope, table))
                continue
            self.decomposed.append(var)
            self._specs.append(("nor", scope, split))
            self._full_tables[scope[0]] = table
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
        # Quickscore is cheap for one positive finding; with two rare ones its signed terms
        # already cancel to ~1e-10, so positives keep their aux variable in the junction tree
        # instead (computed in extended precision, see ``tree``).
        self.max_expanded = 1
        # Each expanded positive multiplies the Quickscore cancellation by up to ~15 even when
        # it is common (P >= 1/8): nine common positives lost 1e-8. Beyond this many common
        # positives (leg pain not counted), they are kept like rare ones.
        self.max_likely_expanded = 2
        self._likely: frozenset | None = None
        self._keepable: tuple | None = None
        self._cache_size = cache_size
        self._new_caches()

    # Kept leaves (positive findings in a junction tree) with at most this many parents keep
    # their CPT whole: no signed aux factor, so a rare one observed present needs no extended
    # precision (the red flags are mostly such findings: dark urine, a crack, a cold foot)
    WHOLE_KEPT_PARENTS = 3

    def _kept_whole(self, v: int) -> bool:
        """Whether kept leaf ``v`` keeps its CPT whole in a junction tree (few parents)."""
        return self._full_tables[v].ndim - 1 <= self.WHOLE_KEPT_PARENTS

    CACHE_BYTES = 256 << 20  # compiled junction trees kept, at most (as measured when stored)

    def _new_caches(self) -> None:
        self._trees = BoundedCache(self._cache_size, self.CACHE_BYTES)
        self._check_paths = BoundedCache(256)
        self._pseudo_memo = BoundedCache(4096)
        self._possible_memo = BoundedCache(4096)  # constrained evidence -> possible

    # cached properties rebuilt on demand (pickling drops them with the caches)
    _DERIVED = ("mixture", "enumeration", "_leaf_fold", "_constrained", "_cause_groups",
                "_descendants")

    def __getstate__(self):
        """A used engine pickles (Dask, Spark, multiprocessing): caches, the lock and the
        derived kernels are dropped and rebuilt on demand."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}
        for k in ("lock", "_trees", "_check_paths", "_pseudo_memo", "_possible_memo",
                  "_answered", "_likely", "_keepable"):
            state.pop(k, None)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()
        self._answered = set()
        self._likely = None
        self._keepable = None
        self._new_caches()

    @serialised
    def clear_caches(self) -> None:
        """Forget compiled trees and per-pattern tables (the bench times first calls)."""
        for k in self._DERIVED:
            self.__dict__.pop(k, None)
        self._likely = None
        self._keepable = None
        self._new_caches()

    # ------------------------------------------------------------------------------------
    @serialised
    def tree(self, pattern: frozenset = frozenset(), sliced: frozenset = frozenset(),
             whole: frozenset = frozenset(), per_row: bool = False) -> "JunctionTree":
        """The junction tree in which the foldable leaves in ``pattern`` keep their aux variable
        and the hard-observed variables in ``sliced`` are cut out of the graph (their factors
        become per-case factors over the remaining variables, gathered at the observed state).
        Noisy-OR variables in ``whole`` keep their CPT undecomposed (see :meth:`_whole`).
        ``per_row``: the noisy-OR factors of the conditions (:attr:`enumeration`'s) are per-row
        tables given at run time (parameter draws, see :meth:`_row_tables`); the tree's
        ``row_spec`` says what each is. Such a tree always computes in float64 (10-15x quicker
        than ``longdouble`` here): its caller checks the precision it needs against an
        extended-precision run of one row (:func:`model.uncertainty.posterior_draws`)."""
        key = (pattern, sliced, whole, per_row)
        tree = self._trees.get(key)
        if tree is None:
            chained = frozenset(v for v in pattern if not self._kept_whole(v)
                                and v not in self.likely_outer)
            order = None
            if chained:  # the chains follow the cliques of the same tree with aux variables
                order = _depth_first(self._build(pattern, sliced, whole, per_row, frozenset()))
            tree = self._build(pattern, sliced, whole, per_row, chained, order)
            self._trees[key] = tree
        return tree

    def _build(self, pattern: frozenset, sliced: frozenset, whole: frozenset, per_row: bool,
               chained: frozenset, order: dict | None = None) -> "JunctionTree":
        """The junction tree of :meth:`tree`; the kept leaves in ``chained`` become chains of
        "fired yet" variables (:func:`_fired_chain`), their parents in ``order`` (a position per
        variable), the other kept leaves keep one signed aux variable."""
        factors, cards = [], list(self.cards)
        position = ({v: j for j, v in enumerate(self.enumeration.conditions)}
                    if per_row else {})
        row_scopes, row_spec = [], []
        for kind, scope, payload in self._specs:
            if kind == "tab":
                factors.append(Factor(scope, payload))
                continue
            if scope[0] in self.foldable and scope[0] not in pattern:
                continue  # folded into per-case likelihoods, expanded, or barren
            if scope[0] in sliced or scope[0] in whole or (
                    scope[0] in pattern and self._kept_whole(scope[0])):
                # observed, or a kept leaf with few parents: the CPT itself (all its terms
                # positive; the signed factorisation cancels when a rare child is present)
                factors.append(Factor(scope, self._full_tables[scope[0]]))
                continue
            off, leak, gs = payload
            if scope[0] in chained:
                # a rare kept leaf with many parents: its signed aux factor would cancel
                # (1 - L * prod g, present), a chain of positive terms does not
                parents = sorted(range(len(gs)), key=lambda i: order.get(scope[1 + i], 0))
                factors += _fired_chain((scope[0],) + tuple(scope[1 + i] for i in parents),
                                        off, leak, [gs[i] for i in parents], cards)
                continue
            aux = len(cards)
            cards.append(2)
            j = position.get(scope[0])
            if j is not None:  # a condition whose parameters vary per row
                row_scopes.append((scope[0], aux))
                row_spec.append(("leak", j, off, None))
                for parent in scope[1:]:
                    row_scopes.append((aux, parent))
                    row_spec.append(("link", j, off, parent))
                continue
            # common kept leaves (present in 1 case in 8 or more a priori) cancel little and
            # keep the smaller star shape: 600 sampled cases within 2e-11 of extended precision
            w = np.zeros((2, 2))
            w[off, 0], w[1 - off, 0], w[1 - off, 1] = leak, -leak, 1.0
            factors.append(Factor((scope[0], aux), w))
            for parent, g in zip(scope[1:], gs):
                factors.append(Factor((aux, parent), np.stack([g, np.ones_like(g)])))
        static = [f for f in factors if not sliced.intersection(f.scope)]
        gathered = [f for f in factors if sliced.intersection(f.scope)]
        live = {v for f in factors for v in f.scope} - sliced
        live |= {v for sc in row_scopes for v in sc} - sliced
        tree = JunctionTree(static, np.array(cards),
                            [v for v in range(len(self.variables)) if v in live],
                            gathered, sliced, row_scopes)
        tree.row_spec = row_spec
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

    @serialised
    def check_possible(self, lik: dict[int, np.ndarray], batch: int) -> np.ndarray:
        """Boolean per case: does the evidence have positive probability?"""
        if batch == 1 and self._constraints:  # one case: remembered per distinct evidence
            return self.possible_rows([{v: a[0] for v, a in lik.items()}])
        return self._check_possible(lik, batch)

    def _check_possible(self, lik: dict[int, np.ndarray], batch: int) -> np.ndarray:
        ok = np.ones(batch, dtype=bool)
        for vec in lik.values():
            ok &= vec.max(axis=1) > 0
        if not self._constraints:
            return ok
        involved = sorted({v for f in self._constraints for v in f.scope})
        letters = {v: LETTERS[k + 1] for k, v in enumerate(involved)}
        ops, subs = [], []
        for f in self._constraints:
            ops.append(f.table)
            subs.append("".join(letters[v] for v in f.scope))
        for v, vec in lik.items():
            if v in letters:
                ops.append((vec > 0).astype(float))
                subs.append("a" + letters[v])
        expr = ",".join(subs) + ("->a" if any("a" in s for s in subs) else "->")
        path = self._check_paths.get(expr)
        if path is None:  # the contraction order depends only on the expression: plan it once
            path = self._check_paths[expr] = np.einsum_path(expr, *ops, optimize="greedy")[0]
        # 0/1 tables: the sum counts consistent configurations, exact in floating point
        return ok & (np.einsum(expr, *ops, optimize=path) > 0)

    @property
    def use_mixture(self) -> bool:
        """Whether this engine may use the mixture kernel (fixed by ``backends``)."""
        return "mixture" in self.backends

    @property
    def use_enumeration(self) -> bool:
        """Whether this engine may use the cause enumeration (fixed by ``backends``)."""
        return "enumeration" in self.backends

    @cached_property
    def mixture(self):
        """The one-pass kernel for small batches (:mod:`model.mixture`), or ``None`` when the
        network is not layered as causes -> noisy-OR conditions -> noisy-OR leaves."""
        from .mixture import ProductMixture
        return ProductMixture.from_engine(self)

    @cached_property
    def _leaf_fold(self):
        """Matrices for folding the outer leaves whose parents are all inner (the findings, not
        the tissue groups, which leg pain folds into).

        ``(leaves, parents, log_g, zero_g, off, leak)``: per parent ``p``, ``log_g[p]`` is a
        ``(len(leaves), card_p)`` table of log inhibitors (0 where a leaf is not linked) and
        ``zero_g[p]`` marks inhibitors that are exactly 0, so many absent leaves fold in one
        matrix product instead of one multiplication per link; ``off`` and ``leak`` per leaf.
        """
        folded_into = {p for _, _, links in self.foldable.values() for p, _ in links}
        leaves = [v for v, (_, _, links) in self.foldable.items() if v not in folded_into
                  and all(p not in self.foldable for p, _ in links)]
        parents = sorted({p for v in leaves for p, _ in self.foldable[v][2]})
        log_g = {p: np.zeros((len(leaves), self.cards[p])) for p in parents}
        zero_g = {p: np.zeros((len(leaves), self.cards[p])) for p in parents}
        for j, v in enumerate(leaves):
            for p, g in self.foldable[v][2]:
                with np.errstate(divide="ignore"):
                    log_g[p][j] = np.where(g > 0, np.log(np.where(g > 0, g, 1.0)), 0.0)
                zero_g[p][j] = g == 0
        off = np.array([self.foldable[v][0] for v in leaves], dtype=int)
        leak = np.array([self.foldable[v][1] for v in leaves])
        return leaves, parents, log_g, zero_g, off, leak

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
        leaves, parents, log_g, zero_g, offs, leaks = self._leaf_fold
        # absent and uninformative leaves of every row at once (matrix products over the leaves)
        cols = [j for j, v in enumerate(leaves) if v in rows and v not in keep]
        later = ()  # leaves with positive or soft evidence in some row (Quickscore)
        if cols:
            idx = [leaves[j] for j in cols]
            w = np.stack([rows[v] for v in idx], axis=1)  # (batch, leaves, 2)
            ar = np.arange(len(cols))
            w_off = w[:, ar, offs[cols]]
            w_on = w[:, ar, 1 - offs[cols]]
            negative = w_on == 0
            positive = (w_on > 0) & (w_on != w_off)
            factor = np.where(negative, w_off * leaks[cols], np.where(positive, 1.0, w_off))
            coef = coef * np.prod(factor, axis=1)
            neg = negative.astype(float)
            for p in parents:
                lg = kernels.rows_times(neg, log_g[p][cols])
                f = np.exp(lg)
                if zero_g[p].any():
                    f = np.where(kernels.rows_times(neg, zero_g[p][cols]) > 0, 0.0, f)
                rows[p] = rows[p] * f if p in rows else f
            later = np.flatnonzero(positive.any(axis=0))  # (positions in cols)
            if len(later):
                positive, w_off, w_on = positive[:, later], w_off[:, later], w_on[:, later]
            for v in idx:
                rows.pop(v)
        if len(later):
            # Quickscore: each row with positive leaves P becomes 2^|P| copies, one per subset
            # S of P "absent" (weight (w_off - w_on) leak each) with the rest dropped (weight
            # w_on each), all at once: copy i of a row has leaf b (its b-th positive) absent
            # when bit b of i is set; the absent leaves fold into their parents as above
            count = positive.sum(axis=1)
            n_copies = np.left_shift(1, count)
            src = np.repeat(np.arange(batch), n_copies)
            first = np.cumsum(n_copies) - n_copies
            sub = np.arange(len(src)) - first[src]
            rank = np.cumsum(positive, axis=1) - 1  # a positive leaf's place in its row
            pos = positive[src]
            absent = pos & (((sub[:, None] >> np.maximum(rank[src], 0)) & 1) == 1)
            lcols = [cols[k] for k in later]
            term = np.where(absent, (w_off[src] - w_on[src]) * leaks[lcols],
                            np.where(pos, w_on[src], 1.0))
            coef = coef[src] * np.prod(term, axis=1)
            case = case[src]
            rows = {k: a[src] for k, a in rows.items()}
            gone = absent.astype(float)
            for p in parents:
                if not np.any(log_g[p][lcols]) and not zero_g[p][lcols].any():
                    continue  # no later leaf is linked to p
                f = np.exp(kernels.rows_times(gone, log_g[p][lcols]))
                if zero_g[p][lcols].any():
                    f = np.where(kernels.rows_times(gone, zero_g[p][lcols]) > 0, 0.0, f)
                rows[p] = rows[p] * f if p in rows else f
        leaf_set = set(leaves)
        for node, (off, leak, links) in self.foldable.items():
            if node in keep or node in leaf_set:
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
                rows, case, coef = _absent_copies(rows, case, coef, pos, w_off, w_on, leak)
                negative = np.concatenate([negative, np.ones(len(pos), dtype=bool)])
            _fold_links(rows, links, negative)
        return rows, case, coef

    def _whole(self, lik: dict[int, np.ndarray], sliced: frozenset) -> frozenset:
        """Decomposed inner variables (conditions) that some row observes present or softly:
        they keep their CPT whole, since the signed factorisation would cancel for them."""
        return frozenset(
            v for v, a in lik.items()
            if v in self._full_tables and v not in self.foldable and v not in sliced
            and np.any((a[:, 1:] > 0) & (a[:, 1:] != a[:, :1])))

    def _positive_outer(self, lik: dict[int, np.ndarray]) -> list[int]:
        out = []
        for node, (off, _, _) in self.foldable.items():
            vec = lik.get(node)
            if vec is not None and np.any(positive_or_soft(vec, off)):
                out.append(node)
        return out

    @property
    @serialised
    def likely_outer(self) -> frozenset:
        """Outer nodes that are present in at least 1 case in 8 a priori (leg pain, the
        commonest findings).

        Expanding one such positive costs little precision: the Quickscore difference is
        amplified by about 1 / P(node present | other evidence), which stays small. They are
        expanded unless more than ``max_likely_expanded`` of the keepable ones are positive
        (the amplifications multiply); rare positives count against ``max_expanded``."""
        if self._likely is None:
            self._likely = frozenset()  # the prior run below must not consult it
            nodes = list(self.foldable)
            prior, _ = self.posterior({}, 1, nodes, check=False)
            self._likely = frozenset(
                v for v in nodes if prior[v][0, 1 - self.foldable[v][0]] >= 2.0 ** -3)
        return self._likely

    @property
    def _keepable_likely(self) -> frozenset:
        """Likely outer nodes that can be kept alone: their parents are all inner (findings,
        not leg pain, whose parents are the tissue groups). Not cached on its own: while
        :attr:`likely_outer` is being computed it is empty, and must not stay so."""
        likely = self.likely_outer
        if self._keepable is None or self._keepable[0] is not likely:
            self._keepable = (likely, frozenset(
                v for v in likely if all(p not in self.foldable for p, _ in self.foldable[v][2])))
        return self._keepable[1]

    def _kept_mask(self, positive: np.ndarray, nodes: list[int], expand: int | None = None):
        """Rows x ``nodes``: which positive outer nodes each row keeps (see :meth:`_keep_set`)."""
        expand = self.max_expanded if expand is None else expand
        likely = np.array([v in self.likely_outer for v in nodes], dtype=bool)
        keepable = np.array([v in self._keepable_likely for v in nodes], dtype=bool)
        rare = positive & ~likely
        common = positive & keepable
        return (rare & (rare.sum(axis=1) > expand)[:, None]) | \
            (common & (common.sum(axis=1) > self.max_likely_expanded)[:, None])

    def _keep_set(self, positives: list[int], expand: int | None = None) -> frozenset:
        """The outer nodes kept (in a junction tree or the fired-state pass) for these
        positives: rare ones when more than ``expand`` (default ``max_expanded``) are positive,
        common ones when more than ``max_likely_expanded`` are; the rest are expanded."""
        nodes = list(positives)
        if not nodes:
            return frozenset()
        mask = self._kept_mask(np.ones((1, len(nodes)), dtype=bool), nodes, expand)[0]
        return self._with_outer_parents({v for v, k in zip(nodes, mask) if k})

    def _with_outer_parents(self, keep: set) -> frozenset:
        """``keep`` and, recursively, the outer parents of its nodes (they must stay too)."""
        keep = set(keep)
        changed = True
        while changed:  # a kept node's outer parents must stay too
            changed = False
            for node in list(keep):
                for parent, _ in self.foldable[node][2]:
                    if parent in self.foldable and parent not in keep:
                        keep.add(parent)
                        changed = True
        return frozenset(keep)

    @serialised
    def posterior(self, lik: dict[int, np.ndarray], batch: int,
                  variables: list[int] | None = None, check: bool = True,
                  slice_vars=None, keep: frozenset | None = None, params: dict | None = None,
                  enumerate: bool = True, trees: bool = True):
        """Marginals of ``variables`` (default: all) for a batch of likelihoods.

        Returns ``(marginals, log_z)``: ``{index: (batch, card)}`` and ``log P(evidence)``.
        Variables observed hard in every case (restricted to ``slice_vars`` if given) are cut
        out of the junction tree, which breaks the couplings through shared causes.
        ``params``: per-case noisy-OR parameters of the conditions (parameter draws, see
        :meth:`CauseEnumeration.run`); only the cause enumeration takes them, so a case it
        declines raises ``ValueError``. ``enumerate=False``: junction trees only (many variations of one case: one tree runs
        them all at once, see :meth:`_rows_enumerated`). ``trees=False``: ``None`` where the
        single-case rule would run a junction tree (the caller groups those rows itself).
        """
        if check:
            possible = self.check_possible(lik, batch)
            if not possible.all():
                raise ImpossibleEvidence(np.flatnonzero(~possible))
        variables = range(len(self.variables)) if variables is None else variables
        if (params is None and slice_vars is None and keep is None and enumerate
                and self.use_mixture and self.mixture is not None):
            got = self.mixture.run(lik, batch, variables, max_work=self.MIXTURE_WORK)
            if got is not None:
                self._answered.add("mixture")
                marg, log_z = got
                if not np.all(np.isfinite(log_z)):
                    raise ImpossibleEvidence(np.flatnonzero(~np.isfinite(log_z)))
                return marg, log_z
        lik, shift = self._drop_flat(lik)
        if keep is None:
            keep = self._keep_set(self._positive_outer(lik))
        hard = frozenset(v for v, a in lik.items() if v not in self.foldable
                         and (slice_vars is None or v in slice_vars)
                         and is_hard(a))
        # per-case parameters run only in the enumeration: the caller has weighed its cost
        max_work = math.inf if params is not None else None
        n_pseudo = sum(1 for v in variables if v in self.foldable and v not in lik
                       and v not in keep)
        tree, keep = (self._enumeration_for(lik, batch, keep, max_work, n_pseudo) if enumerate
                      else (None, keep))
        if tree is None and not trees:
            return None
        outer = [v for v in variables if v in self.foldable and v not in keep]
        inner = [v for v in variables if v not in self.foldable or v in keep]
        if tree is None:
            whole = self._whole(lik, hard)
            if params is not None and not self.takes_parameters(lik):
                raise ValueError("per-case parameters need conditions without evidence of "
                                 "their own")
            tree = self.tree(keep, hard, whole, per_row=params is not None)
        self._answered.add("junction_tree" if isinstance(tree, JunctionTree) else "enumeration")
        certain = {v: (lik[v] > 0).astype(float) for v in inner if v in hard}
        inner = [v for v in inner if v not in hard]
        pseudo, generic = {}, []
        for v in outer:
            vec = lik.get(v)
            if vec is not None and is_hard(vec):
                certain[v] = (vec > 0).astype(float)  # hard evidence: the marginal is certain
            elif vec is None and (spec := self._pseudo(v, keep, lik)) is not None:
                pseudo[v] = spec
            else:
                generic.append(v)
        helper = []
        if pseudo and not inner:
            # the tree computes pseudo-case ratios alongside some marginal: ask for one
            helper = [v for _, vecs in pseudo.values() for v in vecs if v not in hard][:1]
        out, log_z, ratios = self._run(tree, lik, batch, keep, inner + helper,
                                       {v: vecs for v, (_, vecs) in pseudo.items()}, params)
        for v in helper:
            out.pop(v, None)
        if not np.all(np.isfinite(log_z)):
            raise ImpossibleEvidence(np.flatnonzero(~np.isfinite(log_z)))
        if shift is not None:
            log_z = log_z + shift
        out.update(certain)
        if ratios is None:  # rows needed rescaling: use the general pseudo-cases below
            generic += list(pseudo)
        else:
            for v, (scalar, _) in pseudo.items():
                off = self.foldable[v][0]
                p = np.empty((batch, 2))
                p[:, off] = np.clip(scalar * ratios[v], 0.0, 1.0)
                p[:, 1 - off] = 1.0 - p[:, off]
                out[v] = p
        if not generic:
            return out, log_z
        # the general way for soft-observed leaves: pseudo-cases that need log Z only:
        # P(Y = off | e without Y) = Z(e without Y, Y = off) / Z(e without Y), run only for the
        # rows that need it (rows observing Y hard have it certain; rows without evidence on Y,
        # stacked as ones, need no "without" case: it is the main row)
        blocks, plan = [], []  # blocks: (rows, likelihoods) stacked into one run
        for v in generic:
            vec = lik.get(v)
            off = self.foldable[v][0]
            if vec is None:
                need, flat = np.arange(batch), np.ones(batch, dtype=bool)
            else:
                need = np.flatnonzero(np.count_nonzero(vec, axis=1) != 1)
                flat = (vec[need] == vec[need, :1]).all(axis=1)
            p = (vec > 0).astype(float) if vec is not None else np.empty((batch, 2))
            out[v] = p
            if not len(need):
                continue
            sub = {k: a[need] for k, a in lik.items() if k != v}
            soft = need[~flat]  # rows whose own evidence on Y must be taken out
            without = -1
            if len(soft):
                blocks.append((soft, {k: a[~flat] for k, a in sub.items()}))
                without = len(blocks) - 1
            forced = dict(sub)
            forced[v] = np.broadcast_to(np.eye(self.cards[v])[off], (len(need), self.cards[v]))
            blocks.append((need, forced))
            plan.append((v, vec, need, flat, without, len(blocks) - 1))
        if not blocks:
            return out, log_z
        stacked = {}
        for k in set().union(*(b for _, b in blocks)):
            stacked[k] = np.concatenate([
                b[k] if k in b else np.ones((len(r), self.cards[k])) for r, b in blocks])
        rows_of = np.concatenate([r for r, _ in blocks])
        tiled = None if params is None else {  # each pseudo-case row keeps its case's draws
            "leak": params["leak"][rows_of],
            "inhibitors": {c: a[rows_of] for c, a in params["inhibitors"].items()}}
        _, pseudo, _ = self._run(tree, stacked, len(rows_of), keep, [], None, tiled)
        starts = np.cumsum([0] + [len(r) for r, _ in blocks])
        part = [pseudo[a:b] for a, b in zip(starts[:-1], starts[1:])]
        for v, vec, need, flat, without, forced in plan:
            off = self.foldable[v][0]
            # Z without Y's evidence: a flat row's Z divided by its constant, else its own run
            ref = log_z[need] - (0.0 if shift is None else shift[need])
            if vec is not None:
                with np.errstate(divide="ignore"):
                    ref = ref - np.where(flat, np.log(vec[need, 0]), 0.0)
            if without >= 0:
                ref[~flat] = part[without]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.exp(part[forced] - ref)
            p = np.empty((len(need), 2))
            p[:, off] = np.clip(np.nan_to_num(ratio, nan=0.0), 0.0, 1.0)
            p[:, 1 - off] = 1.0 - p[:, off]
            if vec is not None:
                p = p * vec[need]
                p /= p.sum(axis=1, keepdims=True)
            out[v][need] = p
        return out, log_z

    def _drop_flat(self, lik: dict[int, np.ndarray]):
        """Outer leaves whose likelihood is flat in every row (batches stack "not answered" as
        ones) carry no evidence: dropped, so their marginals come from the cheap pseudo-case
        ratios instead of the general path. Returns the likelihoods and the per-row log of
        the constants dropped (``None`` when all were ones or none was dropped)."""
        flat = [v for v, a in lik.items() if v in self.foldable
                and (a[:, 0] == a[:, 1]).all() and (a.shape[1] == 2 or (a == a[:, :1]).all())]
        if not flat:
            return lik, None
        shift = None
        for v in flat:
            if (lik[v][:, 0] != 1.0).any():
                with np.errstate(divide="ignore"):
                    shift = (0.0 if shift is None else shift) + np.log(lik[v][:, 0])
        return {k: a for k, a in lik.items() if k not in flat}, shift

    # rows x open states x Quickscore terms up to which the mixture kernel takes a call.
    # Measured on 160 sampled runners, one case, all 82 marginals: the kernel takes 0.5-2.6 ms
    # up to 1,024 and 7-12 ms at 4,096 (the engine 4-30 ms); from 8,192 the engine wins
    MIXTURE_WORK = 1 << 12
    # clique entries of one batch row's tree above which its hard variables are cut out
    CUT_HARD_ABOVE = 1 << 15

    @cached_property
    def enumeration(self) -> CauseEnumeration | None:
        """The cause-enumeration path (:mod:`model.enumeration`), if the network is layered."""
        return CauseEnumeration.from_engine(self)

    def _enumeration_for(self, lik: dict, batch: int, keep: frozenset,
                         max_work: float | None = None, pseudo: int = 0,
                         with_parameters: bool = False):
        """``(enumeration, keep)`` when the cause enumeration is exact and cheap for these rows
        (work within ``max_work``, default ``CauseEnumeration.MAX_WORK``; ``with_parameters``:
        rows with their own condition parameters), else ``(None, keep)`` (use a junction tree).

        Common positives stay split into Quickscore rows: measured on sampled cases, that is
        cheaper than carrying them through the fired-state pass (which wins only where
        Quickscore would lose precision, for several rare positives)."""
        if not self.use_enumeration or self.enumeration is None:
            return None, keep
        if self.enumeration.accepts(lik, batch, keep, self.foldable, max_work, pseudo=pseudo,
                                    with_parameters=with_parameters):
            return self.enumeration, keep
        return None, keep

    def _run(self, tree: "JunctionTree", lik: dict, batch: int, keep: frozenset, inner: list[int],
             pseudo: dict | None = None, params: dict | None = None,
             pseudo_marginals: bool = False, stats: dict | None = None):
        """Expand, run the tree and recombine the signed Quickscore rows of each case.

        Returns normalised marginals of ``inner``, ``log Z`` per case (``-inf`` where the
        evidence has probability zero) and the per-case ratios of the ``pseudo`` cases (with
        ``pseudo_marginals``, only for the cause enumeration: arrays ``(batch, 1 + conditions)``,
        see :meth:`CauseEnumeration.run`). ``stats`` receives ``"amplification"`` per case:
        the size of its signed Quickscore terms over their sum (1 unsplit), the factor by which
        rounding errors grow in the recombination."""
        rows, case, coef = self._expand(lik, batch, keep)
        if pseudo_marginals:
            marg, row_log_z, row_ratio = tree.run(rows, len(case), inner, pseudo or None,
                                                  pseudo_marginals=True)
        elif params is None:
            marg, row_log_z, row_ratio = self._run_unique(tree, rows, len(case), inner, pseudo)
        elif isinstance(tree, JunctionTree):  # the expanded rows carry their case's draws
            marg, row_log_z, row_ratio = tree.run(rows, len(case), inner, pseudo or None,
                                                  row_tables=self._row_tables(tree, params, case))
        else:
            params = dict(params, case=case)
            marg, row_log_z, row_ratio = tree.run(rows, len(case), inner, pseudo or None,
                                                  params=params)
        if len(case) == batch:  # nothing expanded: one row per case
            if stats is not None:
                stats["amplification"] = np.ones(batch)
            with np.errstate(divide="ignore"):
                log_z = row_log_z + np.log(np.abs(coef))
            out = {}
            for v, m in marg.items():
                m = np.clip(m, 0.0, None)
                out[v] = m / m.sum(axis=1, keepdims=True)
            return out, np.where(coef > 0, log_z, -np.inf), row_ratio
        live = coef != 0
        peak = np.full(batch, -np.inf)
        np.maximum.at(peak, case[live], row_log_z[live])
        peak[~np.isfinite(peak)] = 0.0
        with np.errstate(invalid="ignore"):
            weight = np.where(live, coef * np.exp(row_log_z - peak[case]), 0.0)
        z = np.zeros(batch)
        np.add.at(z, case, weight)
        with np.errstate(divide="ignore"):
            log_z = np.where(z > 0, np.log(np.where(z > 0, z, 1.0)) + peak, -np.inf)
        safe_z = np.where(z > 0, z, 1.0)
        if stats is not None:
            spread = np.zeros(batch)
            np.add.at(spread, case, np.abs(weight))
            stats["amplification"] = spread / safe_z
        out = {}
        for v, m in marg.items():
            total = m.sum(axis=1, keepdims=True)
            total[total == 0] = 1.0  # a row of probability zero has weight zero too
            acc = np.zeros((batch, m.shape[1]))
            np.add.at(acc, case, weight[:, None] * (m / total))  # rows weighted back into cases
            acc = np.clip(acc, 0.0, None)
            out[v] = acc / acc.sum(axis=1, keepdims=True)
        ratios = None
        if row_ratio is not None:
            ratios = {}
            for y, r in row_ratio.items():
                acc = np.zeros((batch,) + r.shape[1:])
                np.add.at(acc, case, (weight * r.T).T)
                ratios[y] = (acc.T / safe_z).T
        return out, log_z, ratios

    def takes_parameters(self, lik: dict[int, np.ndarray]) -> bool:
        """Whether per-row condition parameters (``posterior(params=...)``) can be used with
        this evidence: the network is layered and no condition has evidence of its own (a
        condition observed keeps its whole CPT, which has no per-row form here)."""
        if self.enumeration is None:
            return False
        conditions = set(self.enumeration.conditions)
        return not any(v in conditions and np.any(a != a[:, :1]) for v, a in lik.items())

    def _row_tables(self, tree: "JunctionTree", params: dict, case: np.ndarray) -> list:
        """The per-row noisy-OR factors of ``tree`` (see :meth:`tree`) for rows drawn from the
        parameter rows ``case``: the leak table ``W[y, aux]`` and one ``G[aux, parent]`` per
        parent, the same decomposition as the static factors, with each row's leak and
        inhibitors."""
        n = len(case)
        out = []
        for kind, j, off, parent in tree.row_spec:
            if kind == "leak":
                leak = params["leak"][case, j]
                w = np.zeros((n, 2, 2))
                w[:, off, 0], w[:, 1 - off, 0], w[:, 1 - off, 1] = leak, -leak, 1.0
            else:
                inhibitors = params["inhibitors"].get(parent)
                g = (inhibitors[case, :, j] if inhibitors is not None
                     else np.ones((n, int(self.cards[parent]))))
                w = np.stack([g, np.ones_like(g)], axis=1)
            out.append(w)
        return out

    DEDUPLICATE_MIN_ROWS = 32  # expanded rows on a junction tree worth looking for repeats in

    def _run_unique(self, tree, rows: dict, n: int, inner: list[int], pseudo: dict | None):
        """``tree.run`` on expanded rows, each distinct row once. Variations of one case repeat
        rows: a candidate answer "symptom present" expands (Quickscore) into the case itself and
        the case with the symptom absent, the rows of two other candidates. On a tree a row
        costs far more than the search for repeats (no answers yet: 199 rows, 113 distinct)."""
        if not isinstance(tree, JunctionTree) or n < self.DEDUPLICATE_MIN_ROWS or not rows:
            return tree.run(rows, n, inner, pseudo or None)
        table = np.ascontiguousarray(np.concatenate([rows[k].reshape(n, -1) for k in sorted(rows)],
                                                    axis=1))
        # rows as bytes in a dict (np.unique(axis=0) sorts, which cost more here)
        seen: dict = {}
        back = np.array([seen.setdefault(key, len(seen)) for key in
                         table.view(np.dtype((np.void, table.itemsize * table.shape[1])))
                         .ravel().tolist()], dtype=np.intp)
        if len(seen) == n:
            return tree.run(rows, n, inner, pseudo or None)
        first = np.unique(back, return_index=True)[1]  # the first row of each kind
        marg, log_z, ratio = tree.run({k: a[first] for k, a in rows.items()}, len(first), inner,
                                      pseudo or None)
        return ({v: m[back] for v, m in marg.items()}, log_z[back],
                None if ratio is None else {y: r[back] for y, r in ratio.items()})

    def _pseudo(self, y: int, keep: frozenset, lik: dict):
        """Forcing leaf ``y`` off, folded down to constant likelihoods on tree variables.

        Returns ``(scalar, {var: vector})`` with ``Z(e, y = off) = scalar * Z(e with vectors)``,
        or ``None`` when an outer node on the way has evidence (then the general path is used).
        """
        key = (y, keep, frozenset(v for v in lik if v in self.foldable))
        if key in self._pseudo_memo:
            return self._pseudo_memo[key]
        out = self._fold_off(y, keep, lik)
        self._pseudo_memo[key] = out
        return out

    def _outer_descendants(self, y: int) -> frozenset:
        """Outer nodes below ``y`` (their evidence also constrains ``y``)."""
        if not hasattr(self, "_descendants"):
            below: dict[int, set] = {v: set() for v in self.foldable}
            for node, (_, _, links) in self.foldable.items():  # children before parents
                for parent, _ in links:
                    if parent in below:
                        below[parent] |= {node} | below[node]
            self._descendants = {v: frozenset(d) for v, d in below.items()}
        return self._descendants[y]

    def _fold_off(self, y: int, keep: frozenset, lik: dict):
        if any(d in lik for d in self._outer_descendants(y)):
            return None  # evidence below y (leg pain absent forces bone absent): general path
        acc = {y: np.eye(2)[self.foldable[y][0]]}
        scalar, vecs = 1.0, {}
        for node, (off, leak, links) in self.foldable.items():  # children before parents
            w = acc.pop(node, None)
            if w is None:
                continue
            if node in keep:
                vecs[node] = vecs.get(node, 1.0) * w
                continue
            if node != y and node in lik:
                return None
            if w[1 - off] == w[off]:  # uninformative: the node is barren
                scalar *= w[off]
                continue
            if w[1 - off] != 0:
                return None
            scalar *= w[off] * leak
            for parent, g in links:
                if np.all(g == 1):
                    continue
                if parent in self.foldable and parent not in keep:
                    acc[parent] = acc.get(parent, 1.0) * g
                else:
                    vecs[parent] = vecs.get(parent, 1.0) * g
        return scalar, vecs

    @serialised
    def query(self, evidence: dict | None = None, targets=None, rows: int | None = None,
              variations: bool = False, parameters: dict | None = None) -> Answer:
        """Exact marginals and ``log P(evidence)``, with the back ends that answered.

        Parameters
        ----------
        evidence : dict, optional
            ``{variable: state name | state index | likelihood vector | (rows, states) array}``;
            arrays give one row of evidence per case, the rest is shared by every row.
        targets : list of str, optional
            Variables whose marginals are wanted (default: all).
        rows : int, optional
            Number of rows, needed only when no evidence is an array (default 1).
        variations : bool
            The rows are variations of the first (a case and its candidate answers): they share
            that row's compiled tree.
        parameters : dict, optional
            Per-row noisy-OR parameters of the conditions (``leak``, ``inhibitors``; the
            uncertainty intervals' draws).

        The engine alone chooses the back end, by one rule: one case runs on the mixture kernel
        when its open cause states times its Quickscore terms are at most ``MIXTURE_WORK``, else
        on the cause enumeration when its work is at most ``CauseEnumeration.MAX_WORK``, else on
        the junction tree compiled for its pattern of positive findings (cached, bounded). Many
        unrelated rows each take that rule alone, the tree rows grouped by pattern, so a row
        gets the same bits whatever else is in the batch; variations of one case share its
        tree.
        """
        evidence = evidence or {}
        sizes = {len(v) for v in evidence.values() if isinstance(v, np.ndarray) and v.ndim == 2}
        if len(sizes) > 1 or (rows is not None and sizes and sizes != {rows}):
            raise ValueError(f"evidence arrays have different numbers of rows: {sorted(sizes)}")
        n = sizes.pop() if sizes else (1 if rows is None else int(rows))
        if n < 1:
            raise ValueError(f"rows must be at least 1, got {n}")
        names = self.variables if targets is None else list(targets)
        for v in names:
            if v not in self.index:
                raise ValueError(f"unknown variable {v!r}; variables: {', '.join(self.variables)}")
        lik = self.likelihoods(evidence, n)
        self._answered.clear()
        if n == 1 or parameters is not None:
            marg, log_z = self.posterior(lik, n, [self.index[v] for v in names],
                                         params=parameters)
            marginals = {self.variables[i]: m for i, m in marg.items()}
        else:
            marginals, log_z = self.infer_batch({self.variables[i]: np.asarray(a) for i, a in
                                                 lik.items()}, names, n=n, slice_common=variations)
        return Answer(marginals, log_z, tuple(b for b in BACKENDS if b in self._answered))

    def infer(self, evidence: dict | None = None, variables: list[str] | None = None
              ) -> dict[str, np.ndarray]:
        """Single case: ``{var: state or likelihood}`` -> ``{var: marginal vector}``."""
        answer = self.query(evidence, variables)
        return {v: m[0] for v, m in answer.marginals.items()}

    OUTCOME_BUDGET = 1 << 21  # quickscore rows x open states x pseudo-cases per call
    # Scoring every candidate answer from one enumeration replaces a row per candidate: worth
    # it for larger cases than a single inference (CauseEnumeration.MAX_WORK), but its
    # per-candidate work grows with the open states (and the fired-state pass reruns), while
    # a junction tree runs all candidate rows at once. Measured on 40 sampled runners after
    # the tree steps were tuned: 6,144 open states, 69 ms vs 15 ms on the tree; 192-256 states
    # with a fired-state pass of 9-24 entries per condition, 18-25 ms vs 10-13 ms; up to 64
    # states x 9-13 fired, or 384 x 2.3, the enumeration still wins (8-10 ms vs 10-28 ms).
    OUTCOME_MAX_WORK = 1 << 14
    # a candidate's terms' size over its ratio, times the case's own Quickscore amplification,
    # at most (else it runs as a row): about 1e-12 lost
    OUTCOME_MAX_CANCELLATION = 1 << 13
    OUTCOME_MAX_STATES = 1 << 11  # open states
    # a fired-state pass of this many entries per condition or more (its reruns) only with
    # few open states: open states x entries at most OUTCOME_MAX_FIRED_WORK
    OUTCOME_BIG_FIRED = 8
    OUTCOME_MAX_FIRED_WORK = 1 << 10

    def _variations_enumerated(self, lik: dict, batch: int, keep: frozenset,
                               touched: frozenset = frozenset()) -> bool:
        """Whether the candidate answers of a case are scored from its enumeration
        (:meth:`outcomes`) rather than as rows: few open states, and a small fired-state pass
        (see ``OUTCOME_MAX_STATES``)."""
        enum = self.enumeration
        n_states = enum.n_states(lik, batch, keep, touched)
        fired = enum.fired_states(keep)
        return n_states <= self.OUTCOME_MAX_STATES and (
            fired < self.OUTCOME_BIG_FIRED or n_states * fired <= self.OUTCOME_MAX_FIRED_WORK)

    def _rows_enumerated(self, lik: dict, batch: int, keep: frozenset) -> bool:
        """Whether rows that are variations of one case (candidate answers the case's own
        enumeration left, attributions) run in the cause enumeration rather than on one
        junction tree: its work per row is the open states times the fired-state pass's
        entries, a tree's is the tree's size. Measured on 16 sampled runners' candidate rows:
        up to 32 states x 10 entries the enumeration won (8-11 ms vs 12-24 ms), from 128 x 8
        or 256 x 2.8 the tree (10-23 ms vs 24-43 ms; 1,536 states x 1: 15 vs 54 ms)."""
        enum = self.enumeration
        return (enum.n_states(lik, batch, keep) * enum.fired_states(keep)
                <= self.ROWS_MAX_ENUMERATED)

    ROWS_MAX_ENUMERATED = 1 << 9

    @serialised
    def outcomes(self, lik: dict[int, np.ndarray], candidates: list[dict],
                 variables: list[int]):
        """One case with each candidate's evidence added, from the case's own enumeration.

        The next-question ranking asks for the same case with one more answer, for every answer
        of every unanswered question. Instead of one evidence row per candidate (each its own
        run), every candidate becomes pseudo-cases of the case: a likelihood on a cause or a
        kept leaf multiplies in directly; one on a finding with no evidence yet is
        ``on * Z(e) + (off - on) * Z(e, finding absent)``, and "absent" folds into constant
        likelihoods on the finding's conditions (:meth:`_pseudo`). One run then gives every
        pseudo-case's ``Z`` ratio and condition masses (:meth:`CauseEnumeration.run`).

        Parameters
        ----------
        lik : dict
            The case, ``{index: (1, card)}``.
        candidates : list of dict
            Extra evidence ``{index: likelihood vector}`` per candidate (multiplied in).
        variables : list of int
            Conditions (noisy-OR) whose marginals are wanted.

        Returns
        -------
        ``None`` when the case does not run in the cause enumeration (use rows), except that
        a case with answers on causes only scores the candidates on causes from the causes'
        posterior (:meth:`_cause_outcomes`, the others not ``done``); else
        ``(marginals {index: (n, 2)}, log_z (n,), done (n,) bool)``: ``log_z`` is
        ``log P(case and candidate)`` (``-inf`` when impossible); candidates not ``done`` put
        evidence on a finding that already has some, or above one that has (run them as rows).
        """
        enum = self.enumeration if self.use_enumeration else None
        if enum is None or enum.generic or any(v not in enum.k_of for v in variables):
            return None
        if not self.possible_rows([{v: a[0] for v, a in lik.items()}])[0]:
            raise ImpossibleEvidence(np.array([0]))
        keep = self._keep_set(self._positive_outer(lik))
        # candidate answers on private causes stay enumerated (their pseudo-cases weigh them)
        touched = frozenset(v for cand in candidates for v in cand if v in enum.private)
        if not enum.accepts(lik, 1, keep, self.foldable, self.OUTCOME_MAX_WORK, touched) or \
                not self._variations_enumerated(lik, 1, keep, touched):
            return self._cause_outcomes(lik, candidates, variables)
        n = len(candidates)
        done = np.zeros(n, dtype=bool)
        terms, pseudo = [], {(): {}}  # per candidate [(coefficient, pseudo key)]
        for c, cand in enumerate(candidates):
            parts = self._candidate_terms(cand, lik, keep)
            if parts is None:
                terms.append(())
                continue
            done[c] = True
            row = []
            for coef, vecs in parts:
                key = tuple(sorted((v, vec.tobytes()) for v, vec in vecs.items()))
                pseudo.setdefault(key, vecs)
                row.append((coef, key))
            terms.append(row)
        keys = list(pseudo)
        n_rows = 1 << sum(1 for v, vec in lik.items() if v in self.foldable and v not in keep
                          and positive_or_soft(vec, self.foldable[v][0])[0])
        step = max(1, self.OUTCOME_BUDGET // (n_rows * enum.n_states(lik, 1, keep, touched)))
        table, stats = {}, {}
        for i in range(0, len(keys), step):
            names = {f"p{j}": pseudo[k] for j, k in enumerate(keys[i:i + step], start=i)}
            _, log_z, ratios = self._run(enum, lik, 1, keep, [], names, pseudo_marginals=True,
                                         stats=stats)
            table.update({keys[int(name[1:])]: r[0] for name, r in ratios.items()})
        marg = {v: np.zeros((n, 2)) for v in variables}
        out_log_z = np.full(n, -np.inf)
        order = [enum.k_of[v] for v in variables]
        # (a candidate without a signed sum of its own is as exact as the case: always kept)
        limit = max(1.0 + 2.0 ** -20,
                    self.OUTCOME_MAX_CANCELLATION / max(1.0, float(stats["amplification"][0])))
        for c, row in enumerate(terms):
            if not done[c]:
                continue
            acc = sum(coef * table[key] for coef, key in row)
            ratio = acc[0]
            # a signed sum (Quickscore's "present" = Z(e) - Z(e, absent)) loses the digits of
            # its terms' size over its own, times those the case's own Quickscore split lost
            # (a sampled case: 387x for a rare finding present, 1.6e-9 of log P off): beyond
            # OUTCOME_MAX_CANCELLATION such a candidate runs as a row, where its tree keeps
            # the finding exactly
            spread = sum(abs(coef) * table[key][0] for coef, key in row)
            if spread > 0 and not ratio * limit >= spread:
                done[c] = False
                continue
            if not ratio > 0:
                continue
            out_log_z[c] = log_z[0] + np.log(ratio)
            on = np.clip(acc[1:][order] / ratio, 0.0, 1.0)
            for v, p, j in zip(variables, on, order):
                off = enum.off[j]
                marg[v][c, 1 - off] = p
                marg[v][c, off] = 1.0 - p
        # an exact zero can hide in a rounded difference: decide possibility exactly for the
        # candidates on variables of CPTs with zeros (the others keep the case's possibility)
        exact = [c for c in np.flatnonzero(done)
                 if any(v in self._constrained for v in candidates[c])]
        if exact:
            case = {v: a[0] for v, a in lik.items()}
            ok = self.possible_rows([_times(case, candidates[c]) for c in exact])
            bad = np.asarray(exact)[~ok]
            out_log_z[bad] = -np.inf
            for v in variables:
                marg[v][bad] = 0.0
        self._answered.add("enumeration")
        return marg, out_log_z, done

    def _cause_outcomes(self, lik: dict, candidates: list[dict], variables: list[int]):
        """:meth:`outcomes` for a case with answers on causes only (the first pages of the
        questionnaire), for the candidates that are answers on causes too.

        Without evidence below the causes, the causes are independent apart from their own
        CPDs (hormonal contraception given sex): the posterior is a product over the
        connected groups of causes, and a condition's marginal is its CPT summed against the
        groups' marginals on its parents (exact: the evidence factorises over the groups). A
        candidate answer on a cause changes one group. Candidates with evidence
        elsewhere (symptoms) are left undone, to run as rows. ``None`` unless the case and
        some candidate qualify."""
        enum = self.enumeration
        causes = set(enum.causes)
        if any(v not in causes for v in lik) or not any(
                cand and set(cand) <= causes for cand in candidates):
            return None
        groups, group_of = self._cause_groups
        n = len(candidates)
        done = np.array([set(cand) <= causes for cand in candidates])
        rows = np.flatnonzero(done)
        n_rows = len(rows)
        joints = []
        for members, prior in groups:  # the case's own posterior, per group
            joint = prior
            for i, v in enumerate(members):
                if v in lik:
                    shape = [1] * joint.ndim
                    shape[i] = -1
                    joint = joint * lik[v][0].reshape(shape)
            joints.append(np.broadcast_to(joint, (n_rows,) + joint.shape))
        for r, c in enumerate(rows):  # each candidate's likelihoods (one or two causes)
            for v, vec in candidates[c].items():
                g = group_of[v]
                if not joints[g].flags.writeable:
                    joints[g] = joints[g].copy()
                shape = [1] * (joints[g].ndim - 1)
                shape[groups[g][0].index(v)] = -1
                joints[g][r] *= np.asarray(vec, dtype=float).reshape(shape)
        total = np.zeros(n_rows)
        alive = np.ones(n_rows, dtype=bool)
        for g, joint in enumerate(joints):
            z = joint.reshape(n_rows, -1).sum(axis=1)
            alive &= z > 0
            with np.errstate(divide="ignore"):
                total += np.log(z)
            joints[g] = joint / np.where(z > 0, z, 1.0).reshape((-1,) + (1,) * (joint.ndim - 1))
        log_z = np.full(n, -np.inf)
        log_z[rows] = np.where(alive, total, -np.inf)
        marg = {v: np.zeros((n, int(self.cards[v]))) for v in variables}
        prefixes: dict = {(): np.ones((n_rows, 1))}  # conditions share leading parent groups
        for v in variables:
            parts, table = self._cause_cpt(v)
            for i, (g, summed) in enumerate(parts):  # the parents' joint per row, by group
                key = tuple(parts[:i + 1])
                if key not in prefixes:
                    part = joints[g].sum(axis=summed) if summed else joints[g]
                    prefixes[key] = (prefixes[key[:-1]][:, :, None] *
                                     part.reshape(n_rows, 1, -1)).reshape(n_rows, -1)
            m = prefixes[tuple(parts)] @ table  # (rows, the condition's states)
            m[~alive] = 0.0
            marg[v][rows] = m
        self._answered.add("enumeration")
        return marg, log_z, done

    @cached_property
    def _cause_groups(self) -> tuple[list, dict]:
        """The causes in connected groups of their CPDs, ``[(members, prior joint)]`` (the
        joint's axes in the members' order), and each cause's group."""
        enum = self.enumeration
        tables = {c: enum.tables[c] for c in enum.causes}
        parent = {c: c for c in tables}

        def root(c):
            while parent[c] != c:
                c = parent[c]
            return c
        for c, (scope, _) in tables.items():
            for p in scope[1:]:
                parent[root(p)] = root(c)
        by_root: dict = {}
        for c in enum.causes:
            by_root.setdefault(root(c), []).append(c)
        letters = {c: LETTERS[i + 1] for i, c in enumerate(enum.causes)}
        groups, group_of = [], {}
        for members in by_root.values():
            ops, subs = [], []
            for c in members:
                scope, table = tables[c]
                ops.append(table)
                subs.append("".join(letters[v] for v in scope))
                group_of[c] = len(groups)
            own = "".join(letters[c] for c in members)
            groups.append((members, np.einsum(",".join(subs) + "->" + own, *ops)))
        return groups, group_of

    def _cause_cpt(self, v: int):
        """A condition's CPT for :meth:`_cause_outcomes`: ``(parts, table)``, ``parts`` the
        groups of its parents with the group axes to sum out, ``table`` ``(parent states in
        that order, the condition's states)``."""
        cache = self.__dict__.setdefault("_cause_cpts", {})
        got = cache.get(v)
        if got is None:
            scope = next(sc for _, sc, _ in self._specs if sc[0] == v)
            table = self._full_tables.get(v)
            if table is None:
                table = next(pl for _, sc, pl in self._specs if sc[0] == v)
            table = np.asarray(table, dtype=float)
            groups, group_of = self._cause_groups
            parts, order = [], []
            for g in sorted({group_of[u] for u in scope[1:]}):
                members = groups[g][0]
                parts.append((g, tuple(1 + i for i, u in enumerate(members)
                                       if u not in scope[1:])))
                order += [u for u in members if u in scope[1:]]
            moved = table.transpose([0] + [scope.index(u) for u in order])
            got = cache[v] = (parts, moved.reshape(table.shape[0], -1).T.copy())
        return got

    @serialised
    def possible_rows(self, rows: list[dict]) -> np.ndarray:
        """:meth:`check_possible` for single evidence dicts ``{var: vector}``, decided once per
        distinct evidence on the variables of CPTs with zeros (remembered: the candidate answers
        of a case share it, and the dashboard asks again on every rerun)."""
        memo = self._possible_memo
        keys, todo, known = [], {}, {}
        constrained = self._constrained
        for row in rows:
            # (likelihoods are non-negative: a vector without a nonzero entry rules the row out;
            # one reduction over the row's vectors laid end to end)
            vecs = list(row.values())
            if vecs:
                starts = np.cumsum([0] + [len(v) for v in vecs[:-1]])
                if not np.maximum.reduceat(np.concatenate(vecs), starts).min() > 0:
                    keys.append(False)
                    continue
            key = tuple(sorted((v, (vec > 0).tobytes()) for v, vec in row.items()
                               if v in constrained))
            keys.append(key)
            if key in known or key in todo:
                continue
            got = memo.get(key)
            if got is None:
                todo[key] = row
            else:
                known[key] = got
        if todo:
            batch = len(todo)
            stacked = {}
            for r, row in enumerate(todo.values()):
                for v, vec in row.items():
                    if v in self._constrained:
                        if v not in stacked:
                            stacked[v] = np.ones((batch, self.cards[v]))
                        stacked[v][r] = vec
            decided = list(zip(todo, self._check_possible(stacked, batch).tolist()))
            known.update(decided)
            memo.update(decided)
        return np.array([k is not False and known[k] for k in keys], dtype=bool)

    @cached_property
    def _constrained(self) -> frozenset:
        """Variables in the scope of a CPT with zero entries."""
        return frozenset(v for f in self._constraints for v in f.scope)

    def _candidate_terms(self, cand: dict, lik: dict, keep: frozenset):
        """A candidate's evidence as ``[(coefficient, {var: vector})]`` pseudo-cases of the
        case ``lik``, or ``None`` when it cannot be written so."""
        terms = [(1.0, {})]
        outer = [v for v in cand if v in self.foldable and v not in keep]
        for v in outer:  # a leaf above another of the candidate's leaves: use rows
            if any(d in cand for d in self._outer_descendants(v)):
                return None
        for v, vec in cand.items():
            vec = np.asarray(vec, dtype=float)
            if v not in outer:  # a cause, a condition or a kept leaf: multiplies in
                terms = [(c, _times(d, {v: vec})) for c, d in terms]
                continue
            if v in lik:  # fine when it only rescales the evidence already there (symptom
                # answers all say "leg pain": nothing new once pain is reported)
                support = lik[v][0] > 0
                if not np.all(vec[support] == vec[support][0]):
                    return None
                terms = [(c * float(vec[support][0]), d) for c, d in terms]
                continue
            fold = self._pseudo(v, keep, lik)
            if fold is None:
                return None
            scalar, vecs = fold
            off = self.foldable[v][0]
            w_on, w_off = float(vec[1 - off]), float(vec[off])
            new = []
            for c, d in terms:
                if w_on != 0:  # the leaf dropped
                    new.append((c * w_on, d))
                if w_off != w_on:  # the leaf forced absent
                    new.append((c * (w_off - w_on) * scalar, _times(d, vecs)))
            terms = new
        return terms

    @serialised
    def infer_batch(self, likelihoods: dict[str, np.ndarray], variables: list[str] | None = None,
                    budget: int = 1 << 22, n: int | None = None, slice_common: bool = False,
                    check: bool = True):
        """Many cases: ``{var: (n, card) likelihoods}`` -> ``({var: (n, card)}, log_z)``.

        Unrelated rows are answered each as if alone (:meth:`_independent_rows`): identical rows
        once, each row by the single-case rule, and the rows that need a tree grouped by pattern
        on that pattern's tree, in chunks of at most about ``budget`` clique entries, which
        bounds memory; a row's bits do not depend on the other rows. ``slice_common``: the rows
        are variations of one case (the next-question ranking, attributions): rows the cause enumeration takes run there, the rest on
        junction trees with the variables observed hard in every row of a chunk cut out (for
        unrelated rows that would compile a tree per chunk). ``check=False`` skips the exact
        possibility check, for callers that made it (an impossible row then raises
        :class:`ImpossibleEvidence` only if rounding shows it, as a zero ``P(evidence)``).
        """
        if n is None:  # the number of cases; give it when no case has any evidence
            n = len(next(iter(likelihoods.values()))) if likelihoods else 1
        names = self.variables if variables is None else list(variables)
        idx = [self.index[v] for v in names]
        arrays = {}
        for v, a in likelihoods.items():
            if v not in self.index:
                raise ValueError(f"unknown variable {v!r}")
            a = np.asarray(a, dtype=float)
            if a.shape != (n, self.cards[self.index[v]]) or np.any(a < 0) or not np.all(
                    np.isfinite(a)):
                raise ValueError(f"likelihoods for {v} must be an array of shape "
                                 f"({n}, {self.cards[self.index[v]]}) of non-negative numbers")
            arrays[self.index[v]] = a
        if check:
            possible = self.check_possible(arrays, n)
            if not possible.all():
                raise ImpossibleEvidence(np.flatnonzero(~possible))
        out = {v: np.empty((n, self.cards[self.index[v]])) for v in names}
        log_z = np.empty(n)
        if not slice_common:
            self._independent_rows(arrays, n, idx, budget, out, log_z)
            return out, log_z
        # variations of row 0 (a case and its candidate answers) share row 0's tree: its kept
        # positives stay in the tree, each row's one extra positive is expanded. A row whose
        # candidate answer brings several positives keeps its own pattern (decided row by row
        # against row 0, so the other candidates do not change it)
        nodes, raw = self._positive_rows(arrays, n)
        positive = self._kept_mask(raw, nodes)  # the rest are expanded (Quickscore)
        if n > 1:
            near = (raw & ~raw[0]).sum(axis=1) <= 1
            positive[near] = self._kept_mask(raw[:1], nodes, expand=0)[0]
        codes = np.packbits(positive, axis=1) if len(nodes) else np.zeros((n, 1), np.uint8)
        _, label = np.unique(codes, axis=0, return_inverse=True)
        label = label.ravel()
        order = np.argsort(label, kind="stable")
        bounds = np.flatnonzero(np.diff(label[order])) + 1
        for group in np.split(order, bounds) if n else []:
            keep = self._with_outer_parents(
                {nodes[j] for j in np.flatnonzero(positive[group[0]])})
            tree = self.tree(keep, frozenset(), self._whole(arrays, frozenset()))
            chunk = max(16, budget // (4 * tree.max_clique_size))
            for start in range(0, len(group), chunk):
                rows = group[start:start + chunk]
                lik = {i: a[rows] for i, a in arrays.items()}
                try:
                    # (the enumeration takes a chunk when its work per row is below a tree's)
                    marg, lz = self.posterior(
                        lik, len(rows), idx, check=False, keep=keep,
                        enumerate=self.enumeration is not None and
                        self._rows_enumerated(lik, len(rows), keep))
                except ImpossibleEvidence as exc:
                    raise ImpossibleEvidence(rows[exc.cases]) from None
                for i, m in marg.items():
                    out[self.variables[i]][rows] = m
                log_z[rows] = lz
        return out, log_z

    def _independent_rows(self, arrays: dict, n: int, idx: list, budget: int, out: dict,
                          log_z: np.ndarray) -> None:
        """Unrelated rows, each answered as if it were alone: whatever else is in the batch
        (``diagnose_many``'s chunking, the order of a frame), a row gets the same bits.

        Identical rows are computed once. A constant likelihood is a factor of
        ``P(evidence)``, not evidence (a batch stacks "not answered" as ones). Each row then
        takes the single-case rule on its own, a batch of one: the mixture kernel or the cause
        enumeration when it takes the row. A row they decline runs on the junction tree of its
        own pattern (kept positives, conditions with evidence), grouped with the rows of the
        same pattern, informative variables and hard outer nodes: the compiled tree steps
        compute every row in the same order whatever the other rows (the mixture kernel and the
        enumeration reduce with numpy, whose summation order follows the array's shape, so
        they only ever see one row here).
        """
        variables = list(arrays)
        if variables:  # identical rows once
            matrix = np.concatenate([arrays[v] for v in variables], axis=1)
            _, first, same = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
            same = same.ravel()
        else:
            first, same = np.zeros(min(n, 1), dtype=int), np.zeros(n, dtype=int)
        if len(first) < n:
            reps = {v: a[first] for v, a in arrays.items()}
            rep_out = {v: np.empty((len(first),) + o.shape[1:]) for v, o in out.items()}
            rep_z = np.empty(len(first))
            try:
                self._independent_rows(reps, len(first), idx, budget, rep_out, rep_z)
            except ImpossibleEvidence as exc:
                raise ImpossibleEvidence(np.flatnonzero(np.isin(same, exc.cases))) from None
            for v, o in out.items():
                o[:] = rep_out[v][same]
            log_z[:] = rep_z[same]
            return
        scale, informative = np.zeros(n), {}
        for v, a in arrays.items():
            flat = (a == a[:, :1]).all(axis=1)
            if flat.any():
                with np.errstate(divide="ignore"):
                    scale += np.where(flat, np.log(a[:, 0]), 0.0)
            informative[v] = ~flat
        declined = []
        for r in range(n):
            lik = {v: arrays[v][r:r + 1] for v in variables if informative[v][r]}
            try:
                got = self.posterior(lik, 1, idx, check=False, trees=False)
            except ImpossibleEvidence:
                raise ImpossibleEvidence(np.array([r])) from None
            if got is None:
                declined.append(r)
                continue
            for i, m in got[0].items():
                out[self.variables[i]][r] = m[0]
            log_z[r] = got[1][0] + scale[r]
        if declined:
            self._tree_rows(arrays, np.array(declined), informative, scale, idx, budget, out,
                            log_z)

    def _tree_rows(self, arrays: dict, which: np.ndarray, informative: dict, scale: np.ndarray,
                   idx: list, budget: int, out: dict, log_z: np.ndarray) -> None:
        """The rows ``which`` of a batch, each on the junction tree of its own pattern, grouped
        with the rows of the same pattern (see :meth:`_independent_rows`)."""
        keys = []
        for v, a in arrays.items():
            live = informative[v][which]
            keys.append(live)
            a = a[which]
            keys.append((np.count_nonzero(a, axis=1) == 1) & live)  # hard (cut out of big trees)
            if v in self._full_tables:  # a condition observed present or softly: whole CPT
                keys.append(np.any((a[:, 1:] > 0) & (a[:, 1:] != a[:, :1]), axis=1))
        variables = list(arrays)
        sub = {v: a[which] for v, a in arrays.items()}
        nodes, positive = self._positive_rows(sub, len(which))
        kept = self._kept_mask(positive, nodes)
        key = np.column_stack(keys + [kept]) if keys or len(nodes) else np.zeros((len(which), 1),
                                                                                 bool)
        _, label = np.unique(np.packbits(key, axis=1), axis=0, return_inverse=True)
        label = label.ravel()
        order = np.argsort(label, kind="stable")
        bounds = np.flatnonzero(np.diff(label[order])) + 1
        for group in np.split(order, bounds) if len(which) else []:
            first = which[group[0]]
            live = [v for v in variables if informative[v][first]]
            keep = self._with_outer_parents(
                {nodes[j] for j in np.flatnonzero(kept[group[0]])})
            one = {v: arrays[v][first:first + 1] for v in live}
            tree = self.tree(keep, frozenset(), self._whole(one, frozenset()))
            # a big tree is cut at the variables the row observes hard (each hard pattern
            # then compiles its own tree); a small one is shared by every hard pattern
            cut = tree.max_clique_size > self.CUT_HARD_ABOVE
            if cut:
                hard = frozenset(v for v in live if v not in self.foldable and is_hard(one[v]))
                tree = self.tree(keep, hard, self._whole(one, hard))
            chunk = max(16, budget // (4 * tree.max_clique_size))
            for start in range(0, len(group), chunk):
                rows = which[group[start:start + chunk]]
                lik = {v: arrays[v][rows] for v in live}
                try:
                    marg, lz = self.posterior(lik, len(rows), idx, check=False, keep=keep,
                                              slice_vars=None if cut else (), enumerate=False)
                except ImpossibleEvidence as exc:
                    raise ImpossibleEvidence(rows[exc.cases]) from None
                for i, m in marg.items():
                    out[self.variables[i]][rows] = m
                log_z[rows] = lz + scale[rows]

    def _positive_rows(self, arrays: dict, n: int):
        """``(leaves, rows x leaves)``: the outer nodes with evidence, and where it is positive
        or soft (Quickscore would split the row for it)."""
        leaves = [leaf for leaf in self.foldable if leaf in arrays]
        positive = np.zeros((n, len(leaves)), dtype=bool)
        for j, leaf in enumerate(leaves):
            off = self.foldable[leaf][0]
            a = arrays[leaf]
            positive[:, j] = positive_or_soft(a, off)
        return leaves, positive


def _absent_copies(rows: dict, case, coef, pos, w_off, w_on, leak: float):
    """Quickscore split of the rows ``pos`` where a noisy-OR leaf is positive or soft: each keeps
    the "drop the leaf" term (weight ``w_on``) and gains an appended copy for "the leaf is absent"
    (weight ``(w_off - w_on) * leak``, its links still to be folded by the caller)."""
    absent_coef = coef[pos] * (w_off[pos] - w_on[pos]) * leak
    coef = coef.copy()
    coef[pos] *= w_on[pos]
    rows = {k: np.concatenate([a, a[pos]]) for k, a in rows.items()}
    return rows, np.concatenate([case, case[pos]]), np.concatenate([coef, absent_coef])


def _fold_links(rows: dict, links, absent) -> None:
    """Multiply the inhibitors of an absent leaf into its parents' likelihoods, in the rows
    marked ``absent``."""
    for parent, g in links:
        factor = np.where(absent[:, None], g[None, :], 1.0)
        rows[parent] = rows[parent] * factor if parent in rows else factor


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def _depth_first(tree: "JunctionTree") -> dict[int, int]:
    """Each variable's rank of first appearance in a depth-first walk of ``tree``'s cliques from
    its root (variables of the root first)."""
    first: dict[int, int] = {}
    stack = [tree.root]
    while stack:
        c = stack.pop()
        for v in tree.cliques[c]:
            first.setdefault(v, len(first))
        stack.extend(reversed(tree.children[c]))
    return first


def _fired_chain(scope: tuple, off: int, leak: float, gs: list, cards: list) -> list:
    """A noisy-OR leaf ``scope[0]`` over parents ``scope[1:]`` as a chain of binary "has any
    cause fired yet" variables, every term positive (the sequential decomposition of the
    noisy-OR, Heckerman & Breese 1996): ``Z_1`` is the leak or the first parent firing, ``Z_j``
    is ``Z_{j-1}`` or parent ``j`` firing, the last link is the leaf itself. Observed present,
    a rare leaf keeps full float64 precision, where the signed auxiliary factor
    ``1 - L * prod g`` cancels. New chain variables are appended to ``cards``."""
    leaf, parents = scope[0], scope[1:]
    factors, prev = [], None
    for j, (parent, g) in enumerate(zip(parents, gs)):
        if j == len(parents) - 1:
            node, none, fired = leaf, off, 1 - off
        else:
            node, none, fired = len(cards), 0, 1
            cards.append(2)
        if prev is None:
            t = np.empty((2, len(g)))
            t[none], t[fired] = leak * g, 1.0 - leak * g
            factors.append(Factor((node, parent), t))
        else:
            t = np.zeros((2, 2, len(g)))  # (previous link, this link, parent)
            t[0, none], t[0, fired], t[1, fired] = g, 1.0 - g, 1.0
            factors.append(Factor((prev, node, parent), t))
        prev = node
    return factors


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


def _times(vecs: dict, more: dict) -> dict:
    """Likelihood dicts multiplied (a new dict)."""
    out = dict(vecs)
    for v, vec in more.items():
        out[v] = out[v] * vec if v in out else np.asarray(vec, dtype=float)
    return out


def _outer(vectors):
    out = np.array(1.0)
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out
