"""The small predicate language of the knowledge base, over answers (and posteriors).

Used by triage rules (``when:``), advice (``when:``) and question applicability
(``applies_if:`` in data/questions.yaml)::

    {all: [expr, ...]}  {any: [expr, ...]}  {not: expr}
    {answer: swelling, is: true}                 bool or choice answer equals a value
    {answer: pain_location, in: [calf, shin]}    choice answer is one of the options
    {answer: days_since_onset, above: 7}         number answer > 7 (also at_least, below, at_most)
    {posterior: deep_vein_thrombosis, above: 0.1}

Two readings of an unanswered question: :meth:`test` (rules) takes its predicate as false, so a
red flag has to be reported to fire; :meth:`maybe` (applicability) answers ``None`` ("not known
yet") with Kleene's three-valued logic, so a question whose condition reads an unanswered
question is still asked.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._yaml import Node

COMPARE = {"above": lambda x, t: x > t, "at_least": lambda x, t: x >= t,
           "below": lambda x, t: x < t, "at_most": lambda x, t: x <= t}
COMPARE_WORDS = {"above": "more than", "at_least": "at least", "below": "less than",
                 "at_most": "at most"}


@dataclass(frozen=True)
class Answer:
    question: str
    op: str                 # 'is' | 'in' | one of COMPARE
    value: object

    def test(self, answers: dict, conditions) -> bool:
        if self.question not in answers:
            return False
        x = answers[self.question]
        if self.op == "is":
            return x == self.value
        if self.op == "in":
            return x in self.value
        return COMPARE[self.op](x, self.value)

    def maybe(self, answers: dict):
        if self.question not in answers:
            return None
        return self.test(answers, {})

    def uses_posterior(self) -> bool:
        return False


@dataclass(frozen=True)
class Posterior:
    condition: str
    threshold: float

    def test(self, answers: dict, conditions) -> bool:
        return bool(conditions.get(self.condition, 0.0) > self.threshold)

    def maybe(self, answers: dict):
        return None

    def uses_posterior(self) -> bool:
        return True


@dataclass(frozen=True)
class Combine:
    op: str                 # 'all' | 'any' | 'not'
    parts: tuple

    def test(self, answers: dict, conditions) -> bool:
        if self.op == "all":
            return all(p.test(answers, conditions) for p in self.parts)
        if self.op == "any":
            return any(p.test(answers, conditions) for p in self.parts)
        return not self.parts[0].test(answers, conditions)

    def maybe(self, answers: dict):
        got = [p.maybe(answers) for p in self.parts]
        if self.op == "not":
            return None if got[0] is None else not got[0]
        if self.op == "all":
            return False if False in got else (None if None in got else True)
        return True if True in got else (None if None in got else False)

    def uses_posterior(self) -> bool:
        return any(p.uses_posterior() for p in self.parts)


def questions_read(node) -> frozenset:
    """The questions an expression reads (a walk over its parts)."""
    if isinstance(node, Answer):
        return frozenset({node.question})
    return frozenset().union(*(questions_read(p) for p in getattr(node, "parts", ())))


def positive_answers(node, negated: bool = False) -> list:
    """The :class:`Answer` predicates an expression reads outside any ``not`` (those an
    answer has to make true for the expression to become true)."""
    if isinstance(node, Answer):
        return [] if negated else [node]
    out = []
    for p in getattr(node, "parts", ()):
        out += positive_answers(p, negated or getattr(node, "op", None) == "not")
    return out


class Vocabulary:
    """What an expression may refer to: question ids with their kind/options/range, condition
    ids. ``questions``: Question objects (from the knowledge base)."""

    def __init__(self, kb):
        self.questions = {q.id: q for q in kb.questions}
        self.conditions = [c.id for c in kb.conditions]

    def parse(self, node: Node, allow_posterior: bool = True):
        """Parse one expression; any problem names file, line and key."""
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

    # ------------------------------------------------------------------------------ words
    def describe(self, expr) -> str:
        """An expression in plain words, with question labels and option labels (no ids)."""
        if isinstance(expr, Answer):
            q = self.questions[expr.question]
            if q.kind == "bool":
                return f"you answer {'yes' if expr.value else 'no'} to \u201c{q.label}\u201d"
            if q.kind == "choice":
                labels = {o.id: o.label for o in q.options}
                vals = [expr.value] if expr.op == "is" else sorted(expr.value)
                said = " or ".join(f"\u201c{labels[v]}\u201d" for v in vals)
                return f"the answer to \u201c{q.label}\u201d is {said}"
            unit = f" {q.unit}" if q.unit else ""
            return (f"the answer to \u201c{q.label}\u201d is {COMPARE_WORDS[expr.op]} "
                    f"{expr.value:g}{unit}")
        if isinstance(expr, Posterior):
            return "the model finds a condition likely"
        if expr.op == "not":
            return f"it is not the case that {self.describe(expr.parts[0])}"
        joiner = " and " if expr.op == "all" else " or "
        return joiner.join(self.describe(p) for p in expr.parts)

    def describe_answer(self, qid: str, value) -> str:
        """One answer in plain words: \u201clabel\u201d: value label."""
        q = self.questions[qid]
        if q.kind == "bool":
            shown = "yes" if value else "no"
        elif q.kind == "choice":
            shown = next(o.label for o in q.options if o.id == value)
        else:
            unit = q.unit or ""
            shown = f"{value:g}" + (f" on a {unit} scale" if unit[:1].isdigit()
                                    else f" {unit}" if unit else "")
        return f"\u201c{q.label}\u201d: {shown}"
