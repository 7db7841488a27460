"""Leg pain after running: the dashboard.

Widgets -> ``model.diagnose`` -> render. There is no modelling logic here: every question, label,
unit, range, probability, triage reason and piece of advice comes from the public contract of
``model`` (``load_model``, ``Model.questions``, ``Model.diagnose``, ``Diagnosis``,
``Model.intervals``), which reads them from ``data/``. Nothing the user enters is stored or sent
anywhere.

The page is built top to bottom by the ``section_*`` functions called from :func:`main`, in the
order the runner reads them; a new panel is one more function and one more line in ``main``.
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from model import load_model

NOT_SURE = "Not sure"
INPUT_GROUPS = {  # sidebar heading -> question groups of model.questions
    "Your running": ("training", "background"),
    "What you feel": ("symptoms",),
}
SUBHEADINGS = {"training": "Training", "background": "About you", "symptoms": None}
# how each triage level looks (presentation only; the level and its reasons come from the model)
LEVELS = {
    "urgent_care": dict(
        show=st.error, icon=":material/warning:", title="Get urgent medical care today",
        lead="Do not wait to see whether it settles, and do not run on this leg. The reason "
             "below says where to go."),
    "see_clinician_soon": dict(
        show=st.warning, icon=":material/stethoscope:",
        title="See a doctor or physiotherapist within the next few days",
        lead="This is not an emergency, but it needs a professional look. The reasons below "
             "say why."),
    "self_care": dict(
        show=st.success, icon=":material/check_circle:",
        title="Self-care looks reasonable for now",
        lead="Nothing you told us needs a clinician today. Look after it as below and come "
             "back if anything changes."),
}
GRADE_COLOUR = {"strong": "green", "moderate": "blue", "weak": "orange",
                "expert_opinion": "gray", "structural": "gray"}
REPORTED, INFERRED = "You told us", "Inferred by the model"
CAUSES_CHARTED = 12  # bars in the causes chart (a screenful); the table lists every cause
BENIGN, SERIOUS = "Usually self-manageable", "Needs a clinician to confirm or rule out"
INTERVAL_COLUMNS = {"low": "could be as low as", "high": "could be as high as"}


def widget_key(qid: str) -> str:
    """Session-state key of a question's widget (other panels may set answers through it)."""
    return f"q_{qid}"


@st.cache_resource(show_spinner="Loading the model...")
def get_model():
    """The model is built once per server process; a widget change re-runs only diagnose."""
    return load_model()


@st.cache_resource(show_spinner=False)
def typical_runner():
    """The diagnosis with no answers: the reference the metric's delta is measured against."""
    return get_model().diagnose({})


# =============================================================================== 1. inputs
def _grade_badge(grade: str) -> str:
    return f":{GRADE_COLOUR.get(grade, 'gray')}-badge[{str(grade).replace('_', ' ')} evidence]"


def _number_options(q) -> list:
    count = int(round((q["max"] - q["min"]) / q["step"]))
    return [round(q["min"] + i * q["step"], 6) for i in range(count + 1)]


def _short_unit(unit) -> str:
    """The unit next to a slider value: long units ("% vs longest run ...") are in the label."""
    unit = unit if isinstance(unit, str) else ""
    return unit if len(unit) <= 12 else unit.split()[0]


def _label(q) -> str:
    unit = q["unit"] if isinstance(q["unit"], str) else ""
    return f"{q['label']} ({unit})" if unit else q["label"]


def ask(q):
    """One widget for one question; returns its answer, or ``None`` for "Not sure"."""
    key, label, help_ = widget_key(q["id"]), _label(q), q["help"] or None
    if q["kind"] == "number":
        unit = _short_unit(q["unit"])
        value = st.select_slider(
            label, options=[NOT_SURE] + _number_options(q), value=NOT_SURE, key=key, help=help_,
            format_func=lambda v: v if v == NOT_SURE else f"{v:g} {unit}".strip())
        return None if value == NOT_SURE else float(value)
    if q["kind"] == "bool":
        value = st.segmented_control(label, [NOT_SURE, "Yes", "No"], default=NOT_SURE, key=key,
                                     help=help_)
        return None if value in (None, NOT_SURE) else value == "Yes"
    options = dict(q["options"])
    # an option the knowledge base itself labels "Not sure" carries no evidence: use ours
    choices = [None] + [o for o, text in options.items() if text.strip().lower() != "not sure"]
    return st.selectbox(label, choices, key=key, help=help_,
                        format_func=lambda o: NOT_SURE if o is None else options[o])


def _clear_answers(question_ids) -> None:
    for qid in question_ids:
        st.session_state.pop(widget_key(qid), None)


def section_inputs(questions: pd.DataFrame) -> dict:
    """The sidebar: every question of ``model.questions``, grouped; returns the answers."""
    answers = {}
    with st.sidebar:
        st.title("Your answers")
        st.caption("Everything starts as **Not sure**, which means the model does not assume "
                   "anything. Answer what you know; the page updates as you go.")
        for heading, groups in INPUT_GROUPS.items():
            with st.expander(heading, expanded=True):
                for group in groups:
                    if SUBHEADINGS.get(group):
                        st.markdown(f"**{SUBHEADINGS[group]}**")
                    for q in questions[questions["group"] == group].to_dict("records"):
                        value = ask(q)
                        if value is not None:
                            answers[q["id"]] = value
        st.button("Clear all answers", key="clear_answers", on_click=_clear_answers,
                  args=(list(questions["id"]),),
                  width="stretch")
        st.caption(f"You answered {len(answers)} of {len(questions)} questions. "
                   "Nothing you enter is stored or sent anywhere.")
    return answers


# ============================================================================== 2. outputs
def section_triage(d) -> None:
    """The verdict first: coloured, in plain words, with the rules that decided it."""
    look = LEVELS[d.triage.level]
    lines = [f"### {look['title']}", look["lead"]]
    for r in d.triage.reasons:
        lines.append(f"- **{r.text}**  \n  *Source: {r.source}*")
    look["show"]("\n".join(lines), icon=look["icon"])


def _percent(p: float) -> str:
    return "<1%" if 0 < p < 0.005 else f"{p:.0%}"


def _bar_chart(frame: pd.DataFrame, x_title: str, colours: dict, fixed_scale: bool) -> alt.Chart:
    """A sorted horizontal bar chart: ``name`` by ``probability``, coloured by ``kind``.

    ``text`` is printed at the end of each bar; ``fixed_scale`` pins the axis to 0-100%. When the
    frame has ``low`` and ``high`` columns, each bar gets an error bar from low to high and the
    text moves past its end.
    """
    order = list(frame.sort_values("probability", ascending=False, kind="stable")["name"])
    ranged = {"low", "high"} <= set(frame.columns)
    top = float(frame["high" if ranged else "probability"].max())
    scale = alt.Scale(domain=[0, 1]) if fixed_scale else alt.Scale(
        domain=[0, min(1.0, max(0.05, top * 1.25))])
    percents = ("probability", "contribution", "low", "high")
    base = alt.Chart(frame).encode(
        y=alt.Y("name:N", sort=order, title=None,
                axis=alt.Axis(labelLimit=320, labelFontSize=12)),
        x=alt.X("probability:Q", title=x_title, scale=scale, axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip(c, format=".1%") if c in percents
                 else c for c in frame.columns if c != "text"])
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        color=alt.Color("kind:N", title=None,
                        legend=alt.Legend(orient="top", labelLimit=0, labelFontSize=12),
                        scale=alt.Scale(domain=list(colours), range=list(colours.values()))))
    text = base.mark_text(align="left", dx=4, fontSize=11, color="#333").encode(text="text:N")
    if not ranged:
        return (bars + text).properties(height=alt.Step(22))
    errors = base.mark_errorbar(ticks=alt.MarkConfig(size=8), color="#212121",
                                thickness=1.5).encode(x=alt.X("low:Q", title=x_title, scale=scale),
                                                      x2="high:Q")
    text = text.encode(x=alt.X("high:Q", title=x_title, scale=scale))
    return (bars + errors + text).properties(height=alt.Step(22))


def _numbers(frame: pd.DataFrame, names: dict) -> None:
    """The chart's numbers as a table (readable without the chart, e.g. by a screen reader)."""
    with st.expander("The numbers behind this chart"):
        names = {**names, **INTERVAL_COLUMNS}
        table = frame.drop(columns="text").rename(columns=names)
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            names[c]: st.column_config.NumberColumn(format="percent")
            for c in ("probability", "contribution", *INTERVAL_COLUMNS) if c in frame.columns})


@st.cache_data(show_spinner=False)
def credible_level() -> float:
    """The credible level of the intervals (``data/grades.yaml``), for the toggle's label."""
    return float(get_model().grades.attrs["credible_level"])


@st.cache_data(show_spinner="Working out how sure the model is...", max_entries=32)
def credible_intervals(answers: tuple) -> pd.DataFrame:
    """``model.intervals`` for a hashable ``tuple(sorted(answers.items()))`` (kept in memory)."""
    return get_model().intervals(dict(answers))


def _interval_columns(intervals: pd.DataFrame | None, ids) -> dict:
    """``low``/``high`` chart columns for the nodes ``ids``; none without intervals."""
    if intervals is None:
        return {}
    return {c: intervals[c].reindex(list(ids)).to_numpy() for c in ("low", "high")}


def section_how_sure(m, answers: dict) -> pd.DataFrame | None:
    """The switch for credible intervals on the two charts below; returns them when on."""
    level = credible_level()
    on = st.toggle(f"Show how sure the model is ({level:.0%} credible intervals)", value=False,
                   key="show_intervals",
                   help="Adds a line to every bar of the two charts below: the range its "
                        "probability could take given how strong the evidence behind it is.")
    if not on:
        return None
    try:
        intervals = credible_intervals(tuple(sorted(answers.items())))
    except ValueError as exc:
        st.warning(f"Cannot work out how sure the model is for these answers: "
                   f"{_in_words(str(exc), m.questions)}", icon=":material/error:")
        return None
    st.caption(f"The black line on each bar is its {level:.0%} credible interval: the range the "
               "probability stays in when the published numbers behind the model (how common "
               "each condition is and how much each risk factor raises it) are varied within "
               "the uncertainty of their evidence grade. Weaker evidence, wider line. How "
               "strongly each symptom points to a condition is held fixed here.")
    return intervals


def section_causes(d, intervals: pd.DataFrame | None = None) -> None:
    """Posterior causes: what the runner reported (with its contribution) vs what is inferred.

    With ``intervals`` (:func:`credible_intervals`), each bar gets its credible interval.
    """
    st.subheader("What may have caused it")
    c = d.causes.reset_index()
    frame = pd.DataFrame({
        "name": c["label"], "probability": c["posterior"],
        "kind": c["reported"].map({True: REPORTED, False: INFERRED}),
        "most likely": c["state"], "contribution": c["contribution"],
        "text": [_percent(p) + (f"   you: {x * 100:+.1f} points of pain risk"
                                if rep and abs(x) >= 5e-4 else "")
                 for p, rep, x in zip(c["posterior"], c["reported"], c["contribution"])],
        **_interval_columns(intervals, c["id"]),
    }).sort_values("probability", ascending=False, kind="stable")
    # the chart keeps everything reported and the likeliest of the rest; the table has them all
    inferred = frame[frame["kind"] == INFERRED].head(max(0, CAUSES_CHARTED - frame["kind"]
                                                         .eq(REPORTED).sum()))
    charted = frame[(frame["kind"] == REPORTED) | frame.index.isin(inferred.index)]
    st.altair_chart(_bar_chart(charted, "Chance this factor is at its risky level",
                               {REPORTED: "#1565c0", INFERRED: "#b0bec5"}, fixed_scale=True),
                    width="stretch")
    st.caption("Blue: what you told us, and how many percentage points it adds to your chance "
               "of leg pain compared with the healthy level. Grey: the model's estimate for the "
               f"likeliest of what you left as Not sure ({len(frame)} factors in the table below).")
    _numbers(frame, {"name": "factor", "probability": "chance at risky level", "kind": "from",
                     "most likely": "most likely", "contribution": "adds to pain risk"})


def section_conditions(d, info: pd.DataFrame, intervals: pd.DataFrame | None = None) -> None:
    """Likely conditions with plain names; the must-not-miss ones stand out.

    With ``intervals`` (:func:`credible_intervals`), each bar gets its credible interval.
    """
    st.subheader("What it most likely is")
    conds = d.conditions
    frame = pd.DataFrame({
        "name": [info.loc[c, "label"] for c in conds.index], "probability": conds.values,
        "kind": [SERIOUS if info.loc[c, "serious"] else BENIGN for c in conds.index],
        "text": [_percent(p) for p in conds.values],
        **_interval_columns(intervals, conds.index)})
    st.altair_chart(_bar_chart(frame, "Probability",
                               {BENIGN: "#6a1b9a", SERIOUS: "#c62828"}, fixed_scale=False),
                    width="stretch")
    _numbers(frame, {"name": "condition", "probability": "probability", "kind": "type"})


def section_pain(d) -> None:
    """P(leg pain after running) against a runner who answered nothing."""
    base = typical_runner().pain_probability
    p = d.pain_probability
    st.metric("Chance of leg pain after running", f"{p:.0%}",
              delta=f"{(p - base) * 100:+.0f} points vs a typical runner",
              delta_color="inverse" if abs(p - base) >= 0.005 else "off",
              help="The model's probability that a runner with your answers has leg pain after "
                   "running; a typical runner is one who answered nothing.")


def section_advice(d) -> None:
    """What to do and what to avoid, each with the grade of its evidence."""
    st.subheader("What to do now")
    if not d.advice:
        st.caption("No specific advice for these answers yet.")
        return
    columns = dict(zip(("do", "avoid"), st.columns(2)))
    columns["do"].markdown("#### ✔️ Do")
    columns["avoid"].markdown("#### ✖️ Avoid")
    for a in d.advice:
        with columns.get(a.kind, columns["do"]):
            st.markdown(f"**{a.action}** {_grade_badge(a.evidence)}  \n{a.why}")
            st.caption(f"Source: {a.source}")


def section_network(m, d) -> None:
    """The Bayesian network, answered nodes and the leading condition highlighted."""
    st.subheader("How the model reasons")
    whole = st.toggle("Show the whole network", value=False, key="whole_network")
    st.caption("Blue boxes are causes, purple ovals conditions, grey notes signs and symptoms. "
               "**Yellow** = what you told us; **red** = the most likely condition.")
    st.graphviz_chart(m.graph_dot(d, focus=not whole), width="stretch")


def section_provenance(m, d, info: pd.DataFrame) -> None:
    """Source and evidence grade of every parameter behind the leading condition."""
    lead = d.leading_condition
    st.subheader("Where these numbers come from")
    table = m.provenance(lead)
    counts = table["grade"].value_counts()
    st.markdown(f"The parameters behind **{info.loc[lead, 'label']}**: "
                + " ".join(f"{_grade_badge(g)} ×{n}" for g, n in counts.items()))
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"probability": st.column_config.NumberColumn(format="%.3f"),
                                "source": st.column_config.TextColumn(width="large")})


def section_disclaimer() -> None:
    st.divider()
    st.caption("**Decision support, not a diagnosis.** This tool estimates probabilities from "
               "published studies and expert opinion; it cannot examine you. If you are worried, "
               "if the pain is getting worse, or if anything in the red box applies, see a "
               "clinician. Nothing you enter is stored.")


# ===================================================== 3. next question and prevention
@st.cache_data(show_spinner="Working out the most useful next question...", max_entries=64)
def question_plan(answers: tuple):
    """``model.question_plan`` for a hashable ``tuple(sorted(answers.items()))`` (kept in memory)."""
    plan = get_model().question_plan(dict(answers))
    return plan.ranking, plan.outcomes, plan.stop


def _set_answer(qid: str, value=None, from_key: str | None = None) -> None:
    """Callback: put an answer into the sidebar widget of ``qid``, so the page updates."""
    st.session_state[widget_key(qid)] = st.session_state[from_key] if from_key else value


def section_next_question(m, answers: dict) -> None:
    """The most useful question left, answered right here (model.question_plan)."""
    st.subheader("Answer this next")
    ranking, outcomes, stop = question_plan(tuple(sorted(answers.items())))
    if ranking.empty:
        st.caption("Nothing left to ask: you answered every question that matters.")
        return
    if stop:
        st.info("Nothing left to ask could change where to seek care. Answering more only "
                "sharpens which condition it is.", icon=":material/task_alt:")
    top = ranking.iloc[0]
    q = m.questions.set_index("id").loc[top["question"]]
    why = []
    if top["p_change_triage"] > 0:
        why.append(f"a {_percent(top['p_change_triage'])} chance your answer changes where to "
                   "seek care")
    why.append(f"{top['expected_gain']:.2f} bits of information about what it is")
    st.markdown(f"**{q['label']}**")
    st.caption(f"Why this question: {' and '.join(why)}. {q['help'] or ''}")
    qid = top["question"]
    if q["kind"] == "number":
        options = _number_options(q)
        likely = outcomes[(outcomes.question == qid)].sort_values("probability").iloc[-1]
        start = min(options, key=lambda v: abs(v - float(likely["value"])))
        unit = q["unit"] if isinstance(q["unit"], str) else ""
        st.select_slider("Your answer", options=options, value=start, key=f"next_value_{qid}",
                         format_func=lambda v: f"{v:g} {unit}".strip())
        st.button("Save this answer", key="next_save", on_click=_set_answer,
                  kwargs=dict(qid=qid, from_key=f"next_value_{qid}"))
        return
    choices = ([("Yes", "Yes"), ("No", "No")] if q["kind"] == "bool" else
               [(o, text) for o, text in q["options"] if text.strip().lower() != "not sure"])
    columns = st.columns(min(len(choices), 4))
    for i, (value, text) in enumerate(choices):
        columns[i % len(columns)].button(text, key=f"next_{qid}_{value}", on_click=_set_answer,
                                         kwargs=dict(qid=qid, value=value), width="stretch")


def section_what_would_help(m, answers: dict) -> None:
    """Changes the runner could make, ranked by how much they lower the risk of pain."""
    st.subheader("What would help most")
    changes = m.what_would_help(answers)
    if changes.empty:
        st.caption("None of your training answers is at a risky level, or you have not answered "
                   "them yet (warm-up, weekly increase, longest run, shoes, cadence, surface, "
                   "strength training ...).")
        return
    units = m.questions.set_index("id")["unit"]

    def show(qid, value):
        unit = units.get(qid)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:g} {unit if isinstance(unit, str) else ''}".strip()
        return str(value).replace("_", " ")

    rows = []
    for r in changes.itertuples():
        single = r.question != "all"
        rows.append({"change": r.label,
                     "from": show(r.question, r.now) if single else "",
                     "to": show(r.question, r.change_to) if single else "",
                     "lowers pain risk by (points)": round(r.pain_drop * 100, 2),
                     "evidence": str(r.grade).replace("_", " ")})
    best = changes.iloc[0]
    st.markdown(f"Biggest single change: **{best['label']}** "
                f"({show(best['question'], best['now'])} → "
                f"{show(best['question'], best['change_to'])}) lowers your chance of leg pain "
                f"after running by about **{best['pain_drop'] * 100:.1f} points**.")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("Each change is tried on its own, then all together, on your training and "
               "background answers (the risk on future runs).")


def _in_words(message: str, questions: pd.DataFrame) -> str:
    """The model names questions by id ('pain_severity'); a runner reads their labels."""
    for qid, label in zip(questions["id"], questions["label"]):
        message = message.replace(f"'{qid}'", f"“{label}”")
    return message


# ================================================================================ the page
def main() -> None:
    st.set_page_config(page_title="Leg pain after running", page_icon="🦵", layout="wide")
    m = get_model()
    answers = section_inputs(m.questions)
    st.title("Leg pain after running")
    st.caption("Decision support, not a diagnosis. Answer on the left; the verdict, likely "
               "causes and what to do update as you go.")
    try:
        d = m.diagnose(answers)
    except ValueError as exc:  # contradicting answers: say which, keep the page usable
        st.warning(f"Some answers do not fit together: {_in_words(str(exc), m.questions)}",
                   icon=":material/error:")
        section_disclaimer()
        return
    info = m.condition_info()
    section_triage(d)
    section_next_question(m, answers)
    intervals = section_how_sure(m, answers)
    section_causes(d, intervals)
    section_conditions(d, info, intervals)
    section_pain(d)
    section_advice(d)
    section_what_would_help(m, answers)
    section_network(m, d)
    section_provenance(m, d, info)
    section_disclaimer()


main()
