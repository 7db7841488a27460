"""Runner vignettes (tests/vignettes.yaml, written from evidence.md criteria): safety first (no
urgent case under-triaged), then exact triage and the expected condition in the top three."""
from pathlib import Path

import pandas as pd
import pytest
import yaml

from model.triage import LEVELS, RANK

VIGNETTES = Path(__file__).with_name("vignettes.yaml")
MIN_EXACT_TRIAGE = 0.90       # acceptance criteria of the triage issue
MIN_TOP3 = 0.80


@pytest.fixture(scope="module")
def vignettes():
    return yaml.safe_load(VIGNETTES.read_text(encoding="utf-8"))["vignettes"]


@pytest.fixture(scope="module")
def results(model, vignettes):
    rows = []
    for v in vignettes:
        try:
            d = model.diagnose(v["answers"])
            level, top3 = d.triage.level, list(d.conditions.index[:3])
            fired, error = [r.rule for r in d.triage.reasons], ""
            advice = [a.id for a in d.advice]
        except ValueError as exc:          # a valid case the model cannot take is a failure
            level, top3, fired, error, advice = "ERROR", [], [], str(exc)[:100], []
        rows.append(dict(id=v["id"], expected=v["level"], got=level,
                         condition=v["condition"], top3=", ".join(top3),
                         exact=level == v["level"], in_top3=v["condition"] in top3,
                         under_triaged=RANK.get(level, -1) < RANK[v["level"]], fired=fired,
                         error=error, advice=advice))
    return pd.DataFrame(rows).set_index("id")


def table(results) -> str:
    with pd.option_context("display.width", 250, "display.max_colwidth", 70,
                           "display.max_rows", 200):
        return "\n" + results.drop(columns=["fired", "advice"]).to_string()


def test_vignettes_are_well_formed(model, vignettes):
    assert len(vignettes) >= 30
    assert len({v["id"] for v in vignettes}) == len(vignettes)
    for v in vignettes:
        assert v["level"] in LEVELS and v["criterion"].strip() and v["story"].strip(), v["id"]
        assert v["condition"] in model.condition_ids, v["id"]
        model.intake.validate(v["answers"])          # every answer is a valid intake answer
    for level in LEVELS:
        assert sum(v["level"] == level for v in vignettes) >= 8, level


def test_every_red_flag_appears_in_some_vignette(model, results):
    fired = {r for rules in results["fired"] for r in rules}
    red = [r.id for r in model.triage_rules.rules if r.red_flag]
    missing = [r for r in red if r not in fired]
    assert not missing, f"red flags without a vignette: {missing}"


def test_no_urgent_case_is_triaged_below_urgent(results):
    urgent = results[results["expected"] == "urgent_care"]
    assert not urgent["under_triaged"].any(), table(results)


def test_exact_triage_on_at_least_90_percent(results):
    rate = results["exact"].mean()
    assert rate >= MIN_EXACT_TRIAGE, f"exact triage {rate:.0%}" + table(results)


def test_expected_condition_in_top_three_for_at_least_80_percent(results):
    rate = results["in_top3"].mean()
    assert rate >= MIN_TOP3, f"top-3 {rate:.0%}" + table(results)


def test_advice_follows_the_triage_on_every_vignette(model, results):
    book = {i.id: i for i in model.advice_book.items}
    leads = {i.lead: i.id for i in book.values() if i.lead}
    for case, row in results[results["got"] != "ERROR"].iterrows():
        assert row["advice"], case
        if row["got"] in leads:                       # urgent / see soon: the lead comes first
            assert row["advice"][0] == leads[row["got"]], case
        assert all(row["got"] in book[a].levels for a in row["advice"]), case
