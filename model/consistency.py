"""Answers that do not apply or cannot all be true together, found and said in plain words.

``diagnose`` refuses such answers (ValueError naming the questions); the rules-only triage
still works on them, and :func:`explain_conflict` tells the runner which answers to change,
with question labels (never ids or field names).
"""
from __future__ import annotations

from .predicates import questions_read


def possible(model, clean: dict) -> bool:
    """Whether clean answers have non-zero probability under the model."""
    try:
        vectors, _ = model.intake.evidence(clean)
    except ValueError:           # two answers about the same node contradict each other
        return False
    lik = model.engine.likelihoods(vectors, 1)
    return bool(model.engine.check_possible(lik, 1)[0])


def conflicting_answers(model, clean: dict) -> list[str]:
    """A minimal set of answered question ids that together have probability zero (empty when
    the answers are possible): drop each answer in turn and keep it only if the rest become
    possible without it."""
    if possible(model, clean):
        return []
    keep = list(clean)
    for qid in list(clean):
        trial = {k: clean[k] for k in keep if k != qid}
        if not possible(model, trial):
            keep.remove(qid)
    return keep


def explain_conflict(model, clean: dict) -> str | None:
    """A plain sentence on the answers that do not apply or cannot all be true together, and
    what to change; None when the answers are consistent and applicable."""
    intake, vocab = model.intake, model.intake.vocabulary
    parts = []
    not_applicable = intake.not_applicable(clean)
    for qid in not_applicable:
        parts.append(f"{intake.why_not_applicable(qid)}, so your answer to it cannot be "
                     "used: clear that answer, or change the answer it depends on.")
    rest = {k: v for k, v in clean.items() if k not in not_applicable}
    clash = conflicting_answers(model, rest)
    if clash:
        said = "; ".join(vocab.describe_answer(q, rest[q]) for q in clash)
        parts.append(f"These answers cannot all be true together: {said}. Change or clear one "
                     "of them.")
    return " ".join(parts) if parts else None


def check_applicable(model, clean: dict) -> None:
    """ValueError naming the first answered question that does not apply, and why."""
    for qid in model.intake.not_applicable(clean):
        given = ", ".join(f"{k}={clean[k]!r}" for k in sorted(
            questions_read(model.intake.applies_if[qid])) if k in clean)
        raise ValueError(f"these answers cannot all be true together: {qid}={clean[qid]!r} "
                         f"does not apply when {given} "
                         f"({model.intake.why_not_applicable(qid)}); clear it")
