"""The word-of-mouth graph: degree, no self-loops, neighbour counts, growth, small-world structure."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np
import pytest

from sim.engine.model import SiloModel
from sim.engine.network import Network


def build(n: int, degree: int = 6, rewire: float = 0.1, seed: int = 0) -> Network:
    net = Network(degree, rewire)
    net.add_nodes(slice(0, n), np.random.default_rng(seed))
    return net


def to_nx(net: Network) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(net.n))
    g.add_edges_from(zip(net.src.tolist(), net.dst.tolist(), strict=True))
    return g


@pytest.mark.parametrize("degree", [2, 4, 6, 10])
@pytest.mark.parametrize("rewire", [0.0, 0.1, 0.5])
def test_mean_degree_is_the_configured_degree(degree: int, rewire: float) -> None:
    net = build(2000, degree, rewire)
    assert net.n == 2000
    assert net.degrees().size == 2000
    # each node adds degree/2 links; only the rare self-loop of a rewired link is dropped
    assert net.degrees().mean() == pytest.approx(degree, rel=0.005)
    assert net.src.size == pytest.approx(2000 * degree / 2, rel=0.005)


def test_ring_lattice_is_exact() -> None:
    net = build(300, degree=6, rewire=0.0)
    assert net.src.size == 900
    assert (net.degrees() == 6).all()
    g = to_nx(net)
    assert g.number_of_edges() == 900  # no duplicate links
    assert set(g.neighbors(0)) == {1, 2, 3, 297, 298, 299}
    assert set(g.neighbors(150)) == {147, 148, 149, 151, 152, 153}
    # a ring lattice with k = 6 has clustering 3(k-2) / (4(k-1)) = 0.6 exactly
    assert nx.average_clustering(g) == pytest.approx(0.6)


@pytest.mark.parametrize("rewire", [0.0, 0.1, 1.0])
def test_no_self_loops(rewire: float) -> None:
    net = build(1500, 6, rewire, seed=3)
    net.add_nodes(slice(1500, 1600), np.random.default_rng(4))
    net.add_nodes(slice(1600, 1601), np.random.default_rng(5))
    assert not (net.src == net.dst).any()
    assert net.src.min() >= 0 and net.dst.min() >= 0
    assert net.src.max() < net.n and net.dst.max() < net.n


def test_count_neighbours_matches_brute_force() -> None:
    net = build(60, degree=4, rewire=0.3, seed=11)
    net.add_nodes(slice(60, 75), np.random.default_rng(12))
    flag = np.random.default_rng(13).random(net.n + 5) < 0.3  # longer than n, as the store's columns are
    expected = np.zeros(net.n, dtype=int)
    for s, d in zip(net.src.tolist(), net.dst.tolist(), strict=True):
        expected[s] += flag[d]
        expected[d] += flag[s]
    got = net.count_neighbours(flag)
    assert got.shape == (net.n,)
    assert got.tolist() == expected.tolist()
    assert got.sum() > 0
    # with no duplicate links, the same as counting each row's distinct neighbours
    g = to_nx(net)
    if g.number_of_edges() == net.src.size:
        assert got.tolist() == [int(flag[list(g.neighbors(i))].sum()) for i in range(net.n)]
    assert net.count_neighbours(np.zeros(net.n, dtype=bool)).sum() == 0
    assert net.count_neighbours(np.ones(net.n, dtype=bool)).tolist() == net.degrees().tolist()


def test_neighbours_of_a_row() -> None:
    net = build(80, degree=4, rewire=0.2, seed=2)
    g = to_nx(net)
    for row in (0, 17, 79):
        assert net.neighbours(row).tolist() == sorted(g.neighbors(row))


def test_growth_by_blocks_keeps_old_edges_and_links_backwards() -> None:
    net = build(1000, 6, 0.1)
    src0, dst0 = net.src.copy(), net.dst.copy()
    for start in range(1000, 1500, 50):
        net.add_nodes(slice(start, start + 50), np.random.default_rng(start))
    assert net.n == 1500
    assert np.array_equal(net.src[: src0.size], src0)
    assert np.array_equal(net.dst[: dst0.size], dst0)
    new_src, new_dst = net.src[src0.size :], net.dst[dst0.size :]
    assert new_src.size == pytest.approx(500 * 3, abs=3)
    assert (new_src >= 1000).all()  # every new link starts at a new customer ...
    assert (new_dst < new_src).all()  # ... and goes to an earlier one
    assert net.degrees().mean() == pytest.approx(6.0, rel=0.005)
    # an empty block changes nothing
    before = net.src.size
    net.add_nodes(slice(1500, 1500), np.random.default_rng(0))
    assert net.src.size == before and net.n == 1500


def test_same_rng_seed_same_graph() -> None:
    a, b = build(500, seed=9), build(500, seed=9)
    assert np.array_equal(a.src, b.src) and np.array_equal(a.dst, b.dst)
    c = build(500, seed=10)
    assert not np.array_equal(a.dst, c.dst)


def test_small_world() -> None:
    net = build(2000, degree=6, rewire=0.1)
    g = to_nx(net)
    assert nx.is_connected(g)
    rand = nx.gnm_random_graph(2000, g.number_of_edges(), seed=1)
    c_sw, c_rand = nx.average_clustering(g), nx.average_clustering(rand)
    # Watts-Strogatz p = 0.1, k = 6: C ~ 0.6 (1 - p)^3 ~ 0.44; a random graph of the same density ~ k/n = 0.003
    assert c_sw == pytest.approx(0.6 * 0.9**3, abs=0.03)
    assert c_rand < 0.01
    assert c_sw > 20 * c_rand
    # short paths: the mean distance from a sample of sources is close to a random graph's (log n / log k ~ 4.2),
    # far below the ring lattice's n / (2k) ~ 167
    sources = range(0, 2000, 100)
    dists = [d for s in sources for d in nx.single_source_shortest_path_length(g, s).values() if d > 0]
    assert np.mean(dists) < 10


def test_model_network_has_the_configured_degree(cached: Callable[..., SiloModel]) -> None:
    m = cached(["network.degree=8"], customers=2000, weeks=8)
    assert m.network.n == m.store.n  # every customer ever acquired is on the graph
    initial = m.network.degrees()[:2000]
    assert initial.mean() == pytest.approx(8.0, rel=0.05)
    assert m.network.degrees().mean() == pytest.approx(8.0, rel=0.05)


def test_neighbour_counts_stay_right_as_flags_change_and_the_graph_grows() -> None:
    net = build(800, degree=6, rewire=0.2, seed=3)
    rng = np.random.default_rng(5)
    for step in range(6):  # counts are kept incrementally: flags change and blocks join between calls
        if step % 2:
            net.add_nodes(slice(net.n, net.n + 150), rng)
        flag = rng.random(net.n + 3) < 0.1
        expected = np.zeros(net.n, dtype=int)
        np.add.at(expected, net.dst, flag[net.src])
        np.add.at(expected, net.src, flag[net.dst])
        assert net.exposure(flag).tolist() == expected.tolist()
