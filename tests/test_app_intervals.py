"""The dashboard's credible intervals (issue #7, item 4) through Streamlit's AppTest.

The ranked conditions are HTML bars; with the "how sure" switch on, every bar gets a thin line
(its credible interval) and its words say the range ("could be 12% to 40%"). The checks read
the rendered bars; the model only tells the test the configured credible level and labels.
"""
from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.learning import load_grades

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SLOW = 300  # the first run builds the model; a busy 2-core machine needs the margin
TOGGLE = "show_intervals"
NOTE = "The thin black line is the range the estimate could take"
URGENT = "urgent_care"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=180)


def run(at: AppTest, timeout: float | None = None) -> AppTest:
    at.run(timeout=timeout)
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def warm(model):
    return run(new_app(), timeout=SLOW)


@pytest.fixture
def app(warm) -> AppTest:
    at = new_app()
    at.session_state["mode"] = "all"
    return run(at)


def _p(text: str) -> float:
    """'12%' -> 0.12; '<1%' -> 0.005 (an upper bound); '>99%' -> 0.995."""
    value = float(text.strip("<>%")) / 100
    return 0.005 if text.startswith("<") else value


def bars(at: AppTest) -> dict[str, dict]:
    """The ranked conditions as drawn: label -> point, low, high (None without intervals)."""
    html = " ".join(m.value for m in at.markdown if "class='bars conditions'" in m.value)
    out = {}
    for label, text in re.findall(r"<div class='bar-label'>([^<]*)(?:<span[^>]*>[^<]*</span>)?"
                                  r"</div>.*?<div class='bar-text'>([^<]*)</div>", html):
        text = html_lib.unescape(text)
        point = re.match(r"([<>]?\d+%)", text).group(1)
        rng = re.search(r"could be ([<>]?\d+%) to ([<>]?\d+%)", text)
        out[label.strip()] = dict(point=_p(point), low=_p(rng.group(1)) if rng else None,
                                  high=_p(rng.group(2)) if rng else None,
                                  line="bar-ci" in html)
    assert out, "no condition bars"
    return out


def notes(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if NOTE in c.value]


def switch(at: AppTest, on: bool) -> AppTest:
    at.toggle(key=TOGGLE).set_value(on)
    return run(at)


def test_intervals_are_off_by_default(app):
    toggle = app.toggle(key=TOGGLE)
    assert toggle.value is False
    level = float(load_grades().attrs["credible_level"])
    assert f"{level:.0%}" in toggle.label  # the level comes from data/
    assert not notes(app)
    assert all(b["low"] is None for b in bars(app).values())


def test_toggle_on_gives_every_bar_a_range_around_it_and_keeps_the_bars(app):
    before = bars(app)
    switch(app, True)
    level = float(load_grades().attrs["credible_level"])
    (note,) = notes(app)
    assert f"{level:.0%} sure" in note and "weaker evidence, wider line" in note
    after = bars(app)
    assert set(after) == set(before)
    for label, b in after.items():
        assert b["point"] == before[label]["point"], label  # the bars do not move
        assert b["low"] is not None and b["line"], label
        # rounded to whole percents: low <= point <= high within the rounding
        assert b["low"] <= b["point"] + 0.005 and b["point"] <= b["high"] + 0.005, (label, b)
    assert any(b["high"] - b["low"] >= 0.01 for b in after.values())  # uncertainty shows
    switch(app, False)
    assert not notes(app)
    assert all(b["low"] is None for b in bars(app).values())


def test_red_flag_with_intervals_on_rerenders_with_intervals(app, model):
    switch(app, True)
    clot = model.condition_info().loc["deep_vein_thrombosis", "label"]
    before = bars(app)[clot]
    for qid in ("swelling", "warmth_redness"):
        app.session_state[f"q_{qid}"] = "Yes"
    run(app)
    assert f"data-level='{URGENT}'" in next(m.value for m in app.markdown
                                           if "class='verdict'" in m.value)
    assert notes(app)
    after = bars(app)[clot]
    assert after["point"] > before["point"] and after["high"] > before["high"]


def test_intervals_the_model_cannot_give_are_a_warning_not_a_crash(app, monkeypatch):
    from model.api import Model

    def refuse(self, answers=None, **options):
        raise ValueError("intervals need the evidence grades of the knowledge base")

    monkeypatch.setattr(Model, "intervals", refuse)
    app.session_state["q_swelling"] = "No"  # answers no other test uses: not cached
    run(app)
    switch(app, True)
    (warning,) = [w.value for w in app.warning if "how sure the model is" in w.value]
    assert "evidence grades" in warning
    assert not notes(app)
    assert all(b["low"] is None for b in bars(app).values())
