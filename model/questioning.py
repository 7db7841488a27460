"""The next best question, and when to stop asking.

For every unanswered question the model lists the answers it can take (:func:`answer_outcomes`),
computes the case with each answer added, and scores each question by

* ``expected_gain``: the expected information the answer gives about the conditions, in bits:
  ``sum_o P(o) * sum_c KL(P(c | answers, o) || P(c | answers))`` over the answers ``o`` and the
  17 conditions (binary marginals). When a question's answers are exact states of one variable
  this equals the expected drop in the summed entropy of the condition marginals (the mutual
  information between the answer and each condition); it is never negative, and it is exactly
  zero when the question is independent of every condition given the answers so far.
* ``p_change_triage``: the chance that the answer changes the triage level.

All answers are computed in one pass over the case's own cause enumeration
(:meth:`model.engine.Engine.outcomes`): an answer about a cause re-weights the case's cause
states, an answer about a symptom is ``Z(e) - Z(e, symptom absent)`` and "absent" multiplies the
conditions it depends on, so the case is not re-run once per answer. Cases the enumeration
declines (many open causes) run as one batch of evidence rows, one per answer, as do answers on a
symptom that already has evidence from another answer, and "symptom present" answers whose
signed sum would lose digits. Early in the questionnaire (answers on causes only) the answers on
causes come from the causes' posterior instead (:meth:`model.engine.Engine._cause_outcomes`).
All ways agree to 1e-9 (tests). The triage level of every answer is found in one call
(:meth:`model.triage.TriageRules.levels_of_variations`).

``P(o)`` is the probability of the answer's evidence given the answers so far, normalised over the
question's distinct answers. Answers between two cut-offs (soft evidence) and "not sure" options
are skipped when the question has exact answers: they describe a value near a cut-off, not a
separate outcome. For number questions, triage rules may use other cut-offs than the network; the
value is taken as uniform within each network bin and triage is evaluated on each piece between
the rule thresholds, so the chance of a change is the share of the bin that changes the level.

The stop rule: ``stop`` is true when no answer with positive probability to any single unanswered
question changes the triage level (so asking more cannot change the advice one answer at a time).
The ranking ``score`` adds ``expected_gain`` and ``p_change_triage`` weighted by
``triage_change_weight`` from ``data/explain.yaml``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ._yaml import Node, read_yaml
from .explain import run_outcomes

LEVEL_RANK = {"self_care": 0, "see_clinician_soon": 1, "urgent_care": 2}
OUTCOME_COLUMNS = ["question", "answer", "value", "probability", "triage_level",
                   "p_change_triage", "gain"]


@dataclass(frozen=True)
class Outcome:
    """One answer a question can take, with the evidence it produces."""
    question: str
    value: object                  # representative answer, in the question's units
    label: str
    evidence: dict                 # {node: likelihood vector}
    hard: bool                     # every node is set to one exact state
    pieces: tuple = ()             # number questions: ((value, share of the bin), ...)


def load_settings(data_dir: Path) -> dict:
    """Read ``explain.yaml`` (non-medical settings of the explanation layer)."""
    path = Path(data_dir) / "explain.yaml"
    top = Node(read_yaml(path), path.name).mapping()
    top.check_keys({"next_question"})
    nq = top.get("next_question").mapping()
    nq.check_keys({"triage_change_weight", "reasoning"})
    nq.get("reasoning").text()
    return {"triage_change_weight": nq.get("triage_change_weight").number(0.0)}


def _informative(vec: np.ndarray) -> bool:
    return bool(np.ptp(vec) > 0)


def _bin_ranges(q):
    """``(low, high, is_last)`` of every reachable bin of a number question."""
    lo = q.min
    for b in q.bins:
        last = b.below is None
        hi = q.max if last else min(b.below, q.max)
        if hi > lo or (last and hi == lo):
            yield lo, hi, last
        if not last:
            lo = max(lo, b.below)


def _thresholds(rules, qid: str) -> set[float]:
    """Numeric cut-offs the triage rules apply to question ``qid`` (duck-typed walk)."""
    found, stack = set(), [getattr(r, "when", r) for r in getattr(rules, "rules", [])]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "parts", ()))
        if getattr(node, "question", None) == qid and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            found.add(float(node.value))
    return found


def answer_outcomes(model, qid: str) -> list[Outcome]:
    """The distinct informative answers of question ``qid`` (cached per model)."""
    cache = model.__dict__.setdefault("_answer_outcomes", {})
    if qid in cache:
        return cache[qid]
    q = model.intake.by_id[qid]
    raw = []  # (value, label, pieces)
    if q.kind == "number":
        cuts = _thresholds(model.triage_rules, qid)
        unit = f" {q.unit}" if q.unit else ""
        for lo, hi, last in _bin_ranges(q):
            points = sorted({lo, hi} | {t for t in cuts if lo < t < hi})
            pieces = tuple(((a + b) / 2, (b - a) / (hi - lo)) for a, b in zip(points, points[1:]))
            label = f"{lo:g}{unit} or more" if last else f"{lo:g} to under {hi:g}{unit}"
            raw.append((lo, label, pieces or ((lo, 1.0),)))
    elif q.kind == "bool":
        raw = [(True, "yes", ()), (False, "no", ())]
    else:
        raw = [(o.id, o.label, ()) for o in q.options]
    outcomes, seen = [], {}
    for value, label, pieces in raw:
        vectors, _ = model.intake.evidence({qid: value})
        ev = {k: v / v.max() for k, v in vectors.items() if _informative(v)}
        if not ev:
            continue  # "not sure": the same as not answering
        key = tuple(sorted((k, tuple(v)) for k, v in ev.items()))
        if key in seen:  # two options with the same evidence are one outcome for the model
            i = seen[key]
            outcomes[i] = Outcome(qid, outcomes[i].value, f"{outcomes[i].label} / {label}",
                                  outcomes[i].evidence, outcomes[i].hard, outcomes[i].pieces)
            continue
        seen[key] = len(outcomes)
        hard = all(np.count_nonzero(v) == 1 for v in ev.values())
        outcomes.append(Outcome(qid, value, label, ev, hard, pieces))
    if sum(o.hard for o in outcomes) >= 2:
        outcomes = [o for o in outcomes if o.hard]
    cache[qid] = outcomes
    return outcomes


def _kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Summed binary KL divergence KL(p || q) over the last axis, in bits (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log2(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log2((1 - p) / (1 - q)), 0.0)
    return np.clip(np.nan_to_num(a + b, nan=0.0, posinf=0.0), 0.0, None).sum(axis=-1)


@dataclass
class QuestionPlan:
    """Every unanswered question scored (see the module docstring).

    Attributes
    ----------
    ranking : pandas.DataFrame
        One row per unanswered informative question, best first: ``question, label, group,
        expected_gain, p_change_triage, could_change_triage, score, likely_answer,
        p_likely_answer``.
    outcomes : pandas.DataFrame
        One row per (question, answer): ``question, answer, value, probability,
        triage_level, p_change_triage, gain``.
    stop : bool
        True when no single answer to any remaining question can change the triage level.
    triage_level : str
        The current level.
    """
    ranking: pd.DataFrame
    outcome_rows: list = field(repr=False)  # (the outcomes frame is built when first read)
    stop: bool
    triage_level: str

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        # frames from columns (building them row by row cost more than the inference on
        # small cases); next_questions reads only the ranking
        return pd.DataFrame({c: _column([r[i] for r in self.outcome_rows])
                             for i, c in enumerate(OUTCOME_COLUMNS)}, columns=OUTCOME_COLUMNS)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(r.label)}</td><td style='text-align:right'>"
            f"{r.expected_gain:.3f}</td><td style='text-align:right'>{r.p_change_triage:.1%}</td>"
            f"<td>{html.escape(str(r.likely_answer))} ({r.p_likely_answer:.0%})</td></tr>"
            for r in self.ranking.head(8).itertuples())
        stop = ("<p><b>Nothing left to ask can change the advice.</b></p>" if self.stop else "")
        return (f"<div>{stop}<table><tr><th>question</th><th>expected gain (bits)</th>"
                f"<th>P(changes triage)</th><th>likely answer</th></tr>{rows}</table></div>")


def plan(model, answers, questions=None) -> QuestionPlan:
    """Score every unanswered question (or those in ``questions``) with one batched inference.

    With ``questions`` given, ``stop`` speaks for those questions only.
    """
    clean, vectors, _ = model._evidence(answers)
    if questions is not None:
        questions = [questions] if isinstance(questions, str) else list(questions)
        unknown = [q for q in questions if q not in model.intake.by_id]
        if unknown:
            raise ValueError(f"unknown question(s) {unknown}; see model.questions")
    settings = model.__dict__.get("_explain_settings")
    if settings is None:
        settings = model.__dict__["_explain_settings"] = load_settings(model.kb.path)
    conds = model.condition_ids
    candidates = []  # (question, outcome)
    # a question that does not apply is not offered (unless asked for by name)
    offered = set(model.intake.applicable(clean)) if questions is None else set(questions)
    for q in model.kb.questions:
        if q.id in clean or q.id not in offered:
            continue
        for o in answer_outcomes(model, q.id):
            candidates.append((q.id, o))
    # the case and the case with each answer, scored from the case's own enumeration
    marg, log_z, possible = run_outcomes(model, vectors, [o.evidence for _, o in candidates],
                                         conds)
    if not possible[0]:
        raise model._conflict(clean)
    post = np.column_stack([marg[c][:, 1] for c in conds])
    rules = model.triage_rules

    posts = post.tolist()
    level = rules.level(clean, dict(zip(conds, posts[0])))  # (the level only)
    w = np.where(possible, np.exp(log_z - log_z[0]), 0.0)
    gain = _kl_bits(post[1:], post[:1])
    # the level of every possible answer (of every piece of a number question's bin) at once
    variations = []
    for j, (qid, o) in enumerate(candidates):
        if possible[j + 1]:
            lookup = dict(zip(conds, posts[j + 1]))
            variations += [(qid, value, lookup) for value, _ in (o.pieces or ((o.value, 1.0),))]
    varied = iter(rules.levels_of_variations(clean, variations))
    out_rows, raw_total = [], {}
    for j, (qid, o) in enumerate(candidates):
        i = j + 1
        change, levels = 0.0, []
        if possible[i]:
            for _value, share in (o.pieces or ((o.value, 1.0),)):
                lv = next(varied)
                levels.append(lv)
                change += share * (lv != level)
        raw_total[qid] = raw_total.get(qid, 0.0) + float(w[i])
        out_rows.append([qid, o.label, o.value, float(w[i]),
                         max(levels, key=LEVEL_RANK.get) if levels else None, change,
                         float(gain[j]) if possible[i] else 0.0])
    for row in out_rows:  # P(answer) normalised over the question's answers
        total = raw_total[row[0]]
        row[3] = row[3] / total if total > 0 else 0.0
    rank_rows = {}
    weight = settings["triage_change_weight"]
    by_id = model.intake.by_id
    for qid, label, _, p, _, change, g in out_rows:
        r = rank_rows.get(qid)
        if r is None:
            r = rank_rows[qid] = dict(question=qid, label=by_id[qid].label,
                                      group=by_id[qid].group, expected_gain=0.0,
                                      p_change_triage=0.0, could_change_triage=False,
                                      score=0.0, likely_answer=label, p_likely_answer=p)
        r["expected_gain"] += p * g
        r["p_change_triage"] += p * change
        r["could_change_triage"] |= bool(p > 0 and change > 0)
        if p > r["p_likely_answer"]:  # the first most probable answer, as argmax
            r["likely_answer"], r["p_likely_answer"] = label, p
    for r in rank_rows.values():
        r["score"] = r["expected_gain"] + weight * r["p_change_triage"]
    rank_cols = ["question", "label", "group", "expected_gain", "p_change_triage",
                 "could_change_triage", "score", "likely_answer", "p_likely_answer"]
    ordered = sorted(rank_rows.values(), key=lambda r: (-r["score"], -r["expected_gain"]))
    ranking = pd.DataFrame({c: _column([r[c] for r in ordered]) for c in rank_cols},
                           columns=rank_cols)
    stop = not bool(ranking.could_change_triage.any())
    return QuestionPlan(ranking, out_rows, stop, level)


def _column(values: list) -> np.ndarray:
    """A frame column as an array of its own type (pandas infers types slowly from lists)."""
    kinds = {type(v) for v in values}
    if kinds and kinds <= {float, np.float64}:
        return np.array(values, dtype=float)
    if kinds == {bool}:  # (an empty list stays an object column, as pandas makes it)
        return np.array(values, dtype=bool)
    return np.array(values, dtype=object)


def next_questions(model, answers, k: int | None = 3, questions=None) -> pd.DataFrame:
    """The ``k`` best unanswered questions; ``.attrs['stop']`` holds the stop rule."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a whole number of at least 1 (or None for all), got {k!r}")
    p = plan(model, answers, questions)
    out = p.ranking if k is None else p.ranking.head(int(k)).copy()
    out.attrs.update(stop=p.stop, triage_level=p.triage_level)
    return out


def guided_candidates(model, answers, skip=()) -> list[str]:
    """The questions the guided questionnaire picks its next warning-sign question from (the
    question plan ranks them); empty once every applicable warning sign is answered or skipped.

    Warning signs are asked most urgent first: the candidates are the open signs whose answer
    could lead to the most urgent level still open (``Triage.missing``), so "call 999" signs
    never wait behind "see a GP" ones. A sign whose ``applies_if`` is not decided yet (the
    Ottawa bone points before the runner said where it hurts; the hop test before whether they
    can take four steps) waits for the questions that decide it: while such a sign is among the
    most urgent and no decided sign is, those deciding questions are the candidates. A deciding
    question the runner left "not sure" (in ``skip``) no longer holds the sign back.
    """
    from .predicates import questions_read
    clean = model.intake.validate(answers)
    skip = set(skip)
    missing = [s for s in model.triage(clean).missing if s.question not in skip]
    if not missing:
        return []
    top = max(LEVEL_RANK[s.level] for s in missing)
    signs = [s.question for s in missing if LEVEL_RANK[s.level] == top]
    rules = model.intake.applies_if
    decided = [q for q in signs if q not in rules or rules[q].maybe(clean) is not None]
    if decided:
        return decided
    gates = [g for q in signs for g in sorted(questions_read(rules[q]))
             if g not in clean and g not in skip]
    return list(dict.fromkeys(gates)) or signs
