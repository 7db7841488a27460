"""When to seek medical care. (Interface; the rules live in ``data/triage.yaml``.)"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

LEVELS = ("self_care", "see_clinician_soon", "urgent_care")


@dataclass(frozen=True)
class Reason:
    rule: str
    text: str
    source: str
    level: str = "self_care"


@dataclass(frozen=True)
class Triage:
    level: str
    reasons: tuple[Reason, ...]


class TriageRules:
    """Red-flag rules and posterior thresholds -> a triage level with its reasons."""

    def __init__(self, rules: list | None = None):
        self.rules = rules or []

    @classmethod
    def load(cls, data_dir: Path) -> "TriageRules":
        return cls([])

    def assess(self, answers: dict, conditions: pd.Series, evidence: dict) -> Triage:
        return Triage("self_care", ())
