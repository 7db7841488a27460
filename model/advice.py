"""Graded self-care advice. (Interface; the advice lives in ``data/advice.yaml``.)"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Advice:
    action: str
    why: str
    evidence: str
    source: str
    kind: str = "do"


class AdviceBook:
    def __init__(self, items: list | None = None):
        self.items = items or []

    @classmethod
    def load(cls, data_dir: Path) -> "AdviceBook":
        return cls([])

    def select(self, conditions, causes, answers, triage) -> list[Advice]:
        return []
