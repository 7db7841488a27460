"""The dashboard in a real browser: ``streamlit run app.py``, Playwright and Debian's chromium.

A runner moves a slider with the keyboard and switches on a red flag; the page must show a new
probability and an urgent banner with the rule's reason. The final page is saved as
``docs/screenshot.png`` (the README's screenshot).
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from playwright import sync_api
from playwright.sync_api import expect

expect.set_options(timeout=60_000)  # a rerun on a busy 2-core CI machine can take seconds

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "screenshot.png"
SLIDER = "How much longer was your longest recent run"
RED_FLAGS = ("Is the leg or ankle swollen?", "Is the painful leg warm, red or darker")
RED_FLAG_RULE = "clot_signs_one_calf"  # the rule in data/triage.yaml these two answers fire


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"streamlit not healthy after {timeout:.0f} s:\n{log.read_text()}")


def _rule_text(rule_id: str) -> str:
    rules = yaml.safe_load((ROOT / "data" / "triage.yaml").read_text())["rules"]
    return next(r["text"] for r in rules if r["id"] == rule_id)


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "streamlit.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(server, wait_until="domcontentloaded")
            # the first run builds the model: allow for a slow, busy machine
            expect(page.get_by_test_id("stMetricValue")).to_be_visible(timeout=180_000)
            yield page
        finally:
            browser.close()


def _settled(page) -> None:
    """Wait until Streamlit has finished the rerun a widget change started.

    While a script runs, the status widget shows and the elements not yet redrawn are marked
    stale; both are gone when the page is complete.
    """
    page.wait_for_timeout(500)  # the rerun starts a moment after the change
    for _ in range(2):  # a rerun may queue another (a callback setting session state)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)
        expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=120_000)
        page.wait_for_timeout(300)


def test_slider_and_red_flag_update_the_page(page):
    metric = page.get_by_test_id("stMetricValue")
    banner = page.get_by_test_id("stAlert").first
    pain_before = metric.inner_text()
    assert "Get urgent medical care" not in banner.inner_text()

    # a runner moves the longest-run slider with the keyboard, from "Not sure" to the top value
    slider = page.get_by_role("slider", name=SLIDER)
    assert slider.get_attribute("aria-valuetext") == "Not sure"
    slider.focus()
    slider.press("End")
    _settled(page)
    assert slider.get_attribute("aria-valuetext") != "Not sure"
    expect(metric).not_to_have_text(pain_before)
    pain_after = metric.inner_text()
    # a much longer longest run is a risk factor: the chance of leg pain goes up
    assert int(re.sub(r"\D", "", pain_after)) > int(re.sub(r"\D", "", pain_before))
    expect(page.get_by_text("One run much longer than usual").first).to_be_visible()

    # ... then reports a swollen, warm calf: a red flag for a clot
    for question in RED_FLAGS:
        group = page.get_by_role("radiogroup", name=re.compile(re.escape(question)))
        group.get_by_role("radio", name="Yes").click()
        _settled(page)
    expect(banner).to_contain_text("Get urgent medical care today")
    reason = " ".join(_rule_text(RED_FLAG_RULE).split())
    expect(banner).to_contain_text(reason[:60])

    # the README's screenshot: the whole page from the top, main area unrolled to its full height
    page.evaluate("document.querySelectorAll('[data-testid=stSidebarContent], "
                  "[data-testid=stMain]').forEach(e => e.scrollTo(0, 0))")
    height = page.evaluate(
        "document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(1000)  # charts re-layout to the new size
    _settled(page)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000
