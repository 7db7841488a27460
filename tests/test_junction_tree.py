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
    return Engine(network, backends=("junction_tree",))


def test_compiled_steps_equal_plain_einsum_and_every_row_is_its_own(tree_engine, monkeypatch):
    """200 runners who answered some training and background questions and no symptoms: the
    shared tree's steps run in the compiled executor and as plain numpy einsums (the
    reference); same marginals and log P(evidence). A row's bits do not depend on the rows
    run with it."""
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

    def run(rows=slice(None)):
        part = {v: a[rows] for v, a in lik.items()}
        rows_n = len(next(iter(part.values())))
        marg, log_z = engine.posterior(part, rows_n, variables, check=False, slice_vars=(),
                                       keep=frozenset())
        return {v: m.copy() for v, m in marg.items()}, log_z.copy()

    got, got_z = run()
    plans = [p for t in engine._trees.values() for p in t._plans.values()]
    assert plans and all(p.program is not None for p in plans), "the compiled path ran"
    monkeypatch.setattr(Plan, "reference", True)
    plain, plain_z = run()
    np.testing.assert_allclose(got_z, plain_z, rtol=0, atol=1e-10)
    for v, m in plain.items():
        np.testing.assert_allclose(got[v], m, rtol=0, atol=1e-12, err_msg=engine.variables[v])
    monkeypatch.setattr(Plan, "reference", False)
    # on one tree, a row's bits do not depend on the rows run with it
    tree = next(iter(engine._trees.values()))
    inner = [v for v in variables if v in tree.home]
    lik = {v: a for v, a in lik.items() if v in tree.home}  # (leg pain was expanded)
    whole_marg, whole_z, _ = tree.run(lik, n, inner)
    for rows in (slice(0, 1), slice(5, 12), slice(n - 3, n)):
        part, part_z, _ = tree.run({v: a[rows] for v, a in lik.items()},
                                   rows.stop - rows.start, inner)
        np.testing.assert_array_equal(part_z, whole_z[rows])
        for v, m in part.items():
            np.testing.assert_array_equal(m, whole_marg[v][rows])


def test_repeated_calls_agree_to_the_last_bit_whatever_ran_between(tree_engine):
    """A step's executor depends on its size only, never on timings or on what ran before: the
    same batch gives the same bits before and after other batches ran on the same trees."""
    engine = tree_engine
    rng = np.random.default_rng(5)
    enum = engine.enumeration
    n = 64
    lik = {c: np.eye(engine.cards[c])[rng.integers(0, engine.cards[c], n)] * 0.5 + 0.5
           for c in enum.causes[:6]}  # soft answers on a few causes: one shared tree
    variables = list(range(len(engine.variables)))

    def run(rows):
        marg, log_z = engine.posterior({v: a[:rows] for v, a in lik.items()}, rows, variables,
                                       check=False, slice_vars=(), keep=frozenset())
        return {v: m.copy() for v, m in marg.items()}, log_z.copy()
    first, first_z = run(n)
    run(7)
    run(n // 2)
    second, second_z = run(n)
    np.testing.assert_array_equal(second_z, first_z)
    for v, m in first.items():
        np.testing.assert_array_equal(second[v], m)
