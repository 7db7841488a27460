"""Answers in natural units (km, %, minutes, days, 0-10) -> evidence on the network's nodes.

The mapping (cut-offs, options, soft evidence between cut-offs) is data: ``data/questions.yaml``.
Validation happens here, at the boundary: an unknown question, a wrong type or an out-of-range
value raises ``ValueError`` naming the question and what is allowed, and nothing is changed.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from .knowledge import Knowledge, Question
from .predicates import Vocabulary, questions_read
from .validation import answers_mapping


def is_unknown(value) -> bool:
    """``None`` and NaN mean "not sure": no evidence."""
    if value is None:
        return True
    try:
        return isinstance(value, float) and math.isnan(value) or value is pd.NA or value is pd.NaT
    except TypeError:
        return False


def _show(value) -> str:
    """``repr(value)`` short enough for an error message (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:40] + f"... ({len(text)} characters)"


class Intake:
    """The intake questions of a knowledge base and their translation into evidence."""

    def __init__(self, kb: Knowledge):
        self.kb = kb
        self.by_id: dict[str, Question] = {q.id: q for q in kb.questions}
        # each possible answer's evidence as likelihood vectors, built once (``_vectors``)
        self._compiled: dict = {}
        self._option_ids: dict = {}
        self.vocabulary = Vocabulary(kb)
        # question id -> its parsed applies_if (answers only), validated at load
        self.applies_if = {}
        for q in kb.questions:
            if q.applies_if_node is None:
                continue
            expr = self.vocabulary.parse(q.applies_if_node, allow_posterior=False)
            if q.id in questions_read(expr):
                q.applies_if_node.fail(f"question {q.id!r} cannot depend on its own answer")
            self.applies_if[q.id] = expr

    # ------------------------------------------------------------------------------------
    def applicable(self, clean: dict) -> list[str]:
        """Ids (in questions order) of the questions that apply given clean answers: no
        ``applies_if``, or one that is true or not decided yet (it reads an unanswered
        question: ask it)."""
        return [q.id for q in self.kb.questions
                if q.id not in self.applies_if or self.applies_if[q.id].maybe(clean) is not False]

    def not_applicable(self, clean: dict) -> list[str]:
        """Answered questions whose ``applies_if`` is false given the other answers."""
        return [qid for qid in clean
                if qid in self.applies_if and self.applies_if[qid].maybe(clean) is False]

    def why_not_applicable(self, qid: str) -> str:
        """Plain words: when question ``qid`` is asked."""
        return (f"“{self.by_id[qid].label}” is asked only when "
                f"{self.vocabulary.describe(self.applies_if[qid])}")

    # ------------------------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """One row per question: id, label, group, kind, unit, min, max, step (where the
        dashboard asks it), options, help, source, grade, increment (a number's slider
        increment), warning_sign, applies_if."""
        rows = []
        for q in self.kb.questions:
            rows.append(dict(
                id=q.id, label=q.label, group=q.group, kind=q.kind, unit=q.unit,
                min=q.min, max=q.max, step=q.step,
                options=[(o.id, o.label) for o in q.options] if q.kind == "choice" else None,
                help=q.help, source=q.source, grade=q.grade, increment=q.increment,
                warning_sign=q.warning_sign, applies_if=q.applies_if))
        return pd.DataFrame(rows)

    def describe_allowed(self, q: Question) -> str:
        if q.kind == "number":
            span = f"{q.min:g} to {q.max:g}"
            # a unit that only restates the range ("0-10") would read "from 0 to 10 0-10"
            restates = q.unit and q.unit.replace("–", "-").replace(" ", "") == \
                f"{q.min:g}-{q.max:g}"
            unit = f" {q.unit}" if q.unit and not restates else ""
            return f"a number from {span}{unit}"
        if q.kind == "bool":
            return "True or False"
        return "one of " + ", ".join(repr(o.id) for o in q.options)

    def validate(self, answers) -> dict:
        """Check every answer; return ``{question id: clean value}`` without the unknowns."""
        answers = answers_mapping(answers)
        if answers is None:
            return {}
        clean = {}
        for qid, value in answers.items():
            if qid not in self.by_id:
                close = [k for k in self.by_id if str(qid).lower() in k or k in str(qid).lower()]
                hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
                raise ValueError(f"unknown question {qid!r}{hint}; see model.questions for the "
                                 f"{len(self.by_id)} question ids")
            if is_unknown(value):
                continue
            q = self.by_id[qid]
            clean[qid] = self._clean(q, value)
        return clean

    def _clean(self, q: Question, value):
        if q.kind == "number":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise ValueError(f"question {q.id!r} ({q.label}) needs "
                                 f"{self.describe_allowed(q)}; got {type(value).__name__} "
                                 f"{_show(value)}")
            try:
                x = float(value)
            except OverflowError:  # an int beyond float range (10**400) is out of range
                x = math.inf
            if not math.isfinite(x) or not q.min <= x <= q.max:
                raise ValueError(f"question {q.id!r} ({q.label}): {_show(value)} is out of range; "
                                 f"allowed: {self.describe_allowed(q)}")
            return x
        if q.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            # data frames store booleans with gaps as 0.0 / 1.0; compared without float(),
            # which overflows on an int beyond float range (10**400)
            if isinstance(value, numbers.Real) and value in (0, 1):
                return bool(value)
            raise ValueError(f"question {q.id!r} ({q.label}) needs {self.describe_allowed(q)}; "
                             f"got {_show(value)}")
        if not isinstance(value, str) or value not in self._options(q):
            raise ValueError(f"question {q.id!r} ({q.label}): {_show(value)} is not an option; "
                             f"allowed: {self.describe_allowed(q)}")
        return value

    def _options(self, q: Question) -> frozenset:
        got = self._option_ids.get(q.id)
        if got is None:
            got = self._option_ids[q.id] = frozenset(o.id for o in q.options)
        return got

    # ------------------------------------------------------------------------------------
    def mapping_for(self, q: Question, value) -> dict:
        """The evidence one clean answer produces: ``{node: state or {state: weight}}``."""
        if q.kind == "number":
            for b in q.bins:
                if b.below is None or value < b.below:
                    return b.mapping.evidence
        if q.kind == "bool":
            m = q.if_yes if value else q.if_no
            return m.evidence if m is not None else {}
        return next(o.mapping.evidence for o in q.options if o.id == value)

    def _vectors(self, q: Question, value) -> tuple:
        """The evidence of one clean answer as ``((node, likelihood vector), ...)``, compiled
        once per possible answer (a bin, an option, yes or no)."""
        if q.kind == "number":
            key = (q.id, next(i for i, b in enumerate(q.bins)
                              if b.below is None or value < b.below))
        else:
            key = (q.id, value)
        got = self._compiled.get(key)
        if got is None:
            out = []
            for node, ev in self.mapping_for(q, value).items():
                states = self.kb.states[node]
                if isinstance(ev, str):
                    vec = np.zeros(len(states))
                    vec[states.index(ev)] = 1.0
                else:
                    vec = np.array([float(ev.get(s, 0.0)) for s in states])
                vec.flags.writeable = False
                out.append((node, vec))
            got = self._compiled[key] = tuple(out)
        return got

    def evidence(self, clean: dict) -> tuple[dict, dict]:
        """Combine clean answers into ``({node: likelihood vector}, {node: [question ids]})``.

        Two answers about the same node multiply their likelihoods; if the product is zero the
        answers contradict each other and ``ValueError`` names both.
        """
        vectors: dict[str, np.ndarray] = {}
        sources: dict[str, list[str]] = {}
        by_id = self.by_id
        for qid, value in clean.items():
            for node, vec in self._vectors(by_id[qid], value):
                if node in vectors:
                    product = vectors[node] * vec
                    if not product.any():
                        others = ", ".join(repr(o) for o in sources[node])
                        raise ValueError(
                            f"answers {others} and {qid!r} contradict each other about "
                            f"{self.kb.label(node).lower()}; change or clear one of them")
                    vectors[node] = product
                    sources[node].append(qid)
                else:
                    vectors[node] = vec.copy()
                    sources[node] = [qid]
        return vectors, sources
