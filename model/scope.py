"""Conditions a fired red flag points at (must be ruled out) and presentations outside what the
model covers.

``must_rule_out``: every must-not-miss condition (``serious: true`` in conditions.yaml) named
(``suspects:``) by a fired red-flag rule, whatever its posterior, with the most urgent rule that
named it. A rule may also name common conditions (a pop points at a strain as well as at a
rupture): those stay in the ranking, where they belong, not in a list headed "must be ruled
out". The ranking itself stays the posterior: a
red flag is a reason to exclude a condition, not evidence that it is the most likely one.

``out_of_scope``: a finding the runner reported is *unexplained* when no condition that is at
all plausible (posterior >= ``min_posterior``, or named by a fired red flag) produces it
with probability >= ``min_likelihood``
(P(finding | condition) in findings.yaml); then the leak, i.e. something outside the model,
carries it. The thresholds are data (triage.yaml ``out_of_scope``).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .triage import GRADES, RANK, Triage

MUST_RULE_OUT_COLUMNS = ["label", "posterior", "rank", "rule", "level", "reason"]


def must_rule_out(triage: Triage, conditions: pd.Series, labels: dict,
                  serious=None) -> pd.DataFrame:
    """One row per must-not-miss condition named by a fired red-flag rule, most urgent first
    then by posterior (``conditions``: posteriors sorted descending; ``serious``: the ids of
    the must-not-miss conditions, default every condition)."""
    rows = {}
    for r in triage.reasons:           # most urgent first already
        if not r.red_flag:
            continue
        for c in r.conditions:
            if c not in rows and (serious is None or c in serious):
                rows[c] = dict(label=labels.get(c, c), posterior=float(conditions[c]),
                               rank=int(conditions.index.get_loc(c)) + 1, rule=r.rule,
                               level=r.level, reason=r.text)
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=MUST_RULE_OUT_COLUMNS)
    if rows:
        frame = frame.assign(_u=[-RANK[v] for v in frame["level"]]).sort_values(
            ["_u", "posterior"], ascending=[True, False], kind="stable").drop(columns="_u")
    frame.index.name = "condition"
    return frame


@dataclass(frozen=True)
class ScopeCheck:
    """Settings of the out-of-scope check (triage.yaml ``out_of_scope``)."""
    min_posterior: float
    min_likelihood: float
    text: str
    source: str
    grade: str
    ignore: frozenset = frozenset()      # findings too unspecific to count (severity, course)

    @classmethod
    def load(cls, data_dir, kb) -> "ScopeCheck":
        """Read the ``out_of_scope`` section of triage.yaml in ``data_dir``."""
        from .knowledge import read_data_file
        kb, top = read_data_file(data_dir, "triage.yaml", kb)
        return cls.from_node(top.get("out_of_scope"), kb)

    @classmethod
    def from_node(cls, node, kb) -> "ScopeCheck":
        node.check_keys({"min_posterior", "min_likelihood", "ignore", "text", "source", "grade",
                         "note"})
        findings = [f.id for f in kb.findings]
        text = node.get("text").text()
        if "{findings}" not in text:
            node.get("text").fail("the text must name what did not fit: include {findings}")
        return cls(node.get("min_posterior").probability(),
                   node.get("min_likelihood").probability(), text,
                   node.get("source").text(), node.get("grade").choice(GRADES),
                   frozenset(f.choice(findings)
                             for f in node.get("ignore", []).list(allow_empty=True)))

    def unexplained(self, kb, vectors: dict, posteriors: dict, named=()) -> list[str]:
        """Findings reported present that no plausible condition accounts for (``named``:
        conditions a fired red flag names, offered as explanations whatever their posterior)."""
        plausible = {c for c, p in posteriors.items() if p >= self.min_posterior} | set(named)
        out = []
        for f in kb.findings:
            vec = vectors.get(f.id)
            if f.id in self.ignore or vec is None or vec[0] != 0.0 or vec[1] <= 0.0:
                continue        # only findings reported as present (hard evidence)
            if not any(link.condition in plausible and link.p >= self.min_likelihood
                       for link in f.links):
                out.append(f.id)
        return out

    def reason(self, kb, unexplained: list[str]) -> str | None:
        if not unexplained:
            return None
        said = ", ".join(kb.label(f).lower() for f in unexplained)
        return self.text.format(findings=said)
