"""One-pass exact inference for small batches: the posterior as a mixture of product distributions.

Why
---
A diagnosis asks for a handful of closely related rows: the case, the case with each reported
risk cause at its healthy level, and the same rows with the cause answers only. The general
engine routes each call through several back ends; this kernel answers such a batch with a
short, fixed sequence of numpy operations, which keeps ``Model.diagnose`` near a millisecond.

How
---
Given every cause, the conditions are independent. Every leaf below them (a finding, or leg
pain through its deterministic tissue groups) is a noisy-OR of the conditions, so its evidence
factor is ``A + B * prod_j q_j ** k_j``: one term (``B = 0``: no evidence; ``A = 0``: observed
absent, folded into per-condition multipliers ``U``) or two (present or soft evidence). Expanding
the two-term leaves (Quickscore, Heckerman 1989) and the causes a batch leaves open gives

    Z(row) = sum_{t, s}  coef(row, t) * w(row, s) * prod_j [ off_j(row, s) + (1 - off_j) U_j M_tj ]

over the expansion's terms ``t`` and the open causes' joint states ``s``: a weighted mixture of
product distributions over the conditions. Every marginal is a weighted sum over the components:

* a condition: its present share ``(1 - off) U M / h`` in each component;
* a cause: the components' weight by the cause's state (open causes), or its observed state;
* a noisy-OR leaf ``f`` with no evidence: ``P(f off) = L_f * E[prod_j q_fj ** k_j]``, where in a
  component ``E[...] = prod_j (1 - s_j (1 - q_fj))``; with evidence ``(l_off, l_on)``, the same
  over the components in which its own term is the constant one, times ``l_off / l_on``;
* a tissue group ``g`` under leg pain (a deterministic OR of the groups, plus a leak):
  ``P(g off, e) = L_g * sum_{pain's constant term} w E[prod_{j in g} q_gj ** k_j] + sum_{pain's
  product term} w``.

*Private* open causes (one condition, no cause below them) are summed out per row into that
condition's inhibitor (their posterior mean), as in :mod:`model.enumeration`.

Variations of a case (:meth:`ProductMixture.case_with_variations`) share its expansion and its
open states; only the conditions whose cause part changed are recomputed, as ratios of their
factors, so ten variations cost little more than the case.

Arrays are laid out ``(conditions, rows, terms, states)``: the open states, the longest axis,
innermost (numpy's broadcasting over a short last axis costs several times more).

Precision: the expansion's terms are signed when a leaf's evidence favours "present" (a rare
finding observed present: ``1 - L prod q`` with ``L`` close to 1). The kernel measures the
cancellation, ``sum |component weight| / Z``, and recomputes in extended precision
(``np.longdouble``) above :attr:`MAX_AMPLIFICATION`; above :attr:`MAX_AMPLIFICATION_LONG` it
declines. Products are taken directly (no ``exp(log)``), so the inputs carry no rounding the
cancellation could magnify. A method returns ``None`` when it declines (also for evidence on
conditions or tissue groups, or work above its budget); the caller then uses the general
engine, which also has an exact impossibility check.
"""
from __future__ import annotations

import math

import numpy as np


class ProductMixture:
    """The cause -> condition -> leaf layers of an engine, as one-pass mixture inference.

    Built by :meth:`from_engine` (``None`` when the network is not layered that way).
    """

    # (conditions x rows x terms x open states) entries per array in run_matrix, at most
    # (a cost bound of this kernel, not knowledge): larger batches go to the engine
    MAX_ENTRIES = 1 << 19
    # a case with variations: open states x terms x (conditions + changed (row, condition)
    # pairs), at most; a case whose terms cancel so much that it runs in extended precision
    # (about 5x slower) counts 5x. Measured on 320 sampled runners' diagnoses (cohort and
    # with leg pain): the kernel takes 0.7-1.6 ms up to ~20,000 and 3-13 ms at
    # ~50,000-400,000 in float64, the engine 7-30 ms; above that the engine wins. On 30
    # runners with leg pain, the median diagnose went from 14.7 ms (budget 2^17) to 5.2 ms
    MAX_VARIATION_WORK = 1 << 19
    LONG_COST = 5
    # sum |component weight| / Z, the cancellation of the signed terms. The error it causes was
    # measured against extended precision on 300 sampled runners with leg pain: at most
    # 2.4 * eps * amplification (median 0.3). With a bound of 8 * eps * amplification:
    # float64 (eps 1.1e-16) up to 2^19 and longdouble (eps 1.1e-19 on x86) up to 2^29 keep
    # every marginal within 5e-10 of exact (the tests' tolerance is 1e-9)
    MAX_AMPLIFICATION = 1 << 19
    MAX_AMPLIFICATION_LONG = 1 << 29
    # open private causes are enumerated like the others while all open states number at
    # most this: summing one out and recovering its marginal takes about ten numpy calls,
    # more than a pass over a few dozen more states (a cost bound, not knowledge)
    ENUMERATE_PRIVATE = 256
    # grids (row-independent arrays per set of enumerated causes) kept, in bytes; a grid of at
    # most this many states also keeps its one-hot matrix for the cause marginals
    GRID_CACHE_BYTES = 32 << 20
    ONEHOT_STATES = 1024

    def __init__(self, enumeration, engine):
        e = enumeration
        self.cards = e.cards
        self.causes = list(e.causes)
        self.conditions = list(e.conditions)
        k = self.n_k = len(self.conditions)
        self.cause_pos = {c: i for i, c in enumerate(self.causes)}
        self.cond_pos = {c: j for j, c in enumerate(self.conditions)}
        # conditions must be noisy-OR with their "off" state first (as the engine splits them)
        self.ok = not e.generic and bool(np.all(e.off == 0))
        if not self.ok:
            return  # not this kernel's structure (from_engine returns None)
        self.leak = e.leak.copy()
        cards = [int(self.cards[c]) for c in self.causes]
        self.offsets = np.concatenate([[0], np.cumsum(cards)]).astype(np.intp)
        self.n_cols = n_cols = int(self.offsets[-1])
        self.col_index = np.arange(n_cols)
        # every cause state's inhibitor row, then one row of ones ("not gathered")
        self.inhib_rows = np.ones((n_cols + 1, k))
        self.prior_rows = np.ones(n_cols + 1)
        self.dependent = []  # causes whose CPT has cause parents: (cause, parents, table)
        for c in self.causes:
            a, b = self.offsets[self.cause_pos[c]], self.offsets[self.cause_pos[c] + 1]
            self.inhib_rows[a:b] = e.inhibitors[c]
            scope, table = e.tables[c]
            if len(scope) == 1:
                self.prior_rows[a:b] = table
            else:
                self.dependent.append((c, tuple(scope[1:]), np.asarray(table, dtype=float)))
        self.private = {c: j for c, j in e.private.items() if j is not None}
        self.tables = e.tables
        self.inhibitors = e.inhibitors
        # ---- leaves: findings (noisy-OR of conditions) and leg pain through its groups -----
        groups, pain = self._pain_structure(engine, e)
        leaves, off, leak, q = [], [], [], []
        for y, (o, lk, qy) in e.kept_ok.items():
            if y in groups:
                continue  # a tissue group: not a leaf, its marginal comes with leg pain's
            leaves.append(y)
            off.append(o)
            leak.append(lk)
            q.append(qy)
        self.pain = None
        self.groups = list(groups)
        if pain is not None:
            pain_var, pain_leak, group_leaks = pain
            q_pain = np.ones(k)
            for qg in groups.values():
                q_pain *= qg
            leaves.append(pain_var)
            off.append(0)
            leak.append(pain_leak * math.prod(group_leaks.values()))
            q.append(q_pain)
            self.pain = pain_var
            self.group_leak = np.array([group_leaks[g] for g in self.groups])
        self.leaves = leaves
        self.leaf_pos = {y: i for i, y in enumerate(leaves)}
        self.leaf_off = np.array(off, dtype=np.intp)
        self.leaf_leak = np.array(leak, dtype=float)
        self.leaf_q = np.array(q, dtype=float).reshape(len(leaves), k)  # (leaves, conditions)
        if not leaves or np.any(self.leaf_leak <= 0):
            self.ok = False
            return
        # every leaf's links (conditions with inhibitor < 1) side by side: E[prod_j q ** k_j]
        # per component is the product over its links of (1 - s_j (1 - q_j)); tissue groups
        # take leg pain's links, group by group
        links = [np.flatnonzero(row < 1.0) for row in self.leaf_q]
        self.link_cond = np.concatenate(links).astype(np.intp)
        self.link_comp = np.concatenate([1.0 - self.leaf_q[f, l] for f, l in enumerate(links)])
        ends = np.cumsum([len(l) for l in links])
        self.leaf_links = [np.arange(a, b) for a, b in zip(np.concatenate([[0], ends[:-1]]),
                                                            ends)]
        self.group_links = []
        if pain is not None:
            pain_links = self.leaf_links[len(leaves) - 1]
            for g in self.groups:
                inside = np.asarray(groups[g])[self.link_cond[pain_links]] < 1.0
                self.group_links.append(pain_links[inside])
        # the evidence matrix: every engine variable's states side by side, then a column of 1
        self.var_start = vs = np.concatenate([[0], np.cumsum(engine.cards)]).astype(np.intp)
        self.n_states = int(vs[-1])
        self.cause_cols = np.concatenate(
            [np.arange(vs[c], vs[c + 1]) for c in self.causes] + [[self.n_states]]).astype(np.intp)
        self.leaf_off_cols = np.array([vs[y] + o for y, o in zip(leaves, off)], dtype=np.intp)
        self.leaf_on_cols = np.array([vs[y] + 1 - o for y, o in zip(leaves, off)], dtype=np.intp)
        self.leaf_cols = np.concatenate([self.leaf_off_cols, self.leaf_on_cols])
        self.cond_off_cols = np.array([vs[c] for c in self.conditions], dtype=np.intp)
        self.cond_on_cols = self.cond_off_cols + 1
        others = [v for v in range(len(engine.cards)) if v not in self.cause_pos
                  and v not in self.leaf_pos]  # conditions and tissue groups: no evidence taken
        self.other_cols = np.concatenate([np.arange(vs[v], vs[v + 1]) for v in others]
                                         ).astype(np.intp)
        self.other_first = np.concatenate([np.full(vs[v + 1] - vs[v], vs[v]) for v in others]
                                          ).astype(np.intp)
        if self.pain is not None:
            f = self.leaf_pos[self.pain]
            self.pain_q = self.leaf_q[f][:, None]
            self.pain_c = 1.0 - self.pain_q
            self.pain_leak = float(self.leaf_leak[f])
            self._group_products = tuple(("group", n) for n in range(len(self.groups)))
            self.group_off_cols = np.array([vs[g] for g in self.groups], dtype=np.intp)
            self.group_on_cols = self.group_off_cols + 1
        self._grids: dict = {}
        self._grid_bytes = 0
        self._plans: dict = {}
        self._bits: dict = {}
        self._link_plans: dict = {}

    # ------------------------------------------------------------------------------------
    @classmethod
    def from_engine(cls, engine) -> "ProductMixture | None":
        enumeration = engine.enumeration
        if enumeration is None:
            return None
        out = cls(enumeration, engine)
        return out if out.ok else None

    @staticmethod
    def _pain_structure(engine, e):
        """Tissue groups (noisy-OR of conditions) under one pain node that is a deterministic OR
        of them plus a leak: ``({group: q}, (pain, leak, {group: leak}))``, or ``({}, None)``."""
        kept = e.kept_ok
        for y, (off, leak, links) in engine.foldable.items():
            if y in kept or not links or off != 0:
                continue
            parents = [p for p, _ in links]
            if not all(p in kept and kept[p][0] == 0 for p in parents):
                continue
            if not all(g[0] == 1.0 and g[1] == 0.0 for _, g in links):
                continue  # only a deterministic OR of the groups is one noisy-OR of conditions
            covered = np.zeros(len(e.conditions), dtype=int)
            for p in parents:
                covered += kept[p][2] < 1.0
            if np.any(covered > 1):
                continue  # groups sharing a condition: the group marginals below do not apply
            return ({p: kept[p][2] for p in parents},
                    (y, float(leak), {p: float(kept[p][1]) for p in parents}))
        return {}, None

    def clear_caches(self) -> None:
        """Forget the grids and plans built so far (the bench's first-call timing)."""
        self._grids.clear()
        self._grid_bytes = 0
        self._link_plans.clear()
        self._plans.clear()

    # ------------------------------------------------------------------------------------
    def _grid(self, enumerated: tuple) -> dict:
        """Row-independent arrays for a set of enumerated causes (cached)."""
        got = self._grids.get(enumerated)
        if got is not None:
            return got
        cards = [int(self.cards[c]) for c in enumerated]
        n = math.prod(cards)
        grid = np.indices(cards).reshape(len(enumerated), n) if enumerated else \
            np.zeros((0, 1), dtype=np.intp)
        at = {c: grid[i] for i, c in enumerate(enumerated)}
        inhib = np.ones((self.n_k, n))
        prior = np.ones(n)
        cols = np.empty((len(enumerated), n), dtype=np.intp)
        for i, c in enumerate(enumerated):
            inhib *= self.inhibitors[c][at[c]].T
            scope, table = self.tables[c]
            if all(p in at for p in scope):  # (a dependent cause is enumerated with its parents)
                prior = prior * table[tuple(at[p] for p in scope)]
            cols[i] = self.offsets[self.cause_pos[c]] + at[c]
        onehot = None
        if n <= self.ONEHOT_STATES:  # cause marginals by one matrix product
            onehot = np.zeros((n, self.n_cols + 1))
            for i in range(len(enumerated)):
                onehot[np.arange(n), cols[i]] = 1.0
        got = dict(n=n, at=at, inhib=inhib, prior=prior, cols=cols, onehot=onehot,
                   cards=tuple(cards))
        size = inhib.nbytes + prior.nbytes + cols.nbytes + (onehot.nbytes if onehot is not None
                                                            else 0)
        # the cache is bounded by its bytes: a million unrelated rows meet thousands of sets
        while self._grids and self._grid_bytes + size > self.GRID_CACHE_BYTES:
            self._grid_bytes -= self._grids.pop(next(iter(self._grids)))["bytes"]
        got["bytes"] = size
        self._grid_bytes += size
        self._grids[enumerated] = got
        return got

    def _term_bits(self, n: int) -> np.ndarray:
        bits = self._bits.get(n)
        if bits is None:
            bits = self._bits[n] = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)
        return bits

    def _product_plan(self, products: tuple) -> tuple:
        """For the products ``E[prod_j q ** k_j]`` of ``products`` (leaf positions, or
        ``("group", n)``): their links one after the other (conditions, ``1 - q``) and where
        each product's links start (one gather and one ``multiply.reduceat`` for all)."""
        got = self._link_plans.get(products)
        if got is None:
            sets = [self.group_links[p[1]] if isinstance(p, tuple) else self.leaf_links[p]
                    for p in products]
            # a leaf may have no links (every inhibitor 1): its product is 1, and reduceat would
            # return the next link's factor for an empty segment, so only non-empty ones go in
            lengths = np.array([len(l) for l in sets], dtype=np.intp)
            starts = np.cumsum(np.concatenate([[0], lengths[:-1]])).astype(np.intp)
            filled = lengths > 0
            links = np.concatenate(sets).astype(np.intp)
            got = (self.link_cond[links], self.link_comp[links][:, None], starts[filled], filled)
            self._link_plans[products] = got
        return got

    def _expected(self, share, products: tuple):
        """``E[prod_j q ** k_j]`` in every component for each of ``products``:
        ``(products, rows, terms, states)``, products of positive factors (exact to rounding)."""
        conds, comp_q, starts, filled = self._product_plan(products)
        flat = share.reshape(share.shape[0], -1)
        out = np.ones((len(products), flat.shape[1]), dtype=flat.dtype)
        if len(starts):
            factors = 1.0 - flat[conds] * comp_q
            out[filled] = np.multiply.reduceat(factors, starts, axis=0)
        return out.reshape((len(products),) + share.shape[1:])

    # ------------------------------------------------------------------------------------
    def evidence_matrix(self, lik: dict[int, np.ndarray], batch: int) -> np.ndarray:
        """``{variable index: (batch, card)}`` -> the ``(batch, all states + 1)`` matrix the
        other methods read (ones where nothing is known; the last column is always 1)."""
        x = np.ones((batch, self.n_states + 1))
        starts = self.var_start
        for v, vec in lik.items():
            x[:, starts[v]:starts[v + 1]] = vec
        return x

    def run(self, lik: dict[int, np.ndarray], batch: int, variables,
            max_work: float | None = None):
        """Marginals of ``variables`` (any of the network's) and ``log Z``, per row; ``None``
        when declined.

        ``lik``: ``{variable index: (batch, card)}`` likelihoods. Rows of probability zero get
        ``log Z = -inf`` and all-zero marginals (the caller decides what that means).
        ``max_work``: decline above this many components (rows x open states x terms).
        """
        return self.run_matrix(self.evidence_matrix(lik, batch), variables, max_work)

    def run_matrix(self, x: np.ndarray, variables, max_work: float | None = None):
        """:meth:`run` on an evidence matrix (see :meth:`evidence_matrix`)."""
        setup = self._prepare(x, max_work)
        if setup is None:
            return None
        n_t = 1 << len(setup.expand)
        work = setup.batch * setup.grid["n"] * n_t
        if self.n_k * work > self.MAX_ENTRIES or (max_work is not None and work > max_work):
            return None
        comp = self._solve(setup, slice(None))
        if comp is None:
            return None
        result = self._marginals(setup, comp, set(variables))
        starts = self.var_start
        return {v: result[:, starts[v]:starts[v + 1]] for v in variables}, comp.log_z

    def case_with_variations(self, x: np.ndarray, variables, raw: bool = False):
        """A case (row 0) and variations of it that change causes only (rows 1..), as a
        diagnosis needs them; ``None`` when declined.

        Returns ``(marginals of variables in row 0, P(condition present) per variation and
        condition (variations, conditions), log Z per row, P(leg pain present | the row's cause
        evidence only) per row)``. A variation recomputes only the conditions whose cause part
        differs from row 0's; the last item drops every answer below the causes (the
        prospective risk), where each component's leaf factors are 1. ``raw``: row 0's
        marginals as one row laid out like the evidence matrix (see :attr:`var_start`)
        instead of a dict.
        """
        if self.pain is None or not (x[1:, self.leaf_cols] == x[:1, self.leaf_cols]).all():
            return None
        setup = self._prepare(x, variation_work=self.MAX_VARIATION_WORK)
        if setup is None:
            return None
        changed = setup.off_hard[1:] != setup.off_hard[:1]  # (variations, conditions)
        pair_row, pair_k = np.nonzero(changed)
        n_t = 1 << len(setup.expand)
        comp = self._solve(setup, slice(0, 1))
        if comp is None or (comp.h.dtype != np.float64 and self.LONG_COST * setup.grid["n"]
                            * n_t * (self.n_k + len(pair_row)) > self.MAX_VARIATION_WORK):
            return None
        result = self._marginals(setup, comp, set(variables))
        starts = self.var_start
        first = result[0] if raw else {v: result[:, starts[v]:starts[v + 1]] for v in variables}
        # each variation's changed conditions, in row order (np.nonzero's order)
        starts_p = np.flatnonzero(np.concatenate(([True], pair_row[1:] != pair_row[:-1]))) \
            if len(pair_row) else np.zeros(0, dtype=np.intp)
        # the changed conditions' P(off | causes) per state, shared by both passes below
        off_p = setup.off_hard[1:][pair_row, pair_k][:, None] * setup.grid["inhib"][pair_k]
        got = self._variations(setup, comp, pair_row, pair_k, starts_p, off_p)
        if got is None:
            return None
        present, log_z = got
        prospective = self._prospective(setup, pair_row, pair_k, starts_p, off_p)
        return first, present, np.concatenate([comp.log_z, log_z]), prospective

    # ------------------------------------------------------------------------------------
    def _prepare(self, x: np.ndarray, max_work: float | None = None,
                 variation_work: float | None = None):
        """Everything per row that does not depend on the expansion's precision; ``None`` for
        evidence this kernel does not take, or (``max_work``) more than that many components
        (rows x open states x terms), or (``variation_work``, rows 1.. being variations of
        row 0) more than that many open states x terms x (conditions + changed (row,
        condition) pairs), decided before any per-state work."""
        batch = x.shape[0]
        if not (x[:, self.other_cols] == x[:, self.other_first]).all():
            return None  # evidence on a condition or a tissue group: the engine's
        # leaves: no evidence, observed off (one product term) or expanded (two terms)
        l_off, l_on = x[:, self.leaf_off_cols], x[:, self.leaf_on_cols]
        varies = l_off != l_on
        single = varies & (l_on == 0)
        expand = np.flatnonzero((varies & (l_on > 0)).any(axis=0))
        coef0 = np.where(single, l_off * self.leaf_leak, l_off)
        if len(expand):
            single[:, expand] = False
            coef0[:, expand] = 1.0
        cause_pos, offsets, n_cols = self.cause_pos, self.offsets, self.n_cols
        lam = x[:, self.cause_cols]  # (batch, cause states + 1), the last column 1
        cause_l = lam[:, :n_cols]
        # causes: hard in every row -> per-row factors; private -> summed; the rest enumerated
        nz = cause_l > 0
        nonzero = np.add.reduceat(nz, offsets[:-1], axis=1)  # (batch, causes)
        if not nonzero.all():
            return None  # a cause with no possible state: the engine names the conflict
        plan = self._open_plan(tuple(np.flatnonzero((nonzero != 1).any(axis=0)).tolist()),
                               len(expand))
        if plan is None:
            return None  # too many open states for this kernel (before building their grid)
        open_pos, opened, absorbed, enumerated, grid = plan
        if max_work is not None and batch * grid["n"] << len(expand) > max_work:
            return None
        # each cause's observed state row per row (row n_cols, all ones, for open causes)
        idx = np.add.reduceat(nz * self.col_index, offsets[:-1], axis=1)
        if open_pos:
            idx[:, open_pos] = n_cols
        off_hard = self.inhib_rows[idx].prod(axis=1) * self.leak  # (batch, conditions)
        w_hard = (self.prior_rows[idx] * lam[np.arange(batch)[:, None], idx]).prod(axis=1) \
            * coef0.prod(axis=1)
        row_prior = {}
        for c, parents, table in self.dependent:
            if opened.intersection(parents):
                continue  # enumerated with its parents: the grid's prior holds its CPT
            i = cause_pos[c]
            par = tuple(idx[:, cause_pos[p]] - offsets[cause_pos[p]] for p in parents)
            if c in opened:
                row_prior[c] = table[(slice(None),) + par].T  # (batch, card) at hard parents
            else:
                w_hard = w_hard * table[(idx[:, i] - offsets[i],) + par]
        private = {}
        for c, j in absorbed.items():  # summed out into their condition's inhibitor
            a, b = offsets[cause_pos[c]], offsets[cause_pos[c] + 1]
            prior = row_prior.get(c)
            w = cause_l[:, a:b] * (self.prior_rows[a:b] if prior is None else prior)
            tot = w.sum(axis=1)
            mean = (w @ self.inhibitors[c][:, j]) / np.where(tot > 0, tot, 1.0)
            off_hard[:, j] *= mean
            w_hard = w_hard * tot
            private[c] = (j, w, tot, mean)
        if variation_work is not None and grid["n"] << len(expand) > variation_work / (
                self.n_k + np.count_nonzero(off_hard[1:] != off_hard[:1])):
            return None
        if enumerated:
            w_open = grid["prior"] * cause_l[:, grid["cols"]].prod(axis=1)  # (batch, states)
            for c, prior in row_prior.items():
                if c in grid["at"]:
                    w_open = w_open * prior[:, grid["at"][c]]
        else:
            w_open = np.ones((batch, 1))
        return _Setup(batch, grid, enumerated, idx, off_hard, w_hard, w_open, private,
                      l_off, l_on, single, expand)

    def _open_plan(self, open_pos: tuple, n_expand: int):
        """What a pattern of open causes means for the kernel (cached per pattern): which
        causes are enumerated, which private ones are summed out, and their grid; ``None``
        when the grid would be too big."""
        key = (open_pos, n_expand)
        got = self._plans.get(key, False)
        if got is not False:
            return None if got is None else got[:4] + (self._grid(got[3]),)
        causes, cause_pos = self.causes, self.cause_pos
        open_pos = list(open_pos)
        opened = {causes[i] for i in open_pos}
        absorbed = {c: self.private[c] for c in opened if c in self.private
                    and not opened.intersection(self.tables[c][0][1:])}
        if absorbed and math.prod(int(self.cards[c]) for c in opened) << n_expand \
                <= self.ENUMERATE_PRIVATE:
            absorbed = {}  # few states: enumerating them costs less than summing them out
        for c, parents, _ in self.dependent:  # enumerated with its parents if one is open
            if opened.intersection(parents):
                for p in (c,) + parents:
                    if p not in opened:
                        opened.add(p)
                        open_pos.append(cause_pos[p])
                    absorbed.pop(p, None)
        enumerated = tuple(c for c in causes if c in opened and c not in absorbed)
        got = None
        if math.prod(int(self.cards[c]) for c in enumerated) * self.n_k <= self.MAX_ENTRIES:
            got = (open_pos, opened, absorbed, enumerated)
        if len(self._plans) > 4096:
            self._plans.clear()
        self._plans[key] = got
        if got is None:
            return None
        return got + (self._grid(enumerated),)  # (the grid cache has its own bound)

    def _solve(self, setup, rows: slice):
        """The components of ``rows`` in float64, or in extended precision if they cancel."""
        for dtype, limit in ((np.float64, self.MAX_AMPLIFICATION),
                             (np.longdouble, self.MAX_AMPLIFICATION_LONG)):
            comp = self._components(dtype, setup, rows)
            if not len(setup.expand) or not (comp.z * limit <= comp.scale)[~comp.impossible].any():
                comp.limit = limit
                return comp
        return None  # too much cancellation even in extended precision

    def _components(self, dtype, setup, rows: slice):
        """The mixture's component weights and per-condition factors of ``rows`` in ``dtype``:
        arrays ``(conditions, rows, terms, states)``."""
        expand, single = setup.expand, setup.single[rows]
        q = self.leaf_q if dtype is np.float64 else self.leaf_q.astype(dtype)
        # absent leaves' products per row, and the expanded leaves' products per term
        u = np.where(single.T[:, :, None], q[:, None, :], 1.0).prod(axis=0).T  # (k, rows)
        if len(expand):
            bits = self._term_bits(len(expand))  # (terms, expanded)
            l_off, l_on = setup.l_off[rows][:, expand], setup.l_on[rows][:, expand]
            b_coef = ((l_off - l_on) * self.leaf_leak[expand]).astype(dtype)
            coef = np.where(bits[None], b_coef[:, None, :], l_on.astype(dtype)[:, None, :]
                            ).prod(axis=2)  # (rows, terms)
            m_t = np.where(bits.T[:, :, None], q[expand][:, None, :], 1.0).prod(axis=0)  # (t, k)
            um = u[:, :, None] * m_t.T[:, None, :]  # (k, rows, terms)
        else:
            bits = np.zeros((1, 0), dtype=bool)
            coef = np.ones((u.shape[1], 1), dtype=dtype)
            um = u[:, :, None]
        inhib = setup.grid["inhib"] if dtype is np.float64 else setup.grid["inhib"].astype(dtype)
        off = setup.off_hard[rows].T.astype(dtype)[:, :, None] * inhib[:, None, :]  # (k, r, s)
        on = (1.0 - off)[:, :, None, :] * um[:, :, :, None]  # (k, rows, terms, states)
        h = on + off[:, :, None, :]
        hprod = h.prod(axis=0)
        weight = hprod * coef[:, :, None] * setup.w_open[rows].astype(dtype)[:, None, :]
        z = weight.sum(axis=(1, 2))
        scale = np.abs(weight).sum(axis=(1, 2)) if len(expand) else z
        impossible = (scale == 0) | (setup.w_hard[rows] == 0)
        safe_z = np.where(impossible, 1.0, z)
        with np.errstate(divide="ignore"):
            # (logs added, not the product taken: a long case's Z can underflow float64)
            log_z = np.where(impossible, -np.inf, np.log(np.where(impossible, 1.0, z)).astype(
                float) + np.log(np.where(impossible, 1.0, setup.w_hard[rows])))
        norm = weight / safe_z[:, None, None]
        return _Components(weight, z, scale, impossible, log_z, norm, on, h, hprod, um, off,
                           coef, bits, inhib, None, None)

    # ------------------------------------------------------------------------------------
    def _marginals(self, setup, comp, want: set) -> np.ndarray:
        """The marginals the components give, laid out like the evidence matrix."""
        norm, on, h = comp.norm, comp.on, comp.h
        batch = norm.shape[0]
        share = comp.share = on / h  # (conditions, rows, terms, states): P(present) per component
        result = np.zeros((batch, self.n_states + 1))
        if not want.isdisjoint(self.cond_pos):
            if batch == 1:
                present = share.reshape(self.n_k, -1) @ norm.reshape(-1)
                present = present.astype(float)[None, :]
            else:
                present = (share * norm).sum(axis=(2, 3)).astype(float).T  # (rows, conditions)
            result[:, self.cond_on_cols] = present
            result[:, self.cond_off_cols] = 1.0 - present
        if not want.isdisjoint(self.cause_pos):
            idx = setup.idx[:batch]
            grid = setup.grid
            if grid["onehot"] is not None or not setup.enumerated:
                marg = norm.sum(axis=1).astype(float) @ grid["onehot"] if setup.enumerated \
                    else np.zeros((batch, self.n_cols + 1))
            else:  # many states: each enumerated cause's marginal sums the grid's other axes
                marg = np.zeros((batch, self.n_cols + 1))
                by_state = norm.sum(axis=1).astype(float).reshape((batch,) + grid["cards"])
                axes = tuple(range(1, by_state.ndim))
                for i, c in enumerate(setup.enumerated):
                    a = self.offsets[self.cause_pos[c]]
                    marg[:, a:a + grid["cards"][i]] = by_state.sum(
                        axis=axes[:i] + axes[i + 1:])
            marg[np.arange(batch)[:, None], idx] = 1.0  # observed (open: the spare column)
            result[:, self.cause_cols[:-1]] = marg[:, :-1]
            for c, info in setup.private.items():
                a = self.var_start[c]
                result[:, a:a + info[1].shape[1]] = self._private_marginal(info, c, comp, batch)
        leaves = [self.leaf_pos[y] for y in want if y in self.leaf_pos]
        groups_wanted = self.pain is not None and not want.isdisjoint(self.groups)
        pain_wanted = self.pain is not None and (self.pain in want or groups_wanted)
        if pain_wanted:
            f = self.leaf_pos[self.pain]
            leaves = [y for y in leaves if y != f]
            self._pain_marginals(setup, comp, result, share, groups_wanted)
        if leaves:
            leaves = tuple(dict.fromkeys(leaves))
            expected = self._expected(share, leaves)
            self._leaf_marginals(setup, result, leaves, expected, norm, slice(0, batch))
        if comp.impossible.any():
            result[comp.impossible] = 0.0
        return result

    def _constant_terms(self, setup, leaves: tuple) -> np.ndarray:
        """Per leaf, the terms in which its own factor is the constant one (all, if it was not
        expanded)."""
        n_t = 1 << len(setup.expand)
        const = np.ones((len(leaves), n_t), dtype=bool)
        if len(setup.expand):
            bits = self._term_bits(len(setup.expand))
            where = {int(f): t for t, f in enumerate(setup.expand)}
            for n, f in enumerate(leaves):
                if f in where:
                    const[n] = ~bits[:, where[f]]
        return const

    def _leaf_marginals(self, setup, result, leaves, expected, norm, rows):
        """Noisy-OR leaves' marginals from ``E[prod q ** k]`` per component (leaves first)."""
        const = self._constant_terms(setup, leaves)
        per_term = (expected * norm).sum(axis=3)  # (leaves, rows, terms)
        raw = np.einsum("lbt,lt->bl", per_term, const.astype(per_term.dtype)).astype(float)
        leaves = np.array(leaves, dtype=np.intp)
        on_l, off_l = setup.l_on[rows][:, leaves], setup.l_off[rows][:, leaves]
        has_on = on_l > 0
        p_off = np.where(has_on, self.leaf_leak[leaves] * off_l
                         / np.where(has_on, on_l, 1.0) * raw, 1.0)
        result[:, self.leaf_off_cols[leaves]] = p_off
        result[:, self.leaf_on_cols[leaves]] = 1.0 - p_off

    def _pain_marginals(self, setup, comp, result, share, groups_wanted: bool):
        """Leg pain and its tissue groups. The groups split the conditions, so
        ``E[prod over all conditions]`` for leg pain is the product of the groups' ones."""
        f = self.leaf_pos[self.pain]
        norm = comp.norm
        batch = norm.shape[0]
        # the groups split leg pain's links: its product is the product of theirs
        e_g = self._expected(share, self._group_products)  # (groups, rows, terms, states)
        e_all = np.concatenate([e_g.prod(axis=0)[None], e_g]) if groups_wanted else \
            e_g.prod(axis=0)[None]
        weighted = (e_all * norm).sum(axis=3)  # (1 + groups, rows, terms)
        const = self._constant_terms(setup, (f,))[0]
        inside = weighted[:, :, const].sum(axis=2)  # (1 + groups, rows)
        raw = inside[0].astype(float)
        l_on, l_off = setup.l_on[:batch, f], setup.l_off[:batch, f]
        has_on = l_on > 0
        p_off = np.where(has_on, self.leaf_leak[f] * l_off / np.where(has_on, l_on, 1.0) * raw,
                         1.0)
        start = self.var_start[self.pain]
        result[:, start + self.leaf_off[f]] = p_off
        result[:, start + 1 - self.leaf_off[f]] = 1.0 - p_off
        if groups_wanted:
            # P(g off, e) = L_g * (pain's constant term: E over g) + (pain's product term)
            outside = norm[:, ~const].sum(axis=(1, 2))
            p_g = (self.group_leak[:, None] * inside[1:] + outside[None, :]).astype(float).T
            p_g = np.where(~has_on[:, None], 1.0, p_g)
            result[:, self.group_off_cols] = p_g
            result[:, self.group_on_cols] = 1.0 - p_g

    def _private_marginal(self, info, c, comp, batch):
        """Posterior of a private cause summed out into condition ``j``'s inhibitor: in a
        component its state ``x`` has weight ``w_x (U M + off_rest g_x (1 - U M))``, whose sum
        over ``x`` is ``tot * h``; so ``P(x) = w_x / tot * (1 + B (g_x / mean - 1))`` with
        ``B = sum norm * off (1 - U M) / h``."""
        j, w, tot, mean = info
        w, tot, mean = w[:batch], tot[:batch], mean[:batch]
        um = comp.um[j]  # (rows, terms)
        b = (comp.norm * (1.0 - um)[:, :, None] * comp.off[j][:, None, :] / comp.h[j]
             ).sum(axis=(1, 2)).astype(float)
        g = self.inhibitors[c][:, j]  # (card,)
        safe = np.where(mean > 0, mean, 1.0)[:, None]
        return w / np.where(tot > 0, tot, 1.0)[:, None] * (1.0 + b[:, None] * (g / safe - 1.0))

    # ------------------------------------------------------------------------------------
    def _variations(self, setup, comp, pair_row, pair_k, starts, off_p):
        """Rows 1.. as variations of row 0: P(condition present) per row and condition, and
        log Z (see :meth:`case_with_variations`)."""
        batch, dtype = setup.batch, comp.h.dtype
        h0, um = comp.h[:, 0], comp.um[:, 0]  # (k, t, s), (k, t)
        if dtype != off_p.dtype:  # (extended precision: the products again, not a cast)
            off_p = setup.off_hard[1:][pair_row, pair_k].astype(dtype)[:, None] * \
                comp.inhib[pair_k]
        on_p = (1.0 - off_p)[:, None, :] * um[pair_k][:, :, None]  # (pairs, terms, states)
        h_p = on_p + off_p[:, None, :]
        ratio = np.ones((batch - 1,) + h0.shape[1:], dtype=dtype)
        if len(pair_row):
            ratio[pair_row[starts]] = np.multiply.reduceat(h_p / h0[pair_k], starts, axis=0)
        weight = comp.hprod[0] * ratio * comp.coef[0][:, None] * \
            setup.w_open[1:].astype(dtype)[:, None, :]  # (variations, terms, states)
        z = weight.sum(axis=(1, 2))
        scale = np.abs(weight).sum(axis=(1, 2)) if len(setup.expand) else z
        impossible = (scale == 0) | (setup.w_hard[1:] == 0)
        if len(setup.expand) and (z * comp.limit <= scale)[~impossible].any():
            return None
        norm = weight / np.where(impossible, 1.0, z)[:, None, None]
        with np.errstate(divide="ignore"):
            log_z = np.where(impossible, -np.inf, np.log(np.where(impossible, 1.0, z)).astype(
                float) + np.log(np.where(impossible, 1.0, setup.w_hard[1:])))
        share0 = comp.share[:, 0] if comp.share is not None else comp.on[:, 0] / h0
        present = norm.reshape(batch - 1, -1) @ share0.reshape(self.n_k, -1).T
        if len(pair_row):
            present[pair_row, pair_k] = (norm[pair_row] * (on_p / h_p)).sum(axis=(1, 2))
        present = present.astype(float)
        present[impossible] = 0.0
        return present, log_z

    def _prospective(self, setup, pair_row, pair_k, starts, off_p) -> np.ndarray:
        """P(leg pain present | each row's cause evidence only). Without leaf evidence every
        component's leaf factors are 1, its weight is the causes' and P(pain off) =
        L * E[prod_j (q_j + (1 - q_j) off_j)]; variations swap their changed conditions'
        factors."""
        q, c = self.pain_q, self.pain_c  # (conditions, 1)
        e0 = setup.off_hard[0][:, None] * setup.grid["inhib"] * c + q  # (conditions, states)
        expected = np.repeat(e0.prod(axis=0)[None, :], setup.batch, axis=0)  # (rows, states)
        if len(pair_row):
            ratio = (off_p * c[pair_k] + q[pair_k]) / e0[pair_k]
            expected[1 + pair_row[starts]] *= np.multiply.reduceat(ratio, starts, axis=0)
        w = setup.w_open
        total = w.sum(axis=1)
        p_off = self.pain_leak * (w * expected).sum(axis=1) / np.where(total > 0, total, 1.0)
        return 1.0 - p_off


class _Setup:
    """Per-row parts of a batch (see :meth:`ProductMixture._prepare`)."""
    __slots__ = ("batch", "grid", "enumerated", "idx", "off_hard", "w_hard", "w_open",
                 "private", "l_off", "l_on", "single", "expand")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


class _Components:
    """The mixture's components for some rows (see :meth:`ProductMixture._components`)."""
    __slots__ = ("weight", "z", "scale", "impossible", "log_z", "norm", "on", "h", "hprod",
                 "um", "off", "coef", "bits", "inhib", "limit", "share")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)
