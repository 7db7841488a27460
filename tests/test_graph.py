"""The network drawing (model/graph.py, Model.graph_dot) and the provenance panel's table."""
from __future__ import annotations

import re

import pytest

from model.graph import EVIDENCE_STYLE, LEADING_STYLE


def node_lines(dot: str) -> dict[str, str]:
    """node id -> its attribute text, for every node statement of the DOT text."""
    return {m.group(1): m.group(2)
            for m in re.finditer(r'^\s+"([^"]+)" \[(.*)\];$', dot, flags=re.M)}


def edge_pairs(dot: str) -> set[tuple[str, str]]:
    return set(re.findall(r'^\s+"([^"]+)" -> "([^"]+)"', dot, flags=re.M))


@pytest.fixture(scope="module")
def case(model):
    answers = {"pain_location": "shin", "tenderness": "pinpoint_bone",
               "longest_run_increase_pct": 150.0}
    return answers, model.diagnose(answers)


def test_whole_network_has_every_node_and_edge(model, case):
    dot = model.graph_dot(case[1], focus=False)
    assert set(node_lines(dot)) == set(model.network.nodes())
    assert edge_pairs(dot) == set(model.network.edges())


def test_answers_and_leading_condition_are_highlighted(model, case):
    answers, d = case
    nodes = node_lines(model.graph_dot(d))
    evidence = set(model.evidence_nodes(answers))
    assert {"session_overload", "location_shin", "focal_bony_tenderness"} <= evidence
    for node in evidence - {d.leading_condition}:
        assert f'fillcolor="{EVIDENCE_STYLE["fillcolor"]}"' in nodes[node], node
    assert f'fillcolor="{LEADING_STYLE["fillcolor"]}"' in nodes[d.leading_condition]
    unanswered = set(nodes) - evidence - {d.leading_condition}
    assert all(EVIDENCE_STYLE["fillcolor"] not in nodes[n] for n in unanswered)


def test_focused_view_keeps_what_explains_the_leading_condition(model, case):
    answers, d = case
    whole = node_lines(model.graph_dot(d, focus=False))
    focused = node_lines(model.graph_dot(d, focus=True, top=3))
    assert set(focused) < set(whole)
    assert set(d.conditions.index[:3]) | set(model.evidence_nodes(answers)) <= set(focused)
    parents = {u for u, v in model.network.edges() if v == d.leading_condition}
    assert parents <= set(focused)
    assert "leg_pain" in focused


def test_provenance_lists_every_parameter_behind_a_condition_with_source_and_grade(model):
    for condition in model.condition_ids:
        table = model.provenance(condition)
        params = model.parameters
        expected = ((params["node"] == condition) | (params["parent"] == condition)).sum()
        assert len(table) == expected
        assert table["source"].str.strip().astype(bool).all()
        assert table["grade"].isin(["strong", "moderate", "weak", "expert_opinion"]).all()
        assert table["probability"].between(0, 1).all()
        risk = table[table["role"] == "risk factor"]
        # every cause link shows its published effect size (odds ratio / relative risk / HR)
        assert risk["effect"].str.match(r"(odds ratio|relative risk|hazard ratio) \d").all()


def test_provenance_rejects_an_unknown_node(model):
    with pytest.raises(ValueError, match="unknown node 'no_such_node'"):
        model.provenance("no_such_node")
