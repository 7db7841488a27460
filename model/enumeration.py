"""Exact inference over the cause and condition layers by enumerating the causes a case leaves open.

Why it is fast
--------------
Once the engine has folded the outer layer (findings, tissue groups, leg pain) into likelihoods
on the conditions (absent findings multiply in, positive ones are split Quickscore-style into
signed rows, see :mod:`model.engine`), what is left of a row is the cause -> condition layer.
Given the state of every cause the conditions are independent, so

    Z(row) = sum_s  P(s) lambda(s)  prod_k  sum_y lambda_k(y) P(k = y | s)

where ``s`` runs over the joint states of the causes the rows leave *open* (not observed hard).
A runner's answers fix most causes: the median sampled case leaves about 128 joint states open,
so the whole sum is a few vectorised numpy products over a ``(rows, open states, conditions)``
array. For a noisy-OR condition ``P(k = off | s) = L_k * prod_c g_kc(s_c)`` is one product of a
per-row part (the hard causes) and a per-state part (the open ones). There is no junction tree to
compile for a new pattern of answers, and every term is positive, so float64 is exact to about
1e-15 (the junction tree needs extended precision for its signed factors). Marginals come out of
the same arrays: a cause's by summing the states in which it takes each value, a condition's by
swapping its factor for its "present" share.

A *private* cause, one that reaches a single condition and no other cause (cool-down -> DOMS;
recent travel, clot history and, once sex is known, hormonal contraception -> DVT), is not
enumerated even when open: summed out row by row, it leaves the noisy-OR form intact with its
inhibitor replaced by the posterior mean of its inhibitors (:meth:`CauseEnumeration._absorb`),
so an open one no longer multiplies the enumerated states by its number of states. It stays
enumerated when a pseudo-case puts likelihoods on it (a candidate answer about it), when its
condition is in the fired-state pass, or (hormonal contraception) while its parent is open.

The engine uses this path when the open cause states times the Quickscore rows times the fired
states of kept rare positives (:class:`_Fired`) are at most :attr:`CauseEnumeration.MAX_WORK`;
otherwise the junction tree.
"""
from __future__ import annotations

import math
import threading

import numpy as np


def positive_or_soft(vec: np.ndarray, off: int) -> np.ndarray:
    """Per row: evidence on a noisy-OR leaf that is positive or soft (``P(on) > 0`` and not
    uninformative), the rows Quickscore would split or a tree / the fired-state pass keep."""
    return (vec[:, 1 - off] > 0) & (vec[:, 1 - off] != vec[:, off])


def is_hard(vec: np.ndarray) -> bool:
    """Whether every row of ``(rows, card)`` likelihoods has exactly one nonzero entry (the
    count over the whole array decides most calls without a per-row reduction)."""
    rows = vec.shape[0]
    if np.count_nonzero(vec) != rows:
        return False
    return rows == 1 or bool(((vec != 0).sum(axis=1) == 1).all())


class CauseEnumeration:
    """The cause -> condition layer of an engine, evaluated by enumeration.

    Built by :meth:`from_engine`; ``None`` when the network is not layered as causes (any CPDs
    among themselves) -> conditions (leaves of the inner network).

    Parameters
    ----------
    cards : ndarray
        Cardinality of every network variable (engine indices).
    causes : list of int
        Enumerated variables, parents before children.
    conditions : list of int
        Noisy-OR conditions: inner binary variables whose parents are all causes, with no inner
        children.
    noisy : dict
        ``{condition: (off, leak, [(cause, inhibitors)])}`` (the engine's noisy-OR split).
    tables : dict
        ``{var: (scope, table)}`` of the causes and of conditions that are not noisy-OR
        (``generic``), the variable first in ``scope`` and on the table's first axis.
    generic : list of int
        Conditions whose CPT is not a noisy-OR (fitted tables): gathered entry by entry.
    """

    BUDGET = 1 << 16      # rows * open states per chunk: bounds memory for any batch
    FIRED_BUDGET = 1 << 18  # rows * open states * mean fired states per chunk

    def __init__(self, cards, causes, conditions, noisy, tables, generic=()):
        self.cards = np.asarray(cards)
        self.causes = list(causes)
        self.conditions = list(conditions)
        self.generic = list(generic)
        self.tables = tables
        self.inner = frozenset(self.causes) | frozenset(self.conditions) | frozenset(self.generic)
        self.k_of = {k: j for j, k in enumerate(self.conditions)}
        n_k = len(self.conditions)
        self.off = np.array([noisy[k][0] for k in self.conditions], dtype=np.intp)
        self.leak = np.array([noisy[k][1] for k in self.conditions], dtype=float)
        # per cause: (card, conditions) inhibitor matrix, 1 where a condition has no such link
        self.inhibitors = {c: np.ones((int(self.cards[c]), n_k)) for c in self.causes}
        for k in self.conditions:
            for c, g in noisy[k][2]:
                self.inhibitors[c][:, self.k_of[k]] = g
        self.linked = [c for c in self.causes if np.any(self.inhibitors[c] != 1.0)]
        # Private causes: no cause below them, at most one noisy-OR condition reached. Left
        # open (with their own parents observed), one is summed out per row into that
        # condition's inhibitor (``_absorb``) instead of multiplying the enumerated states.
        parents_of_others = {p for v, (scope, _) in tables.items() for p in scope[1:]}
        self.private: dict[int, int | None] = {}
        for c in self.causes:
            links = np.flatnonzero(np.any(self.inhibitors[c] != 1.0, axis=0))
            if c not in parents_of_others and len(links) <= 1:
                self.private[c] = int(links[0]) if len(links) else None
        self.kept_ok: dict = {}  # outer noisy-OR leaves the fired-state pass can keep
        self._grids: dict = {}
        self._pairs: dict = {}
        self._orders: dict = {}  # kept leaves -> the fired-state pass's order of conditions
        self._pool = threading.local()  # work buffers per thread (Streamlit serves in threads)

    @classmethod
    def from_engine(cls, engine) -> "CauseEnumeration | None":
        """The enumeration of ``engine``'s inner layer, or ``None`` if the structure does not fit."""
        specs = {}
        for kind, scope, payload in engine._specs:
            if scope[0] not in engine.foldable:
                specs[scope[0]] = (kind, tuple(scope), payload)
        inner = set(specs)
        has_inner_child = set()
        for _, scope, _ in specs.values():
            for p in scope[1:]:
                if p not in inner:
                    return None  # an inner variable below an outer one: not this layout
                has_inner_child.add(p)
        leaves = [v for v in sorted(inner) if v not in has_inner_child and len(specs[v][1]) > 1]
        rest = [v for v in sorted(inner) if v not in set(leaves)]
        tables, noisy, conditions, generic = {}, {}, [], []
        for v in leaves:
            kind, scope, payload = specs[v]
            if kind == "nor":
                off, leak, gs = payload
                noisy[v] = (off, leak, list(zip(scope[1:], gs)))
                conditions.append(v)
            else:
                tables[v] = (scope, np.asarray(payload, dtype=float))
                generic.append(v)
        causes, placed = [], set()
        while rest:  # parents before children
            ready = [v for v in rest if set(specs[v][1][1:]) <= placed]
            if not ready:
                return None
            causes += ready
            placed.update(ready)
            rest = [v for v in rest if v not in placed]
        for c in causes:
            kind, scope, payload = specs[c]
            table = payload if kind == "tab" else engine._full_tables[c]
            tables[c] = (scope, np.asarray(table, dtype=float))
        if not set().union(*(set(tables[v][0][1:]) for v in generic)) <= set(causes):
            return None
        out = cls(engine.cards, causes, conditions, noisy, tables, generic)
        for y, (off, leak, links) in engine.foldable.items():
            q = np.ones(len(conditions))
            ok = True
            for parent, g in links:
                j = out.k_of.get(parent)
                if j is None or g[out.off[j]] != 1.0:
                    ok = False
                    break
                q[j] = g[1 - out.off[j]]
            if ok:
                out.kept_ok[y] = (int(off), float(leak), q)
        return out

    MAX_KEPT = 12  # positive leaves tracked by the fired-state pass (2 ** MAX_KEPT states)
    # Open states * Quickscore rows * fired states per case, at most. Measured on 200 sampled
    # cases, one at a time: against a junction tree compiled for the case (60-100 ms) the
    # enumeration wins up to about 16,384; against one already compiled for the same pattern of
    # answers (the dashboard's reruns), only up to about 4,096.
    MAX_WORK = 1 << 14
    MAX_WORK_WARM = 1 << 12
    # Each unobserved finding whose marginal is wanted (a pseudo-case ratio) adds about this
    # share of the run's work: measured on 40 sampled cases, 0.02-0.4, median 0.06; 44 of them
    # made a 12,288-state run 4.5x slower than its compiled junction tree.
    PSEUDO_COST = 1 / 10  # (a cost ratio of the engine, not knowledge)

    def accepts(self, lik: dict, batch: int, keep: frozenset, outer: dict,
                max_work: float | None = None, exclude: frozenset = frozenset(),
                pseudo: int = 0, with_parameters: bool = False) -> bool:
        """Whether these rows, with the outer leaves ``keep`` kept, run here within
        ``max_work`` (default :attr:`MAX_WORK`): the open cause states times the Quickscore rows
        (2 per positive or soft leaf not kept, from the engine's ``outer`` noisy-OR nodes) times
        the fired states per condition of the kept leaves (:meth:`fired_states`). ``exclude``:
        causes that pseudo-cases will put likelihoods on (they stay enumerated). ``pseudo``:
        the unobserved leaves whose marginals are wanted (see :attr:`PSEUDO_COST`).
        ``with_parameters``: the rows carry their own condition parameters (:meth:`run`'s
        ``params``), so no private cause is summed out and every open state counts."""
        if len(keep) > self.MAX_KEPT or not keep <= self.kept_ok.keys():
            return False
        split = np.zeros(batch, dtype=int)
        for v, (off, _, _) in outer.items():
            vec = lik.get(v)
            if vec is not None and v not in keep:
                split += positive_or_soft(vec, off)
        exponent = int(split.max()) if batch else 0
        states = (self.n_states(lik, batch, keep, exclude) if not with_parameters else
                  math.prod(int(self.cards[c]) for c in self.open_causes(lik, batch)))
        work = (states << exponent) * self.fired_states(keep)
        work *= 1.0 + self.PSEUDO_COST * pseudo
        return work <= (self.MAX_WORK if max_work is None else max_work)

    def fired_states(self, keep) -> float:
        """The fired-state pass's mean message size per condition for the kept leaves ``keep``
        (1 when none): the factor its work adds to the plain enumeration."""
        return self.fired_order(keep)[3] if keep else 1.0

    # ------------------------------------------------------------------------------------
    def open_causes(self, lik: dict, batch: int) -> tuple[int, ...]:
        """Causes not observed hard (one nonzero likelihood entry) in every row."""
        out = []
        for c in self.causes:
            vec = lik.get(c)
            if vec is None or not is_hard(vec):
                out.append(c)
        return tuple(out)

    def n_states(self, lik: dict, batch: int, keep=(), exclude=frozenset()) -> int:
        """Joint open states these rows would enumerate (with the leaves ``keep`` kept and
        likelihoods from pseudo-cases on the causes in ``exclude``)."""
        opened = self.open_causes(lik, batch)
        absorbed = self.absorbed(opened, keep, exclude)
        return math.prod(int(self.cards[c]) for c in opened if c not in absorbed)

    def absorbed(self, opened, kept, exclude=frozenset()) -> dict:
        """The open private causes summed out per row (``{cause: condition position or
        None}``): not those with pseudo-case likelihoods (``exclude``), nor those of a condition
        the fired-state pass tracks (linked to a kept leaf), nor those with an open parent
        (hormonal contraception while sex is unknown)."""
        if not self.private:
            return {}
        tracked = set()
        for y in kept:
            if y in self.kept_ok:
                tracked.update(np.flatnonzero(self.kept_ok[y][2] < 1.0).tolist())
        opened = set(opened)
        return {c: self.private[c] for c in opened if c in self.private and c not in exclude
                and self.private[c] not in tracked
                and not opened.intersection(self.tables[c][0][1:])}

    def _grid(self, opened: tuple[int, ...]) -> dict:
        """Everything about a set of open causes that does not depend on the rows (cached)."""
        got = self._grids.get(opened)
        if got is not None:
            return got
        cards = [int(self.cards[c]) for c in opened]
        n_open = math.prod(cards)
        grid = np.indices(cards).reshape(len(opened), n_open) if opened else \
            np.zeros((0, 1), dtype=np.intp)
        at = {c: grid[j] for j, c in enumerate(opened)}
        inhib = np.ones((n_open, len(self.conditions)))
        for c in opened:
            inhib *= self.inhibitors[c][at[c]]
        prior = np.ones(n_open)
        mixed = []  # cause CPTs over open and hard causes: gathered per row
        for c in self.causes:
            scope, table = self.tables[c]
            inside = [p in at for p in scope]
            if all(inside):
                prior *= table[tuple(at[p] for p in scope)]
            elif any(inside):
                mixed.append(c)
        offsets, start = {}, 0
        for c in opened:
            offsets[c] = (start, start + int(self.cards[c]))
            start += int(self.cards[c])
        onehot = np.zeros((n_open, start))
        for c in opened:
            onehot[np.arange(n_open), offsets[c][0] + at[c]] = 1.0
        got = dict(n_open=n_open, at=at, inhib=inhib, prior=prior, mixed=mixed,
                   onehot=onehot, offsets=offsets)
        if len(self._grids) > 256:
            self._grids.pop(next(iter(self._grids)))
        self._grids[opened] = got
        return got

    def run(self, lik: dict, batch: int, variables, pseudo: dict | None = None,
            params: dict | None = None, pseudo_marginals: bool = False):
        """Marginals of ``variables``, ``log Z`` and pseudo-case ratios per row.

        Same contract as the junction tree's ``run``: ``lik`` maps inner variables (and kept
        positive leaves) to ``(batch, card)`` likelihoods; ``pseudo`` maps a name to constant
        likelihoods ``{var: vector}`` whose ratio ``Z(rows and them) / Z(rows)`` is returned per
        row. ``params`` optionally gives noisy-OR parameters of the conditions (parameter
        draws): ``{"leak": (P, conditions), "inhibitors": {cause: (P, card, conditions)}}`` in
        the order of :attr:`conditions`, and ``"case"``: the parameter row of each row (default:
        row i uses parameter row i). With ``pseudo_marginals`` each pseudo-case's entry is a
        ``(batch, 1 + conditions)`` array: the ratio, then ``P(condition present, rows and
        pseudo) / Z(rows)`` for every condition (in the order of :attr:`conditions`), so one run
        scores many variations of the same rows (the next-question ranking).
        """
        if pseudo_marginals and self.generic:
            raise ValueError("pseudo-case marginals need noisy-OR conditions only")
        variables = list(variables)
        kept = tuple(v for v in lik if v not in self.inner)
        opened = self.open_causes(lik, batch)
        if params is None:  # (per-row parameters would change a private cause's inhibitors)
            touched = frozenset(v for vecs in (pseudo or {}).values() for v in vecs)
            absorbed = self.absorbed(opened, kept, touched)
            opened = tuple(c for c in opened if c not in absorbed)
        else:
            absorbed = {}
        grid = self._grid(opened)
        if params is not None:  # the open causes' part of every parameter row, computed once
            inhib = params["inhibitors"]
            open_part = np.ones((len(params["leak"]), grid["n_open"], len(self.conditions)))
            for c in opened:
                if c in inhib:
                    open_part *= inhib[c][:, grid["at"][c], :]
            params = dict(params, open_part=open_part)
        unknown = [v for v in kept if v not in self.kept_ok]
        if unknown:
            raise ValueError(f"variables {unknown} are outside the enumerated layer")
        # the fired-state pass stores one message per condition, of mean size fired_states
        per_row = grid["n_open"] * self.fired_states(kept)
        step = max(1, min(self.BUDGET // grid["n_open"], int(self.FIRED_BUDGET // per_row)))
        if batch <= step:
            return self._run_rows(lik, batch, variables, pseudo, opened, grid, params, kept,
                                  pseudo_marginals, absorbed)
        parts = []
        for i in range(0, batch, step):
            sub = {v: a[i:i + step] for v, a in lik.items()}
            sub_params = None if params is None else dict(
                params, case=(params["case"] if "case" in params else np.arange(batch))[
                    i:i + step])
            parts.append(self._run_rows(sub, min(step, batch - i), variables, pseudo, opened,
                                        grid, sub_params, kept, pseudo_marginals, absorbed))
        marg = {v: np.concatenate([p[0][v] for p in parts]) for v in parts[0][0]}
        log_z = np.concatenate([p[1] for p in parts])
        ratios = {y: np.concatenate([p[2][y] for p in parts]) for y in parts[0][2]}
        return marg, log_z, ratios

    def fired_order(self, keep) -> tuple:
        """How the fired-state pass visits the conditions linked to the kept leaves ``keep``:
        ``(conditions in order, leaves entering before each, leaves leaving after each, mean
        message size)``, leaves by variable. Greedily the next condition keeps the fewest leaves
        open. Cached per set of kept leaves."""
        key = frozenset(keep)
        got = self._orders.get(key)
        if got is not None:
            return got
        links = {y: set(np.flatnonzero(self.kept_ok[y][2] < 1.0).tolist()) for y in sorted(key)}
        remaining = set().union(*links.values()) if links else set()
        active = set()
        order, intro, close, sizes = [], [], [], []
        while remaining:
            best = None
            for j in sorted(remaining):
                new = {y for y, lk in links.items() if j in lk and y not in active}
                rest = remaining - {j}
                closing = {y for y in active | new if not links[y] & rest}
                rank = (len(active | new), -len(closing), j)
                if best is None or rank < best[0]:
                    best = (rank, j, new, closing)
            _, j, new, closing = best
            order.append(j)
            intro.append(sorted(new))
            close.append(sorted(closing))
            sizes.append(2 ** len(active | new))
            active = (active | new) - closing
            remaining.discard(j)
        mean = max(1.0, sum(sizes) / max(len(sizes), 1))
        if len(self._orders) > 1024:
            self._orders.pop(next(iter(self._orders)))
        got = self._orders[key] = (order, intro, close, mean)
        return got

    def _buffer(self, name: str, shape: tuple) -> np.ndarray:
        """A work array of ``shape`` (contents undefined), reused across calls of this thread:
        fresh arrays of a few MB cost more in page faults than the arithmetic on them."""
        pool = self._pool.__dict__
        size = math.prod(shape)
        buf = pool.get(name)
        if buf is None or buf.size < size:
            buf = pool[name] = np.empty(max(size, 1 << 12))
        return buf[:size].reshape(shape)

    def _run_rows(self, lik, batch, variables, pseudo, opened, grid, params, kept,
                  pseudo_marginals=False, absorbed=None):
        absorbed = absorbed or {}
        cards = self.cards
        n_k = len(self.conditions)
        n_open, at_open = grid["n_open"], grid["at"]

        def scratch(name):
            """A (batch, n_open, conditions) work array, reused across calls of this thread."""
            return self._buffer(name, (batch, n_open, n_k))

        rows_ix = np.arange(batch)
        log_scale = np.zeros(batch)
        norm = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for v, vec in lik.items():
                top = vec.max(axis=1)
                log_scale += np.log(top)  # -inf: a row of probability zero
                norm[v] = vec / np.where(top > 0, top, 1.0)[:, None]
        hard = {c: norm[c].argmax(axis=1) for c in self.causes
                if c not in at_open and c not in absorbed}
        at = {c: a[None, :] for c, a in at_open.items()}
        at.update({c: h[:, None] for c, h in hard.items()})
        # the causes' joint weight per row and open state
        weight = np.broadcast_to(grid["prior"], (batch, n_open))
        factors = [grid["prior"][None, :]]  # kept for the log-domain rescue of tiny rows
        for c in grid["mixed"]:
            scope, table = self.tables[c]
            f = table[tuple(at[p] for p in scope)]
            weight = weight * f
            factors.append(f)
        for c in self.causes:  # CPTs entirely over hard causes: a per-row constant
            scope, table = self.tables[c]
            if all(p in hard for p in scope):
                with np.errstate(divide="ignore"):
                    log_scale += np.log(table[tuple(hard[p] for p in scope)])
        for c in opened:
            if c in norm:
                f = norm[c][:, at_open[c]]
                weight = weight * f
                factors.append(f)
        # P(condition off | causes) = leak * (hard part per row) * (open part per state)
        if params is None:
            base = np.broadcast_to(self.leak, (batch, n_k)).copy()
            for c, h in hard.items():
                if c in self.linked:
                    base *= self.inhibitors[c][h]
            mixes = self._absorb(absorbed, norm, hard, base, log_scale, batch)
            off_p = np.multiply(base[:, None, :], grid["inhib"][None, :, :],
                                out=scratch("off_p"))
        else:  # parameter rows, shared by the rows that map to the same one ("case")
            case = params.get("case", rows_ix)
            inhib = params["inhibitors"]
            base = np.array(params["leak"], dtype=float)[case]
            for c, h in hard.items():
                if c in inhib:
                    base *= inhib[c][case, h]
            off_p = np.take(params["open_part"], case, axis=0, out=scratch("off_p"))
            off_p *= base[:, None, :]
        lam_off = np.ones((batch, n_k))
        lam_on = np.ones((batch, n_k))
        for k, j in self.k_of.items():
            if k in norm:
                lam_off[:, j] = norm[k][:, self.off[j]]
                lam_on[:, j] = norm[k][:, 1 - self.off[j]]
        # (rows, states, conditions) arrays live in reused buffers: a fresh array of a few MB
        # costs more in page faults than the arithmetic on it
        a_off = np.multiply(lam_off[:, None, :], off_p, out=scratch("a_off"))  # absent part
        b_on = np.subtract(1.0, off_p, out=scratch("b_on"))  # present part
        b_on *= lam_on[:, None, :]
        g = np.add(a_off, b_on, out=scratch("g"))
        # conditions linked to a kept positive leaf go through the fired-state pass instead
        fired = _Fired(self, kept, norm, a_off, b_on) if kept else None
        free = np.ones(n_k, dtype=bool)
        if fired is not None:
            free[fired.positions] = False
        if free.all():
            gk = g.prod(axis=2)
        else:
            gk = g[:, :, free].prod(axis=2) if free.any() else np.ones((batch, n_open))
        weight = weight * gk
        factors.append(None)  # marks: the log of g, below
        generic = {}
        for k in self.generic:
            scope, table = self.tables[k]
            p = table[(slice(None),) + tuple(at[q] for q in scope[1:])]
            p = np.broadcast_to(p, (p.shape[0], batch, n_open))
            lam = norm.get(k)
            gk = np.einsum("ry,yrs->rs", lam, p) if lam is not None else None
            if gk is not None:
                weight = weight * gk
                factors.append(gk)
            generic[k] = (gk, p, lam)
        outside = weight  # everything but the fired-state pass
        if fired is not None:
            weight = weight * fired.z
            factors.append(fired.z)
        z = weight.sum(axis=1)
        small = ~(z > 1e-280) & np.isfinite(log_scale)
        if small.any():  # very improbable rows: redo them in logs (the product underflowed)
            rows = np.flatnonzero(small)
            with np.errstate(divide="ignore"):
                log_w = np.zeros((len(rows), n_open))
                for f in factors:
                    part = np.log(g[rows][:, :, free]).sum(axis=2) if f is None else \
                        np.log(np.broadcast_to(f, (batch, n_open))[rows])
                    log_w = log_w + part
            peak = log_w.max(axis=1)
            peak = np.where(np.isfinite(peak), peak, 0.0)
            weight = np.array(weight)
            outside = np.array(outside)
            rescaled = np.exp(log_w - peak[:, None])
            if fired is not None:  # keep outside * fired.z == weight in the rescued rows
                with np.errstate(divide="ignore", invalid="ignore"):
                    outside[rows] = np.where(fired.z[rows] > 0, rescaled / fired.z[rows], 0.0)
            else:
                outside[rows] = rescaled
            weight[rows] = rescaled
            z[rows] = weight[rows].sum(axis=1)
            log_scale[rows] += peak
        with np.errstate(divide="ignore"):
            log_z = np.log(z) + log_scale
        live = z > 0
        marg = {}
        if any(v in grid["offsets"] for v in variables):
            sums = weight @ grid["onehot"]
        if any(v in self.k_of for v in variables):
            # P(k present, e) = sum_s weight * (present part) / g for a free condition
            on = scratch("on")
            on[...] = 0.0
            np.divide(b_on, g, out=on, where=g > 0)
            m_on = np.einsum("rs,rsk->rk", weight, on)
            if fired is not None:
                for j, part in fired.present().items():
                    m_on[:, j] = np.einsum("rs,rs->r", outside, part)
        for v in variables:
            card = int(cards[v])
            if v in self.k_of:
                j = self.k_of[v]
                m = np.empty((batch, 2))
                m[:, 1 - self.off[j]] = m_on[:, j]
                m[:, self.off[j]] = np.clip(z - m_on[:, j], 0.0, None)
            elif v in generic:
                gk, p, lam = generic[v]
                if gk is None:
                    m = np.einsum("rs,yrs->ry", weight, p)
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ratio = np.where(gk > 0, weight / np.where(gk > 0, gk, 1.0), 0.0)
                    m = lam * np.einsum("rs,yrs->ry", ratio, p)
            elif v in grid["offsets"]:
                a, b = grid["offsets"][v]
                m = sums[:, a:b]
            elif v in absorbed:
                m = self._absorbed_marginal(mixes[v], weight, z, g, off_p, lam_off, lam_on)
            elif v in hard:
                m = np.zeros((batch, card))
                m[rows_ix, hard[v]] = 1.0
                m[~live] = 0.0
            elif fired is not None and v in kept:
                off = self.kept_ok[v][0]
                m = np.empty((batch, 2))
                m[:, off] = np.einsum("rs,rs->r", outside, fired.still_off(v))
                m[:, 1 - off] = np.clip(z - m[:, off], 0.0, None)
            else:
                raise ValueError(f"variable {v} is not in the enumerated layer")
            marg[v] = m
        if pseudo_marginals and pseudo:
            ratios = self._pseudo_marginals(pseudo, weight, outside, z, live, lam_off, lam_on,
                                            off_p, g, a_off, b_on, norm, at, kept, fired,
                                            scratch("on"))
        else:
            share = None  # P(condition present | state, row's evidence) = b_on / g
            if pseudo:
                if any(v in self.k_of for v in variables):
                    share = on  # computed above for the marginals
                else:
                    share = scratch("on")
                    share[...] = 0.0
                    np.divide(b_on, g, out=share, where=g > 0)
            ratios = self._ratios(pseudo, weight, z, live, share, at, generic, batch, n_open,
                                  fired)
        return marg, log_z, ratios

    def _absorb(self, absorbed: dict, norm: dict, hard: dict, base, log_scale,
                batch: int) -> dict:
        """Sum the open private causes out, row by row.

        A private cause ``c`` reaching only condition ``k`` enters the row's weight through
        ``sum_x P(x) lambda(x) P(k | x, rest)``. With ``k`` a noisy-OR this is
        ``m0 * P'(k | rest)``, where ``m0 = sum_x P(x) lambda(x)`` and ``P'`` is the same
        noisy-OR with ``c``'s inhibitor replaced by its posterior mean
        ``r = sum_x P(x) lambda(x) g(x) / m0``. So ``r`` multiplies into the row's leak (``base``)
        and ``log m0`` into its scale, exactly. Returns per cause what its marginal needs."""
        mixes = {}
        for c, j in absorbed.items():
            scope, table = self.tables[c]
            # P(c | its parents) per row: the parents are observed hard (see ``absorbed``)
            prior = table[(slice(None),) + tuple(hard[p] for p in scope[1:])].T if \
                len(scope) > 1 else np.broadcast_to(table, (batch, len(table)))
            lam = norm.get(c)
            pl = prior if lam is None else prior * lam
            m0 = pl.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_scale += np.log(m0)  # -inf: a row of probability zero
                share = pl / np.where(m0 > 0, m0, 1.0)[:, None]  # P(x | lambda), per row
            r = q = None
            if j is not None:
                q = self.inhibitors[c][:, j]
                r = share @ q
                base[:, j] *= r
            mixes[c] = (j, share, r, q)
        return mixes

    @staticmethod
    def _absorbed_marginal(mix, weight, z, g, off_p, lam_off, lam_on) -> np.ndarray:
        """Unnormalised marginal of an absorbed private cause (it sums to the row's ``z``).

        With ``W(s) = weight(s) / g_k(s)`` the state weight without condition ``k``'s factor and
        ``off_k(s)`` its "absent" probability with the cause absorbed (inhibitor ``r``):
        ``P(x, e) = share(x) * (lam_on * sum_s W + (lam_off - lam_on) * q(x) / r *
        sum_s W off_k)``, ``q`` the cause's inhibitors on ``k``."""
        j, share, r, q = mix
        if j is None:  # the cause reaches no condition: its posterior is its own evidence
            return share * z[:, None]
        gk = g[:, :, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(gk > 0, weight / np.where(gk > 0, gk, 1.0), 0.0)
            scaled = np.where(r[:, None] > 0, q[None, :] / np.where(r > 0, r, 1.0)[:, None],
                              0.0)
        total = w.sum(axis=1)
        off_mass = np.einsum("rs,rs->r", w, off_p[:, :, j])
        lo, ln = lam_off[:, j], lam_on[:, j]
        m = share * (ln * total)[:, None] + share * scaled * ((lo - ln) * off_mass)[:, None]
        return np.clip(m, 0.0, None)

    def _pair_table(self, pseudo: dict):
        """The pseudo-cases' likelihoods on noisy-OR conditions as flat (pseudo, condition)
        pairs: ``(slot, cond, v_off, v_on, other)``; ``slot`` is ``(pseudo, width)`` indices
        into the pairs (the last index: a neutral pair), ``other`` the likelihoods on other
        variables as ``(pseudo index, variable, vector)``. Cached per set of pseudo dicts."""
        names = list(pseudo)
        key = tuple((y, id(pseudo[y])) for y in names)
        pairs = self._pairs.get(key)
        if pairs is None:
            width = max(max((sum(v in self.k_of for v in pseudo[y]) for y in names), default=0), 1)
            slot = np.full((len(names), width), -1, dtype=np.intp)  # -1: a neutral pair
            cond, v_off, v_on, other = [], [], [], []
            for i, y in enumerate(names):
                n = 0
                for v, vec in pseudo[y].items():
                    vec = np.asarray(vec, dtype=float)
                    if v in self.k_of:
                        j = self.k_of[v]
                        slot[i, n] = len(cond)
                        cond.append(j)
                        v_off.append(vec[self.off[j]])
                        v_on.append(vec[1 - self.off[j]])
                        n += 1
                    else:
                        other.append((i, v, vec))
            slot[slot < 0] = len(cond)
            pairs = (slot, np.array(cond, dtype=np.intp), np.array(v_off), np.array(v_on), other,
                     [pseudo[y] for y in names])  # the dicts stay alive: their ids stay unique
            if len(self._pairs) > 512:
                self._pairs.pop(next(iter(self._pairs)))
            self._pairs[key] = pairs
        return pairs[:5]

    def _ratios(self, pseudo, weight, z, live, share, at, generic, batch, n_open, fired):
        """``Z(rows and pseudo likelihoods) / Z(rows)`` for every pseudo-case, all at once for
        the likelihoods on free noisy-OR conditions; conditions in the fired-state pass rerun it
        from the first one touched.

        Likelihoods ``(v_off, v_on)`` on a free condition turn its factor ``g = a_off + b_on``
        into ``v_off a_off + v_on b_on``: a ratio ``v_off + (v_on - v_off) share`` per state,
        with ``share = b_on / g`` computed once for all pseudo-cases."""
        if not pseudo:
            return {}
        names = list(pseudo)
        slot, cond, v_off, v_on, other = self._pair_table(pseudo)
        v_off, dv = v_off.copy(), v_on - v_off
        if fired is not None:  # these pairs are accounted for by rerunning the pass
            done = np.isin(cond, fired.positions)
            v_off[done], dv[done] = 1.0, 0.0
        factor = np.ones((batch, n_open, len(names)))
        n_pairs = len(cond)
        for w in range(slot.shape[1]):  # the w-th condition of every pseudo-case at once
            col = slot[:, w]
            real = np.flatnonzero(col < n_pairs)
            if not len(real):
                break
            k = col[real]
            term = share[:, :, cond[k]]
            term *= dv[k]
            term += v_off[k]
            if len(real) == len(names):
                factor *= term
            else:
                factor[:, :, real] *= term
        if fired is not None:
            for i, y in enumerate(names):
                scale, leaves = self._fired_touch(pseudo[y], fired)
                if scale or leaves:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        factor[:, :, i] *= np.where(fired.z > 0, fired.rerun(
                            scale, leaves) / np.where(fired.z > 0, fired.z, 1.0), 0.0)
        for i, v, vec in other:  # likelihoods off the noisy-OR conditions (rare)
            if fired is not None and v in fired.bit:
                continue  # done by the rerun above
            if v in generic:
                gk, p, lam = generic[v]
                lam_y = vec[None, :] if lam is None else lam * vec[None, :]
                g_y = np.einsum("ry,yrs->rs", lam_y, p)
                if gk is not None:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        g_y = np.where(gk > 0, g_y / np.where(gk > 0, gk, 1.0), 0.0)
                factor[:, :, i] *= g_y
            elif v in at:
                factor[:, :, i] *= vec[at[v]]
            else:
                raise ValueError(f"pseudo-case likelihood on variable {v} outside the layer")
        num = np.einsum("rs,rsy->ry", weight, factor)
        safe = np.where(live, z, 1.0)
        return {y: np.where(live, num[:, i] / safe, 0.0) for i, y in enumerate(names)}

    def _fired_touch(self, vecs: dict, fired) -> tuple[dict, dict]:
        """A pseudo-case's likelihoods that reach the fired-state pass: ``(scale, leaves)``,
        ``{condition position: (off, on)}`` and ``{kept leaf: (off, on)}`` factors."""
        scale, leaves = {}, {}
        for v, vec in vecs.items():
            if v in self.k_of and self.k_of[v] in fired.where:
                j = self.k_of[v]
                scale[j] = (float(vec[self.off[j]]), float(vec[1 - self.off[j]]))
            elif v in fired.bit:
                off = self.kept_ok[v][0]
                leaves[v] = (float(vec[off]), float(vec[1 - off]))
        return scale, leaves

    def _pseudo_marginals(self, pseudo, weight, outside, z, live, lam_off, lam_on, off_p, g,
                          a_off, b_on, norm, at, kept, fired, on):
        """Per pseudo-case, ``(rows, 1 + conditions)``: ``Z(rows and pseudo) / Z(rows)``, then
        ``P(condition present, rows and pseudo) / Z(rows)`` for every condition.

        A pseudo-case multiplies the state weights by a factor per open state (its likelihoods
        on causes, and on free conditions as ``new g / old g``), so its masses are one matrix
        product of the weighted states with the conditions' present shares, corrected on the
        conditions whose likelihoods it changes. Pseudo-cases that reach the fired-state pass
        (likelihoods on its conditions or kept leaves) rerun it, all of them in one batched pass
        (rows: pseudo-case x row) that also gives their present shares."""
        names = list(pseudo)
        batch, n_open, n_k = g.shape
        slot, cond, v_off, v_on, other = self._pair_table(pseudo)
        # (pseudo, condition) pairs on free conditions; those in the pass go through it. The
        # pairs are grouped by pseudo-case, in order.
        owner = np.empty(len(cond) + 1, dtype=np.intp)
        for w in range(slot.shape[1]):
            owner[slot[:, w]] = np.arange(len(names))
        free = ~np.isin(cond, fired.positions) if fired is not None else \
            np.ones(len(cond), dtype=bool)
        fc = np.flatnonzero(free)
        cf, owner = cond[fc], owner[fc]
        n_pairs = len(fc)
        np.divide(b_on, g, out=on, where=g > 0)
        on[g <= 0] = 0.0
        # With s = P(condition present | state, row) (``on``), likelihoods (v_off, v_on) turn
        # the condition's factor g into g * (v_off + (v_on - v_off) s) and its present share
        # into v_on s / (that ratio): everything per pair is a function of s.
        share = np.take(on, cf, axis=2, out=self._buffer("pm_share", (batch, n_open, n_pairs)))
        dv = (v_on - v_off)[fc]
        change = np.multiply(share, dv, out=self._buffer("pm_change", share.shape))
        change += v_off[fc]
        factor = np.ones((batch, n_open, len(names)))  # (R, S, pseudo): all but the pass
        if n_pairs:
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            factor[:, :, owner[starts]] = np.multiply.reduceat(change, starts, axis=2)
        # the pair's change of the present share: v_on s / ratio - s = dv s (1 - s) / ratio
        # (0 wherever the ratio is: there s or dv or 1 - s is 0)
        on_new = np.subtract(1.0, share, out=self._buffer("pm_on_new", share.shape))
        on_new *= share
        on_new *= dv
        on_new /= np.maximum(change, 1e-300, out=change)
        for i, v, vec in other:
            if fired is not None and v in fired.bit:
                continue  # a kept leaf: the pass
            if v not in at:
                raise ValueError(f"pseudo-case likelihood on variable {v} outside the layer")
            factor[:, :, i] *= vec[at[v]]
        touched = []
        if fired is not None:
            for i, y in enumerate(names):
                scale, leaves = self._fired_touch(pseudo[y], fired)
                if scale or leaves:
                    touched.append((i, scale, leaves))
        wf = weight[:, :, None] * factor  # weighted states of every pseudo-case
        rerun = None
        if touched:  # one batched pass for all of them: rows (pseudo-case, row)
            t_n = len(touched)
            parts = [(np.tile(a, (t_n, 1)), np.tile(b, (t_n, 1))) for a, b in fired.parts]
            norm2 = {y: np.tile(norm[y], (t_n, 1)) for y in kept}
            for t, (_, scale, leaves) in enumerate(touched):
                block = slice(t * batch, (t + 1) * batch)
                for j, (s_off, s_on) in scale.items():
                    a2, b2 = parts[fired.where[j]]
                    a2[block] *= s_off
                    b2[block] *= s_on
                for y, (f_off, f_on) in leaves.items():
                    off = self.kept_ok[y][0]
                    norm2[y][block, off] *= f_off
                    norm2[y][block, 1 - off] *= f_on
            rerun = _Fired(self, kept, norm2, parts=parts)
            z2 = rerun.z.reshape(t_n, batch, n_open)
            for t, (i, _, _) in enumerate(touched):
                wf[:, :, i] = outside * factor[:, :, i] * z2[t]
        num = wf.sum(axis=1)  # (R, pseudo)
        mass = np.matmul(wf.transpose(0, 2, 1), on)  # (R, pseudo, conditions)
        corr = np.einsum("rsq,rsq->rq", np.take(wf, owner, axis=2, out=share), on_new)
        mass[:, owner, cf] += corr  # free conditions whose likelihood the pseudo-case changes
        if fired is not None:  # conditions in the pass: their present share from the pass
            shares = fired.present()
            cols = list(shares)
            part = np.stack([shares[j] for j in cols], axis=2)  # (R, S, J)
            of = outside[:, :, None] * factor
            mass[:, :, cols] = np.matmul(of.transpose(0, 2, 1), part)
            if rerun is not None:
                shares2 = rerun.present()
                for t, (i, _, _) in enumerate(touched):
                    block = slice(t * batch, (t + 1) * batch)
                    part2 = np.stack([shares2[j][block] for j in cols], axis=2)
                    mass[:, i, cols] = np.einsum("rs,rsj->rj", of[:, :, i], part2)
        safe = np.where(live, z, 1.0)[:, None]
        out = np.concatenate([num[:, :, None], mass], axis=2) / safe[:, :, None]
        out[~live] = 0.0
        return {y: out[:, i, :] for i, y in enumerate(names)}


class _Fired:
    """The fired-state pass for positive leaves kept out of Quickscore (rare findings).

    A noisy-OR leaf is "still off" until its leak or one of its present parent conditions fires
    it, each independently. Going through the linked conditions one by one, the pass carries the
    probability of every set of kept leaves still off (a bit per leaf: 1 = still off); each
    leaf's likelihood weights its bit, and all terms are positive, so many rare positives cost
    no precision (Quickscore's signed sum would cancel).

    A leaf's bit only matters from the first to the last condition linked to it: it enters the
    message there (weighted by its leak) and leaves right after (weighted by its likelihood), and
    the conditions are visited in a greedy order that keeps few bits open at a time (on sampled
    cases about 4.7x less work than carrying every bit through every condition). Messages are
    arrays ``(2,) * open bits + (rows, open cause states)``. Forward messages are stored, so a
    condition's "present" share is one backward sweep, and a rerun with changed likelihoods
    starts at the first step they touch.
    """

    def __init__(self, enum, kept, norm, a_off=None, b_on=None, parts=None):
        """``a_off, b_on``: the conditions' absent and present parts ``(rows, states,
        conditions)``; or ``parts``: those of the pass's conditions, in its order, as
        contiguous ``(rows, states)`` pairs (a rerun of another pass with changed rows)."""
        batch, n_open = (a_off.shape[:2] if parts is None else parts[0][0].shape)
        self.bit = {y: i for i, y in enumerate(kept)}
        self.start, self.final = [], []  # per leaf: (fired, still off) weights
        links = []
        for y in kept:
            off, leak, q = enum.kept_ok[y]
            self.start.append((1.0 - leak, leak))
            self.final.append(np.stack([norm[y][:, 1 - off], norm[y][:, off]]))  # (2, rows)
            links.append(q)
        order, intro, close, _ = enum.fired_order(kept)
        self.positions = order
        self.where = {j: n for n, j in enumerate(order)}
        self.intro = [[self.bit[y] for y in ys] for ys in intro]  # leaves by index from here
        self.close = [[self.bit[y] for y in ys] for ys in close]
        self.steps = [[(i, links[i][j]) for i in range(len(kept)) if links[i][j] < 1.0]
                      for j in order]
        self.parts = parts if parts is not None else [
            (np.ascontiguousarray(a_off[:, :, j]), np.ascontiguousarray(b_on[:, :, j]))
            for j in order]
        self.shape = (batch, n_open)
        self.pre, self.layout = [], []  # per step: the message before the condition, its bits
        # leaves linked to no condition here: a factor per row (leak times likelihood)
        self.isolated = [i for i, q in enumerate(links) if not np.any(q < 1.0)]
        self.core = self._forward(0, np.ones(self.shape), [], record=True)
        self.z = self.core * self._isolated_factor()[:, None]

    def _isolated_factor(self, finals=None) -> np.ndarray:
        out = np.ones(self.shape[0])
        for i in self.isolated:
            f = self.final[i] if not finals or i not in finals else finals[i]
            out = out * (self.start[i][0] * f[0] + self.start[i][1] * f[1])
        return out

    # -- the pass ---------------------------------------------------------------------------
    def _forward(self, n0, msg, axes, record=False, scale=None, finals=None):
        """Run the steps from ``n0`` (``msg`` with bits ``axes`` is the message before step
        ``n0``'s new leaves; with ``record`` the messages are stored) -> ``(rows, states)``."""
        for n in range(n0, len(self.positions)):
            if n > n0 or record:
                for y in self.intro[n]:
                    msg, axes = self._introduce(msg, axes, y)
            if record:
                self.pre.append(msg)
                self.layout.append(list(axes))
            a, b = self.parts[n]
            if scale and self.positions[n] in scale:
                s_off, s_on = scale[self.positions[n]]
                a, b = a * s_off, b * s_on
            out = msg * b
            for y, q in self.steps[n]:
                self._fire(out, axes.index(y), q)
            out += msg * a
            for y in self.close[n]:
                out, axes = self._contract(out, axes, y, finals)
            msg = out
        return msg

    def _introduce(self, msg, axes, y):
        s = self.start[y]
        out = np.empty((2,) + msg.shape)
        np.multiply(msg, s[0], out=out[0])
        np.multiply(msg, s[1], out=out[1])
        return out, [y] + axes

    def _contract(self, msg, axes, y, finals=None):
        k = axes.index(y)
        f = self.final[y] if not finals or y not in finals else finals[y]
        lead = (slice(None),) * k
        out = msg[lead + (0,)] * f[0][:, None]
        out += msg[lead + (1,)] * f[1][:, None]
        return out, axes[:k] + axes[k + 1:]

    def _fire(self, d, k, q):
        """The condition is present: leaf at axis ``k``, if still off, stays off with its
        inhibitor ``q``, else fires now."""
        lead = (slice(None),) * k
        still = d[lead + (1,)]
        d[lead + (0,)] += still * (1.0 - q)
        still *= q

    def _fire_back(self, d, k, q):
        """The transpose of :meth:`_fire` (backward messages)."""
        lead = (slice(None),) * k
        fired = d[lead + (0,)]
        still = d[lead + (1,)]
        still *= q
        still += fired * (1.0 - q)

    def present(self) -> dict:
        """``{condition position: sum over states of the pass with that condition present}``.

        Uses ``sum T(F) back = sum F T'(back)``: one transposed step per condition serves both
        its share and the next backward message."""
        out = {}
        back, axes = np.ones(self.shape), []
        for n in reversed(range(len(self.positions))):
            # undo step n's contractions: the leaves come back with their likelihoods
            for y in reversed(self.close[n]):
                k = self._closed_axis(n, y)
                f = self.final[y]
                wide = np.empty(back.shape[:k] + (2,) + back.shape[k:])
                lead = (slice(None),) * k
                np.multiply(back, f[0][:, None], out=wide[lead + (0,)])
                np.multiply(back, f[1][:, None], out=wide[lead + (1,)])
                back = wide
                axes = axes[:k] + [y] + axes[k:]
            assert axes == self.layout[n]
            j = self.positions[n]
            a, b = self.parts[n]
            moved = back.copy()
            for y, q in reversed(self.steps[n]):
                self._fire_back(moved, axes.index(y), q)
            share = self.pre[n] * moved
            out[j] = b * share.reshape(-1, *self.shape).sum(axis=0)
            back = back * a
            back += moved * b
            for y in reversed(self.intro[n]):  # entered here (the last one on axis 0):
                s = self.start[y]  # weighted by the leak, summed out
                back = back[0] * s[0] + back[1] * s[1]
                axes = axes[1:]
        if self.isolated:
            iso = self._isolated_factor()[:, None]
            out = {j: v * iso for j, v in out.items()}
        return out

    def _closed_axis(self, n, y) -> int:
        """The axis leaf ``y`` held when step ``n`` contracted it (leaves contract in order)."""
        axes = list(self.layout[n])
        for x in self.close[n]:
            if x == y:
                return axes.index(y)
            axes.remove(x)
        raise KeyError(y)

    def still_off(self, y) -> np.ndarray:
        """The pass's total restricted to the sets in which leaf ``y`` is still off."""
        return self.rerun({}, {y: (1.0, 0.0)})

    def rerun(self, scale: dict, leaves: dict | None = None) -> np.ndarray:
        """The pass's total with the likelihoods of the conditions at the positions in ``scale``
        and of the kept leaves in ``leaves`` multiplied by ``(off, on)`` factors: reruns from the
        first step they touch."""
        finals, first = {}, []
        for y, (off, on) in (leaves or {}).items():
            i = self.bit[y]
            finals[i] = self.final[i] * np.array([on, off])[:, None]
            if i not in self.isolated:
                first.append(next(n for n, c in enumerate(self.close) if i in c))
        first += [self.where[j] for j in scale if j in self.where]
        core = self.core
        if first:
            n0 = min(first)
            core = self._forward(n0, self.pre[n0], list(self.layout[n0]), scale=scale,
                                 finals=finals)
        return core * self._isolated_factor(finals)[:, None]
