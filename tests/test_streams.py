"""Random streams: a customer's draw depends only on (seed, mechanism, week, row), never on who else draws."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from sim.engine.streams import _GAMMA, Streams, compact, splitmix64


@njit
def _kernel_outputs(base: np.uint64, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = splitmix64(base, i)
    return out


def _outputs(key: int, n: int) -> np.ndarray:
    """The first ``n`` outputs of SplitMix64 seeded with ``key``."""
    return _kernel_outputs(np.uint64((key + _GAMMA) % 2**64), n)


def at_week(seed: int, week: int) -> Streams:
    s = Streams(seed)
    s.week = week
    return s


def test_splitmix64_matches_the_published_reference_outputs() -> None:
    # Vigna's splitmix64.c seeded with 1234567: the first three outputs of next()
    assert _outputs(1234567, 3).tolist() == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def test_uniform_is_the_top_24_bits_of_the_stream_output() -> None:
    s = at_week(3, 7)
    rows = np.array([0, 1, 17, 123_456, 9_999_999])
    expected = (_outputs(s.key("failure:usage"), 10_000_000)[rows] >> np.uint64(40)).astype(np.float64) / 2**24
    assert np.array_equal(s.uniform("failure:usage", rows).astype(np.float64), expected)
    bits = s.dense_bits("failure:usage", 20)
    assert np.array_equal(bits, (_outputs(s.key("failure:usage"), 20) >> np.uint64(32)).astype(np.uint32))


def test_counter_based_draws_do_not_depend_on_which_rows_are_asked() -> None:
    s = at_week(3, 7)
    every = s.uniform("failure:usage", np.arange(10_000))
    some = np.array([9_999, 5, 17, 4_000, 5])  # any order, repeats allowed
    assert np.array_equal(s.uniform("failure:usage", some), every[some])
    assert np.array_equal(s.normal("noise:usage", some), s.normal("noise:usage", np.arange(10_000))[some])


def test_draws_differ_by_seed_mechanism_and_week() -> None:
    rows = np.arange(5_000)
    base = at_week(3, 7).uniform("churn", rows)
    for other in (
        at_week(4, 7).uniform("churn", rows),
        at_week(3, 8).uniform("churn", rows),
        at_week(3, 7).uniform("chum", rows),
    ):
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.05
        assert not np.array_equal(base, other)


def test_uniform_and_normal_have_the_right_distribution() -> None:
    s = at_week(11, 0)
    u = s.uniform("u", np.arange(200_000))
    z = s.normal("z", np.arange(200_000))
    assert u.dtype == np.float32 and z.dtype == np.float32
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert stats.kstest(z, "norm").pvalue > 0.001
    assert z.std() == pytest.approx(1.0, abs=0.01)


def test_dense_draws_are_a_prefix_whatever_the_length() -> None:
    s = at_week(5, 2)
    short, long = s.dense_bits("usage", 1_001), s.dense_bits("usage", 50_000)
    assert np.array_equal(short, long[:1_001])
    hits = s.dense_bernoulli("usage", 200_000, 0.25)
    assert hits.mean() == pytest.approx(0.25, abs=0.005)
    p = np.linspace(0.0, 1.0, 200_000, dtype=np.float32)
    assert s.dense_bernoulli("churn", 200_000, p).mean() == pytest.approx(0.5, abs=0.005)
    assert s.dense_bernoulli("x", 10, 1.0).all() and not s.dense_bernoulli("x", 10, 0.0).any()
    where = np.arange(200_000) % 2 == 0
    masked = s.dense_bernoulli("usage", 200_000, 0.25, where=where)
    assert np.array_equal(masked, hits & where)


def test_bernoulli_rows_are_the_dense_draws_rows() -> None:
    """bernoulli_rows gives the rows of dense_bernoulli's successes inside ``where`` (the same draws), and a later
    call, which reuses the work arrays, leaves the rows an earlier call returned as they were."""
    s = at_week(5, 2)
    where = np.random.default_rng(0).random(100_003) < 0.7
    for p in (0.0, 0.013, 0.25, 1.0):
        rows = s.bernoulli_rows("usage", p, where)
        assert np.array_equal(rows, np.flatnonzero(s.dense_bernoulli("usage", where.size, p, where=where)))
    first = s.bernoulli_rows("usage", 0.25, where)
    kept = first.copy()
    s.bernoulli_rows("offer", 0.5, where)
    assert np.array_equal(first, kept)


@pytest.mark.parametrize("density", [0.0, 0.001, 0.5, 1.0])
def test_compact_is_flatnonzero(density: float) -> None:
    mask = np.random.default_rng(1).random(10_007) < density
    out = np.empty(mask.size, dtype=np.int64)
    k = compact(mask, out)
    assert np.array_equal(out[:k], np.flatnonzero(mask))
