"""Measures: NPS, recommendation categories, retention. Pure functions of arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.config.vocabularies import WEEKS_PER_YEAR

__all__ = [
    "annual_retention",
    "categories",
    "customer_lifetime_value",
    "likelihood_to_recommend",
    "nps",
    "nps_from_counts",
    "weekly_retention",
]

PROMOTER_MIN = 9  # Reichheld 2003: promoters score 9-10
DETRACTOR_MAX = 6  # detractors score 0-6; passives 7-8


def likelihood_to_recommend(
    satisfaction: npt.ArrayLike,
    bias: npt.ArrayLike,
    out: np.ndarray | None = None,
    grudge: npt.ArrayLike | None = None,
) -> np.ndarray:
    """True likelihood to recommend: satisfaction plus attitude, less any grudge, rounded, clipped to 0-10.

    Args:
        satisfaction: Journey satisfaction on the 0-10 scale.
        bias: Customer-specific attitude and scale use, in scale points.
        out: Optional int8 array to write the scores into.
        grudge: Points lost to past problems (none if None).

    Returns:
        Integer scores 0-10 (int8).

    >>> likelihood_to_recommend([7.4, 8.6, 2.0, 9.8], [1.2, -0.4, -3.0, 1.0]).tolist()
    [9, 8, 0, 10]
    """
    raw = np.add(np.asarray(satisfaction, dtype=np.float32), np.asarray(bias, dtype=np.float32))
    if grudge is not None:
        np.subtract(raw, np.asarray(grudge, dtype=np.float32), out=raw)
    np.rint(raw, out=raw)
    np.maximum(raw, np.float32(0.0), out=raw)
    np.minimum(raw, np.float32(10.0), out=raw)
    if out is None:
        return raw.astype(np.int8)
    np.copyto(out, raw, casting="unsafe")
    return out


def categories(scores: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (promoter, detractor) for 0-10 scores; the rest are passives.

    >>> promoters, detractors = categories([10, 9, 8, 7, 6, 0])
    >>> promoters.tolist(), detractors.tolist()
    ([True, True, False, False, False, False], [False, False, False, False, True, True])
    """
    s = np.asarray(scores)
    return s >= PROMOTER_MIN, s <= DETRACTOR_MAX


def nps_from_counts(promoters: float, detractors: float, total: float) -> float:
    """NPS = % promoters - % detractors, in [-100, 100]; NaN when nobody answered.

    >>> nps_from_counts(50, 20, 100)
    30.0
    >>> nps_from_counts(0, 0, 0)
    nan
    """
    if total <= 0:
        return float("nan")
    return 100.0 * (promoters - detractors) / total


def nps(scores: npt.ArrayLike) -> float:
    """Net Promoter Score of a list of 0-10 scores.

    >>> nps([10, 9, 8, 7, 6, 0])
    0.0
    """
    s = np.asarray(scores)
    promoters, detractors = categories(s)
    return nps_from_counts(float(promoters.sum()), float(detractors.sum()), float(s.size))


def weekly_retention(active_before: npt.ArrayLike, churned: npt.ArrayLike) -> np.ndarray:
    """Share of last week's customers still active: 1 - churned / active_before (NaN if none).

    >>> weekly_retention([1000, 990, 0], [10, 0, 0]).tolist()
    [0.99, 1.0, nan]
    """
    before = np.asarray(active_before, dtype=float)
    lost = np.asarray(churned, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, 1.0 - lost / before, np.nan)


def annual_retention(
    active_before: npt.ArrayLike, churned: npt.ArrayLike, weeks_per_year: int = WEEKS_PER_YEAR
) -> float:
    """Annual retention implied by weekly churn: the product of weekly retention over the last year.

    Uses the last ``weeks_per_year`` weeks; with a shorter series, the mean weekly log-retention is
    scaled up to a year. New customers do not count (acquisition is not retention).

    Args:
        active_before: Active customers at the start of each week.
        churned: Customers lost in each week.
        weeks_per_year: Weeks in a year.

    Returns:
        Annual retention in [0, 1].

    Losing 1% of the book every week keeps 0.99 ** 52 of it a year:

    >>> round(annual_retention([1000] * 52, [10] * 52), 4)
    0.593
    >>> round(annual_retention([1000] * 26, [10] * 26), 4)  # half a year, scaled up to a year
    0.593
    """
    r = weekly_retention(active_before, churned)[-weeks_per_year:]
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    log_r = np.log(np.clip(r, 1e-12, 1.0))
    return float(np.exp(log_r.mean() * weeks_per_year))


def customer_lifetime_value(annual_value: float, retention: float, discount_rate: float) -> float:
    """Customer lifetime value with constant retention and margin (Gupta & Lehmann 2003).

    ``CLV = m * r / (1 + d - r)``: the discounted value of a customer's future years, each
    survived with probability ``r``, worth ``m`` a year, discounted at rate ``d``.

    Args:
        annual_value: Value of one customer-year (here revenue; silosim has no cost model).
        retention: Annual retention in [0, 1].
        discount_rate: Annual discount rate (>= 0).

    Returns:
        Lifetime value in the units of ``annual_value`` (NaN if an input is missing).

    >>> round(customer_lifetime_value(1000.0, 0.85, 0.10), 2)
    3400.0
    """
    if not (np.isfinite(annual_value) and np.isfinite(retention)):
        return float("nan")
    return float(annual_value * retention / (1.0 + discount_rate - retention))
