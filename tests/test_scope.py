"""Conditions a fired red flag names are listed to be ruled out, with the rule; out-of-scope
presentations are flagged in plain words."""
import pandas as pd

from model.scope import MUST_RULE_OUT_COLUMNS
from model.triage import RANK


def test_must_rule_out_lists_every_must_not_miss_condition_a_fired_red_flag_names(model):
    d = model.diagnose({"pain_location": "calf", "swelling": True, "warmth_redness": True,
                        "both_legs": False, "tearing_or_pop": True})
    frame = d.must_rule_out
    assert list(frame.columns) == MUST_RULE_OUT_COLUMNS
    serious = set(model.condition_info().query("serious").index)
    named = {c for r in d.triage.reasons if r.red_flag for c in r.conditions}
    assert set(frame.index) == named & serious and "deep_vein_thrombosis" in named
    # the pop also names a calf strain: a common condition stays in the ranking, not here
    assert "calf_strain" in named and "calf_strain" not in frame.index
    row = frame.loc["deep_vein_thrombosis"]
    assert row["rule"] == "clot_signs_one_calf" and row["level"] == "urgent_care"
    assert row["rank"] == list(d.conditions.index).index("deep_vein_thrombosis") + 1
    assert row["posterior"] == d.conditions["deep_vein_thrombosis"]
    ranks = [-RANK[v] for v in frame["level"]]
    assert ranks == sorted(ranks)                                  # most urgent first


def test_must_rule_out_is_an_empty_frame_without_red_flags(model):
    frame = model.diagnose({"onset": "hours_after_run", "both_legs": True}).must_rule_out
    assert isinstance(frame, pd.DataFrame) and frame.empty
    assert list(frame.columns) == MUST_RULE_OUT_COLUMNS


def test_every_red_flag_names_a_condition_it_suspects(model):
    for rule in model.triage_rules.rules:
        if rule.red_flag:
            assert rule.suspects, rule.id
            assert set(rule.suspects) <= set(model.condition_ids)


def test_in_scope_case_is_not_out_of_scope(model):
    d = model.diagnose({"onset": "hours_after_run", "both_legs": True,
                        "pain_location": "front_of_thigh", "days_since_onset": 1})
    assert d.out_of_scope is False and d.out_of_scope_reason is None
