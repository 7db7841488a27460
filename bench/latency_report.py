"""The tables ``python -m bench.browser_latency`` prints: cold start, and per control kind and
overall n / median / p95 / max of the widget-change latencies (ms), new answers and the same
answers again apart, with every change over 1 s listed."""
from __future__ import annotations

import re
import sys

import numpy as np


def stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"n": len(v), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
            "max": float(v.max())}


def table(rows: list[dict]) -> str:
    """Markdown: per control kind and overall, n / median / p95 / max in ms."""
    out = ["| control | n | median ms | p95 ms | max ms | slowest |", "|---|---|---|---|---|---|"]
    kinds = sorted({r["kind"] for r in rows})
    for kind in kinds + ["all changes"]:
        sel = [r for r in rows if kind in ("all changes", r["kind"])]
        s = stats([r["ms"] for r in sel])
        worst = max(sel, key=lambda r: r["ms"])
        out.append(f"| {kind} | {s['n']} | {s['median']:.0f} | {s['p95']:.0f} | {s['max']:.0f} | "
                   f"{worst['detail'] or worst['kind']} ({worst['size']}) |")
    return "\n".join(out)


def report(result: dict) -> None:
    m = result["machine"]
    during = [r["load"] for r in result["changes"]] or [float("nan")]
    print(f"machine: {m['cpus']} cores, {m['platform']}; 1-min load average before "
          f"{m['load_before'][0]:.2f}, during the changes {min(during):.2f}-{max(during):.2f} "
          f"(the bench's own server and browser included), after {m['load_after'][0]:.2f}")
    print("\n| cold start (ms from process start) | " + " | ".join(result["cold_start"]) + " |")
    print("|---|" + "---|" * len(result["cold_start"]))
    for key in ("health_ok_ms", "page_loaded_ms", "first_message_ms", "first_paint_ms", "title_ms",
                "first_verdict_ms", "settled_ms"):
        cells = [f"{c[key]:.0f}" if c.get(key) is not None else "-"
                 for c in result["cold_start"].values()]
        print(f"| {re.sub('_ms$', '', key).replace('_', ' ')} | " + " | ".join(cells) + " |")
    for name, v in result["second_visitor"].items():
        print(f"\nsecond visitor ({name}): verdict {v['first_verdict_ms']:.0f} ms, settled "
              f"{v['settled_ms']:.0f} ms after navigation")
    first = [r for r in result["changes"] if r["round"] == 1]
    again = [r for r in result["changes"] if r["round"] > 1]
    for title, rows in (("new answers (round 1)", first), ("same answers again", again)):
        if rows:
            print(f"\nwidget changes, {title}, all sizes:\n{table(rows)}")
            for name in sorted({r["size"] for r in rows}):
                print(f"\n{name}:\n" + table([r for r in rows if r["size"] == name]))
            over = [r for r in rows if r["ms"] > 1000]
            print(f"\nover 1 s: {len(over)} of {len(rows)}" + "".join(
                f"\n  {r['size']} {r['kind']} {r['detail']}: {r['ms']:.0f} ms (server done "
                f"{r['server_ms']:.0f} ms)" for r in over))
    for e in result["errors"]:
        print(f"ERROR: {e}", file=sys.stderr)
