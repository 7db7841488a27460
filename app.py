"""Leg pain after running: the dashboard a runner in pain opens on a phone.

The page, top to bottom: the title and what this tool is; the one verdict (until the warning
signs are answered it says what is missing, never "self-care"); the questions (one at a time in
the model's order, or all of them in three steps); then the result: conditions that must be
ruled out beside the ranking, what to do, the risk factors reported, prevention, how the model
reasons, details for clinicians and a summary to take to one.

Widgets -> the public model API -> :mod:`model.views` (every word and piece of HTML). No
modelling logic here. Answers live in this browser session only; nothing is stored or sent.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import streamlit as st

LOADING = "Getting the page ready… (the first start takes a few seconds)"
# The first run in a fresh server process imports the model's libraries (pgmpy, pandas: seconds
# on a small machine) before the page could draw anything: say so instead of a blank page.
# Later runs find them imported and draw nothing here (no flicker on a rerun).
STARTING = None if "model" in sys.modules else st.empty()
if STARTING is not None:
    STARTING.info(LOADING, icon=":material/hourglass_top:")

import pandas as pd  # noqa: E402

from model import load_model, panels, summary, views  # noqa: E402
from model.page_style import PAGE_CSS  # noqa: E402

NOT_SURE = views.NOT_SURE
PAGES = ("warning_signs", "pain", "running")


# ================================================================== the model, built once
@st.cache_resource(show_spinner=False)
def get_model():
    """The model for every session of this server process (read-only after this)."""
    m = load_model()
    m.diagnose({})  # compiles the inference kernels now, not on the runner's first answer
    return m


@st.cache_resource(show_spinner=False)
def page_questions() -> pd.DataFrame:
    """``model.questions`` (with the step each question is asked in), read-only."""
    return get_model().questions


@st.cache_resource(show_spinner=False, max_entries=256)
def diagnosis(answers: tuple):
    """``model.diagnose`` for ``tuple(sorted(answers.items()))``; raises ValueError if impossible."""
    return get_model().diagnose(dict(answers))


@st.cache_resource(show_spinner=False, max_entries=128)
def question_plan(answers: tuple, candidates: tuple):
    """The ranking and the stop rule of ``model.question_plan`` over ``candidates``."""
    plan = get_model().question_plan(dict(answers), questions=list(candidates))
    return plan.ranking, plan.stop


@st.cache_resource(show_spinner=False, max_entries=32)
def credible_intervals(answers: tuple) -> pd.DataFrame:
    return get_model().intervals(dict(answers))


@st.cache_resource(show_spinner=False, max_entries=64)
def what_would_help(answers: tuple) -> pd.DataFrame:
    return get_model().what_would_help(dict(answers))


def as_key(answers: dict) -> tuple:
    return tuple(sorted(answers.items()))


def has_rows(frame) -> bool:
    return frame is not None and len(frame) > 0


# ============================================================ answers (session state only)
def widget_key(qid: str) -> str:
    return f"q_{qid}"


def number_options(q) -> list:
    count = int(round((q["max"] - q["min"]) / q["increment"]))
    return [round(q["min"] + i * q["increment"], 6) for i in range(count + 1)]


def to_widget(q, value):
    """An answer in the form its all-questions widget holds."""
    if q["kind"] == "number":
        return NOT_SURE if value is None else min(number_options(q), key=lambda v: abs(v - value))
    if q["kind"] == "bool":
        return NOT_SURE if value is None else ("Yes" if value else "No")
    return NOT_SURE if value is None else value


def from_widget(q, value):
    if q["kind"] == "number":
        return None if value in (None, NOT_SURE) else float(value)
    if q["kind"] == "bool":
        return None if value in (None, NOT_SURE) else value == "Yes"
    return None if value in (None, NOT_SURE) else value


def read_answers(questions: pd.DataFrame) -> dict:
    """Every answer given, from the widgets of the all-questions view and the guided buttons."""
    store = st.session_state.setdefault("answers", {})
    for q in questions.to_dict("records"):
        key = widget_key(q["id"])
        if key in st.session_state:
            value = from_widget(q, st.session_state[key])
            if value is None:
                store.pop(q["id"], None)
            else:
                store[q["id"]] = value
    return store


def set_answer(q: dict, value) -> None:
    """Callback: one answer (``None`` = not sure) from a guided button."""
    store = st.session_state.setdefault("answers", {})
    if value is None:
        store.pop(q["id"], None)
        st.session_state.setdefault("skipped", set()).add(q["id"])
    else:
        store[q["id"]] = value
    st.session_state[widget_key(q["id"])] = to_widget(q, value)


def set_answer_from(q: dict, from_key: str) -> None:
    set_answer(q, float(st.session_state[from_key]))


def forget_answer(q: dict) -> None:
    """Callback: put a question back to unanswered, so the guided mode asks it again."""
    st.session_state.setdefault("answers", {}).pop(q["id"], None)
    st.session_state.setdefault("skipped", set()).discard(q["id"])
    st.session_state[widget_key(q["id"])] = to_widget(q, None)


def clear_answers(questions: pd.DataFrame) -> None:
    st.session_state["answers"] = {}
    st.session_state["skipped"] = set()
    st.session_state["show_result_now"] = False
    for qid in questions["id"]:
        st.session_state.pop(widget_key(qid), None)


def applicable_answers(m, store: dict) -> tuple[dict, set]:
    """The answers to questions that apply (a hidden question's answer is kept, not used)."""
    answers = dict(store)
    for _ in range(4):  # applies_if may chain
        ids = set(m.applicable_questions(answers))
        kept = {k: v for k, v in store.items() if k in ids}
        if kept == answers:
            break
        answers = kept
    return answers, ids


# ======================================================================== the assessment
@dataclass
class Case:
    answers: dict
    diagnosis: object | None   # None when the answers cannot all be true
    triage: object              # the diagnosis' triage, or the rules alone on a conflict
    missing: tuple
    must: pd.DataFrame | None   # conditions a fired warning sign names (diagnosis only)
    conflict: str | None
    out_of_scope: str | None

    @property
    def not_yet(self) -> bool:
        return self.triage.level == "self_care" and bool(self.missing)


def assess(m, answers: dict) -> Case:
    """The diagnosis; when the answers cannot all be true, the rules-only triage and why."""
    try:
        d = diagnosis(as_key(answers))
    except ValueError:
        triage = m.triage(answers)
        return Case(answers, None, triage, triage.missing, None, m.explain_conflict(answers),
                    None)
    return Case(answers, d, d.triage, d.triage.missing, d.must_rule_out, None,
                d.out_of_scope_reason if d.out_of_scope else None)


# ============================================================================== the page
def section_header() -> None:
    st.title("Leg pain after running")
    st.markdown(views.LEAD)


def section_verdict(case: Case) -> None:
    """The one verdict: level, what to do now, where to go, why; or what is still missing."""
    st.markdown(views.verdict_html(case.triage.level, case.triage.reasons, case.missing,
                                   case.conflict, case.out_of_scope), unsafe_allow_html=True)


def current_mode() -> str:
    """'guided' or 'all' (the switch is drawn below the questions; it is read first)."""
    return st.session_state.get("mode") or "guided"


def section_mode() -> None:
    if not st.session_state.get("mode"):  # also when the runner taps the chosen one off
        st.session_state["mode"] = "guided"
    st.segmented_control("How would you like to answer?", list(views.MODES),
                         format_func=views.MODES.get, key="mode")


def section_result(m, case: Case, beside: bool) -> None:
    """Everything below the verdict that explains it (only when there is a diagnosis)."""
    if case.diagnosis is None:
        return
    section_conditions(m, case, beside)
    section_what_to_do(case.diagnosis)
    section_risk_factors(case.diagnosis)
    section_prevention(m, case)
    section_network(m, case)
    section_for_clinicians(m, case)


def ask(q: dict) -> None:
    """One all-questions widget; the help text is printed under it, never a hover tooltip."""
    key = widget_key(q["id"])
    st.session_state[key] = to_widget(q, st.session_state["answers"].get(q["id"]))
    if q["kind"] == "number":
        unit = views.short_unit(q["unit"])
        st.select_slider(views.question_label(q), [NOT_SURE] + number_options(q), key=key,
                         format_func=lambda v: v if v == NOT_SURE else f"{v:g} {unit}".strip())
    elif q["kind"] == "bool":
        st.segmented_control(views.question_label(q), ["Yes", "No", NOT_SURE], key=key)
    else:
        options = dict(q["options"])
        # an option the knowledge base itself calls "Not sure" carries no evidence: ours does it
        choices = [NOT_SURE] + [o for o, t in options.items() if t.strip().lower() != "not sure"]
        st.selectbox(views.question_label(q), choices, key=key,
                     format_func=lambda o: options.get(o, NOT_SURE))
    if q["help"]:
        st.caption(q["help"])


def section_all_questions(questions: pd.DataFrame, applicable: set) -> None:
    """The three steps, every question that applies, for coaches and physios."""
    for page in PAGES:
        with st.container(border=True, key=f"step_{page}"):
            st.subheader(views.STEP_TITLES[page])
            st.caption(views.STEP_LEADS[page])
            for q in questions[questions["step"] == page].to_dict("records"):
                if q["id"] in applicable:
                    ask(q)


def next_question(m, questions: pd.DataFrame, case: Case, applicable: set):
    """The guided mode's next question (a plan row) and whether the stop rule says stop.

    Warning signs first, most urgent first, each once the model knows it applies
    (``model.guided_candidates``), in the model's order; then the rest, until no answer left
    could change where to seek care.
    """
    skipped = st.session_state.setdefault("skipped", set())
    signs = m.guided_candidates(case.answers, skip=skipped) if case.missing else []
    if signs:
        ranking, _ = question_plan(as_key(case.answers), tuple(signs))
        if not ranking.empty:
            return ranking.iloc[0], False
        return pd.Series({"question": signs[0], "p_change_triage": 0.0}), False
    rest = tuple(q for q in questions["id"] if q in applicable and q not in case.answers
                 and q not in skipped)
    if not rest:
        return None, True
    ranking, stop = question_plan(as_key(case.answers), rest)
    if ranking.empty:
        return None, True
    return ranking.iloc[0], stop


def guided_answer_buttons(q: dict) -> None:
    if q["kind"] == "number":
        options = number_options(q)
        unit = views.short_unit(q["unit"])
        st.select_slider("Your answer", options, value=options[len(options) // 2],
                         key=f"guided_value_{q['id']}",
                         format_func=lambda v: f"{v:g} {unit}".strip())
        left, right = st.columns(2)
        left.button("Save this answer", key=f"guided_save_{q['id']}", type="primary",
                    on_click=set_answer_from, args=(q, f"guided_value_{q['id']}"),
                    width="stretch")
        right.button(NOT_SURE, key=f"guided_{q['id']}_not_sure", on_click=set_answer,
                     args=(q, None), width="stretch")
        return
    if q["kind"] == "bool":
        choices = [(True, "Yes"), (False, "No")]
    else:
        choices = [(o, t) for o, t in q["options"] if t.strip().lower() != "not sure"]
    choices.append((None, NOT_SURE))
    # yes / no / not sure side by side; longer choices one under the other, in their order
    columns = st.columns(3) if len(choices) <= 3 else [st.container()]
    for i, (value, text) in enumerate(choices):
        columns[i % len(columns)].button(
            text, key=f"guided_{q['id']}_{'not_sure' if value is None else value}",
            on_click=set_answer, args=(q, value), width="stretch")


def section_guided(m, questions: pd.DataFrame, case: Case, applicable: set) -> bool:
    """One question at a time; returns True when the result should be shown."""
    if case.conflict:
        st.info("Change one of the answers below that cannot be true together.")
        section_answers_so_far(questions, case.answers, expanded=True)
        return False
    row, stop = next_question(m, questions, case, applicable)
    answered = len(case.answers)
    if row is None or stop:
        st.success(views.STOP_TEXT, icon=":material/task_alt:")
        section_answers_so_far(questions, case.answers)
        return True
    q = questions.set_index("id").loc[row["question"]].to_dict()
    q["id"] = row["question"]
    with st.container(border=True, key="guided"):
        st.markdown(f"<div class='step-head'>{views.STEP_TITLES[q['step']]} · question "
                    f"{answered + 1}</div><div class='question'>{views.escape(q['label'])}</div>",
                    unsafe_allow_html=True)
        if q["help"]:
            st.caption(q["help"])
        guided_answer_buttons(q)
        st.caption(views.question_reason(row))
    st.button("Show my result now", key="show_result", on_click=st.session_state.__setitem__,
              args=("show_result_now", True))
    section_answers_so_far(questions, case.answers)
    return bool(st.session_state.get("show_result_now"))


def section_answers_so_far(questions: pd.DataFrame, answers: dict, expanded=False) -> None:
    if not answers:
        return
    with st.expander(f"Your answers so far ({len(answers)})", expanded=expanded):
        for q in questions[questions["id"].isin(list(answers))].to_dict("records"):
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown(f"{q['label']} **{views.answer_text(q, answers[q['id']])}**")
            right.button("Change", key=f"forget_{q['id']}", on_click=forget_answer, args=(q,))


@st.fragment
def section_conditions(m, case: Case, beside: bool) -> None:
    """Conditions a warning sign names, beside (or above) the ranking; intervals on request."""
    d = case.diagnosis
    level = float(get_model().grades.attrs["credible_level"])
    if not has_rows(case.must):
        must, ranked = None, st.container()
    elif beside:
        must, ranked = st.columns([2, 3])
    else:
        must, ranked = st.container(), st.container()
    if must is not None:
        must.markdown(views.must_rule_out_html(case.must), unsafe_allow_html=True)
    with ranked:
        st.subheader("What it most likely is")
        on = st.toggle(f"Show how sure the model is ({level:.0%} range)", key="show_intervals")
        intervals = None
        if on:
            try:
                intervals = credible_intervals(as_key(case.answers))
            except ValueError as exc:
                st.warning(f"Cannot work out how sure the model is for these answers: {exc}")
        info = m.condition_info()
        table = pd.DataFrame({"label": [info.loc[c, "label"] for c in d.conditions.index],
                              "posterior": d.conditions.values}, index=d.conditions.index)
        must_ids = set(case.must.index) if has_rows(case.must) else set()
        shown, rest = panels.split_conditions(table, must_ids)
        scale = max(0.05, float(table["posterior"].max()))
        serious = info["serious"].to_dict()
        st.markdown(panels.bar_list_html(
            panels.conditions_rows(shown, must_ids, serious, intervals), scale,
            "bars conditions"), unsafe_allow_html=True)
        with st.expander(f"The other {len(rest)} conditions the model knows"):
            st.markdown(panels.bar_list_html(
                panels.conditions_rows(rest, must_ids, serious, intervals), scale,
                "bars conditions"), unsafe_allow_html=True)
        st.caption(panels.CONDITIONS_NOTE + (panels.INTERVALS_NOTE.format(level=level)
                                            if intervals is not None else ""))


def section_what_to_do(d) -> None:
    st.subheader("What to do now")
    st.markdown(panels.advice_html(d.advice), unsafe_allow_html=True)


def section_risk_factors(d) -> None:
    st.subheader("What may have caused it")
    rows = panels.risk_factor_rows(d.causes)
    if rows:
        st.markdown(panels.bar_list_html(rows, scale=max(r["value"] for r in rows)),
                    unsafe_allow_html=True)
    st.caption(panels.risk_factors_note(d.causes, bool(rows)))


def section_prevention(m, case: Case) -> None:
    """For someone in pain: what changing their training would do for future runs."""
    d = case.diagnosis
    st.subheader("What would help next time")
    changes = what_would_help(as_key(case.answers))
    st.markdown(panels.prevention_html(changes, page_questions(), d.pain_probability),
                unsafe_allow_html=True)


@st.fragment
def section_network(m, case: Case) -> None:
    box = st.expander("How the model reasons (diagram)", key="network_open", on_change="rerun")
    with box:
        if box.open:
            st.caption(panels.NETWORK_NOTE)
            whole = st.toggle("Show the whole network", key="whole_network")
            st.graphviz_chart(m.graph_dot(case.diagnosis, focus=not whole), width="stretch")


@st.fragment
def section_for_clinicians(m, case: Case) -> None:
    box = st.expander("For clinicians: technical details", key="clinician_open",
                      on_change="rerun")
    with box:
        if not box.open:
            return
        d = case.diagnosis
        st.markdown(panels.technical_reasons_html(d.triage.reasons), unsafe_allow_html=True)
        st.markdown("**Posterior probabilities**")
        st.dataframe(d.condition_table(), width="stretch")
        st.markdown(f"**Parameters behind {d.labels.get(d.leading_condition)}**")
        st.dataframe(m.provenance(d.leading_condition), hide_index=True, width="stretch")


def section_summary_download(questions: pd.DataFrame, case: Case) -> None:
    st.subheader("Take this to a clinician")
    parts = (questions, case.answers, case.triage, case.diagnosis, case.must, case.conflict,
             case.missing, case.out_of_scope)
    left, right = st.columns(2)
    left.download_button("Download summary (web page)", summary.summary_html(*parts),
                         file_name="leg-pain-summary.html", mime="text/html",
                         key="download_html", width="stretch", on_click="ignore")
    right.download_button("Download summary (text)", summary.summary_markdown(*parts),
                          file_name="leg-pain-summary.md", mime="text/markdown",
                          key="download_md", width="stretch", on_click="ignore")
    st.caption(views.PRIVACY)


def section_footer(questions: pd.DataFrame, case: Case) -> None:
    st.divider()
    st.button("Clear all answers and start again", key="clear_answers", on_click=clear_answers,
              args=(questions,))
    st.markdown(views.DISCLAIMER)
    st.markdown(views.mini_verdict_html(case.triage.level, case.not_yet),
                unsafe_allow_html=True)


def main() -> None:
    st.set_page_config(page_title="Leg pain after running", page_icon="🦵", layout="wide")
    st.html(PAGE_CSS)
    section_header()
    loading = st.empty()
    loading.info(LOADING, icon=":material/hourglass_top:")
    m = get_model()
    questions = page_questions()
    loading.empty()
    if STARTING is not None:
        STARTING.empty()
    answers, applicable = applicable_answers(m, read_answers(questions))
    case = assess(m, answers)
    section_verdict(case)
    if current_mode() == "guided":
        show_result = section_guided(m, questions, case, applicable)
        section_mode()
        if show_result:
            section_result(m, case, beside=True)
        elif has_rows(case.must):
            st.markdown(views.must_rule_out_html(case.must), unsafe_allow_html=True)
    else:
        section_mode()
        asked, result = st.columns([5, 6], gap="large")
        with asked:
            section_all_questions(questions, applicable)
        with result:
            section_result(m, case, beside=False)
    section_summary_download(questions, case)
    section_footer(questions, case)


main()
