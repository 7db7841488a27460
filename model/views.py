"""Every rendering of the model's results for people: wording of the levels, HTML, numbers in words.

The dashboard (app.py), the clinician summary (:mod:`model.summary`) and the notebooks'
``_repr_html_`` all draw from here, so a level, a probability or a source reads the same
everywhere. Nothing here is knowledge: levels, reasons, sources and probabilities come from the
model; this module only says them in words a frightened runner understands.

Functions take plain values (levels, reasons, frames) and return HTML or text; none of them
calls the model.
"""
from __future__ import annotations

import html
import math
import re

LEVEL_TEXT = {
    "urgent_care": "Get urgent medical care today",
    "see_clinician_soon": "See a clinician within the next few days",
    "self_care": "Self-care is reasonable for now",
}
LEVEL_COLOUR = {"urgent_care": "#b71c1c", "see_clinician_soon": "#e65100", "self_care": "#1b5e20"}
# the verdict card of each level: what to do now and where to go (the reasons say why)
LEVEL_CARD = {
    "urgent_care": dict(
        icon="!", background="#ffebee",
        now="Stop running. Do not wait to see whether it settles.",
        where="Today: an urgent care centre or emergency department, or your doctor's urgent "
              "line (UK: NHS 111). If you are breathless or have chest pain, call an ambulance "
              "(999 in the UK, 112 in Europe, 911 in North America)."),
    "see_clinician_soon": dict(
        icon="!", background="#fff3e0",
        now="Not an emergency, but it needs a professional look. Run less or not at all until "
            "you have been seen.",
        where="Within the next few days: your GP, a sports doctor or a physiotherapist."),
    "self_care": dict(
        icon="✓", background="#e8f5e9",
        now="Look after it as described below and come back to this page if anything changes.",
        where="No appointment needed for now. See a clinician if it is not clearly better in "
              "the time the reason below gives, or sooner if it gets worse."),
}
NOT_YET = dict(
    title="We cannot tell yet how urgent this is", icon="?", colour="#0d47a1",
    background="#e3f2fd",
    lead="Answer the warning-sign questions below first: they decide whether you need care "
         "today.")
CONFLICT_TITLE = "Some of your answers cannot all be true together"
OUT_OF_SCOPE_TITLE = "Outside what this tool covers"
SUBJECT = "runners with answers like yours"


STEP_TITLES = {"warning_signs": "Step 1 · Warning signs", "pain": "Step 2 · Your pain",
               "running": "Step 3 · Your running and you"}
STEP_LEADS = {
    "warning_signs": "A few yes / no questions that decide whether you need care today. "
                     "Answer “Not sure” if you cannot tell.",
    "pain": "Where it hurts, since when and how it feels: this narrows down what it is.",
    "running": "Training and background: what may have caused it and what would help.",
}
LEAD = ("**Decision support, not a diagnosis:** this tool cannot examine you. If you are "
        "worried, see a clinician whatever it says.")
DISCLAIMER = ("**Decision support, not a diagnosis.** This tool cannot examine you. It helps "
              "you decide when to seek care, from published studies and guidelines. If you are "
              "worried, or the pain gets worse, see a clinician whatever this page says.")
PRIVACY = ("Your answers stay on this computer: nothing is stored or sent anywhere. "
           "The summary below is only saved if you press the download button.")
MODES = {"guided": "One question at a time", "all": "All questions"}
NOT_SURE = "Not sure"
STOP_TEXT = ("Nothing left to ask could change where to seek care, so here is your result. "
             "You can still answer more below to sharpen which condition it is.")


def mini_verdict_html(level: str, not_yet: bool) -> str:
    """A slim bar fixed at the bottom of a phone screen: the verdict's title, linking to it."""
    title = NOT_YET["title"] if not_yet else LEVEL_TEXT[level]
    colour = NOT_YET["colour"] if not_yet else LEVEL_COLOUR[level]
    return (f"<a class='mini-verdict' href='#verdict' style='background:{colour}'>"
            f"{_e(title)} · see the top</a>")


def question_reason(row) -> str:
    """Why the guided mode asks this question now, in words (from a question-plan row)."""
    p = float(row.get("p_change_triage", 0) or 0)
    if in_words(p) != "fewer than 1 in 100":
        return (f"Asked now because your answer could change where you should seek care "
                f"({in_words(p)} runners like you would get different advice).")
    return "Asked now because it tells most about what the pain is."


# ------------------------------------------------------------------------ numbers in words
def percent(p: float) -> str:
    """A probability as a percentage a runner reads at a glance ('<1%' rather than '0%')."""
    text = f"{p:.0%}"
    if p > 0 and text == "0%":
        return "<1%"
    if p < 1 and text == "100%":
        return ">99%"
    return text


def in_words(p: float) -> str:
    """A probability as a natural frequency: 'about 3 in 10', 'about 1 in 40'.

    The wording follows the rounding: 'almost all' where the percentage would read 100%,
    'more than 9 in 10' where tenths would round up to 10 (never 'about 9 in 10' beside 99%),
    'N in 10' from 2 in 10 up, 'about 1 in N' below that (15% is 'about 1 in 7', not '1 in
    10'), N rounded to a multiple of 5 above 20 ('about 1 in 60', not '1 in 61'), and 'fewer
    than 1 in 100' once N rounds past 100.
    """
    if percent(p) in ("100%", ">99%"):
        return "almost all"
    tenths = math.floor(p * 10 + 0.5)
    if tenths >= 10:
        return "more than 9 in 10"
    if tenths >= 2:
        return f"about {tenths} in 10"
    if p <= 0:
        return "fewer than 1 in 100"
    one_in = math.floor(1 / p + 0.5)
    if one_in > 20:
        one_in = 5 * math.floor(1 / p / 5 + 0.5)
    if one_in <= 100:
        return f"about 1 in {one_in}"
    return "fewer than 1 in 100"


def rounds_to_zero_points(x: float) -> bool:
    """Whether a difference of probabilities would read '+0.0 points' (too small to show)."""
    return points(x) in ("+0.0 points", "-0.0 points")


def points(x: float) -> str:
    """A difference of probabilities as percentage points ('+12 points', '-3.5 points')."""
    value = x * 100
    text = f"{value:+.0f}" if abs(value) >= 10 else f"{value:+.1f}"
    return f"{text} points"


def grade_words(grade: str) -> str:
    return {"strong": "strong evidence", "moderate": "moderate evidence",
            "weak": "weak evidence", "expert_opinion": "expert opinion"}.get(
        str(grade), str(grade).replace("_", " "))


_DEVELOPER_NOTE = re.compile(r"\(?\s*evidence\.md[^;)]*\)?", re.IGNORECASE)


def primary_source(text: str) -> str:
    """A source as users see it: the primary references only.

    Pointers to the developers' evidence file ('evidence.md 4(b)') are not a reference a user
    can look up, so they are left out; the publications and guidelines beside them stay.
    """
    parts = []
    for part in str(text or "").split(";"):
        cleaned = _DEVELOPER_NOTE.sub("", part).strip(" :,")
        if cleaned:
            parts.append(cleaned)
    return "; ".join(parts)


def answer_text(question: dict, value) -> str:
    """An answer as the runner gave it: 'Yes', '40 %', 'Calf (back of the lower leg)'."""
    if value is None:
        return "Not sure"
    if question["kind"] == "bool":
        return "Yes" if value else "No"
    if question["kind"] == "choice":
        return dict(question["options"]).get(value, str(value))
    return f"{float(value):g} {short_unit(question.get('unit'))}".strip()


def escape(text) -> str:
    """Text made safe to put inside HTML."""
    return html.escape(str(text))


_e = escape


def short_unit(unit) -> str:
    """The unit next to a slider value: long units ("% vs longest run ...") are in the label."""
    unit = unit if isinstance(unit, str) else ""
    return unit if len(unit) <= 12 else unit.split()[0]


def question_label(q: dict) -> str:
    unit = q["unit"] if isinstance(q["unit"], str) else ""
    return f"{q['label']} ({unit})" if unit else q["label"]


# ------------------------------------------------------------------------------ the verdict
def verdict_html(level: str, reasons, missing=(), conflict: str | None = None,
                 out_of_scope: str | None = None) -> str:
    """The one verdict at the top of the page.

    Parameters
    ----------
    level : str
        The triage level (of the diagnosis, or of the rules alone when the answers conflict).
    reasons : sequence
        Objects with ``text`` and ``source`` (``Triage.reasons``).
    missing : sequence
        Objects with ``label`` and ``level`` (``Triage.missing``): warning-sign questions not
        answered yet. While any is missing the verdict never says self-care.
    conflict : str, optional
        ``Model.explain_conflict``'s sentence when the answers cannot all be true.
    out_of_scope : str, optional
        ``Diagnosis.out_of_scope_reason`` when no modelled condition fits.
    """
    not_yet = level == "self_care" and len(missing) > 0
    if not_yet:
        title, colour, background, icon = (NOT_YET["title"], NOT_YET["colour"],
                                           NOT_YET["background"], NOT_YET["icon"])
    else:
        card = LEVEL_CARD[level]
        title, colour, background, icon = (LEVEL_TEXT[level], LEVEL_COLOUR[level],
                                           card["background"], card["icon"])
    body = []
    if conflict:
        body.append(f"<p class='conflict'><b>{_e(CONFLICT_TITLE)}.</b> {_e(conflict)} "
                    "Until then the advice below rests on the warning signs alone.</p>")
    if not_yet:
        body.append(f"<p>{_e(NOT_YET['lead'])}</p>")
    else:
        card = LEVEL_CARD[level]
        body.append(f"<p class='now'><b>What to do now:</b> {_e(card['now'])}</p>")
        body.append(f"<p class='where'><b>Where to go:</b> {_e(card['where'])}</p>")
        shown = [r for r in reasons if level != "self_care" or not missing]
        if shown:
            items = "".join(f"<li>{_e(r.text)}<span class='source'>Source: "
                            f"{_e(primary_source(r.source))}</span></li>" for r in shown)
            body.append(f"<p class='why'><b>Why:</b></p><ul class='reasons'>{items}</ul>")
    if missing:
        could = [m for m in missing if getattr(m, "could_raise", True)]
        items = "".join(f"<li>{_e(m.label)}</li>" for m in missing)
        lead = (f"{len(missing)} warning sign{'s' if len(missing) > 1 else ''} not answered yet"
                + (": see which" if not_yet else "")
                + (" (an answer could make this more urgent)" if could and not not_yet else ""))
        body.append(f"<details class='missing'><summary>"
                    f"{_e(lead)}</summary><ul>{items}</ul></details>")
    if out_of_scope:
        body.append(f"<p class='scope'><b>{_e(OUT_OF_SCOPE_TITLE)}:</b> {_e(out_of_scope)}</p>")
    shown = "not_yet" if not_yet else level
    return (f"<div class='verdict' id='verdict' data-testid='verdict' data-level='{shown}' "
            f"style='border-color:{colour};background:{background}'>"
            f"<div class='verdict-title' style='color:{colour}'><span class='verdict-icon' "
            f"style='background:{colour}'>{_e(icon)}</span>{_e(title)}</div>"
            + "".join(body) + "</div>")


def must_rule_out_html(frame) -> str:
    """The conditions a fired warning sign names (``Diagnosis.must_rule_out``), most urgent first.

    Their place in the ranking is said in words, so a low probability never reads as
    'nothing to worry about'.
    """
    if frame is None or len(frame) == 0:
        return ""
    items = []
    for r in frame.itertuples():
        items.append(
            f"<li><b>{_e(r.label)}</b> <span class='tag must'>must be ruled out</span>"
            f"<br><span class='small'>Named by a warning sign you reported. The model puts it "
            f"at {percent(r.posterior)} ({in_words(r.posterior)} {SUBJECT}; number {r.rank} in "
            f"the list), but a clinician has to check for it whatever that number is.</span></li>")
    return ("<div class='must-box'><div class='must-title'>Must be ruled out</div><ul>"
            + "".join(items) + "</ul></div>")


# ------------------------------------------------------------------- notebooks (Diagnosis)
def diagnosis_html(d) -> str:
    """``Diagnosis._repr_html_``: the verdict, the leading conditions, causes and advice."""
    level = d.triage.level
    reasons = "".join(f"<li>{_e(r.text)} <small style='color:#555'>"
                      f"({_e(primary_source(r.source))})</small></li>" for r in d.triage.reasons)
    conds = "".join(
        f"<tr><td>{_e(d.labels.get(c, c))}</td><td style='text-align:right'>{p:.1%}</td>"
        f"<td><div style='background:#1565c0;height:10px;width:{max(1, int(p * 200))}px'>"
        f"</div></td></tr>" for c, p in d.conditions.head(6).items())
    causes = d.causes.sort_values("posterior", ascending=False).head(8)
    cause_rows = "".join(
        f"<tr><td>{_e(r.label)}</td><td>{_e(r.state)}</td>"
        f"<td style='text-align:right'>{r.posterior:.0%}</td>"
        f"<td>{'reported' if r.reported else 'inferred'}</td>"
        f"<td style='text-align:right'>{r.contribution:+.1%}</td></tr>"
        for r in causes.itertuples())
    advice = "".join(f"<li><b>{'Do' if a.kind == 'do' else 'Avoid'}:</b> {_e(a.action)} "
                     f"<small>[{_e(a.evidence)}]</small></li>" for a in d.advice[:6])
    return (
        f"<div style='font-family:sans-serif;max-width:760px'>"
        f"<div style='background:{LEVEL_COLOUR[level]};color:white;padding:8px 12px;"
        f"border-radius:6px'><b>{LEVEL_TEXT[level]}</b></div>"
        f"<ul>{reasons}</ul>"
        f"<p>P(leg pain after running) = <b>{d.pain_probability:.1%}</b></p>"
        f"<b>Most likely conditions</b><table>{conds}</table>"
        f"<b>Causes</b><table><tr><th>cause</th><th>state</th><th>P(risk state)</th>"
        f"<th></th><th>adds to P(pain)</th></tr>{cause_rows}</table>"
        + (f"<b>What to do</b><ul>{advice}</ul>" if advice else "")
        + "<p style='color:#666;font-size:small'>Decision support, not a diagnosis.</p></div>")
