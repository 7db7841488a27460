"""The dashboard in a real browser (``streamlit run app.py``, Playwright, Debian's chromium).

Three runners answer in the "All questions" view at desktop (1400x900) and phone (390x844)
size: shin pain after a mileage jump, a swollen warm calf after a flight, soreness after a race.
Their answers come from the published criteria (the vignettes below), not from the model's
output. Each flow checks the verdict, the must-rule-out box, that nothing sticks out sideways
and that no exception reached the page, and saves screenshots to docs/screenshots/ (the README
shows them). A guided flow checks that the first screen on a phone is a warning-sign question.
"""
from __future__ import annotations

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    ROOT,
    answer,
    horizontal_overflow,
    launch,
    settled,
    streamlit_server,
)
from playwright import sync_api
from playwright.sync_api import expect

expect.set_options(timeout=60_000)  # a rerun on a busy 2-core CI machine can take seconds
SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"desktop": DESKTOP, "phone": PHONE}

# Every warning sign a runner would deny in these three stories, answered "No".
DENIED = ["tearing_or_pop", "pain_at_rest_or_night", "numbness_tingling", "cold_pale_foot",
          "unable_four_steps", "dark_urine", "tense_leg_pain_out_of_proportion",
          "breathless_or_chest_pain", "crack_or_deformity", "cannot_stand_on_tiptoe",
          "painful_hop", "bruising", "ottawa_bone_tenderness", "cauda_equina_signs",
          "exertional_foot_symptoms", "fever_or_unwell", "calf_squeeze_foot_still"]
FLOWS = {
    # medial tibial stress syndrome after a 40 % weekly jump, not improving after 10 days:
    # see a clinician (NICE CKS shin splints: review if not settling; rule out a stress fracture)
    "shin": dict(
        answers={**{q: False for q in DENIED}, "swelling": False, "warmth_redness": False,
                 "pain_location": "shin", "onset": "gradual_over_weeks",
                 "tenderness": "long_stretch_inner_shin", "days_since_onset": 10.0,
                 "trend": "same", "weekly_km_increase_pct": 40.0},
        level="see_clinician_soon", must=None),
    # Wells criteria: calf swelling, warmth, recent long flight, one leg: urgent, rule out a clot
    "clot": dict(
        answers={**{q: False for q in DENIED}, "pain_location": "calf", "both_legs": False,
                 "swelling": True, "warmth_redness": True, "long_travel_or_immobility": True},
        level="urgent_care", must="deep_vein_thrombosis"),
    # DOMS: both thighs sore a day after a hilly race, getting better, no warning sign
    "race": dict(
        answers={**{q: False for q in DENIED}, "swelling": False, "warmth_redness": False,
                 "pain_location": "front_of_thigh", "both_legs": True,
                 "onset": "hours_after_run", "tenderness": "the_muscle",
                 "days_since_onset": 1.0, "trend": "better",
                 "downhill_or_unusual_session": True},
        level="self_care", must=None),
}
LEVEL_TITLE = {"urgent_care": "Get urgent medical care today",
               "see_clinician_soon": "See a clinician within the next few days",
               "self_care": "Self-care is reasonable for now"}


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, log, _):
        yield url, log


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, url: str, size: dict):
    page = browser.new_page(viewport=size)
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="domcontentloaded")
    expect(page.get_by_test_id("verdict")).to_be_visible(timeout=180_000)
    settled(page)
    return page, errors


def assert_healthy(page, errors, log) -> None:
    assert not horizontal_overflow(page), horizontal_overflow(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert not errors, errors
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("flow", list(FLOWS))
def test_a_runner_answers_and_sees_one_clear_verdict(server, browser, model, flow, size):
    url, log = server
    spec = FLOWS[flow]
    questions = model.questions.set_index("id")
    page, errors = open_page(browser, url, SIZES[size])
    try:
        # before anything is answered the verdict says what is missing, never self-care
        verdict = page.get_by_test_id("verdict")
        expect(verdict).to_contain_text("We cannot tell yet")
        expect(verdict).not_to_contain_text("Self-care")
        page.get_by_role("radiogroup", name="How would you like to answer?") \
            .get_by_text("All questions").click()
        settled(page)
        applicable = set(model.applicable_questions(spec["answers"]))  # the others are hidden
        for qid, value in spec["answers"].items():
            if qid in applicable:
                answer(page, dict(questions.loc[qid], id=qid), value)
        expect(verdict).to_have_attribute("data-level", spec["level"])
        expect(verdict).to_contain_text(LEVEL_TITLE[spec["level"]])
        must_box = page.locator(".must-box")
        if spec["must"]:
            label = model.condition_info().loc[spec["must"], "label"]
            expect(must_box.first).to_contain_text(label)
            expect(must_box.first).to_be_visible()
        else:
            expect(must_box).to_have_count(0)
        assert_healthy(page, errors, log)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.get_by_test_id("stMain").evaluate("e => e.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"{size}-{flow}.png"))
        # ... and the result the verdict rests on: must rule out, ranking, what to do
        heading = page.get_by_role("heading", name="What it most likely is")
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        expect(heading).to_be_in_viewport()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{size}-{flow}-result.png"))
        assert_healthy(page, errors, log)
    finally:
        page.close()


def test_on_a_phone_the_first_screen_asks_a_warning_sign(server, browser, model):
    url, log = server
    page, errors = open_page(browser, url, PHONE)
    try:
        question = page.locator(".st-key-guided .question")
        expect(question).to_be_visible()
        q = model.questions
        signs = set(q.loc[q["warning_sign"], "label"])
        assert question.inner_text() in signs
        expect(page.locator(".st-key-guided .step-head")).to_contain_text("Warning signs")
        # the answers are big enough to tap, and the question is on the first screen
        buttons = page.locator(".st-key-guided").get_by_role("button")
        assert buttons.count() >= 3
        for i in range(buttons.count()):
            box = buttons.nth(i).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, (buttons.nth(i).inner_text(), box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert question.bounding_box()["y"] < PHONE["height"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "phone-start.png"))
        # answering (here "Not sure", which every question offers) moves on to another question
        first = question.inner_text()
        page.locator(".st-key-guided").get_by_role("button", name="Not sure", exact=True).click()
        settled(page)
        expect(question).not_to_have_text(first)
        assert_healthy(page, errors, log)
    finally:
        page.close()
