"""The network drawing (model/graph.py, Model.graph_dot) and the provenance panel's table."""
from __future__ import annotations

import re

import pytest

from model.graph import DENIED_STYLE, EVIDENCE_STYLE, LEADING_STYLE


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


def test_yes_answers_and_leading_condition_are_highlighted(model, case):
    answers, d = case
    nodes = node_lines(model.graph_dot(d))
    # a pain in the shin is leg pain too
    told = {"session_overload", "location_shin", "focal_bony_tenderness", "leg_pain"}
    for node in told - {d.leading_condition}:
        assert f'fillcolor="{EVIDENCE_STYLE["fillcolor"]}"' in nodes[node], node
    assert f'fillcolor="{LEADING_STYLE["fillcolor"]}"' in nodes[d.leading_condition]
    # nothing the runner did not say yes to is drawn as "what you told us"
    for node in set(nodes) - told - {d.leading_condition}:
        assert EVIDENCE_STYLE["fillcolor"] not in nodes[node], node


def test_no_answers_are_drawn_distinctly_never_as_what_you_told_us(model):
    answers = {"pain_location": "calf", "swelling": False, "breathless_or_chest_pain": False,
               "tearing_or_pop": False, "tenderness": "pinpoint_bone"}
    d = model.diagnose(answers)
    nodes = node_lines(model.graph_dot(d, focus=False))
    denied = {"swelling", "tearing_or_pop", "breathless_or_chest_pain"}
    for node in denied:
        assert EVIDENCE_STYLE["fillcolor"] not in nodes[node], node
        assert f'color="{DENIED_STYLE["color"]}"' in nodes[node] and "dashed" in nodes[node], node
        assert 'label="no: ' in nodes[node], node
    # a choice's other options (a pinpoint bone tenderness is "not diffuse") are neither
    for node in ("diffuse_shin_tenderness", "muscle_tenderness"):
        assert EVIDENCE_STYLE["fillcolor"] not in nodes[node] and "no: " not in nodes[node]
    assert EVIDENCE_STYLE["fillcolor"] in nodes["focal_bony_tenderness"]


def test_focused_view_keeps_what_explains_the_leading_condition(model, case):
    answers, d = case
    whole = node_lines(model.graph_dot(d, focus=False))
    focused = node_lines(model.graph_dot(d, focus=True, top=3))
    assert set(focused) < set(whole)
    assert set(d.conditions.index[:3]) | {"session_overload", "location_shin",
                                          "focal_bony_tenderness"} <= set(focused)
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
