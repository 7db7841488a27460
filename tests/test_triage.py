"""Triage: red flags escalate whatever the posteriors, every fired rule is reported with its
source, triage is monotone in red-flag answers, and malformed rules are rejected at load."""
import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model._yaml import KnowledgeError
from model.triage import RANK, Answer, Combine, Posterior, TriageRules

SETTINGS = dict(deadline=None, max_examples=30,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.filter_too_much])


# ------------------------------------------------------------------------------ helpers
def witnesses(expr, questions) -> list[dict]:
    """Answer sets that make ``expr`` true on their own (posterior predicates: none)."""
    if isinstance(expr, Answer):
        q = questions[expr.question]
        step = q.increment or 1.0
        if expr.op == "is":
            return [{q.id: expr.value}]
        if expr.op == "in":
            return [{q.id: v} for v in sorted(expr.value)]
        value = {"above": expr.value + step, "at_least": expr.value,
                 "below": expr.value - step, "at_most": expr.value}[expr.op]
        return [{q.id: min(max(value, q.min), q.max)}] if expr.test(
            {q.id: min(max(value, q.min), q.max)}, pd.Series(dtype=float)) else []
    if isinstance(expr, Posterior):
        return []
    if expr.op == "not":
        return [{}]       # an unanswered question makes the inner predicate false
    if expr.op == "any":
        return [w for p in expr.parts for w in witnesses(p, questions)]
    out = []
    for combo in itertools.product(*(witnesses(p, questions) for p in expr.parts)):
        merged = {}
        if all(merged.setdefault(k, v) == v for w in combo for k, v in w.items()):
            out.append(merged)
    return out


@pytest.fixture(scope="module")
def rules(model):
    return model.triage_rules


@pytest.fixture(scope="module")
def questions(model):
    return {q.id: q for q in model.kb.questions}


@pytest.fixture(scope="module")
def zeros(model):
    return pd.Series(0.0, index=model.condition_ids)


@pytest.fixture(scope="module")
def red_flag_witnesses(rules, questions, zeros):
    out = []
    for rule in rules.rules:
        if rule.red_flag:
            ws = witnesses(rule.when, questions)
            assert ws, f"red flag {rule.id} cannot be triggered by answers"
            out += [(rule, w) for w in ws if rule.fires(w, zeros)]
    return out


def random_case(data, model, max_size=8) -> dict:
    ids = data.draw(st.lists(st.sampled_from(list(model.intake.by_id)), max_size=max_size,
                             unique=True))
    case = {}
    for qid in ids:
        q = model.intake.by_id[qid]
        if q.kind == "bool":
            case[qid] = data.draw(st.booleans())
        elif q.kind == "choice":
            case[qid] = data.draw(st.sampled_from([o.id for o in q.options]))
        else:
            case[qid] = float(data.draw(st.integers(int(q.min), int(q.max))))
    return case


def diagnose_or_skip(model, case):
    try:
        return model.diagnose(case)
    except ValueError:
        assume(False)     # contradictory random answers (e.g. male + combined pill)


# ------------------------------------------------------------------------------ red flags
def test_every_red_flag_fires_from_answers_alone_whatever_the_posteriors(
        rules, red_flag_witnesses, model):
    ones = pd.Series(1.0, index=model.condition_ids)
    for rule, w in red_flag_witnesses:
        for post in (pd.Series(0.0, index=model.condition_ids), ones):
            t = rules.assess(w, post, {})
            assert RANK[t.level] >= RANK[rule.level], (rule.id, w)
            assert rule.id in [r.rule for r in t.reasons]


def test_both_legs_rules_out_a_clot_but_not_a_clinician(model, rules):
    """A clot is one leg (evidence §3 DVT: "one calf/leg"; §4 suspected DVT: unilateral
    swelling; Wells -2 when an alternative is as likely): a swollen leg after long travel is
    urgent, both legs swollen is not a clot sign but still a clinician within days
    (swelling_both_legs), never self-care. The qualifiers that rule a red flag out are the
    documented exceptions (issue 19): both legs (not a clot), where it hurts (a swollen joint
    after a twist is see-soon, not a clot emergency), DOMS within its 72 h window, radicular
    pain, a pop with normal walking and heel raise, a severe pain or swelling that is already
    getting better after a hard race, and a twist or roll that explains a swollen joint (the
    clot-naming rule gives way to the twist rules, at the same level)."""
    assert negated_questions(rules) == {
        "both_legs", "pain_location", "onset", "days_since_onset", "trend",
        "downhill_or_unusual_session", "shooting_pain_down_leg", "cannot_stand_on_tiptoe",
        "unable_four_steps", "ankle_rolled", "knee_twisted"}
    for case in ({"swelling": True, "long_travel_or_immobility": True},
                 {"swelling": True, "pain_location": "calf"},
                 {"swelling": True, "warmth_redness": True, "clot_history": True}):
        one = model.diagnose({**case, "both_legs": False}).triage
        unanswered = model.diagnose(case).triage
        both = model.diagnose({**case, "both_legs": True}).triage
        assert one.level == unanswered.level == "urgent_care", case  # unknown counts as one leg
        assert both.level == "see_clinician_soon", case
        assert "swelling_both_legs" in {r.rule for r in both.reasons}


def test_low_prior_clot_with_swollen_warm_calf_is_urgent(model, rules):
    answers = {"pain_location": "calf", "swelling": True, "warmth_redness": True,
               "both_legs": False, "age": 25, "sex": "male"}
    d = model.diagnose(answers)
    assert d.conditions["deep_vein_thrombosis"] < 0.5    # not the posterior that decides it
    assert d.triage.level == "urgent_care"
    post = d.conditions.copy()
    post["deep_vein_thrombosis"] = 0.0
    t = rules.assess(model.intake.validate(answers), post, {})
    assert t.level == "urgent_care"
    assert t.reasons[0].red_flag and "clot" in t.reasons[0].text.lower()


def test_red_flag_rules_cannot_read_posteriors(rules):
    def reads_posterior(e):
        return isinstance(e, Posterior) or (isinstance(e, Combine)
                                            and any(reads_posterior(p) for p in e.parts))
    red = [r for r in rules.rules if r.red_flag]
    assert len(red) >= 15
    assert not any(reads_posterior(r.when) for r in red)
    # posterior thresholds exist and escalate at most to see_clinician_soon
    post = [r for r in rules.rules if reads_posterior(r.when)]
    assert post and all(r.level == "see_clinician_soon" for r in post)


@pytest.mark.parametrize("answers", [
    {"breathless_or_chest_pain": True},
    {"tense_leg_pain_out_of_proportion": True},
    {"cold_pale_foot": True},
    {"unable_four_steps": True},
    {"crack_or_deformity": True},
    {"dark_urine": True},
    {"tearing_or_pop": True, "pain_location": "achilles"},
    {"pain_location": "groin_hip", "painful_hop": True},
])
def test_section_4a_red_flags_are_urgent(model, answers):
    assert model.diagnose(answers).triage.level == "urgent_care"


@pytest.mark.parametrize("answers", [
    {"tenderness": "pinpoint_bone"},
    {"pain_at_rest_or_night": True},
    {"pain_location": "shin", "days_since_onset": 10, "trend": "same"},
    {"onset": "sudden_during_run", "days_since_onset": 6, "trend": "same"},
    {"onset": "hours_after_run", "days_since_onset": 9},
    {"numbness_tingling": True, "onset": "builds_during_run_stops_soon"},
    {"tearing_or_pop": True, "bruising": True, "pain_location": "back_of_thigh"},
    {"low_energy_signs": True},
])
def test_section_4b_criteria_see_a_clinician(model, answers):
    assert model.diagnose(answers).triage.level == "see_clinician_soon"


def test_unanswered_questions_never_fire(rules, zeros):
    t = rules.assess({}, zeros, {})
    assert t.level == "self_care"
    assert [r.level for r in t.reasons] == ["self_care"]


# ------------------------------------------------------------------------------ properties
def negated_questions(rules) -> set[str]:
    """Questions a red-flag rule reads under ``not``: qualifiers that rule a red flag out
    ("both legs": a clot is one leg), not red flags themselves."""
    found = set()

    def walk(node, negated):
        if isinstance(node, Answer):
            if negated:
                found.add(node.question)
            return
        for part in getattr(node, "parts", ()):
            walk(part, negated or getattr(node, "op", None) == "not")
    for rule in rules.rules:
        if rule.red_flag:
            walk(rule.when, False)
    return found


@settings(**SETTINGS)
@given(data=st.data())
def test_adding_a_red_flag_never_lowers_the_level(model, rules, red_flag_witnesses, data):
    case = random_case(data, model)
    rule, w = data.draw(st.sampled_from(red_flag_witnesses))
    # "adding": a question not answered yet, or a yes where the case said no; qualifiers that
    # rule a red flag out stay as the case has them (answering them is new information that
    # may lower the level: test_both_legs_rules_out_a_clot_but_not_a_clinician)
    qualifiers = negated_questions(rules)
    for qid, value in w.items():
        if qid in qualifiers:
            assume(case.get(qid) == value)
        if qid in case and case[qid] != value:
            assume(case[qid] is False and value is True)
    before = diagnose_or_skip(model, case)
    after = diagnose_or_skip(model, {**case, **w})
    assert RANK[after.triage.level] >= RANK[before.triage.level], (case, w)
    if rule.fires(after.answers, {}):  # (qualifiers in the case can rule this red flag out)
        assert RANK[after.triage.level] >= RANK[rule.level], (case, w)


@settings(deadline=None, max_examples=200)
@given(data=st.data())
def test_every_fired_rule_is_a_reason_with_a_source(model, rules, data):
    case = model.intake.validate(random_case(data, model, max_size=15))
    post = pd.Series(data.draw(st.lists(st.floats(0, 1), min_size=len(model.condition_ids),
                                        max_size=len(model.condition_ids))),
                     index=model.condition_ids)
    t = rules.assess(case, post, {})
    fired = [r.id for r in rules.rules if r.fires(case, post)]
    assert sorted(r.rule for r in t.reasons if r.level != "self_care") == sorted(fired)
    assert all(r.source.strip() and r.text.strip() for r in t.reasons)
    ranks = [RANK[r.level] for r in t.reasons]
    assert ranks == sorted(ranks, reverse=True)                 # most urgent first
    assert t.level == t.reasons[0].level
    if not fired:
        assert t.level == "self_care" and len(t.reasons) == 1


@settings(deadline=None, max_examples=200)
@given(data=st.data())
def test_levels_of_one_answer_variations_equal_level(model, rules, red_flag_witnesses, data):
    """The next-question ranking's triage of many one-answer variations at once (rules that
    read neither the varied question nor a posterior decided once) gives each variation's
    ``level``; the varied answers include red-flag witnesses' answers."""
    base = model.intake.validate(random_case(data, model, max_size=15))
    conds = model.condition_ids
    variations = []
    for _ in range(data.draw(st.integers(1, 6))):
        if data.draw(st.booleans()):
            _, witness = data.draw(st.sampled_from(red_flag_witnesses))
            qid = data.draw(st.sampled_from(sorted(witness)))
            value = witness[qid]
        else:
            (qid, value), = random_case(data, model, max_size=1).items() or [(None, None)]
            assume(qid is not None)
        post = dict(zip(conds, data.draw(st.lists(st.floats(0, 1), min_size=len(conds),
                                                  max_size=len(conds)))))
        variations.append((qid, value, post))
    got = rules.levels_of_variations(base, variations)
    assert got == [rules.level({**base, q: v}, p) for q, v, p in variations]


@settings(**SETTINGS)
@given(data=st.data())
def test_diagnosis_reports_every_fired_rule(model, rules, data):
    case = random_case(data, model, max_size=12)
    d = diagnose_or_skip(model, case)
    fired = {r.id for r in rules.rules if r.fires(d.answers, d.conditions)}
    assert fired == {r.rule for r in d.triage.reasons if r.level != "self_care"}
    assert all(r.source for r in d.triage.reasons)


# ------------------------------------------------------------------------------ self-care
def test_self_care_reason_says_when_to_think_again(model, rules):
    d = model.diagnose({"onset": "hours_after_run", "both_legs": True, "days_since_onset": 1,
                        "downhill_or_unusual_session": True, "pain_location": "front_of_thigh"})
    assert d.triage.level == "self_care"
    (reason,) = d.triage.reasons
    note = next(n for n in rules.self_care if n.id == reason.rule)
    assert "doms" in note.conditions
    assert f"{note.review_after_days:g} days" in reason.text
    assert reason.source


def test_self_care_default_when_no_condition_is_likely(rules, model):
    flat = pd.Series(1.0 / len(model.condition_ids), index=model.condition_ids)
    (reason,) = rules.assess({}, flat, {}).reasons
    default = next(n for n in rules.self_care if not n.conditions)
    assert reason.rule == default.id and f"{default.review_after_days:g} days" in reason.text


def test_posterior_threshold_escalates_without_a_red_flag(rules, zeros):
    rule = rules.rule("likely_bone_stress_injury")
    threshold = next(p.threshold for p in rule.when.parts
                     if p.condition == "bone_stress_injury")
    post = zeros.copy()
    post["bone_stress_injury"] = threshold + 0.01
    t = rules.assess({}, post, {})
    assert t.level == "see_clinician_soon" and t.reasons[0].rule == rule.id
    post["bone_stress_injury"] = threshold - 0.01
    assert rules.assess({}, post, {}).level == "self_care"


def test_diagnose_many_uses_the_same_triage(model):
    frame = pd.DataFrame([{"swelling": True, "pain_location": "calf"},
                          {"tenderness": "pinpoint_bone"},
                          {"onset": "hours_after_run", "both_legs": True}])
    levels = model.diagnose_many(frame)["triage_level"].tolist()
    assert levels == [model.diagnose(r.dropna().to_dict()).triage.level
                      for _, r in frame.iterrows()]


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("old, new, message", [
    ("when: {answer: dark_urine, is: true}", "when: {answer: dark_pee, is: true}",
     "unknown question 'dark_pee'"),
    ("when: {answer: dark_urine, is: true}", "when: {answer: dark_urine, is: 'yes'}",
     "expected true or false"),
    ("when: {answer: tenderness, is: pinpoint_bone}", "when: {answer: tenderness, is: pinpoint}",
     "'pinpoint' is not allowed"),
    ("when: {answer: tenderness, is: pinpoint_bone}",
     "when: {answer: tenderness, above: 3}", "does not apply to question 'tenderness'"),
    ("{answer: days_since_onset, above: 5}", "{answer: days_since_onset, above: 500}",
     "must be <= 120"),
    ("when: {answer: dark_urine, is: true}", "when: {posterior: exertional_rhabdomyolysis, above: 0.2}",
     "posteriors cannot be used here"),
    ("    level: see_clinician_soon\n    red_flag: false\n    when: {posterior: chronic",
     "    level: urgent_care\n    red_flag: false\n    when: {posterior: chronic",
     "see_clinician_soon at most"),
    ("  - id: crack_or_deformity\n", "  - id: cannot_take_four_steps\n", "appears twice"),
    ("when: {answer: dark_urine, is: true}", "when: {answer: dark_urine, is: true, colour: brown}",
     "exactly one test"),
    ("    red_flag: true\n    when: {answer: crack_or_deformity, is: true}",
     "    red_flag: true\n    wehn: {answer: crack_or_deformity, is: true}", "unknown key 'wehn'"),
    ("it is not gone in {days} days", "it is not gone soon",
     "include {days}"),
    ("    grade: strong\n\n  - id: clot_signs_one_calf",
     "    grade: good\n\n  - id: clot_signs_one_calf", "'good' is not allowed"),
])
def test_malformed_rules_name_file_line_and_key(model, data_copy, corrupt, old, new, message):
    corrupt(data_copy, "triage.yaml", old, new)
    with pytest.raises(KnowledgeError) as err:
        TriageRules.load(data_copy, model.kb)
    assert message in str(err.value)
    assert str(err.value).startswith("triage.yaml:")         # file:line
    assert str(err.value).split(":")[1].strip().isdigit()


def test_missing_triage_file_is_a_knowledge_error(model, tmp_path):
    with pytest.raises(KnowledgeError, match="triage.yaml"):
        TriageRules.load(tmp_path, model.kb)


# ------------------------------------------------------------------------------ missing signs
NEGATIVE_OPTION = {"tenderness": "not_tender", "knee_mechanical": "no_catching"}


def all_warning_signs_negative(model) -> dict:
    out = {}
    for q in model.kb.questions:
        if q.warning_sign:
            out[q.id] = False if q.kind == "bool" else NEGATIVE_OPTION[q.id]
    return out


def test_unanswered_warning_signs_are_missing_and_self_care_is_not_stated(model):
    t = model.triage({})
    assert t.level == "self_care" and not t.warning_signs_answered
    asked = {m.question for m in t.missing}
    assert asked == {q.id for q in model.kb.questions if q.warning_sign}
    assert t.missing[0].level == "urgent_care" and t.missing[0].could_raise
    ranks = [-RANK[m.level] for m in t.missing]
    assert ranks == sorted(ranks)                                   # most urgent first
    assert all(m.label and m.label != m.question for m in t.missing)
    assert "warning-sign questions first" in t.reasons[0].text


def test_missing_is_empty_once_every_warning_sign_is_answered(model):
    answers = all_warning_signs_negative(model)
    t = model.diagnose(answers).triage
    assert t.missing == () and t.warning_signs_answered
    assert "warning-sign questions first" not in t.reasons[0].text


def test_missing_leaves_out_questions_that_do_not_apply(model):
    answers = {k: v for k, v in all_warning_signs_negative(model).items() if k != "painful_hop"}
    assert [m.question for m in model.triage(answers).missing] == ["painful_hop"]
    answers["unable_four_steps"] = True                # hopping is not asked then
    assert model.triage(answers).missing == ()


@settings(**SETTINGS)
@given(data=st.data())
def test_missing_is_empty_only_when_every_applicable_warning_sign_is_answered(model, data):
    case = model.intake.validate(random_case(data, model, max_size=25))
    t = model.triage(case)
    applicable = set(model.applicable_questions(case))
    open_ = {q.id for q in model.kb.questions
             if q.warning_sign and q.id in applicable and q.id not in case}
    assert {m.question for m in t.missing} == open_
    assert t.warning_signs_answered == (not open_)
    for m in t.missing:
        assert RANK[m.level] >= RANK[t.level]
        assert m.could_raise == (RANK[m.level] > RANK[t.level])


@settings(**SETTINGS)
@given(data=st.data())
def test_triage_never_raises_on_answers_diagnose_rejects(model, data):
    case = random_case(data, model, max_size=15)
    if data.draw(st.booleans()):
        case.update({"sex": "male", "hormonal_contraception": data.draw(st.booleans())})
    if data.draw(st.booleans()):
        case.update({"pain_severity": 0.0, "pain_location": "calf"})
    try:
        model.diagnose(case)
        rejected = False
    except ValueError:
        rejected = True
    t = model.triage(case)                       # never raises, whatever diagnose said
    assert t.level in RANK
    if rejected:
        assert model.explain_conflict(case)
