"""The one-pass mixture kernel (model/mixture.py) against pgmpy VariableElimination and the engine.

The kernel may decline a batch (it returns None and the engine answers); whenever it answers,
every marginal must agree with the oracle to 1e-9, and a row of probability zero must be
reported as such, never as numbers.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.engine import ImpossibleEvidence

from oracle import TOL, oracle  # noqa: E402 (tests/oracle.py)

SETTINGS = dict(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def kernel(engine):
    """The kernel, called directly; the reference is ``reference_engine`` (an engine built
    without it: the junction trees and the cause enumeration)."""
    got = engine.mixture
    assert got is not None, "the shipped network is layered causes -> conditions -> leaves"
    return got


def names(engine, kernel):
    """The kernel's domain: causes, findings and leg pain (it declines conditions and groups)."""
    causes = [engine.variables[c] for c in kernel.causes]
    leaves = [engine.variables[f] for f in kernel.leaves]
    return causes, leaves


def run_one(engine, kernel, evidence: dict):
    """The kernel's marginals of every variable for one case (``None``: declined)."""
    lik = engine.likelihoods(evidence, 1)
    everything = list(range(len(engine.variables)))
    got = kernel.run(lik, 1, everything)
    if got is None:
        return None
    marg, log_z = got
    return {engine.variables[v]: m[0] for v, m in marg.items()}, float(log_z[0])


def vector(draw, card, allow_zero=True):
    low = 0.0 if allow_zero else 0.05
    w = draw(st.lists(st.floats(low, 1.0), min_size=card, max_size=card))
    if max(w) < 0.05:
        w[draw(st.integers(0, card - 1))] = 1.0
    return w


@st.composite
def kernel_evidence(draw, engine, kernel, max_causes=21, max_leaves=10):
    causes, leaves = names(engine, kernel)
    hard, soft = {}, {}
    for var in draw(st.lists(st.sampled_from(causes), unique=True, max_size=max_causes)):
        if draw(st.integers(0, 3)):  # mostly hard, as the intake gives them
            hard[var] = draw(st.sampled_from(engine.states[var]))
        else:
            soft[var] = vector(draw, len(engine.states[var]), allow_zero=False)
    for var in draw(st.lists(st.sampled_from(leaves), unique=True, max_size=max_leaves)):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            soft[var] = vector(draw, 2, allow_zero=False)
        else:  # present rarely, absent often (a runner's symptom page)
            hard[var] = engine.states[var][1 if kind == 1 else 0]
    return hard, soft


@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_every_marginal_matches_the_engine_and_pgmpy(engine, kernel, network, data,
                                                     reference_engine):
    hard, soft = data.draw(kernel_evidence(engine, kernel))
    evidence = {**hard, **soft}
    got = run_one(engine, kernel, evidence)
    try:
        ref = reference_engine.infer(evidence)
    except ImpossibleEvidence:
        if got is not None:
            assert got[1] == -np.inf, "an impossible case must have log Z = -inf"
        return
    if got is None:
        return  # declined: the engine answers (the sampled-runner test bounds how often)
    marg, log_z = got
    assert np.isfinite(log_z)
    for var, p in ref.items():
        assert np.all(np.isfinite(marg[var])), var
        np.testing.assert_allclose(marg[var], p, atol=TOL, rtol=0, err_msg=var)
    # and the oracle itself, for two variables (pgmpy is slow on this network)
    free = [v for v in engine.variables if v not in hard]
    for var in data.draw(st.lists(st.sampled_from(free), unique=True, min_size=1, max_size=2)):
        np.testing.assert_allclose(marg[var], oracle(network, var, hard, soft), atol=TOL,
                                   rtol=0, err_msg=f"{var} | hard={hard} soft={soft}")


def test_sampled_runners_are_answered_exactly_and_mostly_by_the_kernel(model,
                                                                       reference_engine):
    from model.synthetic import sample_cases
    engine, kernel = model.engine, model.engine.mixture
    frame = sample_cases(model, 60, seed=4)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]
    answered = 0
    for rec in frame.to_dict("records"):
        _, vectors, _ = model._evidence(rec)
        got = run_one(engine, kernel, vectors)
        if got is None:
            continue
        answered += 1
        ref = reference_engine.infer(vectors)  # the reference: the other back ends
        for var, p in ref.items():
            np.testing.assert_allclose(got[0][var], p, atol=TOL, rtol=0, err_msg=var)
    # the kernel is the dashboard's fast path: it must take the usual case
    assert answered >= 0.75 * len(frame), answered


@settings(max_examples=6, **SETTINGS)
@given(data=st.data())
def test_many_rare_positive_findings_are_exact_or_declined(engine, kernel, network, data,
                                                          reference_engine):
    """Signed Quickscore terms cancel: the kernel must switch to extended precision or decline,
    never return a float64 result that lost digits."""
    causes, leaves = names(engine, kernel)
    f = [engine.variables[y] for y in kernel.leaves]
    positives = data.draw(st.lists(st.sampled_from(leaves), unique=True, min_size=3, max_size=7))
    hard = {v: engine.states[v][1] for v in positives}
    for var in data.draw(st.lists(st.sampled_from(causes), unique=True, max_size=18)):
        hard[var] = data.draw(st.sampled_from(engine.states[var]))
    got = run_one(engine, kernel, hard)
    if got is None:
        return
    marg, log_z = got
    if log_z == -np.inf:
        with pytest.raises(ImpossibleEvidence):
            reference_engine.infer(hard)
        return
    ref = reference_engine.infer(hard)
    for var, p in ref.items():
        np.testing.assert_allclose(marg[var], p, atol=TOL, rtol=0, err_msg=var)
    var = data.draw(st.sampled_from([v for v in f + causes if v not in hard]))
    np.testing.assert_allclose(marg[var], oracle(network, var, hard, {}), atol=TOL, rtol=0)


def test_extended_precision_is_used_when_float64_would_cancel(engine, kernel, reference_engine):
    """Rare findings present with no condition to explain them: three cancel past float64's
    bound but within extended precision's (the kernel must take the longdouble pass and stay
    exact); four cancel past both (it must decline)."""
    leaves = [engine.variables[y] for y in kernel.leaves if y != kernel.pain]
    rarest = sorted(leaves, key=lambda v: kernel.leaf_leak[kernel.leaf_pos[engine.index[v]]])
    known = {engine.variables[c]: 0 for c in kernel.causes}  # all healthy, known

    def setup_of(evidence):
        return kernel._prepare(kernel.evidence_matrix(engine.likelihoods(evidence, 1), 1))

    evidence = {**known, **{v: "present" for v in rarest[-3:]}}
    setup = setup_of(evidence)
    comp = kernel._components(np.float64, setup, slice(None))
    assert (comp.scale / comp.z)[0] > kernel.MAX_AMPLIFICATION  # the premise: it cancels
    assert kernel._solve(setup, slice(None)).h.dtype == np.longdouble
    got = run_one(engine, kernel, evidence)
    assert got is not None
    ref = reference_engine.infer(evidence)
    for var, p in ref.items():
        np.testing.assert_allclose(got[0][var], p, atol=TOL, rtol=0, err_msg=var)
    more = {**known, **{v: "present" for v in rarest[-4:]}}
    assert kernel._solve(setup_of(more), slice(None)) is None
    assert run_one(engine, kernel, more) is None


def test_declines_evidence_on_conditions_and_groups(engine, kernel):
    known = {engine.variables[c]: 0 for c in kernel.causes}  # few open states: not the reason
    pain = [engine.index["leg_pain"]]
    assert kernel.run(engine.likelihoods(known, 1), 1, pain) is not None
    for var in ("doms", "muscle"):
        lik = engine.likelihoods({**known, var: "present"}, 1)
        assert kernel.run(lik, 1, pain) is None
    # flat evidence there is no evidence: accepted
    lik = engine.likelihoods({**known, "doms": [0.3, 0.3]}, 1)
    assert kernel.run(lik, 1, pain) is not None


def test_impossible_rows_are_flagged_not_numbers(engine, kernel, reference_engine):
    """A man on the contraceptive pill has probability zero: log Z is -inf, marginals are
    zeros (never NaN), and the other rows are unaffected."""
    known = {engine.variables[c]: 0 for c in kernel.causes}
    known.pop("age_group")  # one open cause, so that the rows enumerate something
    lik = engine.likelihoods(known, 2)
    lik[engine.index["sex"]] = np.array([[1.0, 0.0], [0.0, 1.0]])
    lik[engine.index["hormonal_contraception"]] = np.array([[0.0, 1.0], [0.0, 1.0]])
    everything = list(range(len(engine.variables)))
    marg, log_z = kernel.run(lik, 2, everything)
    assert log_z[0] == -np.inf and np.isfinite(log_z[1])
    for v, m in marg.items():
        assert np.all(m[0] == 0.0) and np.all(np.isfinite(m))
    ref = reference_engine.infer({**known, "sex": "female", "hormonal_contraception": "present"})
    for var, p in ref.items():
        np.testing.assert_allclose(marg[engine.index[var]][1], p, atol=TOL, rtol=0)


# --------------------------------------------------------------------- a case and variations
@st.composite
def variations(draw, engine, kernel):
    """A case (kernel evidence) and rows that change its causes only."""
    hard, soft = draw(kernel_evidence(engine, kernel))
    base = {**hard, **soft}
    causes, _ = names(engine, kernel)
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row = dict(base)
        for var in draw(st.lists(st.sampled_from(causes), unique=True, min_size=1, max_size=3)):
            action = draw(st.integers(0, 2))
            if action == 0:
                row.pop(var, None)  # an answer left out (as a dependant's is)
            elif action == 1:
                row[var] = engine.states[var][0]  # at the healthy level
            else:
                row[var] = draw(st.sampled_from(engine.states[var]))
        rows.append(row)
    return base, rows


@settings(max_examples=20, **SETTINGS)
@given(data=st.data())
def test_variations_match_the_engine_row_by_row(engine, kernel, data, reference_engine):
    base, rows = data.draw(variations(engine, kernel))
    x = np.concatenate([kernel.evidence_matrix(engine.likelihoods(r, 1), 1)
                        for r in [base] + rows])
    conditions = [engine.index[c] for c in engine.variables if engine.index[c] in
                  kernel.cond_pos]
    got = kernel.case_with_variations(x, conditions)
    if got is None:
        return
    first, present, log_z, pain = got
    for n, row in enumerate([base] + rows):
        try:
            ref = reference_engine.infer(row)
        except ImpossibleEvidence:
            assert log_z[n] == -np.inf, n
            continue
        assert np.isfinite(log_z[n])
        for c in conditions:
            want = ref[engine.variables[c]][1]
            have = first[c][0, 1] if n == 0 else present[n - 1, kernel.cond_pos[c]]
            assert have == pytest.approx(want, abs=TOL), (n, engine.variables[c])
        # the prospective risk: the same row with the cause answers only
        causes_only = {k: v for k, v in row.items() if engine.index[k] in kernel.cause_pos}
        ref_pain = reference_engine.infer(causes_only)["leg_pain"][1]
        assert pain[n] == pytest.approx(ref_pain, abs=TOL), n


def test_variations_need_the_same_answers_below_the_causes(engine, kernel):
    rows = [{"pain_worsening": "present"}, {"pain_worsening": "absent"}]
    x = np.concatenate([kernel.evidence_matrix(engine.likelihoods(r, 1), 1) for r in rows])
    assert kernel.case_with_variations(x, []) is None


# ------------------------------------------------------------------- the diagnosis uses it
def test_diagnose_takes_the_fast_path_and_equals_the_engine_path(model, reference_model,
                                                                 monkeypatch):
    """Every number of a diagnosis is the same whichever path computed it; a full runner's
    diagnosis does not touch the general engine."""
    from model import case_posteriors as cp
    from model.synthetic import sample_cases
    frame = sample_cases(model, 40, seed=8)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]
    fast, typical = 0, None
    for rec in frame.to_dict("records"):
        answers = {k: v for k, v in rec.items() if v is not None and v == v}
        _, vectors, _ = model._evidence(answers)
        candidates = cp.explain.risky_causes(model, vectors)
        got = cp._by_mixture(model, model.engine.mixture, vectors, candidates)
        if got is None:
            continue
        fast += 1
        if typical is None and len(answers) > 30:
            typical = answers
        ref = cp._by_engine(reference_model, vectors, candidates)  # trees and enumeration
        assert got.risky == ref.risky and got.lead == ref.lead
        for k, p in ref.present.items():
            assert got.present[k] == pytest.approx(p, abs=TOL), k
        for c, p in ref.cause_marginals.items():
            np.testing.assert_allclose(got.cause_marginals[c], p, atol=TOL, rtol=0)
        np.testing.assert_allclose(got.lead_healthy, ref.lead_healthy, atol=TOL, rtol=0)
        if ref.risky:
            np.testing.assert_allclose(got.pain_prospective, ref.pain_prospective, atol=TOL,
                                       rtol=0)
    assert fast >= 0.6 * len(frame), fast
    # a fully answered runner: diagnose never reaches the engine's general path
    assert typical is not None

    def forbidden(*args, **kwargs):
        raise AssertionError("diagnose fell back to the engine for a typical case")
    monkeypatch.setattr(cp, "_by_engine", forbidden)
    d = model.diagnose(typical)
    assert d.triage.level in ("self_care", "see_clinician_soon", "urgent_care")


def test_diagnose_falls_back_when_the_kernel_declines(model, reference_model, monkeypatch):
    from model import case_posteriors as cp
    answers = {"sex": "female", "pain_location": "shin", "tenderness": "pinpoint_bone"}
    ref = model.diagnose(answers)
    without_kernel = reference_model.diagnose(answers)   # an engine built without the kernel
    monkeypatch.setattr(cp, "_by_mixture", lambda *a, **k: None)
    declined = model.diagnose(answers)                    # the kernel declines this case
    for d in (without_kernel, declined):
        np.testing.assert_allclose(d.conditions.to_numpy(), ref.conditions.to_numpy(), atol=TOL)
        assert list(d.conditions.index) == list(ref.conditions.index)
        np.testing.assert_allclose(d.causes["contribution"], ref.causes["contribution"],
                                   atol=TOL)
        assert d.triage == ref.triage and d.advice == ref.advice


def test_cause_marginals_without_the_one_hot_matrix_and_a_bounded_grid_cache(engine, kernel,
                                                                             monkeypatch):
    """Grids of many states sum the cause marginals over the grid's axes instead of keeping a
    one-hot matrix, with the same numbers; the grid cache stays within its byte bound."""
    causes, _ = names(engine, kernel)
    evidence = {c: 0 for c in causes[6:]}  # the first six causes open
    evidence.update({"painful_hop": "present", "swelling": "absent"})
    everything = list(range(len(engine.variables)))
    lik = engine.likelihoods(evidence, 1)
    kernel.clear_caches()
    with_onehot, _ = kernel.run(lik, 1, everything)
    monkeypatch.setattr(kernel, "ONEHOT_STATES", 0)
    kernel.clear_caches()
    summed, _ = kernel.run(lik, 1, everything)
    assert next(iter(kernel._grids.values()))["onehot"] is None
    for v, m in with_onehot.items():
        np.testing.assert_allclose(summed[v], m, atol=1e-13, rtol=0)
    # a small cache bound: older grids are dropped, the answers do not change
    monkeypatch.setattr(kernel, "GRID_CACHE_BYTES", 200_000)
    for k in range(6):
        ev = {c: 0 for c in causes if c != causes[k]}
        got = kernel.run(engine.likelihoods(ev, 1), 1, everything)
        assert got is not None
        assert kernel._grid_bytes <= 200_000
        assert kernel._grid_bytes == sum(g["bytes"] for g in kernel._grids.values())
    kernel.clear_caches()
