"""The dashboard's credible intervals (issue #7, item 4) through Streamlit's AppTest.

The checks read the rendered page: the toggle, its caption and the data behind the two Altair
charts (``st.altair_chart`` reaches AppTest as a ``vega_lite_chart`` element whose data travels as
Arrow datasets next to the Vega-Lite spec). The model only tells the test which conditions and
questions exist and the credible level it is configured with.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from model.learning import load_grades

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SLOW = 300  # the first run builds the model; a busy 2-core machine needs the margin
TOGGLE = "show_intervals"
CAPTION = "credible interval: the range the probability stays in"
TOLERANCE = 1e-9  # bars come from diagnose, intervals from a separate batched engine call
URGENT_TITLE = "Get urgent medical care today"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=180)


def run(at: AppTest, timeout: float | None = None) -> AppTest:
    at.run(timeout=timeout)
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def warm(model):
    """Build the model into Streamlit's resource cache once (slow on a busy machine)."""
    return run(new_app(), timeout=SLOW)


@pytest.fixture
def app(warm) -> AppTest:
    return run(new_app())


def charts(at: AppTest) -> dict[str, pd.DataFrame]:
    """The data behind the causes and the conditions chart, as the page sent it."""
    out = {}
    for chart in at.get("vega_lite_chart"):
        (dataset,) = chart.proto.datasets
        frame = pa.ipc.open_stream(dataset.data.data).read_pandas()
        out["causes" if "contribution" in frame.columns else "conditions"] = frame
    assert set(out) == {"causes", "conditions"}, set(out)
    return out


def chart_marks(at: AppTest) -> list[set[str]]:
    """The mark types layered in each chart's Vega-Lite spec."""
    marks = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        marks.append({layer["mark"]["type"] for layer in spec.get("layer", [spec])})
    return marks


def interval_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if CAPTION in c.value]


def switch_on(at: AppTest) -> AppTest:
    at.toggle(key=TOGGLE).set_value(True)
    return run(at)


def assert_intervals_hold_the_bars(frame: pd.DataFrame) -> None:
    assert {"low", "high"} <= set(frame.columns)
    missing = frame[["low", "high"]].isna().any(axis=1)
    assert not missing.any(), frame.loc[missing, "name"]
    inside = ((frame["low"] <= frame["probability"] + TOLERANCE)
              & (frame["probability"] <= frame["high"] + TOLERANCE))
    assert inside.all(), frame.loc[~inside, ["name", "low", "probability", "high"]]
    assert ((frame["low"] >= 0) & (frame["high"] <= 1)).all()


def sidebar_widget(at: AppTest, label: str):
    (widget,) = [w for w in [*at.select_slider, *at.segmented_control, *at.selectbox]
                 if w.label.startswith(label)]
    return widget


# ------------------------------------------------------------------------------ tests
def test_intervals_are_off_by_default_and_not_computed(app):
    toggle = app.toggle(key=TOGGLE)
    assert toggle.value is False
    level = float(load_grades().attrs["credible_level"])
    assert f"{level:.0%} credible intervals" in toggle.label  # the level comes from data/
    assert not interval_captions(app)
    for name, frame in charts(app).items():
        assert not {"low", "high"} & set(frame.columns), f"{name} chart has interval columns"
    assert all(marks == {"bar", "text"} for marks in chart_marks(app)), chart_marks(app)
    assert not any("could be as low as" in d.value.columns for d in app.dataframe)


def test_toggle_on_draws_an_interval_around_every_bar_and_keeps_the_bars(app, model):
    before = charts(app)
    switch_on(app)
    level = float(load_grades().attrs["credible_level"])
    (caption,) = interval_captions(app)
    assert f"{level:.0%}" in caption and "Weaker evidence, wider line" in caption
    after = charts(app)
    for name in ("causes", "conditions"):
        assert_intervals_hold_the_bars(after[name])
        # the bars themselves do not move: the intervals are drawn around the same posteriors
        pd.testing.assert_series_equal(
            before[name].set_index("name")["probability"].sort_index(),
            after[name].set_index("name")["probability"].sort_index())
    # every condition is charted with an interval, and uncertainty shows: some have width
    conditions = after["conditions"]
    assert set(conditions["name"]) == set(model.condition_info()["label"])
    assert (conditions["high"] - conditions["low"] > 1e-3).any()
    assert all({"bar", "errorbar", "text"} <= marks for marks in chart_marks(app))
    # the tables under the charts carry the same ranges, for readers without the chart
    tables = [d.value for d in app.dataframe if "could be as low as" in d.value.columns]
    assert len(tables) == 2
    # and switching off removes them again
    app.toggle(key=TOGGLE).set_value(False)
    run(app)
    assert not interval_captions(app)
    assert all(not {"low", "high"} & set(f.columns) for f in charts(app).values())


def test_red_flag_with_intervals_on_rerenders_with_intervals(app, model):
    switch_on(app)
    dvt = model.condition_info().loc["deep_vein_thrombosis", "label"]
    before = charts(app)["conditions"].set_index("name").loc[dvt]
    questions = model.questions.set_index("id")
    for qid in ("swelling", "warmth_redness"):
        sidebar_widget(app, questions.loc[qid, "label"]).set_value("Yes")
    run(app)  # a new answer pattern: a new junction tree for the intervals
    assert app.error and URGENT_TITLE in app.error[0].value
    assert interval_captions(app)
    after = charts(app)
    for name in ("causes", "conditions"):
        assert_intervals_hold_the_bars(after[name])
    clot = after["conditions"].set_index("name").loc[dvt]
    assert clot["probability"] > before["probability"]
    assert clot["high"] > before["high"]  # the whole range moves up with the red flag


def test_intervals_the_model_cannot_give_are_a_warning_not_a_crash(app, model, monkeypatch):
    from model.api import Model

    def refuse(self, answers=None, **options):
        raise ValueError("intervals need the evidence grades of the knowledge base")

    monkeypatch.setattr(Model, "intervals", refuse)
    questions = model.questions.set_index("id")
    # an answer pattern no other test uses, so the cached intervals are not reused
    sidebar_widget(app, questions.loc["swelling", "label"]).set_value("No")
    switch_on(app)
    (warning,) = [w.value for w in app.warning if "how sure the model is" in w.value]
    assert "evidence grades" in warning
    assert not interval_captions(app)
    # the rest of the page is still drawn, without interval columns
    assert all(not {"low", "high"} & set(f.columns) for f in charts(app).values())
