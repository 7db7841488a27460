"""The dashboard (app.py) through Streamlit's AppTest: what a runner sees after each answer.

Every check reads the rendered page (widgets, banner, metric, the tables behind the charts), never
the model directly; the model only tells the test which questions exist and what is allowed.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
NOT_SURE = "Not sure"
URGENT_TITLE = "Get urgent medical care today"
LONGEST_RUN = "longest_run_increase_pct"
LONGEST_RUN_CAUSE = "One run much longer than usual"
CLOT_RULE = "clot_signs_one_calf"  # data/triage.yaml: swelling + warmth in one leg


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


@pytest.fixture(scope="module")
def warm(model):
    """Build the model into Streamlit's resource cache once (slow on a busy machine)."""
    at = new_app()
    at.run(timeout=300)
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(warm) -> AppTest:
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    return at


def widgets(at: AppTest) -> list:
    return [*at.select_slider, *at.segmented_control, *at.selectbox]


def widget_for(at: AppTest, q: dict):
    """The input widget whose label is the question's label."""
    found = [w for w in widgets(at) if w.label.startswith(q["label"])]
    assert len(found) == 1, f"{q['id']}: {len(found)} widgets labelled {q['label']!r}"
    return found[0]


def number_value(q: dict, i: int) -> float:
    """The i-th position of a number question's slider, in the question's units."""
    return round(q["min"] + i * q["increment"], 6)


def pain_metric(at: AppTest) -> float:
    (metric,) = [m for m in at.metric if m.label == "Chance of leg pain after running"]
    return float(metric.value.rstrip("%").lstrip("<"))


def table(at: AppTest, column: str):
    """The numbers behind a chart, as rendered (the dataframe having ``column``)."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def banner_text(at: AppTest) -> str:
    alerts = [*at.error, *at.warning, *at.success]
    assert alerts, "no triage banner"
    return " ".join(a.value for a in alerts)


def normalised(text: str) -> str:
    return " ".join(text.split())


def rule_text(rule_id: str) -> str:
    rules = yaml.safe_load((ROOT / "data" / "triage.yaml").read_text())["rules"]
    return next(r["text"] for r in rules if r["id"] == rule_id)


# ------------------------------------------------------------------------------- inputs
def test_every_question_has_a_widget_with_label_and_unit_defaulting_to_not_sure(app, model):
    questions = model.questions.to_dict("records")
    assert len(widgets(app)) == len(questions)
    for q in questions:
        w = widget_for(app, q)
        if isinstance(q["unit"], str) and q["unit"]:
            assert q["unit"] in w.label, f"{q['id']}: unit {q['unit']!r} missing from {w.label!r}"
        if q["kind"] == "number":
            assert w.type == "select_slider", q["id"]
            # "Not sure" first, then the whole range in real units
            assert w.options[0] == NOT_SURE
            assert len(w.options) == int(round((q["max"] - q["min"]) / q["increment"])) + 2
            assert w.value == NOT_SURE
        elif q["kind"] == "bool":
            assert set(w.options) == {NOT_SURE, "Yes", "No"}
            assert w.value == NOT_SURE
        else:
            labels = [label for _, label in q["options"] if label.lower() != "not sure"]
            assert w.value is None, q["id"]  # None is "Not sure": no evidence
            assert list(w.options) == [NOT_SURE] + labels, q["id"]
    assert "0 of" in " ".join(c.value for c in app.caption)


# ------------------------------------------------------------------------------ outputs
def test_page_shows_every_section_in_order(app):
    subheaders = [s.value for s in app.subheader]
    expected = ["What may have caused it", "What it most likely is", "What to do now",
                "How the model reasons", "Where these numbers come from"]
    assert [s for s in subheaders if s in expected] == expected
    assert app.get("graphviz_chart"), "no network drawing"
    assert any("not a diagnosis" in c.value for c in app.caption)


def test_a_bigger_longest_run_spike_raises_pain_risk_and_shows_as_reported(app, model):
    q = model.questions.set_index("id").loc[LONGEST_RUN].to_dict()
    q["id"] = LONGEST_RUN
    slider = widget_for(app, q)
    slider.set_value(number_value(q, 0)).run()  # not longer than usual
    low_pain = pain_metric(app)
    causes = table(app, "factor").set_index("factor")
    assert causes.loc[LONGEST_RUN_CAUSE, "from"] == "You told us"
    assert causes.loc[LONGEST_RUN_CAUSE, "chance at risky level"] == pytest.approx(0.0)

    top = int(round((q["max"] - q["min"]) / q["increment"]))
    widget_for(app, q).set_value(number_value(q, top)).run()  # more than twice as long
    assert not app.exception
    assert pain_metric(app) > low_pain
    causes = table(app, "factor").set_index("factor")
    assert causes.loc[LONGEST_RUN_CAUSE, "chance at risky level"] == pytest.approx(1.0)
    assert causes.loc[LONGEST_RUN_CAUSE, "adds to pain risk"] > 0
    # the chart data is sorted: the reported spike is now the most likely cause
    assert causes.index[0] == LONGEST_RUN_CAUSE


def test_pinpoint_bone_tenderness_raises_stress_fracture(app, model):
    questions = model.questions.set_index("id")
    before = table(app, "condition").set_index("condition")["probability"]
    tenderness = dict(questions.loc["tenderness"], id="tenderness")
    widget_for(app, tenderness).set_value("pinpoint_bone").run()
    after = table(app, "condition").set_index("condition")["probability"]
    fracture = model.condition_info().loc["bone_stress_injury", "label"]
    assert after[fracture] > before[fracture]


def test_red_flag_turns_the_banner_urgent_with_the_rules_reason(app, model):
    assert not app.error
    assert URGENT_TITLE not in banner_text(app)
    questions = model.questions.set_index("id")
    for qid in ("swelling", "warmth_redness"):
        widget_for(app, dict(questions.loc[qid], id=qid)).set_value("Yes").run()
    assert not app.exception
    assert app.error, "the urgent banner must be the red error box"
    urgent = normalised(app.error[0].value)
    assert URGENT_TITLE in urgent
    assert normalised(rule_text(CLOT_RULE)) in urgent
    # urgent comes first on the page: before any chart or advice
    assert banner_text(app).startswith(app.error[0].value)


def test_contradicting_answers_are_named_in_words_not_an_error(app, model):
    questions = model.questions.set_index("id")
    severity = dict(questions.loc["pain_severity"], id="pain_severity")
    location = dict(questions.loc["pain_location"], id="pain_location")
    widget_for(app, severity).set_value(number_value(severity, 0))  # no pain at all ...
    widget_for(app, location).set_value("calf").run()  # ... but the calf hurts
    assert not app.exception
    (warning,) = [w.value for w in app.warning if "do not fit together" in w.value]
    assert severity["label"] in warning and location["label"] in warning
    assert "'pain_severity'" not in warning  # ids are for programmers, labels for runners


def test_clear_all_answers_goes_back_to_not_sure(app, model):
    questions = model.questions.set_index("id")
    widget_for(app, dict(questions.loc["swelling"], id="swelling")).set_value("Yes").run()
    assert "1 of" in " ".join(c.value for c in app.caption)
    app.button(key="clear_answers").click().run()
    assert all(w.value in (NOT_SURE, None) for w in widgets(app))
    assert "0 of" in " ".join(c.value for c in app.caption)


# --------------------------------------------------------------------------- robustness
@st.composite
def random_answers(draw, questions):
    """Every question: "Not sure" or, for a random subset, a random allowed widget value."""
    chosen = set(draw(st.lists(st.sampled_from([q["id"] for q in questions]), max_size=12)))
    out = []
    for q in questions:
        if q["id"] not in chosen:
            value = NOT_SURE if q["kind"] in ("number", "bool") else None
        elif q["kind"] == "number":
            top = int(round((q["max"] - q["min"]) / q["increment"]))
            value = number_value(q, draw(st.integers(0, top)))
        elif q["kind"] == "bool":
            value = draw(st.sampled_from(["Yes", "No"]))
        else:
            value = draw(st.sampled_from([o for o, label in q["options"]
                                          if label.lower() != "not sure"]))
        out.append((q, value))
    return out


def test_random_widget_values_never_raise(warm, model):
    questions = model.questions.to_dict("records")
    at = warm  # one app, one run per example: every widget is set each time

    @settings(max_examples=8, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(random_answers(questions))
    def check(answers):
        for q, value in answers:
            widget_for(at, q).set_value(value)
        at.run()
        assert not at.exception, at.exception
        # either a verdict, or a plain message naming the answers that contradict each other
        text = banner_text(at)
        assert re.search(r"urgent|clinician|doctor|Self-care|do not fit together", text)
        answered = sum(value not in (NOT_SURE, None) for _, value in answers)
        assert f"You answered {answered} of" in " ".join(c.value for c in at.caption)

    check()
