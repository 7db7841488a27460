"""The dashboard's speed in a real browser: cold start to the first verdict, and how long each
control takes to update the page (issue 20).

Run by hand from the repository root (not in CI)::

    python -m bench.browser_latency                      # both window sizes, one flow each
    python -m bench.browser_latency --sizes phone --repeats 2 --json latency.json

For each window size a fresh ``streamlit run app.py`` starts (headless, 127.0.0.1, the project's
``.streamlit/config.toml``, via ``tests/browser_support.py``) while Debian's chromium is already
open, so the cold start is the server's and the model's, not the browser's:

* cold start, from the process start: health check answering, the page's HTML and scripts
  loaded (DOMContentLoaded), the first websocket message, first contentful paint, the page's
  title, the first verdict in the page, the page settled;
* a runner with shin pain after a mileage jump then uses the page: in the guided mode they tap
  the suggested question's answer ("No" to every warning sign, their own answers otherwise,
  "Not sure" to the rest) until it asks something outside their story, ask for the
  result, switch the intervals on and off, go to "All questions", answer the pain's trend,
  severity (slider, one key press per step), both legs, the weekly mileage jump (slider) and a
  background question, and switch the intervals on and off again;
* with ``--repeats`` above 1 the same flow runs again in new sessions of the same server
  (reported apart: those answers are then in the app's caches);
* a second visitor's first load (new session, server warm).

A change's latency runs from the input event (``pointerdown`` or ``keydown``, recorded in the
page) to the last change of the page's DOM once the rerun's ``script_finished`` message has
arrived and the page has stayed still (no running indicator, no stale element, no DOM change,
no message) for ``--quiet`` ms; the quiet wait itself is not counted. Also recorded: the time
the ``script_finished`` message arrived ("server done").
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.latency_report import report
from model import load_model
from tests.browser_support import DESKTOP, PHONE, answer, launch, streamlit_server

SIZES = {"desktop": DESKTOP, "phone": PHONE}
# the runner's answers (a shin-pain story: medial tibial stress syndrome after a 40 % jump);
# warning signs the story does not name are denied, other questions left "not sure"
STORY = {"pain_location": "shin", "onset": "gradual_over_weeks",
         "tenderness": "long_stretch_inner_shin", "swelling": False, "warmth_redness": False}
ALL_VIEW = [("trend", "same"), ("pain_severity", 4.0), ("both_legs", False),
            ("weekly_km_increase_pct", 20.0), ("sex", "female")]
MAX_GUIDED = 30

# Recorded in the page from its first script on: input events, DOM changes, websocket messages
# (a ForwardMsg's type is its first field after hash (1) and metadata (2); script_finished is
# field 6, an enum whose value 2 means "finished early for a rerun").
PAGE_PROBE = """(() => {
  const b = window.__bench = {armed: false, input: null, finished: 0, finishedAt: null,
    lastMutation: 0, lastMessage: 0, firstMessage: null, titleAt: null, verdictAt: null};
  const varint = (a, i) => { let v = 0, s = 0, c;
    do { c = a[i++]; v += (c & 127) * 2 ** s; s += 7; } while (c & 128); return [v, i]; };
  const onMessage = (data) => {
    b.lastMessage = performance.now();
    if (b.firstMessage === null) b.firstMessage = b.lastMessage;
    if (!(data instanceof ArrayBuffer)) return;
    const a = new Uint8Array(data);
    let i = 0;
    while (i < a.length) {
      let tag; [tag, i] = varint(a, i);
      const field = Math.floor(tag / 8), wire = tag & 7;
      if (field === 6 && wire === 0) {
        const [status] = varint(a, i);
        if (status !== 2) { b.finished++; b.finishedAt = b.lastMessage; }
        return;
      }
      if (field > 2) return;
      if (wire === 2) { let n; [n, i] = varint(a, i); i += n; } else if (wire === 0) {
        [, i] = varint(a, i); } else return;
    }
  };
  b.onMessage = onMessage;  // (tests/test_bench.py feeds it serialised messages)
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); this.addEventListener('message', e => onMessage(e.data)); }
  };
  for (const type of ['pointerdown', 'keydown'])
    document.addEventListener(type, () => {
      if (b.armed) { b.input = performance.now(); b.armed = false; } }, true);
  new MutationObserver(() => {
    b.lastMutation = performance.now();
    if (b.titleAt === null && document.querySelector('h1')) b.titleAt = b.lastMutation;
    if (b.verdictAt === null && document.querySelector('[data-testid=verdict]'))
      b.verdictAt = b.lastMutation;
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})();"""
BUSY = "[data-testid=stStatusWidget], [data-stale=true], [data-testid=stSkeleton]"
STILL = """([quiet, reruns, verdict]) => {
  const b = window.__bench, now = performance.now();
  if (b.finished < reruns || (verdict && b.verdictAt === null)) return false;
  if (document.querySelector('%s')) return false;
  if (now - b.lastMutation < quiet || now - b.lastMessage < quiet) return false;
  return {input: b.input, finishedAt: b.finishedAt, lastMutation: b.lastMutation,
          titleAt: b.titleAt, verdictAt: b.verdictAt, origin: performance.timeOrigin,
          firstMessage: b.firstMessage,
          loaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
          paint: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime};
}""" % BUSY


class Recorder:
    """Times each change of one page (see the module docstring)."""

    def __init__(self, page, size: str, round_: int, quiet: float, timeout: float):
        self.page, self.size, self.round = page, size, round_
        self.quiet, self.timeout = quiet, timeout
        self.rows: list[dict] = []

    def still(self, reruns: int = 0, verdict: bool = False) -> dict:
        """Wait until ``reruns`` reruns have finished and the page is still; the page's record."""
        return self.page.wait_for_function(STILL, arg=[self.quiet, reruns, verdict], polling=25,
                                           timeout=self.timeout).json_value()

    @contextlib.contextmanager
    def change(self, kind: str, detail: str = ""):
        self.page.evaluate("() => { const b = window.__bench; b.armed = true; b.input = null; "
                           "b.finished = 0; }")
        yield
        got = self.still(1)
        if got["input"] is None:
            raise RuntimeError(f"no input event recorded for {kind} {detail}")
        self.rows.append(dict(size=self.size, round=self.round, kind=kind, detail=detail,
                              ms=got["lastMutation"] - got["input"],
                              server_ms=got["finishedAt"] - got["input"],
                              load=os.getloadavg()[0], input_epoch_ms=got["origin"] + got["input"],
                              finished_epoch_ms=got["origin"] + got["finishedAt"]))


def guided_flow(rec: Recorder, questions) -> None:
    """Tap the suggested question's answer until the questions turn to the pain or training."""
    page = rec.page
    by_label = {q["label"]: q for q in questions.to_dict("records")}
    for _ in range(MAX_GUIDED):
        box = page.locator(".st-key-guided")
        if box.count() == 0:
            return  # the stop rule: the result is on the page
        q = by_label[box.locator(".question").inner_text()]
        value = STORY.get(q["id"], False if q["warning_sign"] and q["kind"] == "bool" else None)
        if q["step"] != "warning_signs" and q["id"] not in STORY:
            return
        if value is None:
            text = "Not sure"
        elif q["kind"] == "bool":
            text = "Yes" if value else "No"
        else:
            text = dict(q["options"])[value]
        with rec.change("next-question button", q["id"]):
            box.get_by_role("button", name=text, exact=True).click()


def toggle_intervals(rec: Recorder, where: str) -> None:
    switch = rec.page.locator(".st-key-show_intervals label").first
    for state in ("on", "off"):  # on: the intervals are computed; off: only redrawn
        with rec.change(f"intervals toggle {state}", where):
            switch.click()


def run_flow(rec: Recorder, model) -> None:
    page, questions = rec.page, model.questions
    guided_flow(rec, questions)
    show = page.locator(".st-key-show_result button")
    if show.count():
        with rec.change("show-result button"):
            show.click()
    toggle_intervals(rec, "guided")
    with rec.change("mode switch", "all questions"):
        page.get_by_role("radiogroup", name="How would you like to answer?") \
            .get_by_text("All questions").click()
    rows = questions.set_index("id")
    for qid, value in ALL_VIEW:
        answer(page, dict(rows.loc[qid], id=qid), value,
               change=lambda kind, qid=qid: rec.change(kind, qid))
    toggle_intervals(rec, "all questions")


def new_page(browser, size: dict, errors: list):
    page = browser.new_page(viewport=size)
    page.add_init_script(PAGE_PROBE)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def cold_start(stack, rec: Recorder, port: int | None):
    """Start the server (the page already open); returns ``(url, log)`` and figures in ms."""
    started = time.time()
    url, log, _ = stack.enter_context(streamlit_server(port=port, poll=0.05))
    healthy = time.time()
    rec.page.goto(url, wait_until="commit")
    got = rec.still(verdict=True)
    origin = got["origin"] - started * 1000  # page clock -> ms since the process start
    return (url, log), {
        "health_ok_ms": (healthy - started) * 1000,
        "page_loaded_ms": origin + got["loaded"], "first_message_ms": origin + got["firstMessage"],
        "first_paint_ms": origin + got["paint"] if got["paint"] else None,
        "title_ms": origin + got["titleAt"], "first_verdict_ms": origin + got["verdictAt"],
        "settled_ms": origin + got["lastMutation"]}


def measure_size(browser, name: str, args, model, result: dict) -> None:
    """One server: its cold start, the flow ``args.repeats`` times, a second visitor."""
    size, errors, timeout = SIZES[name], [], args.timeout * 1000
    with contextlib.ExitStack() as stack:
        try:
            page = new_page(browser, size, errors)
            rec = Recorder(page, name, 1, args.quiet, timeout)
            (url, log), result["cold_start"][name] = cold_start(stack, rec, args.port)
            for round_ in range(1, args.repeats + 1):
                if round_ > 1:
                    page = new_page(browser, size, errors)
                    page.goto(url, wait_until="commit")
                    rec = Recorder(page, name, round_, args.quiet, timeout)
                    rec.still(verdict=True)
                try:
                    run_flow(rec, model)
                finally:
                    result["changes"] += rec.rows
                    if page.get_by_test_id("stException").count():
                        errors.append(f"{name} round {round_}: an exception on the page")
                    page.close()
            page = new_page(browser, size, errors)
            page.goto(url, wait_until="commit")
            got = Recorder(page, name, 0, args.quiet, timeout).still(verdict=True)
            page.close()
            result["second_visitor"][name] = {"first_verdict_ms": got["verdictAt"],
                                              "settled_ms": got["lastMutation"]}
            text = log.read_text()
            if "Traceback" in text:
                errors.append(f"{name}: a traceback in the server log")
            if args.server_log:
                Path(f"{args.server_log}.{name}").write_text(text)
        except Exception as exc:  # report what was measured, then the failure
            errors.append(f"{name}: {exc!r}")
        finally:
            result["errors"] += errors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.splitlines()[:2]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES),
                    help="window sizes: desktop 1400x900, phone 390x844 (default: both)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="flows per window size; the 2nd and later reuse the app's caches")
    ap.add_argument("--quiet", type=float, default=400,
                    help="ms the page must stay still to count as settled (default 400)")
    ap.add_argument("--timeout", type=float, default=180, help="s to wait for one change")
    ap.add_argument("--json", help="write every measurement to this JSON file")
    ap.add_argument("--server-log", metavar="PATH",
                    help="keep the server's output as PATH.desktop, PATH.phone")
    args = ap.parse_args(argv)

    model = load_model()  # before any server starts: the bench's own work is not timed
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_before": list(os.getloadavg())},
              "workload": {"story": STORY, "all_questions_view": ALL_VIEW},
              "window_sizes": {k: SIZES[k] for k in args.sizes},
              "cold_start": {}, "second_visitor": {}, "changes": [], "errors": []}
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for name in args.sizes:
                measure_size(browser, name, args, model, result)
        finally:
            browser.close()
    result["machine"]["load_after"] = list(os.getloadavg())
    report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
