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
    everyone = np.ones(200_000, dtype=bool)
    assert s.bernoulli_rows("usage", 0.25, everyone).size / everyone.size == pytest.approx(0.25, abs=0.005)
    assert s.bernoulli_rows("x", 1.0, everyone[:10]).size == 10 and s.bernoulli_rows("x", 0.0, everyone[:10]).size == 0


def test_bernoulli_rows_are_the_rows_whose_bits_fall_below_p() -> None:
    """bernoulli_rows: row i of ``where`` succeeds if its 32 bits (dense_bits) are below p * 2**32; a later call,
    which reuses the work arrays, leaves the rows an earlier call returned as they were."""
    s = at_week(5, 2)
    where = np.random.default_rng(0).random(100_003) < 0.7
    bits = s.dense_bits("usage", where.size).astype(np.float64)
    for p in (0.0, 0.013, 0.25, 1.0):
        rows = s.bernoulli_rows("usage", p, where)
        assert np.array_equal(rows, np.flatnonzero(where & (bits < p * 2.0**32)))
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
