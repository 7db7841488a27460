"""Explanations: cause attribution, evidence weights, next best question, stop rule, what-if.

The sign tests check what noisy-OR networks guarantee, derived from the knowledge base itself:

* Attribution (prospective: causes only, no symptoms). Roots are independent a priori, so with
  only cause evidence the other causes' distribution does not depend on the cause being changed
  (except a ``depends_on`` pair, which the tests answer together). Then
  ``P(c | X=s) - P(c | X=healthy) = (1-leak) E[prod of other inhibitors] (q_healthy - q_s)``:
  its sign is the sign of ``q_healthy - q_s`` for every condition ``c``, and ``P(leg pain)`` rises
  when state ``s`` raises (or keeps) every condition.
* Evidence weights. With every cause answered at an exact state the conditions are independent;
  evidence "finding absent" multiplies per-condition factors, so they stay independent; a finding
  present is then evidence for exactly the conditions that list it with ``p > leak`` (Harris
  inequality), absent against them, and neutral (weight 0) for every other condition.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from model.explain import item_weights
from model.questioning import answer_outcomes

# shrinking re-runs exact inference many times: report the first failing example instead
SETTINGS = dict(deadline=None, max_examples=4, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------------------ helpers
def inhibitors(model) -> dict:
    """(condition, cause) -> inhibitor per cause state, from the parameter table (data)."""
    rows = model.parameters
    out = {}
    for c in model.condition_ids:
        leak = float(rows.loc[(rows.node == c) & (rows.kind == "leak"), "probability"].iloc[0])
        for cause in model.cause_ids:
            q = np.ones(len(model.kb.states[cause]))
            links = rows[(rows.node == c) & (rows.kind == "link") & (rows.parent == cause)]
            for link in links.itertuples():
                q[model.kb.states[cause].index(link.parent_state)] = \
                    (1 - link.probability) / (1 - leak)
            out[c, cause] = q
    return out


def cause_question(model, cause: str) -> str:
    return next(q.id for q in model.kb.questions
                if any(cause in m.evidence for m in q.mappings()))


def hard_answers(model, cause: str) -> list:
    """Answers to the cause's question that set it to one exact state."""
    qid = cause_question(model, cause)
    return [o.value for o in answer_outcomes(model, qid)
            if o.hard and set(o.evidence) == {cause}]


PAIR = ("sex", "hormonal_contraception")  # the depends_on pair in data/causes.yaml


@st.composite
def cause_answers(draw, model, every_cause: bool = False):
    """Answers to cause questions at exact states; the depends_on pair answered together."""
    answers = {}
    for cause in model.cause_ids:
        if cause in PAIR:
            continue
        if every_cause or draw(st.booleans()):
            answers[cause_question(model, cause)] = draw(st.sampled_from(hard_answers(model, cause)))
    if every_cause or draw(st.booleans()):
        sex = draw(st.sampled_from(["male", "female"]))
        answers["sex"] = sex
        answers["hormonal_contraception"] = False if sex == "male" else draw(st.booleans())
    return answers


# --------------------------------------------------------------------------- attribution
def test_attribution_is_what_diagnose_shows(model):
    answers = {"sex": "female", "bmi": 19, "weekly_km_increase_pct": 40, "warm_up_minutes": 4,
               "pain_location": "shin", "tenderness": "pinpoint_bone"}
    att = model.attribution(answers)
    d = model.diagnose(answers)
    cols = ["posterior", "contribution", "condition_contribution"]
    pd.testing.assert_frame_equal(att.causes[cols], d.causes[cols], atol=1e-9, rtol=0)
    assert att.leading_condition == d.leading_condition
    # unreported causes carry their posterior and no contribution
    unreported = att.causes[~att.causes.reported]
    assert (unreported.contribution == 0).all() and unreported.posterior.between(0, 1).all()
    assert set(att.by_condition.index) == {"sex", "bmi", "weekly_progression", "warm_up"}


def test_attribution_of_sex_for_a_runner_on_the_pill(model):
    # "sex at its healthy state" with the pill reported would be impossible (P = 0 for men):
    # the counterfactual leaves the dependent answer unknown instead
    att = model.attribution({"sex": "female", "hormonal_contraception": True})
    assert np.isfinite(att.by_condition.to_numpy()).all()
    assert att.by_condition.loc["hormonal_contraception", "deep_vein_thrombosis"] > 0


@settings(**SETTINGS)
@given(data=st.data())
def test_attribution_signs_follow_every_link(model, data):
    answers = data.draw(cause_answers(model))
    att = model.attribution(answers)
    q = inhibitors(model)
    clean, vectors, _ = model._evidence(answers)
    checked = 0
    has_dependants = {c.depends_on for c in model.kb.causes if c.depends_on}
    for cause, row in att.by_condition.iterrows():
        if cause in has_dependants:
            # its healthy counterfactual also forgets the dependent answer (a man cannot be on
            # the pill), so its effect includes theirs: see the pill test
            continue
        support = np.flatnonzero(vectors[cause])
        lower, higher = [], []  # per condition: can state s raise / lower it vs healthy?
        for c in model.condition_ids:
            healthy, exposed = q[c, cause][0], q[c, cause][support]
            value = row[c]
            if np.all(exposed == healthy):
                assert abs(value) < 1e-12, (cause, c, value)
            elif np.all(exposed <= healthy):
                assert value > 0, (cause, c, value)
            elif np.all(exposed >= healthy):
                assert value < 0, (cause, c, value)
            lower.append(bool(np.any(exposed < healthy)))
            higher.append(bool(np.any(exposed > healthy)))
            checked += 1
        contribution = att.causes.loc[cause, "contribution"]
        if not any(lower) and not any(higher):
            assert abs(contribution) < 1e-12, cause
        elif not any(higher):
            assert contribution > 0, cause
        elif not any(lower):
            assert contribution < 0, cause
    assert checked == len(set(att.by_condition.index) - has_dependants) * len(model.condition_ids)


# ---------------------------------------------------------------------- evidence weights
@settings(**{**SETTINGS, "max_examples": 1})  # ~80 evidence rows per example
@given(data=st.data())
def test_evidence_weight_signs_follow_every_finding_link(model, data):
    answers = data.draw(cause_answers(model, every_cause=True))
    _, base, _ = model._evidence(answers)
    findings = [f.id for f in model.kb.findings]
    absent = data.draw(st.lists(st.sampled_from(findings), max_size=6, unique=True))
    absent_vec = np.array([1.0, 0.0])
    base = {**base, **{f: absent_vec for f in absent}}
    items = {}
    for f in findings:
        if f not in absent:
            items[f"{f}=present"] = {f: np.array([0.0, 1.0])}
            items[f"{f}=absent"] = {f: absent_vec}
    w = item_weights(model, base, items, model.condition_ids)
    for f in findings:
        if f in absent:
            continue
        finding = model.kb.finding(f)
        p = {link.condition: link.p for link in finding.links}
        for c in model.condition_ids:
            up, down = w.loc[f"{f}=present", c], w.loc[f"{f}=absent", c]
            if p.get(c, finding.leak) > finding.leak:
                assert up > 0 and down < 0, (f, c, up, down)
            else:
                assert abs(up) < 1e-9 and abs(down) < 1e-9, (f, c, up, down)


def test_evidence_weights_of_answers(model):
    answers = {"pain_location": "shin", "tenderness": "pinpoint_bone", "sex": "female",
               "weekly_km_increase_pct": 40, "both_legs": False}
    ew = model.evidence_weights(answers)
    d = model.diagnose(answers)
    frame = ew.frame
    assert list(frame.condition.unique()) == list(d.conditions.index[:3])
    assert set(frame.question) == set(answers)
    assert np.isfinite(frame.weight).all()
    # pinpoint bony tenderness is the textbook sign of a bone stress injury
    table = ew.pivot()
    assert table.loc["tenderness", "bone_stress_injury"] > 0
    # a weight is exactly the shift in log-odds when the answer is removed
    without = model.diagnose({k: v for k, v in answers.items() if k != "tenderness"})
    p1, p0 = d.conditions["bone_stress_injury"], without.conditions["bone_stress_injury"]
    expected = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
    assert table.loc["tenderness", "bone_stress_injury"] == pytest.approx(expected, rel=1e-6)
    assert "<table>" in ew._repr_html_()


def test_evidence_weights_reject_unknown_condition(model):
    with pytest.raises(ValueError, match="unknown condition"):
        model.evidence_weights({"sex": "male"}, conditions=["shin_cancer"])


# ---------------------------------------------------------------------- next question
def test_question_independent_of_the_conditions_has_zero_gain(model):
    # for a man, the contraception question can only be answered "no": it tells nothing
    asked = ["hormonal_contraception", "sex", "pain_location"]
    ranking = model.next_questions({"sex": "male"}, k=None, questions=asked).set_index("question")
    assert ranking.loc["hormonal_contraception", "expected_gain"] == pytest.approx(0, abs=1e-12)
    assert ranking.loc["hormonal_contraception", "p_change_triage"] == 0
    # and for someone on the combined pill, sex is known to be female
    ranking = model.next_questions({"hormonal_contraception": True}, k=None,
                                   questions=asked).set_index("question")
    assert ranking.loc["sex", "expected_gain"] == pytest.approx(0, abs=1e-12)
    # a question that does bear on the conditions has a positive gain
    assert ranking.loc["pain_location", "expected_gain"] > 0.01


def entropy_bits(p: np.ndarray) -> float:
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return float(-(p * np.log2(p) + (1 - p) * np.log2(1 - p)).sum())


def test_expected_gain_is_the_expected_entropy_drop(model):
    answers = {"pain_location": "calf", "sex": "male"}
    plan = model.question_plan(answers, questions=["tearing_or_pop", "age"])
    current = model.diagnose(answers).conditions
    for qid, value_of in (("tearing_or_pop", {"yes": True, "no": False}),
                          ("age", None)):
        block = plan.outcomes[plan.outcomes.question == qid]
        drop = entropy_bits(current.to_numpy())
        for r in block.itertuples():
            value = value_of[r.answer] if value_of else r.value
            after = model.diagnose({**answers, qid: value}).conditions[current.index]
            drop -= r.probability * entropy_bits(after.to_numpy())
        gain = plan.ranking.set_index("question").loc[qid, "expected_gain"]
        assert gain == pytest.approx(drop, abs=1e-9)
        assert block.probability.sum() == pytest.approx(1.0)


def test_next_questions_shape_and_validation(model):
    asked = ["onset", "tenderness", "painful_hop", "both_legs", "sex", "swelling"]
    top = model.next_questions({"pain_location": "shin"}, k=3, questions=asked)
    assert len(top) == 3 and "pain_location" not in set(top.question)
    assert list(top.score) == sorted(top.score, reverse=True)
    assert (top.expected_gain >= 0).all() and top.p_change_triage.between(0, 1).all()
    assert top.attrs["stop"] is False
    with pytest.raises(ValueError, match="unknown question"):
        model.next_questions({}, questions=["no_such_question"])
    for bad in (0, -1, 2.5, "3", True):
        with pytest.raises(ValueError, match="k must be"):
            model.next_questions({}, k=bad)
    with pytest.raises(ValueError, match="unknown question"):
        model.next_questions({"no_such_question": 1})


# --------------------------------------------------------------------------- stop rule
RED_FLAG_CASE = [("pain_location", "calf"), ("onset", "sudden_during_run"),
                 ("breathless_or_chest_pain", True)]


def test_stop_fires_when_no_answer_can_change_triage_and_not_before(model):
    answers = dict(RED_FLAG_CASE)
    plan = model.question_plan(answers)
    assert plan.triage_level == "urgent_care"
    assert plan.stop
    assert not plan.ranking.could_change_triage.any()
    # check the claim against diagnose itself on the answers most likely to lower the level
    # (the clot rule's "not both legs") and on a few red flags
    for qid, value in (("both_legs", True), ("swelling", False), ("trend", "better"),
                       ("days_since_onset", 30.0), ("pain_severity", 2.0)):
        assert model.diagnose({**answers, qid: value}).triage.level == "urgent_care"
    # not before: at each earlier step the red-flag question could still change the advice,
    # so the stop rule (no question can) must not fire
    for n in range(len(RED_FLAG_CASE)):
        earlier = model.question_plan(dict(RED_FLAG_CASE[:n]),
                                      questions=["breathless_or_chest_pain"])
        assert not earlier.stop
        assert earlier.ranking.could_change_triage.all()
        assert model.diagnose(dict(RED_FLAG_CASE[:n])).triage.level != "urgent_care"


def test_could_change_triage_matches_diagnose(model):
    answers = {"pain_location": "calf", "swelling": True}
    plan = model.question_plan(answers, questions=["both_legs", "warmth_redness"])
    level = model.diagnose(answers).triage.level
    assert plan.triage_level == level
    rows = plan.outcomes[plan.outcomes.question.isin(["both_legs", "warmth_redness"])]
    for r in rows.itertuples():
        value = {"yes": True, "no": False}[r.answer]
        new = model.diagnose({**answers, r.question: value}).triage.level
        assert r.triage_level == new
        assert (r.p_change_triage > 0) == (new != level)


# ------------------------------------------------------------------------------ what-if
def test_what_if_matches_diagnose_on_the_risk_factors(model):
    answers = {"warm_up_minutes": 0, "weekly_km_increase_pct": 45, "sex": "female",
               "pain_location": "shin"}
    w = model.what_if(answers, {"weekly_km_increase_pct": 5})
    risk = {k: v for k, v in answers.items() if k != "pain_location"}
    before = model.diagnose(risk)
    after = model.diagnose({**risk, "weekly_km_increase_pct": 5})
    assert w.table.loc["leg_pain", "before"] == pytest.approx(before.pain_probability, abs=1e-9)
    assert w.table.loc["leg_pain", "after"] == pytest.approx(after.pain_probability, abs=1e-9)
    assert w.table.loc["medial_tibial_stress_syndrome", "after"] == pytest.approx(
        after.conditions["medial_tibial_stress_syndrome"], abs=1e-9)
    assert w.table.loc["leg_pain", "change"] < 0
    full = model.what_if(answers, {"weekly_km_increase_pct": 5}, given="all_answers")
    assert full.table.loc["leg_pain", "before"] == pytest.approx(1.0)
    cleared = model.what_if(answers, {"warm_up_minutes": None})
    assert cleared.table.loc["leg_pain", "change"] < 0  # unknown warm-up is less risky than none


def test_what_if_rejects_what_a_runner_cannot_change(model):
    with pytest.raises(ValueError, match="not about something a runner can change"):
        model.what_if({"age": 40}, {"age": 30})
    with pytest.raises(ValueError, match="is unknown"):
        model.what_if({}, {"warmup": 10})
    with pytest.raises(ValueError, match="warm_up_minutes"):
        model.what_if({}, {"warm_up_minutes": -5})
    with pytest.raises(ValueError, match="given must be"):
        model.what_if({}, {"warm_up_minutes": 5}, given="symptoms")


@settings(**SETTINGS)
@given(data=st.data())
def test_what_would_help_never_raises_the_risk(model, data):
    answers = data.draw(cause_answers(model))
    helps = model.what_would_help(answers)
    if helps.empty:
        return
    singles, together = helps.iloc[:-1], helps.iloc[-1]
    assert together.question == "all"
    # every suggested change moves a cause to its healthy (reference) state, which no link
    # makes riskier, so the prospective risk can only fall
    assert (singles.pain_drop >= -1e-12).all()
    assert list(singles.pain_drop) == sorted(singles.pain_drop, reverse=True)
    assert together.pain_drop >= singles.pain_drop.max() - 1e-12
    for r in singles.itertuples():
        vectors, _ = model.intake.evidence({r.question: r.change_to})
        (cause, vec), = vectors.items()
        assert vec[0] == vec.max(), (r.question, r.change_to)


# --------------------------------------------------------- candidate answers from the case
@pytest.fixture(scope="module")
def sampled_answers(model):
    frame = model.sample_cases(30, seed=11, pain_only=True)
    frame = frame[[c for c in frame.columns if c in model.intake.by_id]]
    return [{k: v for k, v in r.items() if v is not None and v == v}
            for r in frame.to_dict("records")]


def candidates_both_ways(model, answers):
    """Every unanswered question's answers scored from the case's own enumeration and, as the
    reference, as one evidence row each; and whether the enumeration took the case."""
    from model.explain import merge, run_cases, run_outcomes
    clean, vectors, _ = model._evidence(answers)
    extras = [o.evidence for q in model.kb.questions if q.id not in clean
              for o in answer_outcomes(model, q.id)]
    conds = model.condition_ids
    got = run_outcomes(model, vectors, extras, conds)
    ref = run_cases(model, [vectors] + [merge(vectors, e) for e in extras], conds)
    engine = model.engine
    lik = {engine.index[k]: v[None, :] for k, v in vectors.items()}
    cands = [{engine.index[k]: v for k, v in e.items()} for e in extras]
    direct = engine.outcomes(lik, cands, [engine.index[c] for c in conds])
    return got, ref, direct, len(extras)


def assert_taken(model, answers, direct, n):
    """The enumeration scored every candidate but symptom answers that say "present" (a
    signed sum there can cancel, and those run as rows)."""
    assert len(direct[2]) == n
    clean, vectors, _ = model._evidence(answers)
    outcomes = [o for q in model.kb.questions if q.id not in clean
                for o in answer_outcomes(model, q.id)]
    causes = set(model.cause_ids)
    for o, done in zip(outcomes, direct[2]):
        if not done:
            assert not set(o.evidence) <= causes, o
            assert any(vec[0] < vec.max() for vec in o.evidence.values()), o  # (not "absent")


def assert_scored_alike(model, got, ref):
    """Same possible candidates, posteriors and log P(evidence) to 1e-9."""
    (marg, log_z, possible), (ref_marg, ref_z, ref_possible) = got, ref
    assert (possible == ref_possible).all()
    for c in model.condition_ids:
        assert np.abs(marg[c][possible] - ref_marg[c][possible]).max() <= 1e-9
    assert np.abs(log_z[possible] - ref_z[possible]).max() <= 1e-9
    assert np.isneginf(log_z[~possible]).all()


@settings(**dict(SETTINGS, max_examples=12))
@given(data=st.data())
def test_answers_scored_from_the_case_equal_one_row_each(model, sampled_answers, data):
    answers = data.draw(st.sampled_from(sampled_answers))
    drop = data.draw(st.lists(st.sampled_from(sorted(answers)), unique=True, max_size=12))
    answers = {k: v for k, v in answers.items() if k not in drop}
    got, ref, direct, n = candidates_both_ways(model, answers)
    assert_scored_alike(model, got, ref)
    _, vectors, _ = model._evidence(answers)
    causes_only = set(vectors) <= set(model.cause_ids)  # (see the next test)
    if direct is not None and not causes_only:
        # the enumeration took the case: it took every candidate too, but for symptom
        # answers whose signed sum would lose digits (run as rows)
        assert_taken(model, answers, direct, n)


def test_cause_answers_early_in_the_questionnaire_scored_from_the_prior(model, sampled_answers):
    """With answers on causes only (no answers, the training page, the training and background
    pages, a man's answers), the candidate answers on causes come from the causes' posterior
    groups (``Engine._cause_outcomes``) and the symptom answers run as rows: the same as one
    row each. A man's "on the combined pill" is impossible, and scored so."""
    from model.engine import Engine
    groups = {q.id: q.group for q in model.kb.questions}
    causes = {model.engine.index[c] for c in model.cause_ids}
    states = [{}]
    for pages in (("training",), ("training", "background")):
        for answers in sampled_answers[:3]:
            states.append({k: v for k, v in answers.items() if groups[k] in pages})
    man = [q.id for q in model.kb.questions if q.group == "background" and q.kind == "choice"
           and any(o.id == "male" for o in q.options)]
    assert man, "a question on sex"
    states.append({man[0]: "male"})
    calls = []
    real = Engine._cause_outcomes

    def spy(self, *args):
        calls.append(real(self, *args))
        return calls[-1]

    taken = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Engine, "_cause_outcomes", spy)
        for answers in states:
            calls.clear()
            got, ref, direct, n = candidates_both_ways(model, answers)
            assert_scored_alike(model, got, ref)
            if calls and calls[-1] is not None:  # (the enumeration declined the case)
                assert calls[-1] is direct
                extras = [o.evidence for q in model.kb.questions if q.id not in answers
                          for o in answer_outcomes(model, q.id)]
                on_causes = [set(model.engine.index[k] for k in e) <= causes for e in extras]
                assert list(direct[2]) == on_causes
                taken.append(len(answers))
    # no answers, some training pages, the man: with many causes open the enumeration
    # declines them
    assert taken[0] == 0 and len(taken) >= 3 and taken[-1] == 1, taken
    assert not got[2].all(), "the man's impossible answer"


def test_answers_scored_from_the_case_with_rare_findings_present(model, sampled_answers):
    # cases with rare findings present: candidates on their conditions rerun the fired-state
    # pass, the others reuse it
    engine = model.engine
    taken = 0
    for answers in sampled_answers:
        _, vectors, _ = model._evidence(answers)
        lik = engine.likelihoods(vectors, 1)
        if not engine._keep_set(engine._positive_outer(lik)):
            continue
        got, ref, direct, n = candidates_both_ways(model, answers)
        assert_scored_alike(model, got, ref)
        if direct is not None:  # the candidates from the case's pass (see assert_taken)
            assert_taken(model, answers, direct, n)
            taken += 1
        if taken == 3:
            break
    assert taken == 3, "sampled cases with rare positives the enumeration takes"
