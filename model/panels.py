"""HTML of the result panels: ranked conditions, risk factors, advice, prevention, notes.

Bars are plain HTML (labels above the bar, so they wrap on a 390 px phone; no hover tooltips).
Words and numbers come from :mod:`model.views`; nothing here calls the model.
"""
from __future__ import annotations

from .views import answer_text, grade_words, in_words, percent, points, primary_source, rounds_to_zero_points
from .views import escape as _e


def bar_list_html(rows, scale: float = 1.0, css_class: str = "bars") -> str:
    """Horizontal bars whose labels sit above them (they wrap on a phone).

    ``rows``: dicts with ``label``, ``value`` (bar length in 0..scale), ``text`` (printed beside
    the bar), optional ``colour``, ``tag`` (a small badge), ``low``/``high`` (an interval line).
    """
    out = []
    for r in rows:
        width = 0.0 if scale <= 0 else max(0.0, min(1.0, r["value"] / scale)) * 100
        tag = f" <span class='tag {r.get('tag_class', '')}'>{_e(r['tag'])}</span>" \
            if r.get("tag") else ""
        interval = ""
        if r.get("low") is not None and r.get("high") is not None and scale > 0:
            lo, hi = (max(0.0, min(1.0, r[k] / scale)) * 100 for k in ("low", "high"))
            interval = f"<div class='bar-ci' style='left:{lo:.1f}%;width:{hi - lo:.1f}%'></div>"
        out.append(
            f"<div class='bar-row'><div class='bar-label'>{_e(r['label'])}{tag}</div>"
            f"<div class='bar-line'><div class='bar-track'><div class='bar-fill' "
            f"style='width:{width:.1f}%;background:{r.get('colour', '#1565c0')}'></div>"
            f"{interval}</div><div class='bar-text'>{_e(r['text'])}</div></div></div>")
    return f"<div class='{css_class}'>" + "".join(out) + "</div>"


def split_conditions(table, must: set, top: int = 6):
    """The conditions listed first (the ``top`` likeliest and every one that must be ruled out,
    in ranking order) and the rest, for a fold-out list."""
    first = [i for n, i in enumerate(table.index) if n < top or i in must]
    return table.loc[first], table.drop(index=first)


def conditions_rows(table, must: set, serious: dict, intervals=None) -> list[dict]:
    """Bar rows for ranked conditions (``table``: index id, columns label, posterior)."""
    rows = []
    for cid, r in table.iterrows():
        tag, tag_class = ("must be ruled out", "must") if cid in must else (
            ("serious if present", "serious") if serious.get(cid) else ("", ""))
        row = dict(label=r["label"], value=float(r["posterior"]), tag=tag, tag_class=tag_class,
                   colour="#c62828" if cid in must else "#6a1b9a",
                   text=f"{percent(r['posterior'])} · {in_words(r['posterior'])}")
        if intervals is not None and cid in intervals.index:
            row.update(low=float(intervals.loc[cid, "low"]), high=float(intervals.loc[cid, "high"]))
            row["text"] += (f" (could be {percent(row['low'])} to {percent(row['high'])})")
        rows.append(row)
    return rows


def risk_factor_rows(causes) -> list[dict]:
    """Bar rows for the risk factors the runner reported that add to the risk of pain.

    ``causes``: ``Diagnosis.causes``. The bar is the factor's contribution in percentage points
    of the chance of leg pain on future runs; factors left unanswered are not drawn.
    """
    shown = causes["contribution"].map(lambda c: c > 0 and not rounds_to_zero_points(c))
    raising = causes[causes["reported"] & shown.astype(bool)]
    raising = raising.sort_values("contribution", ascending=False, kind="stable")
    return [dict(label=f"{r.label}: {r.state}", value=float(r.contribution),
                 text=f"{points(r.contribution)} of risk", colour="#1565c0")
            for r in raising.itertuples()]




CONDITIONS_NOTE = ("The model's estimate of how likely each condition is for runners with your "
                   "answers (“about 3 in 10” means 3 of 10 such runners). It cannot examine "
                   "you: a condition marked “must be ruled out” needs a clinician whatever its "
                   "number.")
INTERVALS_NOTE = (" The thin black line is the range the estimate could take ({level:.0%} sure) "
                  "given how strong the published evidence behind it is: weaker evidence, "
                  "wider line.")
NETWORK_NOTE = ("Causes (left) make conditions more likely, conditions cause what you feel "
                "(right). Yellow: what you said yes to. Dashed: what you said no to. Red: the "
                "most likely condition.")


def in_pain(pain_probability: float) -> bool:
    """Whether the answers already say the runner is in pain (then no 'chance of pain')."""
    return percent(pain_probability) in ("100%", ">99%")


def risk_factors_note(causes, any_shown: bool) -> str:
    unanswered = int((~causes["reported"]).sum())
    lead = ("Each bar is how many percentage points that answer adds to the chance of leg pain "
            "on future runs, compared with the healthy level (10 points: 10 more runners in "
            "100 get leg pain). " if any_shown else
            "None of your answers so far is a known risk factor at a risky level. ")
    return lead + (f"{unanswered} possible causes you have not answered are not shown "
                   "(step 3 asks about them)." if unanswered else "")


def advice_html(advice) -> str:
    """What to do and what to avoid, each with its evidence in words and its source."""
    if not advice:
        return "<p class='small'>No specific advice for these answers yet.</p>"
    items = []
    for a in advice:
        verb = "Do" if a.kind == "do" else "Avoid"
        items.append(f"<li class='advice {a.kind}'><b>{verb}:</b> {_e(a.action)}"
                     f"<span class='small'>{_e(a.why)} ({_e(grade_words(a.evidence))}; "
                     f"source: {_e(primary_source(a.source))})</span></li>")
    return "<ul class='advice-list'>" + "".join(items) + "</ul>"


def prevention_html(changes, questions, pain_probability: float) -> str:
    """What changing training would do to the chance of leg pain on future runs.

    For a runner already in pain there is no 'chance of leg pain' (they have it): only what
    each change would do for future runs is said.
    """
    by_id = {q["id"]: q for q in questions.to_dict("records")}
    out = []
    if not in_pain(pain_probability):
        out.append(f"<p>For runners with your answers, the chance of leg pain after running is "
                   f"<b>{percent(pain_probability)}</b> ({in_words(pain_probability)}).</p>")
    if changes is None or len(changes) == 0:
        out.append("<p class='small'>None of your training answers is at a risky level, or you "
                   "have not answered them yet (step 3: weekly increase, longest run, warm-up, "
                   "shoes, strength training …).</p>")
        return "".join(out)
    items = []
    for r in changes.itertuples():
        if r.question == "all":
            what = "All of these changes together"
        else:
            q = by_id[r.question]
            what = (f"{_e(q['label'])} <b>{_e(answer_text(q, r.now))} → "
                    f"{_e(answer_text(q, r.change_to))}</b>")
        items.append(f"<li>{what}<span class='small'>lowers the chance of leg pain on future "
                     f"runs from {percent(r.pain_before)} to {percent(r.pain_after)} "
                     f"({points(-r.pain_drop)})"
                     + (f"; {_e(grade_words(r.grade))}" if r.grade else "") + "</span></li>")
    return ("".join(out) + "<p>What changing your training would do, for runners like you:</p>"
            "<ul class='advice-list'>" + "".join(items) + "</ul>")


def technical_reasons_html(reasons) -> str:
    """The rules that fired, with their ids, levels, grades and full sources."""
    rows = "".join(f"<tr><td><code>{_e(r.rule)}</code></td><td>{_e(r.level)}</td>"
                   f"<td>{_e(r.grade)}</td><td>{'yes' if r.red_flag else 'no'}</td>"
                   f"<td>{_e(primary_source(r.source))}</td></tr>" for r in reasons)
    return ("<div class='tech'><b>Triage rules that fired</b><table><tr><th>rule</th>"
            "<th>level</th><th>grade</th><th>red flag</th><th>source</th></tr>"
            + rows + "</table></div>")
