"""Helpers for the tests (and bench/) that run the dashboard in a real browser.

``streamlit run app.py`` in a child process (on a free port of 127.0.0.1, with the project's
``.streamlit/config.toml``), Playwright driving Debian's chromium, a way to wait until a rerun
has finished, and answering a question in the "All questions" view as a runner does. Not a test
module: ``tests/test_browser.py``, ``tests/test_privacy.py`` and ``bench/browser_latency.py``
import it.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = 180,
                 poll: float = 0.25) -> None:
    """Poll ``/_stcore/health`` every ``poll`` seconds until the server answers (or fail with
    its log)."""
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
        time.sleep(poll)
    raise AssertionError(f"streamlit not healthy after {timeout:.0f} s:\n{log.read_text()}")


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, args: tuple = (), port: int | None = None,
                     poll: float = 0.25):
    """Run the dashboard; yields ``(url, log path, process)`` once ``/_stcore/health`` answers.

    No command-line override of the project's config (address, usage statistics, error details):
    the server runs as a user's ``streamlit run app.py`` does. ``env`` is added to the
    environment (e.g. ``PYTHONPATH`` for a network monitor); ``port`` defaults to a free one;
    ``poll`` is how often the health check is tried. The server is stopped on the way out,
    also on an error.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "streamlit.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                 *args],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        try:
            wait_healthy(url, proc, log, poll=poll)
            yield url, log, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def launch(playwright):
    """Debian's chromium (never a downloaded browser build)."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def settled(page, timeout: float = 120_000) -> None:
    """Wait until Streamlit has finished the rerun a change started.

    While a script runs, the status widget shows and the elements not yet redrawn are marked
    stale; both are gone when the page is complete.
    """
    page.wait_for_timeout(250)  # the rerun starts a moment after the change
    for _ in range(2):  # a rerun may queue another (a callback setting session state)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=stStatusWidget]') && "
            "!document.querySelector('[data-stale=true]') && "
            "!document.querySelector('[data-testid=stSkeleton]')", timeout=timeout)
        page.wait_for_timeout(150)


@contextlib.contextmanager
def _settling(page):
    yield
    settled(page)


def answer(page, q: dict, value, change=None) -> None:
    """Answer one question in the All questions view as a runner does (taps and keys).

    ``q`` is a row of ``model.questions`` with its ``id``. ``change(kind)`` is a context manager
    around each single input event that makes the app rerun (``kind``: ``"yes/no"``,
    ``"choice"`` or ``"slider key"``; a slider takes one key press per step); by default the
    page is left to settle after each.
    """
    change = change or (lambda kind: _settling(page))
    label = q["label"]
    if q["kind"] == "bool":
        group = page.get_by_role("radiogroup", name=re.compile(re.escape(label)))
        with change("yes/no"):
            group.get_by_role("radio", name="Yes" if value else "No", exact=True).click()
    elif q["kind"] == "choice":
        box = page.get_by_role("combobox", name=label, exact=True)
        box.click()
        box.fill("")  # the box filters its list by what it shows ("Not sure")
        with change("choice"):
            page.get_by_role("option", name=dict(q["options"])[value], exact=True).click()
    else:
        slider = page.get_by_role("slider", name=re.compile(re.escape(label)))
        options = [round(q["min"] + i * q["increment"], 6) for i in
                   range(int(round((q["max"] - q["min"]) / q["increment"])) + 1)]
        for _ in range(len(options) + 2):  # keys pressed during a rerun can be lost: re-read
            shown = slider.get_attribute("aria-valuetext")
            if re.match(f"^{value:g}\\b", shown):
                break
            at = -1 if shown == "Not sure" else options.index(float(shown.split()[0]))
            slider.focus()
            with change("slider key"):
                slider.press("ArrowRight" if at < options.index(value) else "ArrowLeft")
        expect(slider).to_have_attribute("aria-valuetext", re.compile(f"^{value:g}\\b"))
        settled(page)


def horizontal_overflow(page) -> list[str]:
    """Elements wider than the viewport, or sticking out to the right of it (none expected).

    Scrollable containers that hold wide content on purpose (a table's own scroll area) are not
    overflow of the page; the page itself must not scroll sideways.
    """
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width + 1)
            out.push('document scrollWidth ' + document.documentElement.scrollWidth);
        const main = document.querySelector('[data-testid=stMain]');
        if (main && main.scrollWidth > main.clientWidth + 1)
            out.push('stMain scrollWidth ' + main.scrollWidth + ' > ' + main.clientWidth);
        for (const el of document.querySelectorAll('[data-testid=stMain] *')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            if (el.closest('[data-testid=stDataFrame], [data-testid=stTable], svg, canvas'))
                continue;
            if (r.right > width + 1) {
                out.push((el.getAttribute('data-testid') || el.tagName) + ' right=' +
                         Math.round(r.right));
                if (out.length > 10) break;
            }
        }
        return out;
    }""")
