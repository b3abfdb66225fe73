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

Mechanisms that draw for every customer every week (usage, questions, offers,
survey invitations, referrals, churn) draw for rows ``0 .. n-1`` without
building a row array (:meth:`Streams.bernoulli_rows`, :meth:`Streams.dense_bits`,
or a mechanism's own kernel); they are the same counter-based numbers. Such a
kernel first computes a mask without branches, a loop the compiler vectorises,
and then compacts it to rows (:func:`compact`): a loop that branches per row on
random data runs several times slower. Work arrays for the rows come from
:meth:`Streams.scratch`, since a fresh array of a million rows costs more in
page faults than the kernel filling it.

The hashing runs in small numba kernels (one pass, no temporaries): a numpy
version needs seven array operations per draw, whose fixed cost dominated a
week at 10,000 customers (see benchmarks/README.md). Scalar draws that belong
to no customer (acquisition counts, a fractional follow-up slot) and the set-up
draws come from a ``numpy.random.Generator`` keyed the same way (:meth:`Streams.rng`).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from numba import njit

__all__ = ["Streams", "compact", "compact_flagged", "draw_bits", "draw_normal", "draw_uniform", "splitmix64"]

_WEEK_OFFSET = 1_000_000  # keeps the week term non-negative; warm-up and set-up weeks are negative
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio in 64 bits)
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # SplitMix64's finaliser (Stafford's Mix13)
_TWO32 = 4294967296.0

# numba constants: typed uint64 so that no arithmetic is promoted to float
_U_GAMMA, _U_M1, _U_M2 = np.uint64(_GAMMA), np.uint64(_M1), np.uint64(_M2)
_U27, _U30, _U31, _U32, _U40 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32), np.uint64(40)
_U24MASK = np.uint64(0xFFFFFF)
_TO_UNIT = 2.0**-24  # 24 random bits -> [0, 1)
_TWO_PI = 2.0 * np.pi


@njit(cache=True, inline="always")
def _finalise(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser (Stafford's Mix13), modulo 2**64."""
    z = (z ^ (z >> _U30)) * _U_M1
    z = (z ^ (z >> _U27)) * _U_M2
    return z ^ (z >> _U31)


def _mix(z: int) -> int:
    """The finaliser on a Python int, reduced modulo 2**64 (for key derivation)."""
    return int(_finalise(np.uint64(z & _MASK)))


@njit(cache=True, inline="always")
def splitmix64(base: np.uint64, row: np.int64) -> np.uint64:
    """SplitMix64 output at counter ``row`` of the stream whose ``base`` is ``key + gamma`` (mod 2**64)."""
    return _finalise(np.uint64(row) * _U_GAMMA + base)


@njit(cache=True, inline="always")
def draw_uniform(base: np.uint64, row: np.int64) -> np.float32:
    """Uniform [0, 1) draw (24 bits, exact in float32) of row ``row`` for the stream ``base``."""
    return np.float32(splitmix64(base, row) >> _U40) * np.float32(_TO_UNIT)


@njit(cache=True, inline="always")
def draw_normal(base: np.uint64, row: np.int64) -> np.float32:
    """Standard normal draw of row ``row`` (Box-Muller on the two 24-bit halves of one output)."""
    z = splitmix64(base, row)
    u1 = 1.0 - np.float64(z >> _U40) * _TO_UNIT  # (0, 1]
    u2 = np.float64(z & _U24MASK) * _TO_UNIT
    return np.float32(np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2))


@njit(cache=True, inline="always")
def draw_bits(base: np.uint64, row: np.int64) -> np.uint32:
    """The upper 32 bits of row ``row``'s output."""
    return np.uint32(splitmix64(base, row) >> _U32)


@njit(cache=True)
def _uniform_rows(base: np.uint64, rows: np.ndarray, out: np.ndarray) -> None:
    for i in range(rows.size):
        out[i] = draw_uniform(base, rows[i])


@njit(cache=True)
def _normal_rows(base: np.uint64, rows: np.ndarray, out: np.ndarray) -> None:
    for i in range(rows.size):
        out[i] = draw_normal(base, rows[i])


@njit(cache=True)
def _bits_prefix(base: np.uint64, out: np.ndarray) -> None:
    for i in range(out.size):
        out[i] = draw_bits(base, i)


@njit(cache=True)
def compact(mask: np.ndarray, out: np.ndarray) -> int:
    """Writes the indices where ``mask`` is set to ``out``, in order; returns how many (np.flatnonzero in place).

    Branch-free (every index is written, the count advances by the mask), so random masks cost no mispredictions.
    Kernels over the whole book compute a mask in a first loop without branches, which the compiler vectorises,
    and compact it with this: a loop that branches per row on random data runs several times slower.
    """
    k = 0
    for i in range(mask.size):
        out[k] = i
        k += mask[i]
    return k


@njit(cache=True)
def compact_flagged(mask: np.ndarray, rows: np.ndarray, flags: np.ndarray) -> int:
    """:func:`compact` into ``rows``, and each selected row's flag moved to its place in ``flags``; returns how many.

    ``flags`` holds a flag per row on entry and the selected rows' flags, in order, on return (in place: the
    i-th selected row is at least i).
    """
    k = compact(mask, rows)
    for j in range(k):
        flags[j] = flags[rows[j]]
    return k


@njit(cache=True)
def _bernoulli_rows(base: np.uint64, p: np.float64, where: np.ndarray, mask: np.ndarray, out: np.ndarray) -> int:
    """The rows ``i`` of ``where`` whose bits(i) < p * 2**32, written to ``out`` in order; returns how many."""
    threshold = p * _TWO32
    for i in range(where.size):
        mask[i] = where[i] & (np.float64(draw_bits(base, i)) < threshold)
    return compact(mask, out)


@njit(cache=True)
def _week_bases(root: np.uint64, hashes: np.ndarray, week_term: np.uint64, out: np.ndarray) -> None:
    """Stream bases (key + gamma) of every mechanism in ``hashes`` for one week (the rule of :meth:`Streams.key`)."""
    for i in range(hashes.size):
        out[i] = _finalise((root ^ hashes[i]) + week_term * _U_M1) + _U_GAMMA


class Streams:
    """Factory of named, week-keyed random numbers derived from one root seed."""

    def __init__(self, seed: int) -> None:
        """Create the factory.

        Args:
            seed: The run's root seed.
        """
        self.seed = int(seed)
        self._root = _mix(self.seed * _GAMMA + 0x5EED)
        self._names: dict[str, int] = {}  # mechanism -> hash of its name
        self._bases: dict[str, np.uint64] = {}  # this week's stream bases by mechanism (all computed at once)
        self._base_arrays: dict[tuple[str, ...], np.ndarray] = {}  # this week's arrays of bases (:meth:`bases`)
        self._generators: dict[str, np.random.Generator] = {}
        self._scratch: dict[tuple[str, str], np.ndarray] = {}
        self.week = -1  # the model sets the week before each step; warm-up weeks are negative

    @property
    def week(self) -> int:
        """The week the draws belong to."""
        return self._week

    @week.setter
    def week(self, value: int) -> None:
        self._week = int(value)
        self._bases.clear()
        self._base_arrays.clear()

    def rng(self, name: str) -> np.random.Generator:
        """A generator for mechanism ``name`` in the current week (the same numbers on every call).

        Its PCG64 state and increment are four SplitMix64 outputs of the mechanism's key (setting the state
        costs a few microseconds; building a generator through ``SeedSequence`` costs ten times that).
        """
        gen = self._generators.get(name)
        if gen is None:
            gen = self._generators[name] = np.random.Generator(np.random.PCG64(0))
        k = self.key(name)
        words = [_mix(k + i * _GAMMA) for i in (1, 2, 3, 4)]
        gen.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": (words[0] << 64) | words[1], "inc": (words[2] << 64) | words[3] | 1},
            "has_uint32": 0,
            "uinteger": 0,
        }
        return gen

    def key(self, name: str) -> int:
        """The 64-bit key of mechanism ``name`` in the current week."""
        h = self._names.get(name)
        if h is None:
            h = self._names[name] = _mix(zlib.crc32(name.encode()) * _GAMMA)
        return _mix((self._root ^ h) + (self._week + _WEEK_OFFSET) * _M1)

    def base(self, name: str) -> np.uint64:
        """The kernels' stream argument for mechanism ``name`` this week (its key plus SplitMix64's gamma).

        The first call in a week computes the bases of every mechanism seen so far in one pass.
        """
        b = self._bases.get(name)
        if b is None:
            if name not in self._names:
                self.key(name)  # registers the name's hash
            names = list(self._names)
            out = np.empty(len(names), dtype=np.uint64)
            _week_bases(
                np.uint64(self._root),
                np.array([self._names[n] for n in names], dtype=np.uint64),
                np.uint64(self._week + _WEEK_OFFSET),
                out,
            )
            self._bases = dict(zip(names, out, strict=True))
            b = self._bases[name]
        return b

    def bases(self, names: tuple[str, ...]) -> np.ndarray:
        """The stream bases of several mechanisms this week, as an array (kept for the week: a kernel's argument)."""
        out = self._base_arrays.get(names)
        if out is None:
            out = self._base_arrays[names] = np.array([self.base(name) for name in names], dtype=np.uint64)
        return out

    def uniform(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Uniform [0, 1) draws (float32) of mechanism ``name`` this week for customer ``rows`` (counter-based).

        Args:
            name: Mechanism name.
            rows: Customer rows (an integer array, any order).

        Returns:
            One draw per row, aligned with ``rows``.
        """
        out = np.empty(len(rows), dtype=np.float32)
        _uniform_rows(self.base(name), np.asarray(rows, dtype=np.int64), out)
        return out

    def normal(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Standard normal draws (float32) of mechanism ``name`` this week, one per row (Box-Muller).

        Args:
            name: Mechanism name.
            rows: Customer rows.

        Returns:
            One draw per row, aligned with ``rows``.
        """
        out = np.empty(len(rows), dtype=np.float32)
        _normal_rows(self.base(name), np.asarray(rows, dtype=np.int64), out)
        return out

    def dense_bits(self, name: str, n: int) -> np.ndarray:
        """32 random bits (uint32) of mechanism ``name`` this week for rows ``0 .. n-1`` (top half of each output)."""
        out = np.empty(n, dtype=np.uint32)
        _bits_prefix(self.base(name), out)
        return out

    def bernoulli_rows(self, name: str, p: float, where: np.ndarray) -> np.ndarray:
        """The rows of ``where`` that succeed a Bernoulli draw with probability ``p``, sorted.

        Row *i* succeeds if its 32 random bits (:meth:`dense_bits`) are below p * 2**32, so 1 always
        succeeds and 0 never does.

        Args:
            name: Mechanism name.
            p: Success probability of every row.
            where: Boolean mask over rows ``0 .. n-1``: the rows that draw.

        Returns:
            The successful rows (int64, ascending).
        """
        return self.select_rows(_bernoulli_rows, where.size, self.base(name), np.float64(p), where)

    def select_rows(self, kernel: Any, n: int, *args: Any) -> np.ndarray:
        """Run a selection kernel over rows ``0 .. n-1``: the rows it selects.

        ``kernel(*args, mask, rows)`` writes a mask of the rows it selects, compacts it (:func:`compact`) into
        ``rows`` and returns how many; its work arrays are reused.

        Returns:
            The selected rows (a copy, int64, ascending).
        """
        rows = self.scratch("rows", n, np.int64)
        k = kernel(*args, self.scratch("mask", n, np.bool_), rows)
        return rows[:k].copy()

    def select(self, kernel: Any, n: int, *args: Any) -> tuple[np.ndarray, np.ndarray]:
        """Run a selection kernel over rows ``0 .. n-1``: the rows it selects and a flag of each.

        ``kernel(*args, mask, rows, flags)`` writes a mask of the rows it selects and a flag per row, compacts
        them (:func:`compact`) into ``rows`` and ``flags``, and returns how many; its work arrays are reused.

        Returns:
            (rows, flags): copies, int64 and bool, ascending by row.
        """
        rows, flags = self.scratch("rows", n, np.int64), self.scratch("flags", n, np.bool_)
        k = kernel(*args, self.scratch("mask", n, np.bool_), rows, flags)
        return rows[:k].copy(), flags[:k].copy()

    def scratch(self, slot: str, n: int, dtype: type) -> np.ndarray:
        """A work array of ``n`` elements for a kernel's output, reused from call to call (contents undefined).

        A fresh array of a million rows costs more in page faults on its first writes than the kernel that
        fills it; the run's draws go through this one object, so it keeps the work arrays. A caller copies
        out what it keeps before the slot is used again.
        """
        key = (slot, np.dtype(dtype).str)
        buffer = self._scratch.get(key)
        if buffer is None or buffer.size < n:
            buffer = self._scratch[key] = np.empty(max(n, int(n * 1.25) + 1024), dtype=dtype)
        return buffer[:n]
