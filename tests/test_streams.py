"""Random streams: a customer's draw depends only on (seed, mechanism, week, row), never on who else draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.streams import Streams


def at_week(seed: int, week: int) -> Streams:
    s = Streams(seed)
    s.week = week
    return s


def test_counter_based_draws_do_not_depend_on_which_rows_are_asked() -> None:
    s = at_week(3, 7)
    every = s.uniform("failure:usage", np.arange(10_000))
    some = np.array([9_999, 5, 17, 4_000, 5])  # any order, repeats allowed
    assert np.array_equal(s.uniform("failure:usage", some), every[some])
    assert np.array_equal(s.normal("noise:usage", some), s.normal("noise:usage", np.arange(10_000))[some])


def test_draws_differ_by_seed_mechanism_and_week() -> None:
    rows = np.arange(5_000)
    base = at_week(3, 7).uniform("churn", rows)
    for other in (at_week(4, 7).uniform("churn", rows), at_week(3, 8).uniform("churn", rows),
                  at_week(3, 7).uniform("chum", rows)):
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
