"""Graded self-care advice for the likely condition(s) and the reported causes.

The advice is data (``data/advice.yaml``): every item has its evidence grade and source, and
items that correct a seed-article claim say which claim. Selection follows the triage: at
``urgent_care`` only the lead ("get care today") and items that cannot delay care are shown; at
``see_clinician_soon`` the lead is "book a clinician within days".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .knowledge import read_data_file
from .triage import LEVELS, Triage, Vocabulary, source_of

KINDS = ("do", "avoid")
DEFAULT_LEVELS = ("self_care", "see_clinician_soon")


@dataclass(frozen=True)
class Advice:
    """One piece of advice: what to do (or avoid), why, how strong the evidence is, its source."""
    action: str
    why: str
    evidence: str            # grade: strong | moderate | weak | expert_opinion
    source: str
    kind: str = "do"         # 'do' | 'avoid'
    id: str = ""
    corrects: str = ""       # the seed-article claim this corrects, if any
    basis: str = ""          # what selected it: 'triage', a condition id, a cause id or 'general'


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    action: str
    why: str
    grade: str
    source: str
    corrects: str
    levels: tuple[str, ...]
    lead: str | None
    conditions: tuple[str, ...]
    causes: dict             # cause id -> tuple of risk states
    always: bool
    when: object | None

    def advice(self, basis: str, reason=None) -> Advice:
        why = self.why.format(reason=reason.text) if reason is not None else self.why
        # quoting the fired rule, the advice rests on that rule's source, not on the sources of
        # every other warning sign the item's own list covers
        source = reason.source if reason is not None else self.source
        return Advice(self.action, why, self.grade, source, self.kind, self.id, self.corrects,
                      basis)


class AdviceBook:
    """The advice items and the rule that picks them for one diagnosis.

    Parameters
    ----------
    items : list of Item
        In file order (the order within each group of the selection).
    condition_min_posterior : float
        Conditions at or above this posterior (and always the leading one) get their advice.
    """

    def __init__(self, items: list[Item], condition_min_posterior: float):
        self.items = list(items)
        self.condition_min_posterior = condition_min_posterior

    def __repr__(self) -> str:
        return f"<AdviceBook: {len(self.items)} items>"

    @classmethod
    def load(cls, data_dir: Path, kb=None) -> "AdviceBook":
        """Read and validate ``advice.yaml`` in ``data_dir`` (``kb``: its loaded knowledge)."""
        kb, top = read_data_file(data_dir, "advice.yaml", kb)
        top.check_keys({"settings", "advice"})
        settings = top.get("settings").mapping()
        settings.check_keys({"condition_min_posterior", "condition_min_posterior_note"})
        low = settings.get("condition_min_posterior").probability()
        vocab = Vocabulary(kb)
        states = {c.id: c.state_ids for c in kb.causes}
        items, seen = [], set()
        for node in top.get("advice").list():
            node.check_keys({"id", "kind", "action", "why", "grade", "source", "corrects",
                             "levels", "lead", "conditions", "causes", "always", "when"})
            iid = node.get("id").ident()
            if iid in seen:
                node.get("id").fail(f"advice id {iid!r} appears twice")
            seen.add(iid)
            levels = tuple(n.choice(LEVELS) for n in node.get("levels", list(DEFAULT_LEVELS)).list())
            lead = node.get("lead").choice(LEVELS) if node.has("lead") else None
            if lead is not None and lead not in levels:
                node.get("lead").fail(f"an item that leads at {lead!r} must list it in 'levels'")
            conds = tuple(n.choice(vocab.conditions)
                          for n in node.get("conditions", []).list(allow_empty=True))
            causes = {}
            for cid, sn in node.get("causes", {}).items():
                if cid not in states:
                    sn.fail(f"unknown cause {cid!r}; allowed: {', '.join(states)}")
                risk = states[cid][1:]
                causes[cid] = (risk if sn.value == "any"
                               else tuple(s.choice(risk) for s in sn.list()))
            always = node.get("always", False).boolean()
            if not (conds or causes or always or lead):
                node.fail("say when the item applies: conditions, causes, always or lead")
            when = vocab.parse(node.get("when"), allow_posterior=False) if node.has("when") else None
            why = node.get("why").text()
            if "{reason}" in why and lead is None:
                node.get("why").fail("only a lead item may quote the triage {reason}")
            items.append(Item(iid, node.get("kind").choice(KINDS), node.get("action").text(),
                              why, *reversed(source_of(node)),
                              node.get("corrects", "").value or "", levels, lead, conds,
                              causes, always, when))
        return cls(items, low)

    # --------------------------------------------------------------------------------
    def select(self, conditions: pd.Series, causes: pd.DataFrame, answers: dict,
               triage: Triage) -> list[Advice]:
        """Advice for one diagnosis, most important first.

        Order: the lead for the triage level; then advice for the likely conditions (most likely
        first); then for the causes the runner reported at a risk state; then general advice.
        Items not allowed at the triage level (e.g. self-care at ``urgent_care``) are left out.
        """
        ranked = conditions.sort_values(ascending=False, kind="stable")
        reported = {}
        if causes is not None and len(causes):
            hit = causes["reported"].to_numpy(bool) & (causes["posterior"].to_numpy() >= 0.5)
            reported = dict(zip(causes.index[hit], causes["state_id"].to_numpy()[hit]))
        return self.choose(list(ranked.items()), reported, answers, triage)

    def choose(self, ranked: list, reported: dict, answers: dict, triage: Triage) -> list[Advice]:
        """:meth:`select` on plain structures: ``ranked`` = ``[(condition, posterior)]`` most
        likely first; ``reported`` = ``{cause: state id}`` of the causes reported at a risk
        level with posterior >= 0.5."""
        level = triage.level
        top_reason = triage.reasons[0] if triage.reasons else None
        likely = [c for i, (c, p) in enumerate(ranked)
                  if i == 0 or p >= self.condition_min_posterior]
        lookup = dict(ranked)  # (rules look posteriors up one by one: a dict is quick)
        usable = [it for it in self.items if level in it.levels
                  and (it.when is None or it.when.test(answers, lookup))]
        out, used = [], set()

        def add(item: Item, basis: str, reason=None):
            if item.id not in used:
                used.add(item.id)
                out.append(item.advice(basis, reason))

        for it in usable:
            if it.lead == level:
                add(it, "triage", top_reason)
        for cond in likely:
            for it in usable:
                if cond in it.conditions and it.lead is None:
                    add(it, cond)
        for it in usable:
            hit = next((c for c, s in it.causes.items() if reported.get(c) in s), None)
            if hit and it.lead is None:
                add(it, hit)
        for it in usable:
            if it.always and it.lead is None:
                add(it, "general")
        return out
