"""The priors of a Bayesian calibration: each free parameter's declared uncertainty, truncated to its search bounds.

The schema declares beside every uncertain parameter the distribution of the values it may plausibly take
(:mod:`sim.config.distributions`); ``silosim-compare uncertainty=parameters`` draws from it, and
``silosim-calibrate method=abc`` takes it as the free parameter's prior (``abc.prior=declared``, the default):

* the declared distribution, truncated to the search
  bounds ``calibrate.free.NAME.lo`` and ``hi``: the bounds stay the search space and keep impossible values out;
* a parameter with no declared distribution (or a ``fixed`` one), one whose declared distribution is the range
  the default baseline's own calibration leaves (basis ``calibrated: ...``: the attitude, the weekly churn, the
  failure scale and the acquisition rate; a fit to the client replaces that calibration, and taking it as a prior
  would count the default's targets as the client's), and every parameter with ``abc.prior=uniform``, keeps the
  uniform prior over its bounds (log-uniform for a log-scale search), and the posterior report says so;
* a log-scale parameter's particle is ``y = log(value)``: its density is the declared one transformed,
  ``f(e^y) e^y``, so the prior of the value itself is the declared distribution whatever the scale of the search.

A declared distribution that puts (almost) no mass inside the bounds (less than :data:`MIN_PRIOR_MASS`) is a
configuration error. With the default free parameters, the declared priors are those of renewal without a
problem (a wide assumption, 0.90 to 1.0, which holds every industry preset's fit) and first-contact resolution
(the source's range, 0.74 to 0.84 before the default push); a client whose first-contact resolution lies
outside that range (retail banking's preset: 0.736) needs ``abc.prior=uniform``.

Draws are made by the inverse of the truncated distribution function from numpy's global generator, the one
pyabc's own random variables draw from (scipy's ``rvs`` without a ``random_state``), so a run on one process,
seeded by pyabc's caller, repeats exactly. pyabc's own random variable (:class:`sim.experiments.calibration.prior_rv.
PriorRV`) wraps :class:`FreePrior`, which is plain data and pickles for pyabc's workers.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.config import ConfigError

if TYPE_CHECKING:
    from sim.config.distributions import Uncertainty
    from sim.experiments.calibration.spec import FreeParameter

__all__ = ["CALIBRATED_BASIS", "MIN_PRIOR_MASS", "PRIOR_KINDS", "FreePrior", "free_priors"]

PRIOR_KINDS = ("declared", "uniform")  # abc.prior: the schema's distributions, or uniform over the bounds
MIN_PRIOR_MASS = 1e-3  # a declared distribution with less of its mass inside the search bounds is refused
# A declared distribution on this basis is the range the default baseline's own calibration (to the cross-industry
# median) leaves: a fit to another company replaces that calibration, so taking it as a prior would count the
# default's targets as the client's. Such a parameter's prior is uniform over its search bounds.
CALIBRATED_BASIS = "calibrated"


@functools.lru_cache(maxsize=256)
def _frozen(u: Uncertainty) -> Any:
    """The scipy frozen distribution of a declaration (built once: building one costs more than evaluating it)."""
    return u.frozen()


@dataclasses.dataclass(frozen=True)
class FreePrior:
    """One free parameter's prior: its declared distribution truncated to the search bounds, or uniform over them.

    Attributes:
        key: The parameter's dotted key.
        lo: Lower search bound (of the value).
        hi: Upper search bound (of the value).
        log: The particle is ``log(value)`` (a log-scale search).
        declared: The declared distribution, or None for the uniform prior over the bounds.
        uniform_because: Why the prior is uniform (empty when it is the declared distribution).
    """

    key: str
    lo: float
    hi: float
    log: bool = False
    declared: Uncertainty | None = None
    uniform_because: str = ""

    # ------------------------------------------------------------------ the value's distribution
    def _value_cdf(self, v: npt.ArrayLike) -> np.ndarray:
        assert self.declared is not None  # noqa: S101 - only called for a declared prior
        return np.asarray(_frozen(self.declared).cdf(np.asarray(v, dtype=float)), dtype=float)

    @property
    def _ends(self) -> tuple[float, float]:
        """The declared distribution function at the two bounds."""
        a, b = self._value_cdf([self.lo, self.hi])
        return float(a), float(b)

    @property
    def mass(self) -> float:
        """The share of the declared distribution inside the bounds (1 for the uniform prior)."""
        if self.declared is None:
            return 1.0
        a, b = self._ends
        return b - a

    def value_density(self, v: npt.ArrayLike) -> np.ndarray:
        """The prior density of the value (not of the particle) at ``v``: zero outside the bounds."""
        v = np.asarray(v, dtype=float)
        inside = (v >= self.lo) & (v <= self.hi)
        if self.declared is None:
            width = math.log(self.hi / self.lo) if self.log else self.hi - self.lo
            dens = 1.0 / (np.where(v > 0, v, 1.0) * width) if self.log else np.full(v.shape, 1.0 / width)
        else:
            frozen = _frozen(self.declared)
            dens = np.asarray(frozen.pdf(v), dtype=float) / self.mass
        return np.where(inside, dens, 0.0)

    def support(self) -> tuple[float, float]:
        """The values the prior can take: the declared distribution's range within the bounds (or the bounds)."""
        if self.declared is None:
            return self.lo, self.hi
        low, high = self.declared.support()
        return max(self.lo, low), min(self.hi, high)

    # ------------------------------------------------------------------ the particle's distribution
    @property
    def bounds(self) -> tuple[float, float]:
        """The particle's bounds: the search bounds, or their logarithms for a log-scale search."""
        return (math.log(self.lo), math.log(self.hi)) if self.log else (self.lo, self.hi)

    def _values(self, y: npt.ArrayLike) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        return np.exp(y) if self.log else y

    def pdf(self, y: npt.ArrayLike) -> np.ndarray:
        """The particle's prior density at ``y``: ``f(e^y) e^y`` on a log scale, zero outside the bounds."""
        v = self._values(y)
        return self.value_density(v) * (v if self.log else 1.0)

    def cdf(self, y: npt.ArrayLike) -> np.ndarray:
        """The particle's prior distribution function at ``y``."""
        v = self._values(y)
        if self.declared is None:
            low, high = self.bounds
            y = np.log(v) if self.log else v
            return np.clip((y - low) / (high - low), 0.0, 1.0)
        a, _ = self._ends
        return np.clip((self._value_cdf(np.clip(v, self.lo, self.hi)) - a) / self.mass, 0.0, 1.0)

    def rvs(self, size: int | None = None) -> float | np.ndarray:
        """Particles drawn from numpy's global generator (the one pyabc seeds): the inverse distribution function.

        Args:
            size: How many (None: one, as a float).

        Returns:
            One particle, or an array of ``size``.
        """
        low, high = self.bounds
        if self.declared is None:
            draws = np.random.uniform(low, high, size)  # pyabc's draws come from the global generator
        else:
            a, b = self._ends
            u = np.random.uniform(a, b, size)  # the global generator, as above
            v = np.clip(np.asarray(_frozen(self.declared).ppf(u), dtype=float), self.lo, self.hi)
            draws = np.log(v) if self.log else v
        return float(draws) if size is None else np.asarray(draws, dtype=float)

    # ------------------------------------------------------------------ words
    def describe(self) -> str:
        """``triangular(0.7, 1, 1.3) within [0.1, 3]``, or ``uniform over [0.5, 1] (no declared distribution)``."""
        span = f"[{self.lo:g}, {self.hi:g}]"
        if self.declared is None:
            return f"{'log-uniform' if self.log else 'uniform'} over {span} ({self.uniform_because})"
        return f"{self.declared.describe()} within {span}"

    def interval(self, level: float) -> tuple[float, float]:
        """The prior's central ``level`` interval of the value."""
        q = np.array([(1 - level) / 2, 1 - (1 - level) / 2])
        if self.declared is None:
            low, high = self.bounds
            y = low + q * (high - low)
            v = np.exp(y) if self.log else y
        else:
            a, _ = self._ends
            v = np.asarray(_frozen(self.declared).ppf(a + q * self.mass), dtype=float)
        return float(v[0]), float(v[1])


def free_priors(free: list[FreeParameter], kind: str) -> dict[str, FreePrior]:
    """Every free parameter's prior, by key.

    The declared distributions are looked up as :mod:`sim.experiments.uncertainty.draws` does
    (:func:`sim.config.walk.uncertain_parameters` on the default configuration, which the distributions describe).

    Args:
        free: The free parameters (``calibrate.free``), with their search bounds.
        kind: ``declared`` (the schema's distributions, truncated to the bounds) or ``uniform`` (over the bounds).

    Returns:
        Key -> prior.

    Raises:
        ConfigError: If ``kind`` is unknown, or a declared distribution puts (almost) no mass inside the bounds.
    """
    if kind not in PRIOR_KINDS:
        raise ConfigError(
            f"`abc.prior` is {kind!r}, but it must be one of {', '.join(PRIOR_KINDS)} (declared: each free parameter's "
            "declared uncertainty, truncated to its bounds; uniform: uniform over its bounds)."
        )
    if kind == "uniform":
        return {f.key: FreePrior(f.key, f.lo, f.hi, f.log, uniform_because="abc.prior=uniform") for f in free}
    from sim.config import compose_config, to_config
    from sim.config.walk import uncertain_parameters

    table, _ = uncertain_parameters(to_config(compose_config([])))
    priors = {}
    for f in free:
        _, u = table.get(f.key, (None, None))
        if u is None or not u.varied or u.basis.startswith(CALIBRATED_BASIS):
            because = (
                "no declared distribution"
                if u is None
                else "declared fixed"
                if not u.varied
                else "its declared range is the default's own calibration, which this fit replaces"
            )
            priors[f.key] = FreePrior(f.key, f.lo, f.hi, f.log, uniform_because=because)
            continue
        prior = FreePrior(f.key, f.lo, f.hi, f.log, u)  # a free parameter is a number: never a list's multiplier
        if not prior.mass >= MIN_PRIOR_MASS:
            low, high = u.support()
            raise ConfigError(
                f"`calibrate.free.{f.name}` has search bounds [{f.lo:g}, {f.hi:g}], but the declared distribution of "
                f"`{f.key}` (docs/parameters.md), {u.describe()} over "
                f"{low:g} to {high:g}, puts {prior.mass:.2%} of its mass inside them, less than the "
                f"{MIN_PRIOR_MASS:.1%} a prior needs (abc.prior=declared). Move the bounds to overlap the declared "
                "distribution, or give abc.prior=uniform for a prior uniform over the bounds."
            )
        priors[f.key] = prior
    return priors
