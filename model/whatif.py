"""What-if for prevention: change what a runner can change, see the risk before and after.

``what_if`` takes changes as answers in natural units (``{"warm_up_minutes": 10}``) to questions
about modifiable causes (``modifiable: true`` in ``data/causes.yaml``). By default the comparison
is *prospective*: only the training and background answers are used, so the numbers are the
chance of leg pain after running (and of each condition) on future runs. With
``given="all_answers"`` the symptom answers are kept too.

``what_would_help`` tries, for every modifiable question the runner answered at a risky value, the
nearest value at the healthy state (e.g. warm-up 0 -> 5 minutes, weekly increase 40% -> the top of
the "under 10%" band) and ranks the changes by how much they lower P(leg pain).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .explain import GRADE_ORDER, p_present, prospective, run_cases
from .questioning import answer_outcomes

GIVEN = ("risk_factors", "all_answers")


def modifiable_questions(model) -> list[str]:
    """Questions whose every answer only sets causes the runner can change."""
    cache = model.__dict__.get("_modifiable_questions")
    if cache is None:
        mod = {c.id for c in model.kb.causes if c.modifiable}
        cache = [q.id for q in model.kb.questions
                 if (nodes := {n for m in q.mappings() for n in m.evidence}) and nodes <= mod]
        model.__dict__["_modifiable_questions"] = cache
    return cache


def _evidence(model, clean: dict, given: str) -> dict:
    vectors, _ = model.intake.evidence(clean)
    return prospective(model, vectors) if given == "risk_factors" else vectors


def _check_given(given):
    if given not in GIVEN:
        raise ValueError(f"given must be one of {', '.join(map(repr, GIVEN))}, got {given!r}")


@dataclass
class WhatIf:
    """Before/after comparison. ``table``: index ``leg_pain`` then the conditions (by 'before');
    columns ``label, before, after, change``."""
    table: pd.DataFrame
    changes: dict
    given: str

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(r.label)}</td><td style='text-align:right'>{r.before:.1%}</td>"
            f"<td style='text-align:right'>{r.after:.1%}</td><td style='text-align:right;color:"
            f"{'#1b5e20' if r.change < 0 else '#b71c1c' if r.change > 0 else '#555'}'>"
            f"{r.change:+.1%}</td></tr>" for r in self.table.head(9).itertuples())
        what = ", ".join(f"{k} = {v}" for k, v in self.changes.items())
        return (f"<div><b>What if: {html.escape(what)}</b><table><tr><th></th><th>before</th>"
                f"<th>after</th><th>change</th></tr>{rows}</table></div>")


def what_if(model, answers, changes, given: str = "risk_factors") -> WhatIf:
    """The case with ``changes`` applied (``None`` clears an answer), before and after."""
    _check_given(given)
    clean = model.intake.validate(answers)
    if not isinstance(changes, dict) or not changes:
        raise ValueError("changes must be a non-empty dict {question id: new answer}, e.g. "
                         "{'warm_up_minutes': 10}")
    allowed = modifiable_questions(model)
    for qid in changes:
        if qid not in allowed:
            known = qid in model.intake.by_id
            raise ValueError(
                f"question {qid!r} " + ("is not about something a runner can change" if known
                                        else "is unknown") +
                f"; what_if accepts: {', '.join(allowed)}")
    new = model.intake.validate({k: v for k, v in changes.items()})
    after = {k: v for k, v in clean.items() if k not in changes}
    after.update(new)
    rows = [_evidence(model, clean, given), _evidence(model, after, given)]
    variables = ["leg_pain"] + model.condition_ids
    marg, _, possible = run_cases(model, rows, variables)
    if not possible.all():
        raise model._conflict(clean if not possible[0] else after)
    before = np.array([p_present(model, marg, v)[0] for v in variables])
    later = np.array([p_present(model, marg, v)[1] for v in variables])
    table = pd.DataFrame({"label": [model.labels[v] for v in variables], "before": before,
                          "after": later, "change": later - before}, index=variables)
    table = pd.concat([table.iloc[:1],
                       table.iloc[1:].sort_values("before", ascending=False, kind="stable")])
    return WhatIf(table, {k: changes[k] for k in changes}, given)


def _healthy_share(model, evidence: dict) -> float:
    """How strongly an answer's evidence points at the healthy state (1 = exactly healthy)."""
    shares = [v[0] / v.sum() for k, v in evidence.items() if k in model.cause_ids]
    return float(min(shares)) if shares else 0.0


def healthy_value(model, qid: str, current):
    """The answer nearest to ``current`` that puts the question's cause at its healthy state."""
    q = model.intake.by_id[qid]
    outcomes = answer_outcomes(model, qid)
    best = max(outcomes, key=lambda o: _healthy_share(model, o.evidence))
    if q.kind != "number":
        return best.value
    # the healthy band [lo, hi): go to its nearest edge in the question's own steps
    lo = float(best.value)
    edges = [b.below for b in q.bins if b.below is not None and b.below > lo]
    hi = min(edges) if edges else q.max
    if current < lo:
        return lo
    step = q.increment or (hi - lo) / 2
    top = hi - step if edges else hi
    return max(lo, min(current, top))


def _best_grade(model, cause: str) -> str:
    grades = [link.grade for c in model.kb.conditions for link in c.links if link.cause == cause]
    return min(grades, key=GRADE_ORDER.index) if grades else ""


def what_would_help(model, answers, given: str = "risk_factors") -> pd.DataFrame:
    """Changes the runner could make, ranked by how much they lower P(leg pain).

    Only modifiable questions answered at a risky value are tried; each is moved to its nearest
    healthy value. A last row ``all of these`` applies every change together. Columns:
    ``question, label, now, change_to, pain_before, pain_after, pain_drop, lead_condition,
    lead_before, lead_after, grade`` (the strongest evidence grade behind the cause's links).
    """
    _check_given(given)
    clean = model.intake.validate(answers)
    cols = ["question", "label", "now", "change_to", "pain_before", "pain_after", "pain_drop",
            "lead_condition", "lead_before", "lead_after", "grade"]
    tries = {}
    for qid in modifiable_questions(model):
        if qid not in clean:
            continue
        now_ev, _ = model.intake.evidence({qid: clean[qid]})
        target = healthy_value(model, qid, clean[qid])
        target_ev, _ = model.intake.evidence({qid: target})
        if _healthy_share(model, target_ev) > _healthy_share(model, now_ev):
            tries[qid] = target
    if not tries:
        return pd.DataFrame(columns=cols)
    cases = [clean] + [{**clean, q: v} for q, v in tries.items()] + [{**clean, **tries}]
    full, _ = model.intake.evidence(clean)
    rows = [full] + [_evidence(model, c, given) for c in cases]
    variables = ["leg_pain"] + model.condition_ids
    marg, _, possible = run_cases(model, rows, variables)
    if not possible.all():
        raise model._conflict(clean)
    cond = np.column_stack([p_present(model, marg, c) for c in model.condition_ids])
    lead_i = int(np.argmax(cond[0]))
    lead = model.condition_ids[lead_i]
    pain = p_present(model, marg, "leg_pain")
    out = []
    names = list(tries) + [None]
    for i, qid in enumerate(names):
        r = i + 2
        if qid is None:
            label, now, to, grade = "all of these", "", "", ""
        else:
            label, now, to = model.intake.by_id[qid].label, clean[qid], tries[qid]
            cause = next(n for m in model.intake.by_id[qid].mappings() for n in m.evidence)
            grade = _best_grade(model, cause)
        out.append(dict(question=qid or "all", label=label, now=now, change_to=to,
                        pain_before=pain[1], pain_after=pain[r], pain_drop=pain[1] - pain[r],
                        lead_condition=lead, lead_before=cond[1, lead_i],
                        lead_after=cond[r, lead_i], grade=grade))
    frame = pd.DataFrame(out, columns=cols)
    single = frame.iloc[:-1].sort_values("pain_drop", ascending=False, kind="stable")
    return pd.concat([single, frame.iloc[-1:]]).reset_index(drop=True)
