"""A summary for the clinician: the runner's answers, the verdict with its reasons and sources,
the conditions that must be ruled out and the ranked conditions, as Markdown or HTML.

Built in memory from what the dashboard already shows (nothing is written to disk; the browser
saves it only when the runner presses the download button). Wording comes from
:mod:`model.views`, so the summary says what the page says.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone

from . import views

TITLE = "Leg pain after running: summary for a clinician"
NOTE = ("Produced by a decision-support tool from the runner's own answers. It is not a "
        "diagnosis and has not been checked by a clinician. Probabilities are the model's "
        "estimates for runners with these answers, from published studies.")


def _answers(questions, answers: dict) -> list[tuple[str, str, str]]:
    """(step heading, question label, answer in words) for every answered question."""
    rows = []
    for q in questions.to_dict("records"):
        if q["id"] in answers:
            rows.append((views.STEP_TITLES.get(q.get("step"), ""), q["label"],
                         views.answer_text(q, answers[q["id"]])))
    return rows


def _content(questions, answers: dict, triage, diagnosis=None, must=None,
             conflict: str | None = None, missing=(), out_of_scope: str | None = None) -> dict:
    level = triage.level
    not_yet = level == "self_care" and len(missing) > 0
    verdict = views.NOT_YET["title"] if not_yet else views.LEVEL_TEXT[level]
    reasons = [(r.text, views.primary_source(r.source)) for r in triage.reasons
               if not (not_yet and level == "self_care")]
    must_rows = [] if must is None else [
        (r.label, views.percent(r.posterior), r.rank, r.reason) for r in must.itertuples()]
    ranked = [] if diagnosis is None else [
        (diagnosis.labels.get(c, c), views.percent(p), views.in_words(p))
        for c, p in diagnosis.conditions.head(8).items()]
    return dict(verdict=verdict, reasons=reasons, must=must_rows, ranked=ranked,
                answers=_answers(questions, answers), conflict=conflict,
                missing=[s.label for s in missing], out_of_scope=out_of_scope,
                when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                unanswered=len(questions) - len(answers))


def summary_markdown(questions, answers: dict, triage, diagnosis=None, must=None,
                     conflict: str | None = None, missing=(),
                     out_of_scope: str | None = None) -> str:
    """The summary as Markdown text (see the module docstring for the arguments' meaning)."""
    c = _content(questions, answers, triage, diagnosis, must, conflict, missing, out_of_scope)
    out = [f"# {TITLE}", "", f"_{c['when']}. {NOTE}_", "", f"## Verdict: {c['verdict']}", ""]
    if c["conflict"]:
        out += [f"**Answers that cannot all be true:** {c['conflict']} The verdict rests on the "
                "warning-sign rules alone.", ""]
    out += [f"- {text} (Source: {source})" for text, source in c["reasons"]]
    if c["missing"]:
        out += ["", "**Warning signs not answered (not sure):** " + "; ".join(c["missing"])]
    if c["out_of_scope"]:
        out += ["", f"**{views.OUT_OF_SCOPE_TITLE}:** {c['out_of_scope']}"]
    out += ["", "## Must be ruled out", ""]
    out += [f"- **{label}** (model: {p}, rank {rank}) because: {reason}"
            for label, p, rank, reason in c["must"]] or ["- none named by a warning sign"]
    out += ["", "## Most likely conditions (model estimate)", "", "| Condition | Probability | |",
            "|---|---:|---|"]
    out += [f"| {label} | {p} | {words} |" for label, p, words in c["ranked"]]
    out += ["", "## Answers", "", "| Step | Question | Answer |", "|---|---|---|"]
    out += [f"| {step} | {q} | {a} |" for step, q, a in c["answers"]]
    out += ["", f"{c['unanswered']} questions left as not sure.", ""]
    return "\n".join(out)


def summary_html(questions, answers: dict, triage, diagnosis=None, must=None,
                 conflict: str | None = None, missing=(), out_of_scope: str | None = None) -> str:
    """The same summary as a self-contained HTML page (prints well; no outside resources)."""
    c = _content(questions, answers, triage, diagnosis, must, conflict, missing, out_of_scope)
    e = html.escape

    def rows(items, cells):
        return "".join("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in item[:cells]) + "</tr>"
                       for item in items)

    body = [f"<h1>{e(TITLE)}</h1><p><i>{e(c['when'])}. {e(NOTE)}</i></p>",
            f"<h2>Verdict: {e(c['verdict'])}</h2>"]
    if c["conflict"]:
        body.append(f"<p><b>Answers that cannot all be true:</b> {e(c['conflict'])}</p>")
    body.append("<ul>" + "".join(f"<li>{e(t)} <small>(Source: {e(s)})</small></li>"
                                 for t, s in c["reasons"]) + "</ul>")
    if c["missing"]:
        body.append("<p><b>Warning signs not answered (not sure):</b> "
                    + e("; ".join(c["missing"])) + "</p>")
    if c["out_of_scope"]:
        body.append(f"<p><b>{e(views.OUT_OF_SCOPE_TITLE)}:</b> {e(c['out_of_scope'])}</p>")
    body.append("<h2>Must be ruled out</h2><ul>" + ("".join(
        f"<li><b>{e(label)}</b> (model: {e(p)}, rank {rank}) because: {e(reason)}</li>"
        for label, p, rank, reason in c["must"]) or "<li>none named by a warning sign</li>")
        + "</ul>")
    body.append("<h2>Most likely conditions (model estimate)</h2><table>"
                + rows(c["ranked"], 3) + "</table>")
    body.append("<h2>Answers</h2><table><tr><th>Step</th><th>Question</th><th>Answer</th></tr>"
                + rows(c["answers"], 3) + f"</table><p>{c['unanswered']} questions left as not "
                "sure.</p>")
    style = ("body{font-family:sans-serif;max-width:800px;margin:2em auto;padding:0 1em}"
             "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
             "table{border-collapse:collapse}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(TITLE)}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
