"""The guided mode's number questions and the "What would help next time" panel, through AppTest.

The checks read the rendered page; the model is used only to know which question is which.
"""
from __future__ import annotations

import html
import re
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


def guided_question(at: AppTest, model) -> str:
    labels = dict(zip(model.questions["label"], model.questions["id"]))
    found = [labels[html.unescape(t)] for m in at.markdown
             for t in re.findall(r"<div class='question'>([^<]*)</div>", m.value)]
    assert len(found) == 1, found
    return found[0]


def test_a_number_question_is_saved_from_the_guided_card(app, model):
    numbers = set(model.questions.loc[model.questions["kind"] == "number", "id"])
    # every warning sign answered no and the pain described: the plan asks numbers next
    signs = [s.question for s in model.triage({}).missing]
    kinds = model.questions.set_index("id")["kind"]
    benign = {"tenderness": "not_tender", "knee_mechanical": "no_catching"}  # the "no" options
    for qid in signs:
        assert kinds[qid] == "bool" or qid in benign, f"no benign answer known for {qid}"
        app.session_state[f"q_{qid}"] = "No" if kinds[qid] == "bool" else benign[qid]
    app.session_state["q_pain_location"] = "shin"
    run(app)
    for _ in range(12):  # skip ("not sure") until a number question comes up
        qid = guided_question(app, model)
        if qid in numbers:
            break
        app.button(key=f"guided_{qid}_not_sure").click()
        run(app)
    else:
        pytest.fail("the guided mode never asked a number question")
    q = model.questions.set_index("id").loc[qid]
    target = float(q["max"])  # the far end of the slider, away from where it starts
    app.select_slider(key=f"guided_value_{qid}").set_value(target)
    run(app)
    app.button(key=f"guided_save_{qid}").click()
    run(app)
    assert guided_question(app, model) != qid
    app.segmented_control(key="mode").set_value("all")
    run(app)
    assert float(app.select_slider(key=f"q_{qid}").value) == pytest.approx(target)


def test_what_would_help_lists_risky_training_answers_biggest_first(app, model):
    app.session_state["mode"] = "all"
    app.session_state["q_warm_up_minutes"] = 0.0
    app.session_state["q_downhill_or_unusual_session"] = "Yes"
    app.session_state["q_weekly_km_increase_pct"] = 40.0
    run(app)
    panel = next(m.value for m in app.markdown if "What changing your training would do"
                 in m.value)
    labels = model.questions.set_index("id")["label"]
    items = re.findall(r"<li>(.*?)</li>", panel)
    singles = [i for i in items if not i.startswith("All of these")]
    for qid in ("warm_up_minutes", "downhill_or_unusual_session", "weekly_km_increase_pct"):
        assert any(html.escape(labels[qid]) in i for i in singles), qid
    assert any(i.startswith("All of these changes together") for i in items)
    drops = [float(re.search(r"\((-?[\d.]+) points\)", i).group(1)) for i in singles]
    assert all(d <= 0 for d in drops)  # each change lowers the risk (or leaves it)
    assert drops == sorted(drops)  # biggest drop first
