"""Random streams: one per mechanism and week, all derived from one seed, addressable by customer row.

A customer's random number for a mechanism in a week is a pure function of
(seed, mechanism, week, row): a 64-bit key is derived from the seed, the
mechanism's name and the week, and the draw for row *r* is the SplitMix64
output for that key at counter *r* (Steele, Lea & Flood 2014, "Fast
splittable pseudorandom number generators", OOPSLA). The draws are
counter-based, so a mechanism draws only for the rows it needs, in any order,
and still gives customer *i* the same number as a run that drew for everyone.
Two scenarios run with the same seed therefore share their random draws
wherever their mechanisms agree: common random numbers, so scenario
differences are paired and their variance is small.

Mechanisms that draw for (nearly) every customer every week (usage, questions,
offers, survey invitations, referrals, churn) read row *i*'s 32 random bits
from a sequential PCG64 stream keyed by (seed, mechanism, week) through
``numpy.random.SeedSequence`` (:meth:`Streams.dense_bits`): the *i*-th number
is row *i*'s whatever the number of rows, so these draws are row-addressable
too, and cheaper than hashing every row. A mechanism uses one kind or the other.

Scalar draws that belong to no customer (acquisition counts, a fractional
follow-up slot) and the set-up draws come from a ``numpy.random.Generator``
keyed the same way (:meth:`Streams.rng`).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams", "splitmix64"]

_WEEK_OFFSET = 1_000_000  # spawn keys must be non-negative; warm-up and set-up weeks are negative
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio in 64 bits)
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # SplitMix64's finaliser (Stafford's Mix13)
_TO_UNIT = np.float32(2.0**-24)  # 24 random bits -> a float32 in [0, 1)
_TWO_PI = np.float32(2.0 * np.pi)
_TWO32 = 4294967296.0


def _mix(z: int) -> int:
    """SplitMix64's finaliser on a Python int (for key derivation)."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def splitmix64(key: int, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """SplitMix64 outputs at counters ``rows`` of the stream ``key`` (uint64, one per row).

    Args:
        key: The stream's 64-bit key.
        rows: Counters (customer rows), any integer dtype, non-negative.
        out: Optional uint64 buffer of the same length to write into.

    Returns:
        The 64-bit outputs.
    """
    x = np.multiply(rows, np.uint64(_GAMMA), out=out, dtype=np.uint64, casting="unsafe")
    x += np.uint64((key + _GAMMA) & _MASK)
    x ^= x >> np.uint64(30)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    return x


class Streams:
    """Factory of named, week-keyed random numbers derived from one root seed."""

    def __init__(self, seed: int) -> None:
        """Create the factory.

        Args:
            seed: The run's root seed.
        """
        self.seed = int(seed)
        self.week = -1  # the model sets the week before each step; warm-up weeks are negative
        self._root = _mix((self.seed * _GAMMA + 0x5EED) & _MASK)
        self._names: dict[str, int] = {}

    def _spawn_key(self, name: str) -> tuple[int, int]:
        """SeedSequence spawn key of mechanism ``name`` in the current week."""
        return zlib.crc32(name.encode()), self.week + _WEEK_OFFSET

    def rng(self, name: str) -> np.random.Generator:
        """A generator for mechanism ``name`` in the current week (the same on every call)."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=self._spawn_key(name))))

    def key(self, name: str) -> int:
        """The 64-bit key of mechanism ``name`` in the current week."""
        h = self._names.get(name)
        if h is None:
            h = self._names[name] = _mix((zlib.crc32(name.encode()) * _GAMMA) & _MASK)
        return _mix(((self._root ^ h) + (self.week + _WEEK_OFFSET) * _M1) & _MASK)

    def uniform(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Uniform [0, 1) draws (float32) of mechanism ``name`` this week for customer ``rows`` (counter-based).

        Args:
            name: Mechanism name.
            rows: Customer rows (an integer array, any order).

        Returns:
            One draw per row, aligned with ``rows``.
        """
        x = splitmix64(self.key(name), rows)
        x >>= np.uint64(40)
        u = x.astype(np.float32)
        u *= _TO_UNIT
        return u

    def dense_bits(self, name: str, n: int) -> np.ndarray:
        """32 random bits (uint32) of mechanism ``name`` this week for rows ``0 .. n-1``.

        For mechanisms that draw for (nearly) every customer: the raw output of a sequential PCG64
        stream keyed by (seed, mechanism, week), split into 32-bit halves, so the *i*-th number is
        row *i*'s whatever ``n`` is. Raw bits cost a third less than floats, and a Bernoulli draw is
        then one integer comparison (:meth:`dense_bernoulli`). A mechanism uses either the dense
        draws or :meth:`uniform`, never both.
        """
        bg = np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=self._spawn_key(name)))
        return bg.random_raw((n + 1) // 2).view(np.uint32)[:n]

    def dense_bernoulli(self, name: str, n: int, p: float | np.ndarray) -> np.ndarray:
        """Bernoulli draws for rows ``0 .. n-1``: row *i* succeeds if its 32 random bits are below p * 2**32.

        Args:
            name: Mechanism name.
            n: Number of rows.
            p: Success probability, one for all rows or one per row (float32 array of length ``n``).

        Returns:
            Boolean array of length ``n``.
        """
        bits = self.dense_bits(name, n)
        if np.ndim(p) == 0:
            if p >= 1.0:
                return np.ones(n, dtype=bool)
            return bits < np.uint32(max(0.0, float(p)) * _TWO32)
        threshold = np.multiply(p, np.float32(_TWO32), dtype=np.float32)
        np.clip(threshold, 0.0, np.float32(_TWO32 - 256.0), out=threshold)  # 2**32-256: largest float32 below 2**32
        return bits < threshold.astype(np.uint32)

    def normal(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Standard normal draws (float32) of mechanism ``name`` this week, one per row (Box-Muller).

        Args:
            name: Mechanism name.
            rows: Customer rows.

        Returns:
            One draw per row, aligned with ``rows``.
        """
        x = splitmix64(self.key(name), rows)
        u1 = np.float32(1.0) - (x >> np.uint64(40)).astype(np.float32) * _TO_UNIT  # (0, 1]
        u2 = (x & np.uint64(0xFFFFFF)).astype(np.float32) * _TO_UNIT
        np.log(u1, out=u1)
        u1 *= np.float32(-2.0)
        np.sqrt(u1, out=u1)
        u2 *= _TWO_PI
        np.cos(u2, out=u2)
        u1 *= u2
        return u1
