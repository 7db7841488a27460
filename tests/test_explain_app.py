"""The dashboard's "Answer this next" and "What would help most" panels, through AppTest.

The checks read the rendered page; the model is used only to know which question is which.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SLOW = 300  # the first run builds the model; a busy 2-core machine needs the margin


def run(at: AppTest) -> AppTest:
    at.run(timeout=SLOW)
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(model) -> AppTest:
    return run(AppTest.from_file(APP, default_timeout=30))


def subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def suggested(at: AppTest, model) -> str:
    """The question id the "Answer this next" panel shows (its label in bold)."""
    labels = dict(zip(model.questions["label"], model.questions["id"]))
    shown = [labels[m.value.strip("*")] for m in at.markdown if m.value.strip("*") in labels]
    assert len(shown) == 1, shown
    return shown[0]


def sidebar_value(at: AppTest, model, qid: str):
    label = model.questions.set_index("id").loc[qid, "label"]
    (widget,) = [w for w in [*at.select_slider, *at.segmented_control, *at.selectbox]
                 if w.label.startswith(label)]
    return widget.value


def test_panels_render(app, model):
    heads = subheaders(app)
    assert "Answer this next" in heads and "What would help most" in heads
    qid = suggested(app, model)
    assert qid in set(model.questions["id"])
    # the suggestion is the model's own best question for a runner who answered nothing
    assert qid == model.next_questions({}, k=1)["question"].iloc[0]


def test_answering_the_suggested_question_updates_the_page(app, model):
    qid = suggested(app, model)
    before_conditions = [d.value.copy() for d in app.dataframe if "condition" in d.value.columns]
    buttons = [b for b in app.button if b.key and b.key.startswith(f"next_{qid}_")]
    assert buttons, "the panel offers the answers in place"
    choice = buttons[0]
    value = choice.key[len(f"next_{qid}_"):]
    choice.click()
    run(app)
    # the answer is now in the sidebar, so the diagnosis and the next suggestion use it
    stored = sidebar_value(app, model, qid)
    assert str(stored) == value
    assert suggested(app, model) != qid
    after_conditions = [d.value for d in app.dataframe if "condition" in d.value.columns]
    assert not before_conditions[0].equals(after_conditions[0])


# answers (in the sidebar widgets' own form) after which the model asks a number question next
NUMBER_NEXT = [{"downhill_or_unusual_session": "Yes", "onset": "hours_after_run",
                "both_legs": "Yes", "pain_location": "front_of_thigh"},
               {"onset": "gradual_over_weeks", "pain_location": "shin"}]


def _as_answers(widget_values: dict) -> dict:
    return {k: (v == "Yes" if v in ("Yes", "No") else v) for k, v in widget_values.items()}


def test_number_question_is_saved_from_the_panel(app, model):
    numbers = set(model.questions.loc[model.questions["kind"] == "number", "id"])
    case = next((c for c in NUMBER_NEXT
                 if model.next_questions(_as_answers(c), k=1)["question"].iloc[0] in numbers),
                None)
    if case is None:
        pytest.skip("none of the prepared cases is followed by a number question")
    for qid, value in case.items():
        app.session_state[f"q_{qid}"] = value
    run(app)
    qid = suggested(app, model)
    assert qid in numbers
    q = model.questions.set_index("id").loc[qid]
    target = float(q["max"])  # the far end of the slider, away from the suggested start
    app.select_slider(key=f"next_value_{qid}").set_value(target)
    run(app)
    app.button(key="next_save").click()
    run(app)
    assert float(sidebar_value(app, model, qid)) == pytest.approx(float(target))
    assert suggested(app, model) != qid


def test_what_would_help_lists_risky_training_answers(app, model):
    app.session_state["q_warm_up_minutes"] = 0.0
    app.session_state["q_downhill_or_unusual_session"] = "Yes"
    run(app)
    (frame,) = [d.value for d in app.dataframe if "lowers pain risk by (points)" in d.value.columns]
    labels = model.questions.set_index("id")["label"]
    assert {labels["warm_up_minutes"], labels["downhill_or_unusual_session"], "all of these"} \
        <= set(frame["change"])
    drops = frame["lowers pain risk by (points)"]
    assert (drops >= 0).all()
    singles = frame[frame["change"] != "all of these"]["lowers pain risk by (points)"]
    assert list(singles) == sorted(singles, reverse=True)
