"""When to seek medical care: red-flag rules and posterior thresholds -> a triage level.

The rules are data (``data/triage.yaml``); this module holds the small declarative language they
are written in, validates it at load time against the intake questions and the conditions, and
evaluates it.

Rule language (``when:``)::

    {all: [expr, ...]}  {any: [expr, ...]}  {not: expr}
    {answer: swelling, is: true}                 bool or choice answer equals a value
    {answer: pain_location, in: [calf, shin]}    choice answer is one of the options
    {answer: days_since_onset, above: 7}         number answer > 7 (also at_least, below, at_most)
    {posterior: deep_vein_thrombosis, above: 0.1}

An unanswered question makes its predicate false: a red flag has to be reported to fire (so
``not`` of an unanswered predicate is true). Triage is the most urgent level among the rules that
fire. Rules that read a posterior may escalate to ``see_clinician_soon`` at most: urgent care
always rests on a red flag the runner reported, never on a probability alone, which also keeps
triage monotone (adding a red-flag answer can move posteriors but cannot lower the level).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._yaml import Node
from .knowledge import read_data_file
from .predicates import COMPARE, Answer, Combine, Posterior, Vocabulary, positive_answers, questions_read  # noqa: F401

LEVELS = ("self_care", "see_clinician_soon", "urgent_care")
RANK = {level: i for i, level in enumerate(LEVELS)}
GRADES = ("strong", "moderate", "weak", "expert_opinion")
@dataclass(frozen=True)
class Reason:
    """One rule that decided the triage: its id, a plain sentence, the guideline behind it, and
    the conditions it points at (``suspects:`` in triage.yaml)."""
    rule: str
    text: str
    source: str
    level: str = "self_care"
    grade: str = ""
    red_flag: bool = False
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class MissingSign:
    """A warning-sign question left unanswered: ``level`` is the most urgent level an answer to
    it could lead to (the other answers as they are); ``could_raise``: some answer to it would
    raise the current level."""
    question: str
    label: str
    level: str
    could_raise: bool


@dataclass(frozen=True)
class Triage:
    """The triage level, every reason for it (most urgent first) and the applicable
    warning-sign questions still unanswered (most urgent first, then questions order)."""
    level: str
    reasons: tuple[Reason, ...]
    missing: tuple[MissingSign, ...] = ()

    @property
    def red_flags(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.red_flag)

    @property
    def warning_signs_answered(self) -> bool:
        """True when every applicable warning-sign question is answered."""
        return not self.missing


def source_of(node: Node) -> tuple[str, str]:
    return node.get("source").text(), node.get("grade").choice(GRADES)


# ------------------------------------------------------------------------------ the rules
@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    when: object
    text: str
    source: str
    grade: str
    red_flag: bool
    note: str = ""
    suspects: tuple[str, ...] = ()

    def fires(self, answers: dict, conditions: pd.Series) -> bool:
        return self.when.test(answers, conditions)

    def reason(self) -> Reason:
        return Reason(self.id, self.text, self.source, self.level, self.grade, self.red_flag,
                      self.suspects)


@dataclass(frozen=True)
class SelfCareNote:
    """Why self-care is reasonable for a leading condition, and when to think again."""
    id: str
    conditions: tuple[str, ...]      # empty = the default
    min_posterior: float             # the leading condition must be at least this likely
    review_after_days: float
    text: str
    source: str
    grade: str

    def reason(self, label: str) -> Reason:
        text = self.text.format(days=f"{self.review_after_days:g}", condition=label)
        return Reason(self.id, text, self.source, "self_care", self.grade, False)


class TriageRules:
    """Red-flag rules and posterior thresholds -> a triage level with its reasons.

    Parameters
    ----------
    rules : list of Rule
        In file order; reasons are reported most urgent first, then in this order.
    self_care : list of SelfCareNote
        Used only when no rule fires; the first whose conditions contain the leading condition
        (else the default, which has no conditions) explains why self-care is reasonable.
    labels : dict
        Condition id -> plain-language label, for the self-care text.
    """

    def __init__(self, rules: list[Rule], self_care: list[SelfCareNote] | None = None,
                 labels: dict | None = None, warning_questions: list | None = None,
                 applies_if: dict | None = None, unanswered_text: str = ""):
        self.rules = list(rules)
        self.self_care = list(self_care or [])
        self.labels = labels or {}
        # warning-sign Question objects (questions order) and their applies_if expressions
        self.warning_questions = list(warning_questions or [])
        self.applies_if = dict(applies_if or {})
        self.unanswered_text = unanswered_text
        self._trials = {q.id: _trial_values(q, self.rules) for q in self.warning_questions}

    def __repr__(self) -> str:
        return f"<TriageRules: {len(self.rules)} rules, {len(self.self_care)} self-care notes>"

    @classmethod
    def load(cls, data_dir: Path, kb=None) -> "TriageRules":
        """Read and validate ``triage.yaml`` in ``data_dir`` (``kb``: its loaded knowledge)."""
        kb, top = read_data_file(data_dir, "triage.yaml", kb)
        top.check_keys({"rules", "self_care", "qualifiers", "unanswered_warning_signs",
                        "out_of_scope"})
        vocab = Vocabulary(kb)
        rules, seen, rule_nodes = [], set(), {}
        for node in top.get("rules").list():
            node.check_keys({"id", "level", "red_flag", "when", "text", "source", "grade",
                             "note", "suspects"})
            rid = node.get("id").ident()
            if rid in seen:
                node.get("id").fail(f"rule id {rid!r} appears twice")
            seen.add(rid)
            level = node.get("level").choice(LEVELS)
            red_flag = node.get("red_flag").boolean()
            when = vocab.parse(node.get("when"), allow_posterior=not red_flag)
            if when.uses_posterior() and RANK[level] > RANK["see_clinician_soon"]:
                node.get("level").fail("a rule that reads a posterior may escalate to "
                                       "see_clinician_soon at most: urgent care must rest on a "
                                       "red flag the runner reported")
            if level == "self_care":
                node.get("level").fail("rules escalate; write self-care explanations under "
                                       "'self_care'")
            suspects = tuple(c.choice(vocab.conditions)
                             for c in node.get("suspects", []).list(allow_empty=True))
            rules.append(Rule(rid, level, when, node.get("text").text(), *source_of(node),
                              red_flag, node.get("note", "").value or "", suspects))
            rule_nodes[rid] = node
        notes = []
        for node in top.get("self_care").list():
            node.check_keys({"id", "conditions", "min_posterior", "review_after_days", "text",
                             "source", "grade", "note"})
            conds = tuple(c.choice(vocab.conditions)
                          for c in node.get("conditions", []).list(allow_empty=True))
            if conds and not node.has("min_posterior"):
                node.fail("a self-care note for named conditions needs 'min_posterior'")
            low = node.get("min_posterior").probability(False) if conds else 0.0
            text = node.get("text").text()
            if "{days}" not in text:
                node.get("text").fail("the text must say when to think again: include {days}")
            notes.append(SelfCareNote(node.get("id").ident(), conds, low,
                                      node.get("review_after_days").number(0, None, True),
                                      text, *source_of(node)))
        if not any(not n.conditions for n in notes):
            top.get("self_care").fail("one entry must have no 'conditions' (the default)")
        qualifiers = {q.choice(list(vocab.questions))
                      for q in top.get("qualifiers", []).list(allow_empty=True)}
        _check_warning_signs(kb, rules, rule_nodes, qualifiers, top)
        pending = top.get("unanswered_warning_signs")
        pending.check_keys({"text", "source", "grade"})
        unanswered = pending.get("text").text()
        if "{questions}" not in unanswered:
            pending.get("text").fail("the text must name the unanswered questions: include "
                                     "{questions}")
        from .intake import Intake  # the applicability of questions, as the intake reads it
        return cls(rules, notes, {c.id: c.label for c in kb.conditions},
                   [q for q in kb.questions if q.warning_sign], Intake(kb).applies_if,
                   unanswered)

    # --------------------------------------------------------------------------------
    def assess(self, answers: dict, conditions, evidence: dict | None = None) -> Triage:
        """Triage one case.

        Parameters
        ----------
        answers : dict
            Clean answers ``{question id: value}`` (validated by the intake; unknowns left out).
        conditions : pandas.Series or dict
            Condition id -> posterior probability.
        evidence : dict, optional
            The case's evidence vectors; not used by the current rules (kept so rules over
            findings can be added without changing callers).

        Returns
        -------
        Triage
            The most urgent level among the fired rules, with every fired rule as a reason
            (most urgent first). When none fires: ``self_care`` with one reason saying why and
            after how many days to think again.
        """
        lookup = conditions.to_dict() if isinstance(conditions, pd.Series) else conditions
        fired = [r for r in self.rules if r.fires(answers, lookup)]
        if fired:
            fired.sort(key=lambda r: -RANK[r.level])       # stable: file order within a level
            level = fired[0].level
            return Triage(level, tuple(r.reason() for r in fired),
                          self.missing(answers, lookup, level))
        missing = self.missing(answers, lookup, "self_care")
        note = self.self_care_note(lookup)
        if missing:  # self-care is stated only once the warning signs are answered
            asked = ", ".join(f"\u201c{m.label}\u201d" for m in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            note = Reason(note.rule, self.unanswered_text.format(
                n=len(missing), questions=asked + more) + " " + note.text, note.source,
                note.level, note.grade, note.red_flag, note.conditions)
        return Triage("self_care", (note,), missing)

    def applies(self, qid: str, answers: dict) -> bool:
        expr = self.applies_if.get(qid)
        return expr is None or expr.maybe(answers) is not False

    def missing(self, answers: dict, conditions, level: str) -> tuple[MissingSign, ...]:
        """The applicable warning-sign questions left unanswered, most urgent first (the most
        urgent level one of their answers would lead to), then in questions order."""
        open_ = [q for q in self.warning_questions
                 if q.id not in answers and self.applies(q.id, answers)]
        if not open_:
            return ()
        variations = [(q.id, v, conditions) for q in open_ for v in self._trials[q.id]]
        levels = iter(self.levels_of_variations(answers, variations))
        out = []
        for i, q in enumerate(open_):
            best = max((next(levels) for _ in self._trials[q.id]), key=RANK.__getitem__)
            best = max(best, level, key=RANK.__getitem__)
            out.append((-RANK[best], i, MissingSign(q.id, q.label, best,
                                                    RANK[best] > RANK[level])))
        return tuple(m for _, _, m in sorted(out, key=lambda t: t[:2]))

    def level(self, answers: dict, conditions) -> str:
        """Only the triage level of :meth:`assess` (the most urgent rule that fires), checking
        rules from the most urgent level down and stopping at the first that fires.
        ``conditions``: any mapping with ``.get`` (condition id -> posterior)."""
        for rule in self._by_urgency:
            if rule.fires(answers, conditions):
                return rule.level
        return "self_care"

    @property
    def _by_urgency(self) -> list:
        """The rules, most urgent level first (file order within a level)."""
        order = self.__dict__.get("_urgency_order")
        if order is None:
            order = self.__dict__["_urgency_order"] = sorted(self.rules,
                                                             key=lambda r: -RANK[r.level])
        return order

    def levels_of_variations(self, answers: dict, variations: list) -> list[str]:
        """:meth:`level` of many one-answer variations of ``answers`` at once (the
        next-question ranking): ``variations`` is ``[(question, value, posteriors)]``, each
        level that of ``answers`` with ``question`` set to ``value``. A rule that reads neither
        that question nor any posterior fires as it does on ``answers`` alone, which is decided
        once (24 of the 27 shipped rules read answers only)."""
        order = self._by_urgency
        reads = self.__dict__.get("_reads")
        if reads is None:  # per rule: the questions it reads, None when it reads a posterior
            reads = self.__dict__["_reads"] = [
                (None if r.when.uses_posterior() else questions_read(r.when)) for r in order]
        alone: dict[int, bool] = {}  # rule position -> fires on ``answers`` alone
        plans: dict = {}  # question -> (positions of the rules to test, first static firing)
        out = []
        for qid, value, posteriors in variations:
            got = plans.get(qid)
            if got is None:
                first = len(order)
                for i, read in enumerate(reads):
                    if read is not None and qid not in read:
                        if i not in alone:
                            alone[i] = order[i].fires(answers, {})
                        if alone[i]:
                            first = i
                            break
                got = plans[qid] = ([i for i in range(first) if reads[i] is None or
                                     qid in reads[i]], first)
            test, first = got
            varied = {**answers, qid: value}
            for i in test:
                if order[i].fires(varied, posteriors):
                    out.append(order[i].level)
                    break
            else:
                out.append(order[first].level if first < len(order) else "self_care")
        return out

    def self_care_note(self, conditions) -> Reason:
        """The self-care reason for the leading condition (``conditions``: a Series or a dict
        of condition id -> posterior; the first of equal maxima leads)."""
        if isinstance(conditions, pd.Series):
            conditions = conditions.to_dict()
        lead = max(conditions, key=conditions.__getitem__) if conditions else ""
        p = float(conditions[lead]) if conditions else 0.0
        note = next((n for n in self.self_care if lead in n.conditions and p >= n.min_posterior),
                    next(n for n in self.self_care if not n.conditions))
        return note.reason(self.labels.get(lead, lead))

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


def _trial_values(q, rules) -> list:
    """The answers worth trying for a question when asking what it could lead to: every option
    (bool, choice) or, for a number, its range ends and each cut-off a rule tests, either side."""
    if q.kind == "bool":
        return [True, False]
    if q.kind == "choice":
        return [o.id for o in q.options]
    values = {q.min, q.max}
    eps = q.increment or 1.0
    for r in rules:
        for a in positive_answers(r.when) + _negated_answers(r.when):
            if a.question == q.id:
                values.update(min(max(a.value + d, q.min), q.max) for d in (-eps, 0.0, eps))
    return sorted(values)


def _negated_answers(node) -> list:
    every = []

    def walk(n):
        if isinstance(n, Answer):
            every.append(n)
        for p in getattr(n, "parts", ()):
            walk(p)
    walk(node)
    return every


def _check_warning_signs(kb, rules, rule_nodes, qualifiers, top) -> None:
    """Every ``warning_sign`` question is read by a red-flag rule, and every question a
    red-flag rule needs to fire (read outside ``not``) is a warning sign or a declared
    qualifier (``qualifiers:``: questions that refine a red flag, such as where it hurts)."""
    marked = {q.id for q in kb.questions if q.warning_sign}
    read = set()
    for r in rules:
        if not r.red_flag:
            continue
        needed = {a.question for a in positive_answers(r.when)}
        read |= questions_read(r.when)
        unmarked = sorted(needed - marked - qualifiers)
        if unmarked:
            rule_nodes[r.id].get("when").fail(
                f"red flag {r.id!r} fires on {', '.join(unmarked)}: mark them `warning_sign: "
                "true` in questions.yaml or list them under `qualifiers`")
        if not needed & marked:
            rule_nodes[r.id].get("when").fail(
                f"red flag {r.id!r} reads no warning-sign question: a red flag needs one")
    unused = sorted(marked - read)
    if unused:
        top.fail(f"questions marked warning_sign in questions.yaml but read by no red-flag "
                 f"rule: {', '.join(unused)}")
    both = sorted(marked & qualifiers)
    if both:
        top.get("qualifiers").fail(f"{', '.join(both)}: a warning sign is not a qualifier")
