"""Advice: graded and sourced, follows the triage (urgent care is never delayed by self-care),
corrects the seed myths, and malformed advice files are rejected at load."""

import pytest

from model._yaml import KnowledgeError
from model.advice import AdviceBook
from model.triage import GRADES

DOMS = {"onset": "hours_after_run", "both_legs": True, "days_since_onset": 1,
        "downhill_or_unusual_session": True, "pain_location": "front_of_thigh",
        "tenderness": "the_muscle"}
FRESH_CALF_STRAIN = {"pain_location": "calf", "onset": "sudden_during_run", "days_since_onset": 1,
                     "tenderness": "the_muscle", "tearing_or_pop": False, "both_legs": False,
                     "unable_four_steps": False}
CRAMP = {"pain_location": "calf", "onset": "builds_during_run_stops_soon", "days_since_onset": 0,
         "trend": "better", "hot_weather": True, "fluid_intake": "drank_little"}
URGENT_CASES = [
    {"pain_location": "calf", "swelling": True, "warmth_redness": True},
    {"dark_urine": True, **DOMS},
    {"tense_leg_pain_out_of_proportion": True, "pain_location": "shin"},
    {**FRESH_CALF_STRAIN, "unable_four_steps": True},
]


@pytest.fixture(scope="module")
def book(model):
    return model.advice_book


def ids(advice):
    return [a.id for a in advice]


def test_every_item_is_graded_and_sourced(book):
    assert len(book.items) >= 25
    for item in book.items:
        assert item.grade in GRADES and item.source.strip() and item.action.strip(), item.id
        assert item.kind in ("do", "avoid")


def test_the_seed_measures_are_all_covered(book):
    text = " ".join((i.action + " " + i.why).lower() for i in book.items)
    for measure in ("rest", "heat", "massage", "contrast shower", "cold-water", "stretch",
                    "foam rolling", "gradual", "shoes", "orthoses", "insoles", "drink",
                    "potassium", "calcium", "strength"):
        assert measure in text, measure


def test_soreness_advice_corrects_lactic_acid_and_stretching(model):
    d = model.diagnose(DOMS)
    assert d.triage.level == "self_care" and d.leading_condition == "doms"
    by_id = {a.id: a for a in d.advice}
    lactic = by_id["soreness_not_lactic_acid"]
    assert lactic.kind == "avoid" and "lactic" in lactic.corrects.lower()
    assert lactic.evidence == "strong"
    stretch = by_id["stretching_barely_helps_soreness"]
    assert stretch.kind == "avoid" and stretch.evidence == "strong"
    # evidence-backed recovery measures for soreness are offered
    assert {"heat_for_soreness", "massage_for_soreness", "cold_water_or_contrast_for_soreness",
            "foam_rolling_for_soreness"} <= set(by_id)
    assert all(a.kind == "do" for a in d.advice
               if a.id in {"heat_for_soreness", "massage_for_soreness"})


def test_no_heat_or_massage_on_a_fresh_strain(model):
    d = model.diagnose(FRESH_CALF_STRAIN)
    assert "calf_strain" in d.conditions.index[:3]
    got = ids(d.advice)
    assert "no_heat_or_massage_on_fresh_strain" in got
    harm = next(a for a in d.advice if a.id == "no_heat_or_massage_on_fresh_strain")
    assert harm.kind == "avoid" and "72" in harm.action
    assert "price_first_72_hours" in got


def test_a_pop_never_gets_heat_or_massage_advice(model):
    d = model.diagnose({**DOMS, "tearing_or_pop": True})
    dos = {a.id for a in d.advice if a.kind == "do"}
    assert not dos & {"heat_for_soreness", "massage_for_soreness"}


def test_cramp_advice_rejects_potassium_calcium_and_over_drinking(model):
    d = model.diagnose(CRAMP)
    assert d.leading_condition == "muscle_cramp"
    item = next(a for a in d.advice if a.id == "no_potassium_calcium_for_cramps")
    assert item.kind == "avoid"
    assert "potassium" in item.action.lower() and "hyponatraemia" in item.why.lower()
    assert item.corrects


@pytest.mark.parametrize("answers", URGENT_CASES)
def test_urgent_advice_leads_with_getting_care_and_offers_no_self_care(model, book, answers):
    d = model.diagnose(answers)
    assert d.triage.level == "urgent_care"
    first = d.advice[0]
    assert first.kind == "do" and "care today" in first.action.lower()
    assert d.triage.reasons[0].text in first.why
    allowed = {i.id for i in book.items if "urgent_care" in i.levels}
    assert set(ids(d.advice)) <= allowed
    assert not any(a.kind == "do" and a.id != first.id for a in d.advice)


def test_see_clinician_soon_leads_with_an_appointment(model):
    d = model.diagnose({"tenderness": "pinpoint_bone", "pain_location": "shin"})
    assert d.triage.level == "see_clinician_soon"
    assert d.advice[0].id == "book_clinician_within_days"
    assert "offload_bone_stress" in ids(d.advice)


def test_reported_causes_bring_their_advice(model):
    d = model.diagnose({**DOMS, "strength_sessions_per_week": 0, "surface": "road_or_pavement",
                        "longest_run_increase_pct": 60})
    by_id = {a.id: a for a in d.advice}
    assert by_id["strength_training"].evidence == "strong"
    assert by_id["strength_training"].basis == "strength_training"
    assert by_id["hard_surfaces_not_to_blame"].kind == "avoid"
    assert "10%" in by_id["avoid_single_run_spikes"].corrects
    healthy = model.diagnose({**DOMS, "strength_sessions_per_week": 3, "surface": "trail_or_grass"})
    assert not {"strength_training", "hard_surfaces_not_to_blame"} & set(ids(healthy.advice))


def test_condition_advice_comes_before_cause_advice(model):
    d = model.diagnose({**DOMS, "strength_sessions_per_week": 0})
    bases = [a.basis for a in d.advice]
    assert bases.index("doms") < bases.index("strength_training") < bases.index("general")
    assert len(set(ids(d.advice))) == len(d.advice)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("old, new, message", [
    ("causes: {hot_conditions: any}", "causes: {hot_weather: any}", "unknown cause 'hot_weather'"),
    ("causes: {bmi: [30_plus]}", "causes: {bmi: [obese]}", "'obese' is not allowed"),
    ("conditions: [muscle_cramp]\n", "conditions: [cramps]\n", "'cramps' is not allowed"),
    ("    kind: avoid\n    action: Do not try", "    kind: maybe\n    action: Do not try",
     "'maybe' is not allowed"),
    ("    grade: strong\n    source: \"Lauersen", "    grade: high\n    source: \"Lauersen",
     "'high' is not allowed"),
    ("  - id: drink_to_thirst\n    causes: {hydration: any}\n",
     "  - id: drink_to_thirst\n", "say when the item applies"),
    ("when: {answer: runs_per_week_last_3_months, below: 1.5}",
     "when: {posterior: doms, above: 0.5}", "posteriors cannot be used here"),
    ("  - id: strength_training\n", "  - id: drink_to_thirst\n", "appears twice"),
])
def test_malformed_advice_names_file_line_and_key(model, data_copy, corrupt, old, new, message):
    corrupt(data_copy, "advice.yaml", old, new)
    with pytest.raises(KnowledgeError) as err:
        AdviceBook.load(data_copy, model.kb)
    assert message in str(err.value)
    assert str(err.value).startswith("advice.yaml:")
    assert str(err.value).split(":")[1].strip().isdigit()


def test_the_lead_advice_cites_the_warning_sign_it_quotes_not_every_other_one(model):
    d = model.diagnose({"pain_location": "calf", "swelling": True, "both_legs": False,
                        "warmth_redness": True})
    lead = d.advice[0]
    assert d.triage.reasons[0].text in lead.why
    assert lead.source == d.triage.reasons[0].source
    assert "Ottawa" not in lead.source and "Achilles" not in lead.source
