"""pyabc's random variable for a declared, truncated prior (:class:`sim.experiments.calibration.priors.FreePrior`).

Its own module because importing pyabc takes seconds: only ``silosim-calibrate method=abc`` imports it. The class
lives at module level and holds plain data, so it pickles for pyabc's workers (a Dask cluster); pyabc's database
keeps no prior (a resumed run is given the same one again by the same command).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyabc.random_variables import RVBase

from sim.experiments.calibration.priors import FreePrior

__all__ = ["PriorRV"]


class PriorRV(RVBase):
    """A free parameter's prior in pyabc's terms: draws, density and distribution function of its particle."""

    def __init__(self, prior: FreePrior) -> None:
        """Wrap ``prior``."""
        self.prior = prior

    def copy(self) -> PriorRV:
        """A copy (the prior is immutable, so it is shared)."""
        return PriorRV(self.prior)

    def rvs(self, *args: Any, **kwargs: Any) -> float | np.ndarray:
        """One particle (or ``size`` of them) from numpy's global generator, which pyabc seeds."""
        size = kwargs.get("size", args[0] if args else None)
        return self.prior.rvs(size)

    def pdf(self, x: Any, *args: Any, **kwargs: Any) -> float | np.ndarray:
        """The prior density of the particle ``x``."""
        out = self.prior.pdf(x)
        return float(out) if np.ndim(out) == 0 else out

    def pmf(self, x: Any, *args: Any, **kwargs: Any) -> float:
        """A continuous prior has no mass at a point."""
        return 0.0

    def cdf(self, x: Any, *args: Any, **kwargs: Any) -> float | np.ndarray:
        """The prior distribution function at the particle ``x``."""
        out = self.prior.cdf(x)
        return float(out) if np.ndim(out) == 0 else out

    def __repr__(self) -> str:
        """``<PriorRV customer.base_weekly_churn: triangular(...) within ...>``."""
        return f"<PriorRV {self.prior.key}: {self.prior.describe()}{' (log scale)' if self.prior.log else ''}>"
