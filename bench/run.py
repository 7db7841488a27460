"""Benchmarks of the fast engine against pgmpy VariableElimination and pyAgrum LazyPropagation.

Run by hand (not in CI), from the repository root::

    python -m bench.run                 # full run, about 5-10 minutes on 2 cores
    python -m bench.run --quick         # smaller samples, about 2 minutes

Cases are drawn from the model itself with :func:`model.synthetic.sample_cases` (ancestral
sampling of every node: a cohort of runners, about a third of them with leg pain; answers drawn
consistently with the sampled states, answers left blank at random: 12 % training, 8 %
background, 15 % symptoms, 5 % of rows stop after the training page). Their answers go through
the intake, so the evidence is what the dashboard produces: hard and soft evidence on causes
and findings. ``diagnose`` is also timed on runners who all have leg pain (``pain_only=True``):
they report more symptoms, which costs more exact inference.

Every figure is printed with its method; pgmpy and pyAgrum loops are timed on a subsample and
extrapolated (said so in the table).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings("ignore")


def timed(fn, repeat: int):
    """Run ``fn`` ``repeat`` times; return (median, q25, q75) seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    q25, med, q75 = np.percentile(times, [25, 50, 75])
    return med, q25, q75


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def case_evidence(model, frame):
    """Intake evidence ``{node: likelihood vector}`` for each row of an answers frame."""
    out = []
    cols = [c for c in frame.columns if c in model.intake.by_id]
    for rec in frame[cols].to_dict("records"):
        clean = model.intake.validate(rec)
        vectors, _ = model.intake.evidence(clean)
        out.append(vectors)
    return out


def stack(model, cases):
    keys = sorted(set().union(*cases))
    return {k: np.stack([c.get(k, np.ones(len(model.kb.states[k]))) for c in cases])
            for k in keys}


# ------------------------------------------------------------------------------------------
def pgmpy_all_marginals(network, ve_cls, tabular, evidence):
    """All marginals with pgmpy VE: one query per variable (joint=False on many is far slower)."""
    hard, virtual = {}, []
    for var, vec in evidence.items():
        states = network.get_cpds(var).state_names[var]
        if np.count_nonzero(vec) == 1:
            hard[var] = states[int(np.argmax(vec))]
        else:
            virtual.append(tabular(var, len(vec), (vec / vec.sum()).reshape(-1, 1),
                                   state_names={var: list(states)}))
    out = {}
    for var in network.nodes():
        if var in hard:
            continue
        ve = ve_cls(network)  # virtual evidence mutates the inference object
        res = ve.query([var], evidence=hard or None, virtual_evidence=virtual or None,
                       show_progress=False)
        out[var] = res.values
    return out


def agrum_network(network):
    """The same network in pyAgrum, through a BIF file (pgmpy writes it, pyAgrum reads it)."""
    import pyagrum as gum
    from pgmpy.readwrite import BIFWriter
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "network.bif")
        BIFWriter(network).write_bif(path)
        return gum.loadBN(path)


def agrum_all_marginals(bn, evidence):
    import pyagrum as gum
    ie = gum.LazyPropagation(bn)
    ie.setEvidence({var: list(map(float, vec)) for var, vec in evidence.items()})
    ie.makeInference()
    return {var: ie.posterior(var).toarray() for var in bn.names()}


# ------------------------------------------------------------------------------------------
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for the memory test")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--latency-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="memory test: also trace allocations (exact, about 6x slower)")
    args = ap.parse_args(argv)
    if args.memory_child:
        return memory_child(args.rows, args.seed, args.tracemalloc)
    if args.latency_child:
        return latency_child(args.seed, args.quick)
    quick = args.quick
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    from model import load_model
    from model.synthetic import sample_cases

    t = time.perf_counter()
    model = load_model()
    print(f"load_model(): {fmt(time.perf_counter() - t)}")
    engine, network = model.engine, model.network
    n_batch = 100 if quick else 10_000
    frame = sample_cases(model, n_batch, seed=args.seed)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]  # answers only
    cases = case_evidence(model, frame)
    frame_pain = float(np.mean([c.get("leg_pain", np.ones(2))[0] == 0 for c in cases]))
    n_pos = [sum(1 for k, v in c.items() if engine.index[k] in engine.foldable
                 and v[1] > 0 and v[0] == 0) for c in cases]
    print(f"{n_batch} sampled cases (a cohort: {frame_pain:.0%} answered they have leg pain); "
          f"evidence items "
          f"per case: median "
          f"{np.median([len(c) for c in cases]):.0f}; positive findings per case: median "
          f"{np.median(n_pos):.0f}, max {max(n_pos)}")
    rows = []

    class Rows(list):  # print each result as soon as it is measured
        def append(self, row):
            super().append(row)
            name, value, spread, ratio = row
            extra = f" (IQR {fmt(spread[0])} - {fmt(spread[1])})" if spread else ""
            print(f"{name}: {fmt(value)}{extra} {ratio}", flush=True)

    rows = Rows()

    # ---- one case, all marginals ---------------------------------------------------------
    pick = np.random.default_rng(args.seed).choice(len(cases), 2 if quick else 5, replace=False)
    bn = agrum_network(network)
    eng_t, pg_t, ag_t, worst, worst_agrum = [], [], [], 0.0, 0.0
    for i in pick:
        ev = cases[i]
        engine.infer(ev)  # warm: the plan (or, for a case the enumeration declines, the tree)
        eng_t.append(timed(lambda: engine.infer(ev), 30 if quick else 100))
        ref = pgmpy_all_marginals(network, VariableElimination, TabularCPD, ev)
        pg_t.append(timed(lambda: pgmpy_all_marginals(network, VariableElimination, TabularCPD,
                                                      ev), 1))
        ag = agrum_all_marginals(bn, ev)
        ag_t.append(timed(lambda: agrum_all_marginals(bn, ev), 1 if quick else 3))
        got = engine.infer(ev)
        for var, p in ref.items():
            worst = max(worst, float(np.abs(got[var] - p).max()))
            worst_agrum = max(worst_agrum, float(np.abs(ag[var] - p).max()))
    med = lambda ts: float(np.median([m for m, _, _ in ts]))  # noqa: E731
    iqr = lambda ts: (float(np.median([a for _, a, _ in ts])),  # noqa: E731
                      float(np.median([b for _, _, b in ts])))
    e1, p1, a1 = med(eng_t), med(pg_t), med(ag_t)
    rows.append(("one case, all 82 marginals: engine (warm plan)", e1, iqr(eng_t), ""))
    rows.append(("  pgmpy VE, one query per variable", p1, iqr(pg_t), f"engine {p1 / e1:.0f}x faster"))
    rows.append(("  pyAgrum LazyPropagation", a1, iqr(ag_t), f"engine {a1 / e1:.0f}x faster"))
    # cold: caches emptied (a case the enumeration declines compiles a junction tree first)
    cold = []
    for i in pick:
        engine.clear_caches()
        t = time.perf_counter()
        engine.infer(cases[i])
        cold.append(time.perf_counter() - t)
    rows.append(("  engine, first call for a new answer pattern (caches emptied)", float(np.median(cold)),
                 None, ""))

    # ---- batch ---------------------------------------------------------------------------
    lik = stack(model, cases)
    engine.infer_batch(lik)  # warm the caches, then time a fresh run
    t = time.perf_counter()
    engine.infer_batch(lik)
    tb = time.perf_counter() - t
    rows.append((f"{n_batch} cases, all marginals: engine.infer_batch", tb, None,
                 f"{n_batch / tb:,.0f} cases/s"))
    sub = 3 if quick else 5
    pg_case = p1
    rows.append((f"  pgmpy VE loop (extrapolated from {len(pick)} cases)", pg_case * n_batch, None,
                 f"engine {pg_case * n_batch / tb:,.0f}x faster"))
    ag_case = float(np.median([timed(lambda: agrum_all_marginals(bn, cases[i]), 1)[0]
                               for i in range(sub)]))
    rows.append((f"  pyAgrum loop (extrapolated from {sub} cases)", ag_case * n_batch, None,
                 f"engine {ag_case * n_batch / tb:,.0f}x faster"))
    t = time.perf_counter()
    model.diagnose_many(frame)
    td = time.perf_counter() - t
    rows.append((f"{n_batch} rows: model.diagnose_many (intake+inference+triage)", td, None,
                 f"{n_batch / td:,.0f} rows/s"))

    # ---- diagnose and next_questions: in a process that does only model work -------------
    # (as the dashboard's does: after pgmpy's and pyAgrum's inference in this process the same
    # calls ran 20-30 % slower, the cause not pinned down: no extra threads, not the GC)
    out = subprocess.run([sys.executable, "-m", "bench.run", "--latency-child", "--seed",
                          str(args.seed)] + (["--quick"] if quick else []),
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    for name, value, spread, ratio in json.loads(out.stdout.strip().splitlines()[-1]):
        rows.append((name, value, tuple(spread) if spread else None, ratio))

    # ---- memory --------------------------------------------------------------------------
    n_mem = 2_000 if quick else args.rows
    out = subprocess.run([sys.executable, "-m", "bench.run", "--memory-child", "--rows",
                          str(n_mem), "--seed", str(args.seed)]
                         + (["--tracemalloc"] if args.tracemalloc else []),
                         cwd=ROOT, capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr.strip()[-2000:])

    print(f"\nmax |difference| vs pgmpy VE over the {len(pick)} timed cases: engine {worst:.1e}, "
          f"pyAgrum {worst_agrum:.1e} (pyAgrum reads the network from a BIF file)")
    print("\n| measurement | time (median) | IQR | ratio |\n|---|---|---|---|")
    for name, value, spread, ratio in rows:
        s = f"{fmt(spread[0])} - {fmt(spread[1])}" if spread else ""
        print(f"| {name} | {fmt(value)} | {s} | {ratio} |")


def latency_child(seed: int, quick: bool) -> None:
    """``diagnose`` and ``next_questions`` on the main run's timed cases, in a fresh process;
    prints the table rows as JSON."""
    import gc

    from model import load_model
    from model.synthetic import sample_cases

    model = load_model()
    n_batch = 100 if quick else 10_000
    frame = sample_cases(model, n_batch, seed=seed)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]
    pick = np.random.default_rng(seed).choice(len(frame), 2 if quick else 5, replace=False)
    rows = []
    med = lambda ts: float(np.median([m for m, _, _ in ts]))  # noqa: E731
    iqr = lambda ts: (float(np.median([a for _, a, _ in ts])),  # noqa: E731
                      float(np.median([b for _, _, b in ts])))
    answers = [{k: v for k, v in rec.items() if v is not None and v == v}
               for rec in frame.iloc[pick].to_dict("records")]
    # the sampled frame (10,000 rows of Python objects) is not what a dashboard process holds:
    # kept alive, every full garbage collection during the timed calls walks it
    del frame
    gc.collect()
    for a in answers:
        model.diagnose(a)
    dg = [timed(lambda: model.diagnose(a), 20 if quick else 50) for a in answers]
    rows.append(("model.diagnose(answers) end to end (warm), the timed cases", med(dg), iqr(dg),
                 "target < 2 ms"))
    # the dashboard's usual user has leg pain, and reports more symptoms than the cohort
    pain = sample_cases(model, 10 if quick else 30, seed=5, pain_only=True)
    pain = [{k: v for k, v in rec.items() if v is not None and v == v}
            for rec in pain[[c for c in pain.columns if c in model.intake.by_id]].to_dict(
                "records")]
    for a in pain:
        model.diagnose(a)
    per_runner = [timed(lambda: model.diagnose(a), 5 if quick else 15)[0] for a in pain]
    rows.append((f"  diagnose, {len(pain)} sampled runners with leg pain (median of each; "
                 f"median over runners)", float(np.median(per_runner)),
                 tuple(np.percentile(per_runner, [25, 75])),
                 f"{sum(t < 2e-3 for t in per_runner)} of {len(pain)} under 2 ms; slowest "
                 f"{fmt(max(per_runner))}"))
    if hasattr(model, "next_questions"):
        for a in answers:
            model.next_questions(a)
        nq = [timed(lambda: model.next_questions(a), 3 if quick else 5) for a in answers]
        rows.append(("model.next_questions(answers), the timed cases", med(nq), iqr(nq),
                     "target < 20 ms"))
        # a wider sample: the two timed cases alone say little about the spread over runners
        wide = sample_cases(model, 12, seed=5, pain_only=True)
        wide = [{k: v for k, v in rec.items() if v is not None and v == v}
                for rec in wide[[c for c in wide.columns if c in model.intake.by_id]].to_dict(
                    "records")]
        for a in wide:
            model.next_questions(a)
        per_case = [min(timed(lambda: model.next_questions(a), 1)[0] for _ in range(3))
                    for a in wide]
        rows.append((f"  next_questions, {len(wide)} more sampled runners (best of 3 each; "
                     f"median over runners)", float(np.median(per_case)),
                     tuple(np.percentile(per_case, [25, 75])),
                     f"{sum(t < 0.02 for t in per_case)} of {len(wide)} under 20 ms; slowest "
                     f"{fmt(max(per_case))}"))
        # earlier in the questionnaire most causes are still open: the ranking costs more
        training = {q.id for q in model.kb.questions if q.group == "training"}
        early = [{k: v for k, v in a.items() if k in training} for a in answers]
        for a in early:
            model.next_questions(a)
        nq_early = [timed(lambda: model.next_questions(a), 3) for a in early]
        rows.append(("  next_questions, training page answered only", med(nq_early),
                     iqr(nq_early), ""))
        model.next_questions({})
        rows.append(("  next_questions, no answers yet", *timed(
            lambda: model.next_questions({}), 3)[:1], None, ""))

    print(json.dumps(rows))


def _rss_mib() -> float:
    """The process's resident memory now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(n_rows: int, seed: int, traced: bool = False) -> None:
    """diagnose_many on ``n_rows`` rows; prints the peak memory (run in a fresh process).

    Resident memory is sampled every 50 ms during the call (the process's peak RSS would also
    count the sampling of the rows before it). ``traced``: also trace Python allocations with
    tracemalloc (exact peak of what the call allocates, but about 6x slower)."""
    import ctypes
    import gc
    import threading
    import tracemalloc

    import pandas as pd

    from model import load_model
    from model.synthetic import sample_cases
    model = load_model()
    base = sample_cases(model, min(n_rows, 20_000), seed=seed)
    base = base[[c for c in base.columns if c in model.intake.by_id]]
    reps = -(-n_rows // len(base))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[:n_rows]
    del base
    for col in frame.columns:  # answers as a data set would hold them: choices as categories
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("category")
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    gc.collect()
    try:  # hand freed heap pages back to the OS, so the baseline is what is live
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    rss_before = _rss_mib()
    peak_rss, done = [rss_before], threading.Event()

    def sample():
        while not done.wait(0.05):
            peak_rss[0] = max(peak_rss[0], _rss_mib())
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if traced:
        tracemalloc.start()
    t = time.perf_counter()
    result = model.diagnose_many(frame, progress=n_rows >= 100_000)
    dt = time.perf_counter() - t
    traced_note = ""
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced_note = f"; peak allocated during the call {peak / 2**20:.0f} MiB (tracemalloc)"
    done.set()
    sampler.join()
    peak_rss[0] = max(peak_rss[0], _rss_mib())
    result_mb = result.memory_usage(deep=True).sum() / 2**20
    print(f"diagnose_many on {n_rows:,} rows: {dt:.0f} s ({n_rows / dt:,.0f} rows/s); process "
          f"resident memory {rss_before:.0f} MiB before the call (model, input frame of "
          f"{frame_mb:.0f} MiB), peak {peak_rss[0]:.0f} MiB during it "
          f"(+{peak_rss[0] - rss_before:.0f} MiB; the result is {result_mb:.0f} MiB)"
          f"{traced_note}")


if __name__ == "__main__":
    main()
