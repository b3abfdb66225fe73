"""Random streams: one per mechanism and week, all derived from one seed.

Each draw comes from a generator keyed by (seed, mechanism, week) through
``numpy.random.SeedSequence``, and draws are made for every customer row, not
only for the customers a mechanism happens to touch. Two scenarios run with the
same seed therefore give customer *i* the same random numbers for the same
mechanism in the same week, wherever their mechanisms agree: common random
numbers, so scenario differences are paired and their variance is small.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams"]

_WEEK_OFFSET = 1_000_000  # spawn keys must be non-negative; warm-up and set-up weeks are negative


class Streams:
    """Factory of named, week-keyed random generators derived from one root seed."""

    def __init__(self, seed: int) -> None:
        """Create the factory.

        Args:
            seed: The run's root seed.
        """
        self.seed = int(seed)
        self.week = -1  # the model sets the week before each step; warm-up weeks are negative

    def rng(self, name: str) -> np.random.Generator:
        """A generator for mechanism ``name`` in the current week (the same on every call)."""
        key = (zlib.crc32(name.encode()), self.week + _WEEK_OFFSET)
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key)))

    def uniform(self, name: str, n: int) -> np.ndarray:
        """``n`` uniform [0, 1) draws (float32), one per customer row."""
        return self.rng(name).random(n, dtype=np.float32)

    def normal(self, name: str, n: int) -> np.ndarray:
        """``n`` standard normal draws (float32), one per customer row."""
        return self.rng(name).standard_normal(n, dtype=np.float32)
