"""The TOST routine (sim.experiments.analysis.equivalence): checked against scipy's own one-sided Welch tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.experiments.analysis.equivalence import tost_welch, welch_se_df


def _samples(shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(10.0 + shift, 2.0, 25), rng.normal(10.0, 3.0, 18)


@pytest.mark.parametrize("shift", [-2.0, 0.0, 0.7, 3.0])
def test_the_two_one_sided_tests_are_scipys_welch_tests_against_the_shifted_margin(shift: float) -> None:
    a, b = _samples(shift)
    lower, upper = -1.5, 2.0
    r = tost_welch(a, b, (lower, upper))
    p_lower = stats.ttest_ind(a - lower, b, equal_var=False, alternative="greater").pvalue
    p_upper = stats.ttest_ind(a - upper, b, equal_var=False, alternative="less").pvalue
    assert r.p_value == pytest.approx(max(p_lower, p_upper), rel=1e-9)
    assert r.difference == pytest.approx(a.mean() - b.mean())
    assert r.equivalent == (r.p_value < 0.05)


def test_equivalence_is_the_90_percent_interval_inside_the_margin() -> None:
    a, b = _samples(0.4)
    r = tost_welch(a, b, 2.5)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.90)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    for margin in np.linspace(0.1, 5.0, 50):
        inside = -margin < r.ci_low and r.ci_high < margin
        assert tost_welch(a, b, margin).equivalent == inside


def test_welch_satterthwaite_degrees_of_freedom() -> None:
    a, b = _samples(0.0)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    expected = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert welch_se_df(a, b)[2] == pytest.approx(expected)
    assert stats.ttest_ind(a, b, equal_var=False).df == pytest.approx(expected)


def test_constant_samples_are_equivalent_only_inside_the_margin() -> None:
    zeros = np.zeros(20)
    r = tost_welch(zeros, zeros, 0.1)
    assert r.equivalent and r.se == 0.0 and math.isinf(r.df) and r.p_value == 0.0
    assert not tost_welch(zeros + 0.2, zeros, 0.1).equivalent


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two"):
        tost_welch([1.0], [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="finite"):
        tost_welch([1.0, float("nan")], [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="lower < upper"):
        tost_welch([1.0, 2.0], [1.0, 2.0], (1.0, -1.0))
    with pytest.raises(ValueError, match="alpha"):
        tost_welch([1.0, 2.0], [1.0, 2.0], 1.0, alpha=0.5)
