"""Time credible intervals for one case (Model.intervals): compile once, then per case.

    python bench/bench_intervals.py [--draws 100] [--cases 40]

Run by hand, not in CI. Prints the one-off build/compile time and the median per-case time
over cases sampled from data/cases.csv-like synthetic runners. Most cases run as one call of the
cause enumeration (draws as rows, nothing compiled); the others on the parameter-expanded
network, which compiles a junction tree per answer pattern.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model import load_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--cases", type=int, default=40)
    args = parser.parse_args()
    m = load_model()
    cases = m.sample_cases(args.cases, seed=1, pain_only=True).drop(
        columns=["true_conditions", "gold_triage"], errors="ignore")
    t = time.perf_counter()
    m.intervals({}, draws=args.draws)
    print(f"first call (no answers: expanded network + junction tree): "
          f"{time.perf_counter() - t:.1f} s")
    for label in ("new answer pattern", "same pattern again (e.g. a slider moved)"):
        times = []
        for rec in cases.to_dict("records"):
            t = time.perf_counter()
            m.intervals(rec, draws=args.draws)
            times.append(time.perf_counter() - t)
        print(f"{label}, {args.draws} draws: median {statistics.median(times) * 1000:.0f} ms, "
              f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
