"""How uncertain each parameter is: the distribution declared beside its default in the schema.

Every numeric model parameter that is not a scenario choice or a fixed fact declares, through
``param(..., uncertainty=...)``, a distribution of the values it may plausibly take, and the basis
of that distribution. ``silosim-compare uncertainty=parameters`` draws parameter sets from these
distributions (:mod:`sim.experiments.uncertainty`), and ``docs/parameters.md`` shows them.

Kinds (``args`` in order):

* ``uniform`` (low, high): every value in the range equally plausible.
* ``triangular`` (low, mode, high): most plausible at the mode, falling linearly to the ends.
* ``beta`` (low, high, a, b): a beta(a, b) distribution stretched over [low, high].
* ``lognormal`` (median, gsd): median and geometric standard deviation (values above zero, no upper end).
* ``fixed`` (): not varied.

Bases: ``source range`` (the range the cited source gives), ``published spread`` (a spread a source
reports around its figure), ``wide: assumption`` (no evidence: an honest wide range around the
assumed value), ``calibrated`` (fitted to a published figure; the range the fit tolerates), and for
``fixed`` only, ``scenario choice`` (what a scenario or run decides), ``fixed fact`` (a definition,
a convention, a numerical guard) or ``not varied`` (uncertain, but not varied, for the reason given:
one value per touchpoint or department, or a list whose shape one multiplier cannot vary).

A list-valued parameter (for example ``customer.renewal_minor``) is varied by one multiplier of all
its elements (``multiplier=True``): the draw scales every element, so their order stays as the
source gives it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BASES",
    "FIXED_BASES",
    "KINDS",
    "Uncertainty",
    "beta",
    "fixed",
    "from_mapping",
    "lognormal",
    "triangular",
    "uncertainty_errors",
    "uniform",
]

KINDS = ("uniform", "triangular", "beta", "lognormal", "fixed")
_ARITY = {"uniform": 2, "triangular": 3, "beta": 4, "lognormal": 2, "fixed": 0}
_ARGS = {
    "uniform": "(low, high)",
    "triangular": "(low, mode, high)",
    "beta": "(low, high, a, b)",
    "lognormal": "(median, gsd)",
    "fixed": "()",
}
BASES = ("source range", "published spread", "wide: assumption", "calibrated")
FIXED_BASES = ("scenario choice", "fixed fact", "not varied")


@dataclass(frozen=True)
class Uncertainty:
    """A parameter's uncertainty distribution and its basis.

    Attributes:
        kind: One of :data:`KINDS`.
        args: The kind's numbers (see the module docstring).
        basis: Why this distribution: one of :data:`BASES` (or, for ``fixed``, :data:`FIXED_BASES`),
            optionally followed by ``: `` and words.
        multiplier: The draw multiplies every element of a list-valued parameter.
    """

    kind: str
    args: tuple[float, ...] = ()
    basis: str = ""
    multiplier: bool = field(default=False)

    @property
    def varied(self) -> bool:
        """True unless the kind is ``fixed``."""
        return self.kind != "fixed"

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take (``inf`` for a lognormal's upper end)."""
        a = self.args
        if self.kind == "uniform":
            return a[0], a[1]
        if self.kind == "triangular":
            return a[0], a[2]
        if self.kind == "beta":
            return a[0], a[1]
        if self.kind == "lognormal":
            return 0.0, math.inf
        return math.nan, math.nan

    def frozen(self) -> Any:
        """The scipy frozen distribution."""
        from scipy import stats

        a = self.args
        if self.kind == "uniform":
            return stats.uniform(loc=a[0], scale=a[1] - a[0])
        if self.kind == "triangular":
            width = a[2] - a[0]
            return stats.triang(c=(a[1] - a[0]) / width, loc=a[0], scale=width)
        if self.kind == "beta":
            return stats.beta(a[2], a[3], loc=a[0], scale=a[1] - a[0])
        if self.kind == "lognormal":
            return stats.lognorm(s=math.log(a[1]), scale=a[0])
        raise ValueError("a fixed parameter has no distribution")

    def ppf(self, u: npt.ArrayLike) -> np.ndarray:
        """Values at probabilities ``u`` (0 < u < 1): how a uniform design point maps to a draw."""
        return np.asarray(self.frozen().ppf(np.asarray(u, dtype=float)), dtype=float)

    def describe(self) -> str:
        """``triangular(0.1, 0.3, 0.5)``; ``x uniform(0.9, 1.1)`` for a multiplier; ``fixed``."""
        if not self.varied:
            return "fixed"
        text = f"{self.kind}({', '.join(f'{x:g}' for x in self.args)})"
        return f"x {text}" if self.multiplier else text

    def as_dict(self) -> dict[str, Any]:
        """The declaration as plain data (comparison.json, the user's ``distributions``)."""
        return {"kind": self.kind, "args": list(self.args), "basis": self.basis, "multiplier": self.multiplier}


def uniform(low: float, high: float, basis: str, *, multiplier: bool = False) -> Uncertainty:
    """Every value in [low, high] equally plausible."""
    return Uncertainty("uniform", (low, high), basis, multiplier)


def triangular(low: float, mode: float, high: float, basis: str, *, multiplier: bool = False) -> Uncertainty:
    """Most plausible at ``mode``, falling linearly to ``low`` and ``high``."""
    return Uncertainty("triangular", (low, mode, high), basis, multiplier)


def beta(low: float, high: float, a: float, b: float, basis: str) -> Uncertainty:
    """Beta-distributed with shapes a and b, stretched over [low, high]."""
    return Uncertainty("beta", (low, high, a, b), basis)


def lognormal(median: float, gsd: float, basis: str) -> Uncertainty:
    """Log-normal with this median and geometric standard deviation."""
    return Uncertainty("lognormal", (median, gsd), basis)


def fixed(basis: str) -> Uncertainty:
    """Not varied: a scenario choice or a fixed fact."""
    return Uncertainty("fixed", (), basis)


def _shape_errors(u: Uncertainty) -> list[str]:
    """What is wrong with the numbers of a known kind (empty if nothing)."""
    a = u.args
    if len(a) != _ARITY[u.kind] or not all(isinstance(x, int | float) and math.isfinite(x) for x in a):
        return [f"takes {_ARITY[u.kind]} finite numbers {_ARGS[u.kind]}, not {list(a)}"]
    if u.kind in ("uniform", "beta") and not a[0] < a[1]:
        return [f"needs low < high, not {a[0]:g} and {a[1]:g}"]
    if u.kind == "triangular" and not (a[0] <= a[1] <= a[2] and a[0] < a[2]):
        return [f"needs low <= mode <= high and low < high, not {a[0]:g}, {a[1]:g}, {a[2]:g}"]
    if u.kind == "beta" and not (a[2] > 0 and a[3] > 0):
        return [f"needs shapes a and b above 0, not {a[2]:g} and {a[3]:g}"]
    if u.kind == "lognormal" and not (a[0] > 0 and a[1] > 1):
        return [f"needs a median above 0 and a geometric sd above 1, not {a[0]:g} and {a[1]:g}"]
    return []


def uncertainty_errors(
    key: str, u: Uncertainty | None, default: Any, lo: float | None, hi: float | None, integer: bool = False
) -> list[str]:
    """Every problem with one parameter's declared uncertainty, each naming the key.

    Args:
        key: The parameter's dotted key.
        u: Its declaration (None: none declared).
        default: Its value (a number, or a list for a multiplier).
        lo: Smallest allowed value, or None.
        hi: Largest allowed value, or None.
        integer: The parameter is an integer (draws are rounded to the nearest integer).

    Returns:
        Sentences, empty if the declaration is sound.
    """
    name = f"the uncertainty of `{key}`"
    if u is None:
        return [f"{name} is not declared; declare a distribution (or fixed) with its basis"]
    if u.kind not in KINDS:
        return [f"{name} has kind {u.kind!r}, which is unknown; allowed kinds: {', '.join(KINDS)}"]
    allowed = FIXED_BASES if u.kind == "fixed" else BASES
    if not str(u.basis or "").strip():
        return [f"{name} has no basis; give one of {', '.join(repr(b) for b in allowed)} (optionally ': why')"]
    if not any(str(u.basis).strip().startswith(b) for b in allowed):
        return [f"{name} has basis {u.basis!r}, but it must begin with one of {', '.join(repr(b) for b in allowed)}"]
    if not u.varied:
        return []
    shape = _shape_errors(u)
    if shape:
        return [f"{name} is {u.kind} but {shape[0]}"]
    return _range_errors(key, u, default, lo, hi, integer)


def _range_errors(
    key: str, u: Uncertainty, default: Any, lo: float | None, hi: float | None, integer: bool
) -> list[str]:
    """The distribution (times each element, for a multiplier) inside the range, and allowing the default."""
    name = f"the uncertainty of `{key}`"
    low, high = u.support()
    values = [float(v) for v in default] if isinstance(default, list | tuple) else None
    if values is not None and not u.multiplier:
        return [f"{name} is {u.describe()} on a list-valued parameter; declare it as a multiplier (multiplier=True)"]
    if values is None and u.multiplier:
        return [f"{name} is a multiplier, but `{key}` is a single number; drop multiplier=True"]
    slack = 0.5 if integer else 0.0  # an integer draw is rounded, so half a unit beyond the range still lands inside
    ends = [e * v for v in values for e in (low, high)] if values else [low, high]
    if (lo is not None and min(ends) < lo - slack) or (hi is not None and max(ends) > hi + slack):
        bounds = f"[{'' if lo is None else f'{lo:g}'}, {'' if hi is None else f'{hi:g}'}]"
        what = "its draws times the elements reach" if values else "it reaches"
        return [
            f"{name} is {u.describe()}, but {what} {min(ends):g} to {max(ends):g}, outside the parameter's "
            f"range {bounds}; keep the distribution inside the range"
        ]
    centre = 1.0 if values else (float(default) if isinstance(default, int | float) else None)
    if centre is not None and not low <= centre <= high:
        return [
            f"{name} is {u.describe()}, which excludes the default {centre:g}"
            + (" (a multiplier must allow 1)" if values else "")
        ]
    return []


def from_mapping(key: str, spec: Any) -> tuple[Uncertainty | None, list[str]]:
    """A user's declaration (``{kind: uniform, args: [0.1, 0.5], basis: "wide: assumption"}``) as an Uncertainty.

    Args:
        key: The parameter it is for (for messages).
        spec: The mapping given.

    Returns:
        The declaration, or None and the problems (each naming ``distributions.<key>``).
    """
    name = f"`distributions.{key}`"
    if not isinstance(spec, Mapping):
        return None, [f"{name} is {spec!r}, but it must be a mapping such as {{kind: uniform, args: [0.1, 0.5], "
                      "basis: 'wide: assumption'}"]  # fmt: skip
    unknown = sorted(set(spec) - {"kind", "args", "basis", "multiplier"})
    if unknown:
        return None, [f"{name} has unknown entries {unknown}; allowed: kind, args, basis, multiplier"]
    args = spec.get("args", [])
    if not isinstance(args, Sequence) or isinstance(args, str):
        return None, [f"{name}.args is {args!r}, but it must be a list of numbers"]
    try:
        numbers = tuple(float(x) for x in args)
    except (TypeError, ValueError):
        return None, [f"{name}.args is {list(args)!r}, but it must be a list of numbers"]
    return Uncertainty(
        str(spec.get("kind", "")), numbers, str(spec.get("basis") or ""), bool(spec.get("multiplier", False))
    ), []
