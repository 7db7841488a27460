"""TEMPORARY: the public names agreed in coordination/API_ADDITIONS.md, until issue 19 lands them.

Every call here prefers the real API when the model has it, so this module goes away (and the
dashboard calls ``m.triage``, ``m.applicable_questions`` ... directly) once issue 19 is merged.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

QUALIFIERS = {"both_legs", "pain_location"}
URGENCY = {"self_care": 0, "see_clinician_soon": 1, "urgent_care": 2}
MUST_COLUMNS = ["label", "posterior", "rank", "rule", "level", "reason"]


@dataclass(frozen=True)
class MissingSign:
    question: str
    label: str
    level: str
    could_raise: bool


@dataclass(frozen=True)
class RulesTriage:
    level: str
    reasons: tuple
    missing: tuple

    @property
    def warning_signs_answered(self) -> bool:
        return not self.missing


def _read(node) -> set:
    if hasattr(node, "question") and hasattr(node, "op"):
        return {node.question}
    out = set()
    for part in getattr(node, "parts", ()):
        out |= _read(part)
    return out


def _signs(m) -> dict:
    """warning-sign question -> most urgent level of a red-flag rule reading it."""
    out = {}
    kinds = m.questions.set_index("id")
    for rule in m.triage_rules.rules:
        if rule.red_flag:
            for qid in _read(rule.when) - QUALIFIERS:
                if kinds.loc[qid, "kind"] != "bool" or kinds.loc[qid, "group"] != "symptoms":
                    continue
                if URGENCY[rule.level] > URGENCY.get(out.get(qid), -1):
                    out[qid] = rule.level
    return out


def questions(m) -> pd.DataFrame:
    """``m.questions`` with ``warning_sign`` and ``page`` ('warning_signs' | 'pain' | 'running')."""
    q = m.questions.copy()
    if "warning_sign" not in q.columns:
        signs = _signs(m)
        q["warning_sign"] = q["id"].isin(list(signs))
    if "page" not in q.columns:
        q["page"] = ["warning_signs" if w else ("pain" if g == "symptoms" else "running")
                     for w, g in zip(q["warning_sign"], q["group"])]
    return q


def applicable(m, answers: dict) -> list[str]:
    if hasattr(m, "applicable_questions"):
        return list(m.applicable_questions(answers))
    return list(m.questions["id"])


def _missing(m, level: str, answers: dict) -> tuple:
    signs = _signs(m)
    labels = m.questions.set_index("id")["label"]
    rows = [MissingSign(qid, labels[qid], lvl, URGENCY[lvl] > URGENCY[level])
            for qid, lvl in signs.items() if qid not in answers]
    order = {qid: i for i, qid in enumerate(m.questions["id"])}
    rows.sort(key=lambda s: (-URGENCY[s.level], order[s.question]))
    return tuple(rows)


def missing(m, triage, answers: dict) -> tuple:
    if hasattr(triage, "missing") and not callable(triage.missing):
        return tuple(triage.missing)
    return _missing(m, triage.level, answers)


def rules_triage(m, answers: dict):
    if callable(getattr(m, "triage", None)):
        return m.triage(answers)
    clean = {k: v for k, v in answers.items() if v is not None}
    zeros = {c: 0.0 for c in m.condition_ids}
    fired = [r for r in m.triage_rules.rules if r.red_flag and r.fires(clean, zeros)]
    fired.sort(key=lambda r: -URGENCY[r.level])
    level = fired[0].level if fired else "self_care"
    return RulesTriage(level, tuple(r.reason() for r in fired), _missing(m, level, clean))


def must_rule_out(d) -> pd.DataFrame:
    frame = getattr(d, "must_rule_out", None)
    if isinstance(frame, pd.DataFrame):
        return frame
    return pd.DataFrame(columns=MUST_COLUMNS)


def out_of_scope(d) -> str | None:
    if getattr(d, "out_of_scope", False):
        return getattr(d, "out_of_scope_reason", None) or "What you described does not fit."
    return None


def explain_conflict(m, answers: dict, error: Exception | None = None) -> str | None:
    if callable(getattr(m, "explain_conflict", None)):
        return m.explain_conflict(answers)
    text = str(error) if error else None
    if text:
        for qid, label in zip(m.questions["id"], m.questions["label"]):
            text = text.replace(f"'{qid}'", f"“{label}”").replace(f"{qid}=", f"“{label}” = ")
    return text
