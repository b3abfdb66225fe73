"""Statistical tests shared by the docking test and the validation suite.

:func:`tost_welch` is the two one-sided tests procedure (TOST; Schuirmann 1987, J. Pharmacokinet.
Biopharm. 15(6)) for two independent samples with Welch's standard error and Welch-Satterthwaite
degrees of freedom (Welch 1947). It asks the question a significance test cannot: not "is there a
difference?" but "is the difference, whatever it is, within the margin that matters?". A Welch
t-test that fails to reject says nothing when the samples are small; TOST establishes equivalence
only when the data show it.

Equivalently, equivalence at level ``alpha`` holds when the ``1 - 2 * alpha`` confidence interval of
the difference (90% at the usual ``alpha = 0.05``) lies inside the margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Equivalence", "tost_welch", "welch_se_df"]


@dataclass(frozen=True)
class Equivalence:
    """The outcome of a TOST for the difference of two means.

    Attributes:
        difference: Mean of the first sample minus mean of the second.
        se: Welch's standard error of the difference.
        df: Welch-Satterthwaite degrees of freedom (``inf`` when both samples are constant).
        ci_low: Lower end of the ``1 - 2 * alpha`` confidence interval of the difference.
        ci_high: Upper end of that interval.
        lower: Lower equivalence bound (the difference must exceed it).
        upper: Upper equivalence bound (the difference must stay below it).
        p_value: TOST p-value: the larger of the two one-sided p-values.
        alpha: Level of each one-sided test.
        equivalent: Whether equivalence is established: ``p_value < alpha``, the same as the
            confidence interval lying strictly inside ``(lower, upper)``.
    """

    difference: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    lower: float
    upper: float
    p_value: float
    alpha: float
    equivalent: bool

    def __str__(self) -> str:
        """One line: the difference, its confidence interval, the margin and the verdict."""
        level = round(100 * (1 - 2 * self.alpha))
        verdict = "equivalent" if self.equivalent else "NOT equivalent"
        return (
            f"difference {self.difference:+.4g}, {level}% CI [{self.ci_low:+.4g}, {self.ci_high:+.4g}], "
            f"margin ({self.lower:+.4g}, {self.upper:+.4g}), p = {self.p_value:.3g}: {verdict}"
        )


def welch_se_df(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float, float]:
    """The difference of means, its Welch standard error and the Welch-Satterthwaite degrees of freedom.

    Args:
        a: First sample (at least two values).
        b: Second sample (at least two values).

    Returns:
        ``(mean(a) - mean(b), se, df)``; ``df`` is ``inf`` when both samples are constant (``se == 0``).

    Raises:
        ValueError: If a sample has fewer than two values or a value is not finite.

    >>> d, se, df = welch_se_df([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5])
    >>> round(d, 3), round(se, 4), round(df, 3)
    (-0.5, 0.9129, 6.0)
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise ValueError(f"each sample needs at least two values (got {x.size} and {y.size})")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the samples must be finite (found NaN or infinity)")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return float(x.mean() - y.mean()), 0.0, math.inf
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    return float(x.mean() - y.mean()), se, float(df)


def tost_welch(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    margin: float | tuple[float, float],
    alpha: float = 0.05,
) -> Equivalence:
    """Two one-sided tests of the equivalence of two means, independent samples, Welch's standard error.

    The null hypothesis is that the difference ``mean(a) - mean(b)`` lies outside the margin
    (``<= lower`` or ``>= upper``); equivalence is established when both one-sided nulls are
    rejected at ``alpha``, that is when the ``1 - 2 * alpha`` confidence interval lies inside the
    margin. Samples with no spread at all (``se == 0``) are equivalent when their difference lies
    strictly inside the margin.

    Args:
        a: First sample (at least two values), e.g. one figure over the runs of one model.
        b: Second sample (at least two values), the same figure over the other model's runs.
        margin: The equivalence margin in the figure's units: ``delta`` for ``(-delta, +delta)``, or
            ``(lower, upper)``.
        alpha: Level of each one-sided test (0.05 gives a 90% confidence interval).

    Returns:
        The :class:`Equivalence`: difference, standard error, degrees of freedom, confidence
        interval, margin, p-value and verdict.

    Raises:
        ValueError: If the margin is empty, ``alpha`` is not in (0, 0.5), or a sample has fewer than
            two finite values.

    Two samples half a unit apart, equivalent within three units but not within one:

    >>> a, b = [1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5]
    >>> r = tost_welch(a, b, margin=3.0)
    >>> r.equivalent, round(r.ci_low, 3), round(r.ci_high, 3), round(r.p_value, 4)
    (True, -2.274, 1.274, 0.0169)
    >>> tost_welch(a, b, margin=1.0).equivalent
    False
    >>> print(tost_welch(a, b, margin=(-1.0, 4.0)))
    difference -0.5, 90% CI [-2.274, +1.274], margin (-1, +4), p = 0.302: NOT equivalent
    """
    lower, upper = (-float(margin), float(margin)) if np.isscalar(margin) else (float(m) for m in margin)
    if not lower < upper:
        raise ValueError(f"the equivalence margin must have lower < upper (got {lower}, {upper})")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5) (got {alpha})")
    difference, se, df = welch_se_df(a, b)
    if se == 0.0:
        inside = lower < difference < upper
        return Equivalence(
            difference, 0.0, df, difference, difference, lower, upper, 0.0 if inside else 1.0, alpha, inside
        )
    p_lower = float(stats.t.sf((difference - lower) / se, df))  # H0: difference <= lower
    p_upper = float(stats.t.cdf((difference - upper) / se, df))  # H0: difference >= upper
    half = float(stats.t.ppf(1.0 - alpha, df)) * se
    p_value = max(p_lower, p_upper)
    return Equivalence(
        difference, se, df, difference - half, difference + half, lower, upper, p_value, alpha, p_value < alpha
    )
