"""The pure measures in sim.metrics, pinned to numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.metrics import (
    annual_retention,
    categories,
    likelihood_to_recommend,
    nps,
    nps_from_counts,
    weekly_retention,
)


# ------------------------------------------------------------------------- NPS
@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([10, 9, 8, 7, 6, 0], 0.0),  # 2 promoters, 2 detractors of 6
        ([10, 10, 9, 6], 50.0),  # 3 - 1 of 4
        ([7, 8, 7, 8, 8], 0.0),  # all passives
        ([10, 9, 10], 100.0),
        ([0, 3, 6, 6], -100.0),
        ([9, 6, 7], 0.0),  # one of each: the boundary scores themselves
        ([10, 8, 8, 8], 25.0),
        ([5, 5, 9], -100.0 / 3.0),
    ],
)
def test_nps_of_known_score_lists(scores: list[int], expected: float) -> None:
    assert nps(scores) == pytest.approx(expected)
    assert nps(np.array(scores, dtype=np.int8)) == pytest.approx(expected)


def test_nps_of_nobody_is_nan() -> None:
    assert math.isnan(nps([]))
    assert math.isnan(nps_from_counts(0, 0, 0))
    assert math.isnan(nps_from_counts(3, 1, -1))


def test_nps_from_counts() -> None:
    assert nps_from_counts(30, 15, 100) == pytest.approx(15.0)
    assert nps_from_counts(0, 20, 20) == pytest.approx(-100.0)
    assert nps_from_counts(1, 0, 3) == pytest.approx(100.0 / 3.0)


def test_categories_boundaries() -> None:
    scores = np.arange(11)
    promoter, detractor = categories(scores)
    assert scores[promoter].tolist() == [9, 10]
    assert scores[detractor].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert scores[~promoter & ~detractor].tolist() == [7, 8]


# ------------------------------------------------------ likelihood to recommend
def test_likelihood_to_recommend_rounds_to_nearest() -> None:
    sat = [7.2, 7.7, 8.49, 6.51, 0.3, 9.9]
    bias = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert likelihood_to_recommend(sat, bias).tolist() == [7, 8, 8, 7, 0, 10]


def test_likelihood_to_recommend_adds_bias() -> None:
    assert likelihood_to_recommend([7.0, 7.0, 7.0, 5.4], [1.2, -1.2, 2.4, 3.3]).tolist() == [8, 6, 9, 9]


def test_likelihood_to_recommend_clips_to_scale() -> None:
    out = likelihood_to_recommend([10.0, 9.0, 0.0, 1.0, 5.0], [2.5, 4.0, -1.0, -3.7, 12.0])
    assert out.tolist() == [10, 10, 0, 0, 10]
    assert out.dtype == np.int8
    assert out.min() >= 0 and out.max() <= 10


def test_likelihood_to_recommend_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(5)
    sat = rng.uniform(0, 10, 1000)
    bias = rng.normal(0, 1.2, 1000)
    out = likelihood_to_recommend(sat, bias)
    # away from the .5 ties, plain rounding of the float32 sum
    total = sat.astype(np.float32) + bias.astype(np.float32)
    clear = np.abs(total - np.floor(total) - 0.5) > 1e-3
    expected = np.clip(np.floor(total + 0.5), 0, 10)
    assert np.array_equal(out[clear], expected[clear].astype(np.int8))


# -------------------------------------------------------------------- retention
def test_weekly_retention_arithmetic() -> None:
    out = weekly_retention([100, 200, 0, 50], [1, 10, 0, 50])
    assert out[0] == pytest.approx(0.99)
    assert out[1] == pytest.approx(0.95)
    assert math.isnan(out[2])  # nobody to retain
    assert out[3] == pytest.approx(0.0)


def test_annual_retention_constant_weekly_churn() -> None:
    before = np.full(52, 1000)
    churned = np.full(52, 10)  # 1% a week
    assert annual_retention(before, churned) == pytest.approx(0.99**52, rel=1e-12)


def test_annual_retention_scales_a_short_series_to_a_year() -> None:
    before = np.full(13, 2000)
    churned = np.full(13, 20)  # 1% a week for a quarter
    assert annual_retention(before, churned) == pytest.approx(0.99**52, rel=1e-12)
    # a mix: geometric mean of weekly retention, raised to 52
    r = annual_retention([100, 100], [1, 3])
    assert r == pytest.approx((0.99 * 0.97) ** 26, rel=1e-12)


def test_annual_retention_uses_only_the_last_year() -> None:
    before = np.full(104, 1000)
    churned = np.concatenate([np.full(52, 50), np.full(52, 10)])  # 5%/week, then 1%/week
    assert annual_retention(before, churned) == pytest.approx(0.99**52, rel=1e-12)
    assert annual_retention(before, churned, weeks_per_year=4) == pytest.approx(0.99**4, rel=1e-12)


def test_annual_retention_skips_empty_weeks_and_handles_extremes() -> None:
    assert annual_retention([0, 1000, 0, 1000], [0, 10, 0, 10]) == pytest.approx(0.99**52, rel=1e-12)
    assert math.isnan(annual_retention([], []))
    assert math.isnan(annual_retention([0, 0], [0, 0]))
    assert annual_retention([100] * 52, [0] * 52) == pytest.approx(1.0)
    assert annual_retention([100], [100]) == pytest.approx(0.0, abs=1e-300)


def test_the_engines_whole_book_pass_is_likelihood_to_recommend() -> None:
    """The engine's one-pass kernel for every row gives likelihood_to_recommend's scores, ties to even included."""
    from sim.engine.model import _ltr_of_every_row

    rng = np.random.default_rng(3)
    n = 200_000
    sat = rng.uniform(-2.0, 12.0, n).astype(np.float32)
    sat[::7] = np.round(sat[::7] * 2) / 2  # exact halves: rounding ties
    bias = rng.normal(0.0, 2.0, n).astype(np.float32)
    bias[::5] = 0.0
    grudge = np.where(rng.random(n) < 0.3, rng.uniform(0.0, 3.0, n), 0.0).astype(np.float32)
    out = np.empty(n, dtype=np.int8)
    _ltr_of_every_row(sat, bias, grudge, out)
    assert np.array_equal(out, likelihood_to_recommend(sat, bias, grudge=grudge))
