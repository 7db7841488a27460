"""bench/ceiling.py: its counters see the engine's kernels without changing what they compute,
and it leaves the model as it found it."""
import math

import numpy as np

from bench import ceiling
from bench.run import case_evidence, stack
from model.engine import Engine
from model.enumeration import CauseEnumeration
from model.junction_tree import JunctionTree
from model.mixture import ProductMixture
from model.synthetic import sample_cases


def test_kernel_counter_counts_all_three_kernels_and_changes_no_result(model):
    engine = model.engine
    lik = stack(model, case_evidence(model, sample_cases(model, 12, seed=4)))
    before = engine.infer_batch(lik)
    kernels = (JunctionTree._run_rows, CauseEnumeration._run_rows, ProductMixture._components)
    without_kernel = Engine(model.network, backends=("enumeration", "junction_tree"))
    trees_only = Engine(model.network, backends=("junction_tree",))
    with ceiling.KernelCounter() as counter:
        during = engine.infer_batch(lik)  # unrelated rows: each by the single-case rule
        for r in range(len(next(iter(lik.values())))):  # one case at a time: the kernels
            engine.query({k: a[r:r + 1] for k, a in lik.items()})
            without_kernel.query({k: a[r:r + 1] for k, a in lik.items()})
        trees_only.infer_batch({k: a[:1] for k, a in lik.items()})  # one case on a tree
    assert (JunctionTree._run_rows, CauseEnumeration._run_rows,
            ProductMixture._components) == kernels
    assert min(counter.calls.values()) > 0, counter.calls
    assert counter.counts["enumeration"] > 0
    assert counter.counts["mixture_float64"] + counter.counts["mixture_longdouble"] > 0
    assert counter.counts["tree_float64"] + counter.counts["tree_longdouble"] > 0
    for var, marg in before[0].items():  # the same bits, with or without the counter
        np.testing.assert_array_equal(during[0][var], marg)


def test_batch_ceiling_is_a_finite_bound_above_the_measured_throughput(model):
    got = ceiling.batch_ceiling(model, 20, seed=2)
    assert got["rate64"] > got["rate_ld"] > 0
    assert sum(got["per_case"].values()) > 0
    assert math.isfinite(got["bound"]) and got["bound_f64"] >= got["bound"] > 0
    # touching each entry twice with no Python is never slower than the real run
    assert got["bound"] > got["cases_per_s"]


def test_diagnose_split_restores_the_model(model):
    answers = {"age": 30, "sex": "female", "pain_location": "calf", "pain_severity": 4}
    expected = model.diagnose(answers)
    from model import api, case_posteriors
    got = ceiling.diagnose_split(model, 3, seed=1, repeat=1)
    assert api.case_posteriors is case_posteriors.case_posteriors
    assert got["full"] > 0 and 0 <= got["rest"] and got["calls"] >= 1
    again = model.diagnose(answers)
    assert again.triage.level == expected.triage.level
    np.testing.assert_allclose(again.conditions.values, expected.conditions.values, rtol=0,
                               atol=1e-12)


def test_realistic_bench_reports_every_call_against_its_target(capsys):
    """bench/realistic.py (the dashboard's users, timed) runs and reports each public call with
    first-call and warm percentiles, its target, and whether repeats gave the same bits."""
    from bench import realistic
    realistic.main(["--cases", "3", "--interval-cases", "1", "--rows", "40"])
    out = capsys.readouterr().out
    for call in realistic.TARGETS:
        row = next(line for line in out.splitlines() if line.startswith(f"| {call} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5] in ("met", "not met") and cells[6].isdigit(), row
    assert "rows/s" in out and "chunk=7" in out



def test_browser_bench_counts_a_finished_rerun_from_streamlits_own_messages():
    """bench/browser_latency.py reads Streamlit's messages in the page to know when a rerun has
    finished: a script_finished message counts (a whole run or a fragment's), one finished early
    because another run follows does not, nor does any other message."""
    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from bench.browser_latency import PAGE_PROBE
    from tests.browser_support import launch

    def message(**fields) -> list[int]:
        msg = ForwardMsg(hash="a" * 32, **fields)
        msg.metadata.delta_path[:] = [0, 3]
        msg.metadata.active_script_hash = "b" * 40
        return list(msg.SerializeToString())

    done, early, fragment = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_EARLY_FOR_RERUN,
                             ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
    delta = ForwardMsg(hash="c" * 32)
    delta.delta.new_element.markdown.body = "x" * 300  # a length that takes two varint bytes
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.add_init_script(PAGE_PROBE)
            page.goto("about:blank")
            feed = "bytes => { window.__bench.onMessage(new Uint8Array(bytes).buffer); " \
                   "return window.__bench.finished; }"
            assert page.evaluate(feed, list(delta.SerializeToString())) == 0
            assert page.evaluate(feed, message(script_finished=early)) == 0
            assert page.evaluate(feed, message(script_finished=done)) == 1
            assert page.evaluate(feed, message(script_finished=fragment)) == 2
            assert page.evaluate(feed, message(script_finished=early)) == 2
            assert page.evaluate("() => window.__bench.finishedAt") > 0
        finally:
            browser.close()
