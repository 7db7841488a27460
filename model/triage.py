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

LEVELS = ("self_care", "see_clinician_soon", "urgent_care")
RANK = {level: i for i, level in enumerate(LEVELS)}
GRADES = ("strong", "moderate", "weak", "expert_opinion")
COMPARE = {"above": lambda x, t: x > t, "at_least": lambda x, t: x >= t,
           "below": lambda x, t: x < t, "at_most": lambda x, t: x <= t}


@dataclass(frozen=True)
class Reason:
    """One rule that decided the triage: its id, a plain sentence, the guideline behind it."""
    rule: str
    text: str
    source: str
    level: str = "self_care"
    grade: str = ""
    red_flag: bool = False


@dataclass(frozen=True)
class Triage:
    """The triage level and every reason for it, most urgent first."""
    level: str
    reasons: tuple[Reason, ...]

    @property
    def red_flags(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.red_flag)


# ------------------------------------------------------------------------------ the language
@dataclass(frozen=True)
class Answer:
    question: str
    op: str                 # 'is' | 'in' | one of COMPARE
    value: object

    def test(self, answers: dict, conditions: pd.Series) -> bool:
        if self.question not in answers:
            return False
        x = answers[self.question]
        if self.op == "is":
            return x == self.value
        if self.op == "in":
            return x in self.value
        return COMPARE[self.op](x, self.value)

    def uses_posterior(self) -> bool:
        return False


@dataclass(frozen=True)
class Posterior:
    condition: str
    threshold: float

    def test(self, answers: dict, conditions: pd.Series) -> bool:
        return bool(conditions.get(self.condition, 0.0) > self.threshold)

    def uses_posterior(self) -> bool:
        return True


@dataclass(frozen=True)
class Combine:
    op: str                 # 'all' | 'any' | 'not'
    parts: tuple

    def test(self, answers: dict, conditions: pd.Series) -> bool:
        if self.op == "all":
            return all(p.test(answers, conditions) for p in self.parts)
        if self.op == "any":
            return any(p.test(answers, conditions) for p in self.parts)
        return not self.parts[0].test(answers, conditions)

    def uses_posterior(self) -> bool:
        return any(p.uses_posterior() for p in self.parts)


def _questions_read(node) -> frozenset:
    """The questions a rule's condition reads (a walk over its parts)."""
    if isinstance(node, Answer):
        return frozenset({node.question})
    return frozenset().union(*(_questions_read(p) for p in getattr(node, "parts", ())))


class Vocabulary:
    """What a rule may refer to: question ids with their kind/options/range, condition ids."""

    def __init__(self, kb):
        self.questions = {q.id: q for q in kb.questions}
        self.conditions = [c.id for c in kb.conditions]

    def parse(self, node: Node, allow_posterior: bool = True):
        """Parse one ``when:`` expression; any problem names file, line and key."""
        node.mapping()
        keys = set(node.value)
        for op in ("all", "any"):
            if keys == {op}:
                return Combine(op, tuple(self.parse(n, allow_posterior)
                                         for n in node.get(op).list()))
        if keys == {"not"}:
            return Combine("not", (self.parse(node.get("not"), allow_posterior),))
        if "posterior" in keys:
            if not allow_posterior:
                node.fail("posteriors cannot be used here, only answers")
            node.check_keys({"posterior", "above"})
            cond = node.get("posterior").choice(self.conditions)
            return Posterior(cond, node.get("above").probability())
        if "answer" in keys:
            return self._answer(node)
        node.fail(f"expected one of all / any / not / answer / posterior, got keys {sorted(keys)}")

    def _answer(self, node: Node) -> Answer:
        q = self.questions.get(node.get("answer").text())
        if q is None:
            node.get("answer").fail(f"unknown question {node.value['answer']!r}; see "
                                    "data/questions.yaml")
        ops = set(node.value) - {"answer"}
        if len(ops) != 1:
            node.fail("give exactly one test besides 'answer': is, in, above, at_least, below "
                      "or at_most")
        op = ops.pop()
        val = node.get(op)
        options = [o.id for o in q.options]
        if op == "is" and q.kind == "bool":
            return Answer(q.id, op, val.boolean())
        if op == "is" and q.kind == "choice":
            return Answer(q.id, op, val.choice(options))
        if op == "in" and q.kind == "choice":
            return Answer(q.id, op, frozenset(v.choice(options) for v in val.list()))
        if op in COMPARE and q.kind == "number":
            return Answer(q.id, op, val.number(q.min, q.max))
        val.fail(f"test {op!r} does not apply to question {q.id!r} of kind {q.kind!r} "
                 "(bool: is; choice: is, in; number: above, at_least, below, at_most)")


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

    def fires(self, answers: dict, conditions: pd.Series) -> bool:
        return self.when.test(answers, conditions)

    def reason(self) -> Reason:
        return Reason(self.id, self.text, self.source, self.level, self.grade, self.red_flag)


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
                 labels: dict | None = None):
        self.rules = list(rules)
        self.self_care = list(self_care or [])
        self.labels = labels or {}

    def __repr__(self) -> str:
        return f"<TriageRules: {len(self.rules)} rules, {len(self.self_care)} self-care notes>"

    @classmethod
    def load(cls, data_dir: Path, kb=None) -> "TriageRules":
        """Read and validate ``triage.yaml`` in ``data_dir`` (``kb``: its loaded knowledge)."""
        kb, top = read_data_file(data_dir, "triage.yaml", kb)
        top.check_keys({"rules", "self_care"})
        vocab = Vocabulary(kb)
        rules, seen = [], set()
        for node in top.get("rules").list():
            node.check_keys({"id", "level", "red_flag", "when", "text", "source", "grade",
                             "note"})
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
            rules.append(Rule(rid, level, when, node.get("text").text(), *source_of(node),
                              red_flag, node.get("note", "").value or ""))
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
        return cls(rules, notes, {c.id: c.label for c in kb.conditions})

    # --------------------------------------------------------------------------------
    def assess(self, answers: dict, conditions: pd.Series, evidence: dict | None = None) -> Triage:
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
            return Triage(fired[0].level, tuple(r.reason() for r in fired))
        return Triage("self_care", (self.self_care_note(lookup),))

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
                (None if r.when.uses_posterior() else _questions_read(r.when)) for r in order]
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
