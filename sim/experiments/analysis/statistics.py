"""Analysis of finished runs: loading run directories, outcomes per run, confidence intervals.

Pure functions over tables, so the arithmetic can be checked by hand. The model never
imports this module; it reads only what run directories contain (MODEL.md's output contract).

Confidence intervals are Student-t intervals over replications. Differences against the
baseline are *paired*: replication r of every scenario uses the same seed (common random
numbers), so the difference is taken run by run and its interval comes from the spread of
those differences, which is narrower than the unpaired (Welch) interval whenever the paired
runs are positively correlated.

A comparison judges several outcomes of several alternatives at once: its *family* of paired
differences is every alternative x every comparison outcome. :data:`ADJUSTMENTS` are the ways the
intervals its verdicts rest on allow for that (:func:`adjusted_levels`): ``bonferroni`` (each
interval at level 1 - alpha/m, so all m hold together at the stated level), ``holm`` (Holm's
step-down, which controls the same family-wise error with more power; each interval is drawn at
its step's level, so it clears zero exactly when Holm declares the effect), or ``none``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.analysis.outcomes import comparison_outcomes

__all__ = [
    "ADJUSTMENTS",
    "DEFAULT_ADJUSTMENT",
    "Interval",
    "adjusted_levels",
    "adjustment_errors",
    "direction",
    "family_size",
    "mean_ci",
    "paired_difference",
    "paired_p_value",
    "unpaired_difference",
]


ADJUSTMENTS = ("bonferroni", "holm", "none")
DEFAULT_ADJUSTMENT = "bonferroni"


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2.0


def mean_ci(values: Iterable[float], level: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval of independent replications.

    Args:
        values: One value per replication (NaNs are dropped).
        level: Confidence level.

    Returns:
        The interval; with fewer than two values its bounds are NaN.
    """
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = x.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n)
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(scenario: pd.Series, baseline: pd.Series, level: float = 0.95) -> Interval:
    """Mean difference scenario - baseline over replications matched by seed, with its paired t interval.

    Args:
        scenario: Outcome per run, indexed by seed.
        baseline: The same outcome of the baseline, indexed by seed.
        level: Confidence level.

    Returns:
        The interval of the mean paired difference (seeds present in both only).
    """
    both = pd.concat({"s": scenario, "b": baseline}, axis=1, join="inner").dropna()
    return mean_ci(both["s"] - both["b"], level)


def paired_p_value(scenario: pd.Series, baseline: pd.Series) -> float:
    """Two-sided p-value of the paired t-test of scenario - baseline (seeds present in both only).

    Consistent with :func:`paired_difference`: its interval at level 1 - g excludes zero exactly when
    the p-value is below g. Differences without spread give 0 (a nonzero difference) or 1 (none).

    Args:
        scenario: Outcome per run, indexed by seed.
        baseline: The same outcome of the baseline, indexed by seed.

    Returns:
        The p-value, NaN with fewer than two pairs.
    """
    both = pd.concat({"s": scenario, "b": baseline}, axis=1, join="inner").dropna()
    d = (both["s"] - both["b"]).to_numpy(dtype=float)
    if d.size < 2:
        return float("nan")
    sd = float(d.std(ddof=1))
    mean = float(d.mean())
    if sd == 0.0 or not math.isfinite(sd):
        return 0.0 if mean != 0.0 else 1.0
    t = mean / (sd / math.sqrt(d.size))
    return float(2.0 * stats.t.sf(abs(t), d.size - 1))


def adjusted_levels(p_values: Sequence[float], level: float, method: str) -> tuple[list[float], list[float]]:
    """Adjusted p-values and the confidence level of each comparison's verdict interval.

    ``none``: the stated level for each. ``bonferroni``: p x m and level 1 - alpha/m. ``holm``: Holm's
    step-down adjusted p-values; the interval of the comparison ranked k (by p-value) is drawn at
    1 - alpha/(m - k + 1) while Holm still rejects, and every later one at the level where it stopped,
    so an interval clears zero exactly when its adjusted p-value is below alpha. Missing p-values
    (NaN) count as 1.

    >>> adjusted_levels([0.01, 0.04, 0.03], 0.95, "bonferroni")[0]
    [0.03, 0.12, 0.09]
    >>> [round(p, 3) for p in adjusted_levels([0.01, 0.04, 0.03], 0.95, "holm")[0]]
    [0.03, 0.06, 0.06]

    Args:
        p_values: One unadjusted p-value per comparison of the family.
        level: The stated confidence level (1 - alpha).
        method: One of :data:`ADJUSTMENTS`.

    Returns:
        The adjusted p-values and the interval levels, in the order given.
    """
    p = [1.0 if v is None or not math.isfinite(v) else float(v) for v in p_values]
    m, alpha = len(p), 1.0 - level
    if method == "none" or m == 0:
        return p, [level] * m
    if method == "bonferroni":
        return [min(1.0, m * v) for v in p], [1.0 - alpha / m] * m
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, levels = [0.0] * m, [0.0] * m
    running, stopped_at = 0.0, None
    for rank, i in enumerate(order):  # rank 0 is the smallest p-value, tested against alpha / m
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
        if stopped_at is None and p[i] > alpha / (m - rank):
            stopped_at = rank
        step = rank if stopped_at is None else stopped_at
        levels[i] = 1.0 - alpha / (m - step)
    return adjusted, levels


def adjustment_errors(method: str, key: str = "multiple_comparisons") -> list[str]:
    """The problem with an adjustment setting, if any (for a one-paragraph user error)."""
    if method in ADJUSTMENTS:
        return []
    return [f"`{key}` is {method!r}, but it must be one of {list(ADJUSTMENTS)} (default {DEFAULT_ADJUSTMENT})"]


def family_size(scenarios: Sequence[str], baseline: str) -> int:
    """How many paired differences a comparison judges: every alternative x every comparison outcome."""
    return len([s for s in scenarios if s != baseline]) * len(comparison_outcomes())


def direction(low: float, high: float) -> int:
    """The verdict an interval of a difference supports: +1 (clearly up), -1 (clearly down), 0 (unchanged)."""
    if low > 0:
        return 1
    if high < 0:
        return -1
    return 0


def unpaired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Difference of means a - b with a Welch interval, ignoring any pairing (for comparison with the paired one).

    Args:
        a: Outcome per run of one scenario.
        b: Outcome per run of the other.
        level: Confidence level.

    Returns:
        The interval of the difference of means.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    diff = float(x.mean() - y.mean())
    if se == 0:
        return Interval(diff, diff, diff, min(x.size, y.size))
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2.0, dof) * se)
    return Interval(diff, diff - half, diff + half, min(x.size, y.size))
