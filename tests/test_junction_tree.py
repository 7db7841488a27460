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


def test_every_step_strategy_equals_plain_einsum(tree_engine, monkeypatch):
    """200 runners who answered some training and background questions and no symptoms: the
    shared tree's steps run as plain einsum calls, then (every step big) with each strategy a
    step with several messages can be given (flat gathers, three contraction orders run as
    pairwise matmuls), then by the fixed rule; same marginals and log P(evidence)."""
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
    monkeypatch.setattr(Plan, "TUNED_MIN", 1 << 60)
    plain, plain_z = run()
    monkeypatch.setattr(Plan, "SMALL", 0)  # every step big
    monkeypatch.setattr(Plan, "TUNED_MIN", 0)
    plans = [p for t in engine._trees.values() for p in t._plans.values()]
    # None: the fixed rule (a flat gather for big steps)
    for how in Plan.STRATEGIES + (None,):
        monkeypatch.setattr(Plan, "force", how)
        got, got_z = run()
        np.testing.assert_allclose(got_z, plain_z, rtol=0, atol=1e-10, err_msg=str(how))
        for v, m in plain.items():
            np.testing.assert_allclose(got[v], m, rtol=0, atol=1e-12,
                                       err_msg=f"{how}: {engine.variables[v]}")
    again, again_z = run()  # the call that chose and later calls agree to the last bit
    np.testing.assert_array_equal(again_z, got_z)
    for v, m in got.items():
        np.testing.assert_array_equal(again[v], m)
    assert any(p._gathers for p in plans), "the gathered path was not exercised"


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


def test_pairwise_contractions_equal_einsum():
    """The matmul form of a two-operand einsum (letters summed in one operand only, summed
    over both, kept from one side, shared batch letters, a broadcast row axis)."""
    from model.junction_tree import _pairwise
    rng = np.random.default_rng(0)
    cases = [("abce,bcdefghi->abdfghi", (5, 2, 4, 4), (2, 4, 2, 4, 2, 2, 2, 2)),
             ("ab,bc->ac", (3, 4), (4, 5)), ("abx,aby->axy", (3, 2, 4), (3, 2, 5)),
             ("ab,ab->a", (3, 2), (3, 2)), ("ab,cd->dcba", (2, 3), (4, 5)),
             ("abz,bc->ca", (3, 4, 2), (4, 5)), ("ab,abc->ac", (1, 2), (4, 2, 3))]
    for eq, sa, sb in cases:
        x, y = rng.random(sa), rng.random(sb)
        want = np.einsum(eq, np.broadcast_to(x, (max(sa[0], sb[0]),) + sa[1:])
                         if eq == "ab,abc->ac" else x, y)
        np.testing.assert_allclose(_pairwise(eq)(x, y), want, rtol=1e-13, err_msg=eq)
    x = rng.random((4, 2)).astype(np.longdouble)
    assert _pairwise("ab,abc->ac")(x, rng.random((4, 2, 3))).dtype == np.longdouble
