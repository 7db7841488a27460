"""What issue 5's speed targets (batch throughput, diagnose latency) would need, measured here.

Run by hand from the repository root (not part of the timed bench)::

    python -m bench.ceiling              # 1,000 batch cases, 40 runners for diagnose()
    python -m bench.ceiling --cases 200  # quicker

**Batch throughput (target 50,000 cases per second, all marginals).** The batch is run once
(warm), then again while the engine's three exact kernels count the entries they touch: the
junction tree's cliques times the rows they run for (float64 and extended precision apart),
the cause enumeration's (rows, open cause states, conditions) arrays and the mixture kernel's
(conditions, rows, Quickscore terms, open states) arrays (:mod:`model.mixture`). The same run
measures numpy's elementwise rate on this machine (a multiply over an array that stays in cache,
the fastest case, for float64 and for longdouble). If every entry were touched by just one multiply
and one add, with no Python at all, the engine could not run faster than

    cases/s <= 1 / (2 * float64 entries per case / float64 rate
                    + 2 * longdouble entries per case / longdouble rate)

The count leaves out work the kernels really do (a junction-tree pass touches each clique entry
several times; pseudo-case ratios, Quickscore recombination, compiles), so the bound is
generous. The engine already sends each case to the cheaper of its exact back ends, so
this is the arithmetic of the algorithms it uses; a different exact algorithm is not bounded
by it.

**diagnose() (target median 2 ms).** ``diagnose`` is timed on sampled runners end to end and
again with its inference (:func:`model.case_posteriors.case_posteriors`) answered from a memo
(the same results, looked up): the difference is the inference, the rest is intake,
attribution bookkeeping, triage, advice and the pandas tables of the result (the lookup's own
cost, building its key, is measured apart and taken off).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings("ignore")

from bench.run import case_evidence, fmt, stack  # noqa: E402

TARGET_CASES_PER_S = 50_000  # issue 5's acceptance targets, for the printed ratios
TARGET_DIAGNOSE_S = 2e-3


def elementwise_rate(dtype, size: int = 1 << 14, seconds: float = 0.3) -> float:
    """Multiplies per second of ``np.multiply(a, b, out=c)`` over arrays that stay in cache
    (best of several rounds: the host's speed moves)."""
    a = np.random.default_rng(0).random(size).astype(dtype)
    b, c = a[::-1].copy(), np.empty_like(a)
    best, reps = 0.0, 16
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(reps):
            np.multiply(a, b, out=c)
        best = max(best, reps * size / (time.perf_counter() - t))
    return best


class KernelCounter:
    """Counts the entries the engine's three exact kernels touch, while active (a context
    manager: wraps their row kernels and puts them back on exit)."""

    def __init__(self):
        from model.enumeration import CauseEnumeration
        from model.junction_tree import JunctionTree
        from model.mixture import ProductMixture
        self._targets = [(JunctionTree, "_run_rows", self._tree),
                         (CauseEnumeration, "_run_rows", self._enumeration),
                         (ProductMixture, "_components", self._mixture)]
        self.counts = dict(tree_float64=0.0, tree_longdouble=0.0, enumeration=0.0,
                           mixture_float64=0.0, mixture_longdouble=0.0)
        self.calls = dict(tree=0, enumeration=0, mixture=0)
        self.seconds = dict(tree=0.0, enumeration=0.0, mixture=0.0)

    def _mixture(self, original):
        def run(kernel, dtype, setup, rows, *args, **kwargs):
            n_rows = len(range(*rows.indices(setup.batch)))
            kind = "mixture_float64" if dtype is np.float64 else "mixture_longdouble"
            self.counts[kind] += kernel.n_k * n_rows * setup.grid["n"] * (1 << len(setup.expand))
            return self._timed("mixture", original, kernel, dtype, setup, rows, *args, **kwargs)
        return run

    def _tree(self, original):
        def run(tree, lik, batch, *args, **kwargs):
            kind = "tree_longdouble" if tree.static[0].dtype == np.longdouble else \
                "tree_float64"
            self.counts[kind] += batch * tree.total_size
            return self._timed("tree", original, tree, lik, batch, *args, **kwargs)
        return run

    def _enumeration(self, original):
        def run(enum, lik, batch, variables, pseudo, opened, grid, *args, **kwargs):
            self.counts["enumeration"] += batch * grid["n_open"] * len(enum.conditions)
            return self._timed("enumeration", original, enum, lik, batch, variables, pseudo,
                               opened, grid, *args, **kwargs)
        return run

    def _timed(self, kind, original, *args, **kwargs):
        self.calls[kind] += 1
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            self.seconds[kind] += time.perf_counter() - t

    def __enter__(self):
        self._saved = [(cls, name, getattr(cls, name)) for cls, name, _ in self._targets]
        for (cls, name, wrap), (_, _, original) in zip(self._targets, self._saved):
            setattr(cls, name, wrap(original))
        return self

    def __exit__(self, *exc):
        for cls, name, original in self._saved:
            setattr(cls, name, original)
        return False


def batch_ceiling(model, n: int, seed: int) -> dict:
    """Entries per case of the batch's kernels, numpy's rates and the resulting bound."""
    from model.synthetic import sample_cases
    frame = sample_cases(model, n, seed=seed)
    lik = stack(model, case_evidence(model, frame))
    engine = model.engine
    engine.infer_batch(lik)  # warm, as the bench times it
    with KernelCounter() as counter:
        t = time.perf_counter()
        engine.infer_batch(lik)
        total = time.perf_counter() - t
    rate64 = elementwise_rate(np.float64)
    rate_ld = elementwise_rate(np.longdouble)
    per_case = {k: v / n for k, v in counter.counts.items()}
    f64 = per_case["tree_float64"] + per_case["enumeration"] + per_case["mixture_float64"]
    ld = per_case["tree_longdouble"] + per_case["mixture_longdouble"]
    bound = 1.0 / (2 * f64 / rate64 + 2 * ld / rate_ld)
    bound_f64 = 1.0 / (2 * (f64 + ld) / rate64)  # as if extended precision were never needed
    return dict(n=n, seconds=total, cases_per_s=n / total, per_case=per_case,
                kernel_seconds=dict(counter.seconds), calls=dict(counter.calls),
                rate64=rate64, rate_ld=rate_ld, bound=bound, bound_f64=bound_f64)


def diagnose_split(model, n: int, seed: int, repeat: int = 10) -> dict:
    """Median ``diagnose`` time over ``n`` sampled runners, end to end and with its engine
    calls answered from a memo."""
    from model.synthetic import sample_cases
    frame = sample_cases(model, n, seed=seed)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]
    answers = [{k: v for k, v in rec.items() if v is not None and v == v}
               for rec in frame.to_dict("records")]

    def median_time():
        times = []
        for a in answers:
            t = time.perf_counter()
            for _ in range(repeat):
                model.diagnose(a)
            times.append((time.perf_counter() - t) / repeat)
        return float(np.median(times))

    for a in answers:
        model.diagnose(a)
    full = median_time()
    from model import api
    memo, original, seen = {}, api.case_posteriors, []

    def key_of(vectors):
        return tuple((k, np.asarray(v, dtype=float).tobytes()) for k, v in
                     sorted(vectors.items()))

    def looked_up(model_, vectors):
        key = key_of(vectors)
        if key not in memo:
            memo[key] = original(model_, vectors)
            seen.append(vectors)
        return memo[key]

    api.case_posteriors = looked_up
    try:
        for a in answers:
            model.diagnose(a)
        rest = median_time()
    finally:
        api.case_posteriors = original
    # the lookup's own cost (building the keys), taken off the rest
    t = time.perf_counter()
    for _ in range(repeat):
        for vectors in seen:
            key_of(vectors)
    keys = (time.perf_counter() - t) / repeat / len(answers)
    return dict(n=n, full=full, rest=max(rest - keys, 0.0), calls=len(seen) / len(answers))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000, help="batch cases (default 1,000)")
    ap.add_argument("--runners", type=int, default=40, help="runners timed with diagnose()")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from model import load_model
    model = load_model()

    b = batch_ceiling(model, args.cases, args.seed)
    pc = b["per_case"]
    print(f"Batch of {b['n']} sampled cases, all marginals (engine.infer_batch, warm): "
          f"{fmt(b['seconds'])}, {b['cases_per_s']:,.0f} cases/s")
    print(f"  kernels: mixture {b['calls']['mixture']} calls, "
          f"{fmt(b['kernel_seconds']['mixture'])}; junction trees {b['calls']['tree']} calls, "
          f"{fmt(b['kernel_seconds']['tree'])}; cause enumeration "
          f"{b['calls']['enumeration']} calls, {fmt(b['kernel_seconds']['enumeration'])}")
    print(f"  entries touched per case: mixture {pc['mixture_float64']:,.0f} float64 + "
          f"{pc['mixture_longdouble']:,.0f} longdouble, enumeration {pc['enumeration']:,.0f}, "
          f"junction trees {pc['tree_float64']:,.0f} float64 + {pc['tree_longdouble']:,.0f} "
          f"longdouble")
    print(f"  numpy elementwise on this machine: float64 {b['rate64'] / 1e9:.2f} G/s, "
          f"longdouble {b['rate_ld'] / 1e9:.2f} G/s")
    print(f"  bound with one multiply and one add per entry and no Python: "
          f"{b['bound']:,.0f} cases/s ({TARGET_CASES_PER_S / b['bound']:.0f}x short of "
          f"{TARGET_CASES_PER_S:,}); all in float64: {b['bound_f64']:,.0f} cases/s "
          f"({TARGET_CASES_PER_S / b['bound_f64']:.1f}x short)")

    d = diagnose_split(model, args.runners, args.seed)
    print(f"\ndiagnose() on {d['n']} sampled runners, median: {fmt(d['full'])} end to end; "
          f"{fmt(d['rest'])} with its inference looked up "
          f"(intake, triage, advice, result tables); inference {fmt(d['full'] - d['rest'])}. "
          f"Target {fmt(TARGET_DIAGNOSE_S)}.")


if __name__ == "__main__":
    main()
