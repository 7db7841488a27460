"""bench/ceiling.py: its counters see the engine's kernels without changing what they compute,
and it leaves the model as it found it."""
import math

import numpy as np

from bench import ceiling
from bench.run import case_evidence, stack
from model.enumeration import CauseEnumeration
from model.junction_tree import JunctionTree
from model.synthetic import sample_cases


def test_kernel_counter_counts_both_kernels_and_changes_no_result(model):
    engine = model.engine
    lik = stack(model, case_evidence(model, sample_cases(model, 12, seed=4)))
    before = engine.infer_batch(lik)
    tree_kernel, enum_kernel = JunctionTree._run_rows, CauseEnumeration._run_rows
    with ceiling.KernelCounter() as counter:
        during = engine.infer_batch(lik)
        engine.use_enumeration = False  # one case on a junction tree, whatever its size
        try:
            engine.infer_batch({k: a[:1] for k, a in lik.items()})
        finally:
            engine.use_enumeration = True
    assert JunctionTree._run_rows is tree_kernel and CauseEnumeration._run_rows is enum_kernel
    assert counter.calls["tree"] > 0 and counter.calls["enumeration"] > 0
    assert counter.counts["enumeration"] > 0
    assert counter.counts["tree_float64"] + counter.counts["tree_longdouble"] > 0
    for var, marg in before[0].items():  # (a batch's steps are tuned at their second run:
        # the last bits may differ between runs, with or without the counter)
        np.testing.assert_allclose(during[0][var], marg, rtol=0, atol=1e-12)


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
    got = ceiling.diagnose_split(model, 3, seed=1, repeat=1)
    assert "_batch" not in vars(model)
    assert got["full"] > 0 and 0 <= got["rest"] and got["calls"] >= 1
    again = model.diagnose(answers)
    assert again.triage.level == expected.triage.level
    np.testing.assert_allclose(again.conditions.values, expected.conditions.values, rtol=0,
                               atol=1e-12)
