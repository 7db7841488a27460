"""Junction trees (model/junction_tree.py): valid triangulations, and the two ways a compiled
plan executes a step (einsum, flat gathers for big cliques) giving the same numbers."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.junction_tree import JunctionTree, Plan, _max_spanning_tree, _triangulate

SETTINGS = dict(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_valid_clique_tree(cliques, edges, adjacency):
    """Every edge of the graph lies in a clique; the cliques form a tree with the running
    intersection property (the cliques holding a variable are connected)."""
    sets = [set(c) for c in cliques]
    for a, nbrs in enumerate(adjacency):
        for b in nbrs:
            assert any({a, b} <= c for c in sets), (a, b)
    assert len(edges) == len(cliques) - 1
    for v in set().union(*sets):
        holding = {i for i, c in enumerate(sets) if v in c}
        reached, todo = set(), [next(iter(holding))]
        while todo:
            i = todo.pop()
            reached.add(i)
            todo += [j for a, b in edges for i2, j in ((a, b), (b, a))
                     if i2 == i and j in holding and j not in reached]
        assert reached == holding, v


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 14))
    cards = draw(st.lists(st.integers(2, 4), min_size=n, max_size=n))
    adjacency = [set() for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            if draw(st.floats(0, 1)) < 0.3:
                adjacency[a].add(b)
                adjacency[b].add(a)
    return adjacency, np.array(cards)


@settings(max_examples=60, **SETTINGS)
@given(graph=graphs())
def test_triangulation_covers_every_edge_with_a_running_intersection_tree(graph):
    adjacency, cards = graph
    live = list(range(len(cards)))
    cliques = _triangulate(adjacency, cards, live)
    edges = _max_spanning_tree(cliques)
    assert set().union(*map(set, cliques)) == set(live)
    assert_valid_clique_tree(cliques, edges, adjacency)


def test_engine_trees_are_valid_clique_trees(engine):
    """The trees the engine compiles (all findings kept, or none) hold every factor."""
    for pattern in (frozenset(), frozenset(engine.foldable)):
        tree = engine.tree(pattern)
        assert isinstance(tree, JunctionTree)
        edges = [(a, b) for a in range(len(tree.cliques)) for b in tree.nbrs[a] if a < b]
        adjacency = [set() for _ in range(len(tree.cards))]
        for c in tree.cliques:
            for v in c:
                adjacency[v].update(set(c) - {v})
        assert_valid_clique_tree(tree.cliques, edges, adjacency)


@pytest.fixture()
def tree_engine(network):
    from model.engine import Engine
    engine = Engine(network)
    engine.use_enumeration = False
    return engine


def test_gathered_steps_equal_plain_einsum(tree_engine, monkeypatch):
    """200 runners who answered some training and background questions and no symptoms: the
    shared tree's steps run as plain einsum calls, then (every step big) as flat gathers and
    planned einsum paths; same marginals and log P(evidence)."""
    engine = tree_engine
    rng = np.random.default_rng(3)
    enum = engine.enumeration
    n = 200
    lik = {}
    for c in enum.causes:
        card = engine.cards[c]
        answered = rng.random(n) < 0.6
        vec = np.ones((n, card))
        vec[answered] = np.eye(card)[rng.integers(0, card, answered.sum())]
        lik[c] = vec
    lik[engine.index["leg_pain"]] = np.tile([0.0, 1.0], (n, 1))
    possible = engine.check_possible(lik, n)  # (a man on the pill is ruled out)
    lik = {v: a[possible] for v, a in lik.items()}
    n = int(possible.sum())
    variables = list(range(len(engine.variables)))
    keep = frozenset()

    def run():
        marg, log_z = engine.posterior(lik, n, variables, check=False, slice_vars=(), keep=keep)
        return {v: m.copy() for v, m in marg.items()}, log_z.copy()

    monkeypatch.setattr(Plan, "SMALL", 1 << 60)  # every step a plain einsum
    plain, plain_z = run()
    monkeypatch.setattr(Plan, "SMALL", 0)  # every step big: gathers / einsum paths
    gathered, gathered_z = run()
    assert any(p._gathers for t in engine._trees.values() for p in t._plans.values()), \
        "the gathered path was not exercised"
    np.testing.assert_allclose(gathered_z, plain_z, rtol=0, atol=1e-10)
    for v, m in plain.items():
        np.testing.assert_allclose(gathered[v], m, rtol=0, atol=1e-12,
                                   err_msg=engine.variables[v])
