"""The dashboard (app.py) through Streamlit's AppTest: what a runner sees after each answer.

Every check reads the rendered page (the verdict card, widgets, the bars' text, buttons, the
downloaded summary), never the model's numbers; the model only tells the test which questions
exist, what is allowed and which labels they have.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
NOT_SURE = "Not sure"
URGENT_TITLE = "Get urgent medical care today"
NOT_YET_TITLE = "We cannot tell yet how urgent this is"
LONGEST_RUN = "longest_run_increase_pct"
LONGEST_RUN_CAUSE = "One run much longer than usual"
CLOT_RULE = "clot_signs_one_calf"  # data/triage.yaml: swelling + warmth in one leg
RESULT = "What it most likely is"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def warm(model):
    """Build the model into Streamlit's resource cache once (slow on a busy machine)."""
    at = new_app()
    at.run(timeout=300)
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(warm) -> AppTest:
    return run(new_app())


@pytest.fixture
def all_questions(app) -> AppTest:
    app.segmented_control(key="mode").set_value("all")
    return run(app)


def widgets(at: AppTest) -> list:
    return [w for w in [*at.select_slider, *at.segmented_control, *at.selectbox]
            if w.key and w.key.startswith("q_")]


def widget_for(at: AppTest, qid: str):
    return next(w for w in widgets(at) if w.key == f"q_{qid}")


def question(model, qid: str) -> dict:
    return dict(model.questions.set_index("id").loc[qid], id=qid)


def number_value(q: dict, i: int) -> float:
    """The i-th position of a number question's slider, in the question's units."""
    return round(q["min"] + i * q["increment"], 6)


def verdict(at: AppTest) -> str:
    (card,) = [m.value for m in at.markdown if "class='verdict'" in m.value]
    return card


def verdict_level(at: AppTest) -> str:
    return re.search(r"data-level='(\w+)'", verdict(at)).group(1)


def page_html(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def bar_text(at: AppTest, label: str) -> str:
    """The words printed beside the bar labelled ``label`` (conditions or risk factors)."""
    html = page_html(at)
    found = re.search(re.escape(label) + r".*?<div class='bar-text'>([^<]*)</div>", html)
    assert found, f"no bar for {label!r}"
    return found.group(1)


def first_percent(text: str) -> float:
    return float(re.search(r"<?(\d+)%", text).group(1))


def normalised(text: str) -> str:
    return " ".join(text.split())


def rule_text(rule_id: str) -> str:
    rules = yaml.safe_load((ROOT / "data" / "triage.yaml").read_text())["rules"]
    return next(r["text"] for r in rules if r["id"] == rule_id)


def escaped(text: str) -> str:
    import html
    return html.escape(normalised(text))


# ------------------------------------------------------------------------- the verdict
def test_zero_answers_say_which_warning_signs_are_missing_never_self_care(app, model):
    assert verdict_level(app) == "not_yet"
    card = verdict(app)
    assert NOT_YET_TITLE in card and "Self-care" not in card
    signs = model.questions[model.questions["warning_sign"]]
    assert f"{len(signs)} warning signs not answered yet" in card
    for label in signs["label"]:
        assert escaped(label) in normalised(card), label
    # and nothing else on the page says self-care either
    assert "Self-care is reasonable" not in page_html(app)
    assert any("not a diagnosis" in m.value for m in app.markdown)


def test_red_flag_turns_the_verdict_urgent_with_the_rules_reason_first(all_questions, model):
    at = all_questions
    for qid in ("swelling", "warmth_redness"):
        widget_for(at, qid).set_value("Yes")
    run(at)
    assert verdict_level(at) == "urgent_care"
    card = normalised(verdict(at))
    assert URGENT_TITLE in card
    assert escaped(rule_text(CLOT_RULE)) in card
    assert "Where to go" in card and "What to do now" in card
    # the verdict is the first thing after the title and the one-line disclaimer
    cards = [i for i, m in enumerate(at.markdown) if "class='verdict'" in m.value]
    assert cards == [1] and "not a diagnosis" in at.markdown[0].value
    # the condition the rule names must be ruled out, beside the ranking, whatever its rank
    clot = model.condition_info().loc["deep_vein_thrombosis", "label"]
    must = next(m.value for m in at.markdown if "must-box" in m.value)
    assert clot in must
    assert "must be ruled out" in bar_text(at, clot) or "must be ruled out" in page_html(at)


def test_contradicting_answers_are_explained_in_words_and_keep_the_rules_verdict(
        all_questions, model):
    at = all_questions
    severity = question(model, "pain_severity")
    widget_for(at, "pain_severity").set_value(number_value(severity, 0))  # no pain at all ...
    widget_for(at, "pain_location").set_value("calf")  # ... but the calf hurts
    for qid in ("swelling", "warmth_redness"):
        widget_for(at, qid).set_value("Yes")
    run(at)
    card = normalised(verdict(at))
    assert "cannot all be true together" in card
    assert escaped(severity["label"]) in card
    assert "'pain_severity'" not in card and "pain_severity=" not in card
    # the warning signs still decide: the rules-only verdict stays on screen
    assert verdict_level(at) == "urgent_care"
    assert escaped(rule_text(CLOT_RULE)) in card


# -------------------------------------------------------------------- all questions view
def test_every_applicable_question_has_a_widget_defaulting_to_not_sure(all_questions, model):
    at = all_questions
    q = model.questions
    applicable = set(model.applicable_questions({}))
    shown = {w.key[2:] for w in widgets(at)}
    assert shown == applicable
    for row in q[q["id"].isin(list(applicable))].to_dict("records"):
        w = widget_for(at, row["id"])
        assert w.label.startswith(row["label"])
        if isinstance(row["unit"], str) and row["unit"]:
            assert row["unit"] in w.label
        if row["kind"] == "number":
            assert w.options[0] == NOT_SURE
            assert len(w.options) == int(round((row["max"] - row["min"]) / row["increment"])) + 2
        elif row["kind"] == "bool":
            assert set(w.options) == {NOT_SURE, "Yes", "No"}
        assert w.value == NOT_SURE
    # the three steps in order, warning signs first
    heads = [s.value for s in at.subheader]
    steps = [h for h in heads if h.startswith("Step")]
    assert steps == ["Step 1 · Warning signs", "Step 2 · Your pain",
                     "Step 3 · Your running and you"]


def test_questions_that_do_not_apply_are_hidden_until_they_do(all_questions, model):
    hidden = [r for r in model.questions.to_dict("records") if r["applies_if"]]
    assert hidden, "the knowledge base has conditional questions"
    at = all_questions
    contraception = "hormonal_contraception"  # asked of women (and when sex is not answered)
    widget_for(at, "sex").set_value("male")
    run(at)
    assert f"q_{contraception}" not in {w.key for w in widgets(at)}
    widget_for(at, "sex").set_value("female")
    run(at)
    assert f"q_{contraception}" in {w.key for w in widgets(at)}


def test_result_sections_in_order(all_questions):
    heads = [s.value for s in all_questions.subheader]
    expected = [RESULT, "What to do now", "What may have caused it", "What would help next time",
                "Take this to a clinician"]
    assert [h for h in heads if h in expected] == expected
    labels = [e.label for e in all_questions.expander]
    assert "How the model reasons (diagram)" in labels
    assert "For clinicians: technical details" in labels


def test_a_bigger_longest_run_spike_shows_as_a_reported_risk_factor_in_points(
        all_questions, model):
    at = all_questions
    q = question(model, LONGEST_RUN)
    widget_for(at, LONGEST_RUN).set_value(number_value(q, 0))  # not longer than usual
    run(at)
    assert LONGEST_RUN_CAUSE not in page_html(at).split("What may have caused it")[-1] \
        .split("What would help")[0]
    top = int(round((q["max"] - q["min"]) / q["increment"]))
    widget_for(at, LONGEST_RUN).set_value(number_value(q, top))  # more than twice as long
    run(at)
    text = bar_text(at, LONGEST_RUN_CAUSE)
    assert re.match(r"\+\d+(\.\d)? points of risk", text), text
    assert "chance of leg pain" in " ".join(c.value for c in at.caption)


def test_pinpoint_bone_tenderness_raises_stress_fracture(all_questions, model):
    at = all_questions
    fracture = model.condition_info().loc["bone_stress_injury", "label"]
    widget_for(at, "pain_location").set_value("shin")
    run(at)
    before = first_percent(bar_text(at, fracture))
    widget_for(at, "tenderness").set_value("pinpoint_bone")
    run(at)
    assert first_percent(bar_text(at, fracture)) > before
    assert fracture in next(m.value for m in at.markdown if "must-box" in m.value)


def test_a_runner_in_pain_is_not_shown_a_chance_of_leg_pain(all_questions):
    at = all_questions
    widget_for(at, "pain_location").set_value("shin")
    widget_for(at, "weekly_km_increase_pct").set_value(40.0)
    run(at)
    html = page_html(at)
    assert "the chance of leg pain after running is" not in html
    assert "lowers the chance of leg pain on future runs" in html


def get_label(question: str) -> str:
    import html

    from model import load_model
    q = load_model().questions.set_index("id")
    return html.escape(q.loc[question, "label"], quote=False)


def test_clear_all_answers_goes_back_to_not_sure(all_questions):
    at = all_questions
    label = get_label("swelling")
    assert label in verdict(at).split("not answered yet")[-1]  # missing at first
    widget_for(at, "swelling").set_value("Yes")
    run(at)
    assert widget_for(at, "swelling").value == "Yes"
    assert label not in verdict(at).split("not answered yet")[-1]  # no longer missing
    at.button(key="clear_answers").click()
    run(at)
    assert all(w.value == NOT_SURE for w in widgets(at))
    assert verdict_level(at) == "not_yet"


# ------------------------------------------------------------------------- guided mode
def guided_question(at: AppTest, model) -> str:
    labels = dict(zip(model.questions["label"], model.questions["id"]))
    found = [labels[t] for m in at.markdown
             for t in re.findall(r"<div class='question'>([^<]*)</div>", m.value)
             if t in labels]
    import html
    found += [labels[html.unescape(t)] for m in at.markdown
              for t in re.findall(r"<div class='question'>([^<]*)</div>", m.value)
              if t not in labels and html.unescape(t) in labels]
    assert len(found) == 1, found
    return found[0]


def test_guided_mode_asks_warning_signs_first_in_the_models_order(app, model):
    qid = guided_question(app, model)
    signs = model.guided_candidates({})
    assert qid == model.next_questions({}, k=1, questions=signs)["question"].iloc[0]
    assert model.questions.set_index("id").loc[qid, "warning_sign"]
    assert RESULT not in [s.value for s in app.subheader]  # no result before the stop rule


def test_answering_the_suggested_question_advances_the_guided_mode(app, model):
    first = guided_question(app, model)
    buttons = [b for b in app.button if b.key and b.key.startswith(f"guided_{first}_")]
    assert len(buttons) >= 3 and any(b.label == NOT_SURE for b in buttons)
    answer = next(b for b in buttons if b.label != NOT_SURE)
    answer.click()
    run(app)
    second = guided_question(app, model)
    assert second != first
    assert "question 2" in page_html(app)
    # the answer is kept, and shows in the all-questions view too
    app.segmented_control(key="mode").set_value("all")
    run(app)
    assert widget_for(app, first).value != NOT_SURE


def test_not_sure_moves_on_and_keeps_the_sign_listed_as_missing(app, model):
    first = guided_question(app, model)
    app.button(key=f"guided_{first}_not_sure").click()
    run(app)
    assert guided_question(app, model) != first
    label = model.questions.set_index("id").loc[first, "label"]
    assert escaped(label) in normalised(verdict(app))


def test_the_stop_rule_shows_the_result(app, model):
    # a swollen, warm calf: urgent, and nothing left to ask can change where to seek care
    for qid, value in (("pain_location", "calf"), ("swelling", "Yes"),
                       ("warmth_redness", "Yes"), ("both_legs", "No")):
        app.session_state[f"q_{qid}"] = value
    run(app)
    assert verdict_level(app) == "urgent_care"
    for _ in range(40):  # answer "No" (or not sure) until the stop rule says stop
        if RESULT in [s.value for s in app.subheader]:
            break
        qid = guided_question(app, model)
        no = [b for b in app.button if b.key in (f"guided_{qid}_False", f"guided_{qid}_not_sure")]
        no[0].click()
        run(app)
    assert RESULT in [s.value for s in app.subheader]
    assert any("Nothing left to ask could change where to seek care" in s.value
               for s in app.success)
    assert "must-box" in page_html(app)


def test_show_my_result_now_shows_it_before_the_stop_rule(app):
    assert RESULT not in [s.value for s in app.subheader]
    app.button(key="show_result").click()
    run(app)
    assert RESULT in [s.value for s in app.subheader]


# ---------------------------------------------------------------------- clinician summary
@pytest.fixture
def downloads(monkeypatch):
    """Every file the page offers for download: {filename: (mimetype, text)}."""
    seen = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        data = path_or_data if isinstance(path_or_data, bytes) else str(path_or_data).encode()
        seen[filename] = (mimetype, data.decode())
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def test_clinician_summary_has_answers_verdict_reasons_sources_and_conditions(
        all_questions, model, downloads):
    at = all_questions
    for qid, value in (("pain_location", "calf"), ("swelling", "Yes"),
                       ("warmth_redness", "Yes"), ("long_travel_or_immobility", "Yes")):
        widget_for(at, qid).set_value(value)
    run(at)
    assert {b.label for b in at.get("download_button")} == {
        "Download summary (web page)", "Download summary (text)"}
    md = downloads["leg-pain-summary.md"]
    page = downloads["leg-pain-summary.html"]
    assert md[0].startswith("text/markdown") and page[0].startswith("text/html")
    clot = model.condition_info().loc["deep_vein_thrombosis", "label"]
    rule = yaml.safe_load((ROOT / "data" / "triage.yaml").read_text())["rules"]
    source = next(r for r in rule if r["id"] == CLOT_RULE)["source"]
    for text in (md[1], page[1]):
        assert URGENT_TITLE in text
        assert "not a diagnosis" in text
        assert "Must be ruled out" in text and clot in text
        assert "Most likely conditions" in text
        assert "Calf (back of the lower leg)" in text  # the answer in words
        assert "evidence.md" not in text
    assert normalised(rule_text(CLOT_RULE)) in normalised(md[1])
    assert source.split(";")[0].strip()[:30] in md[1]
    labels = model.questions.set_index("id")["label"]
    assert labels["swelling"] in md[1] and labels["long_travel_or_immobility"] in md[1]


# --------------------------------------------------------------------------- robustness
@st.composite
def random_answers(draw, questions):
    """A random subset of questions, each with a random allowed widget value."""
    chosen = draw(st.lists(st.sampled_from([q["id"] for q in questions]), max_size=12,
                           unique=True))
    out = {}
    by_id = {q["id"]: q for q in questions}
    for qid in chosen:
        q = by_id[qid]
        if q["kind"] == "number":
            top = int(round((q["max"] - q["min"]) / q["increment"]))
            out[qid] = number_value(q, draw(st.integers(0, top)))
        elif q["kind"] == "bool":
            out[qid] = draw(st.sampled_from(["Yes", "No"]))
        else:
            out[qid] = draw(st.sampled_from([o for o, label in q["options"]
                                             if label.lower() != "not sure"]))
    return out


def test_random_answers_never_raise_and_always_give_one_verdict(warm, model):
    questions = model.questions.to_dict("records")

    @settings(max_examples=8, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(random_answers(questions))
    def check(answers):
        at = new_app()
        at.session_state["mode"] = "all"
        for qid, value in answers.items():
            at.session_state[f"q_{qid}"] = value
        run(at)
        assert verdict_level(at) in ("not_yet", "self_care", "see_clinician_soon",
                                     "urgent_care")
        # never self-care while a warning sign is unanswered
        if verdict_level(at) == "self_care":
            assert "not answered yet" not in verdict(at)

    check()
