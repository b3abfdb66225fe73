"""One walk over the configuration tree, and everything built on it.

The configuration is a tree of dataclasses (:mod:`sim.config.schema`) whose dictionaries hold
named touchpoints, departments and levers. :func:`walk` visits every leaf parameter once, with its
dotted key, value and declared metadata (meaning, unit, range, source); range checks, parameter
look-up, the list of numeric parameters, setting values by key and the generated parameter docs
are all this one walk.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sim.config.distributions import Uncertainty, from_mapping, uncertainty_errors
from sim.config.schema import SiloConfig

__all__ = [
    "Param",
    "find",
    "fmt_range",
    "numeric_parameters",
    "parameter_table",
    "range_error",
    "suggest_key",
    "uncertain_parameters",
    "walk",
    "with_values",
]

# Names people reach for that the model spells differently (suggested, never silently accepted).
KNOWN_MISTAKES = {
    "governance.followup_capacity": "feedback.inner_loop.capacity",
    "feedback.followup_capacity": "feedback.inner_loop.capacity",
    "governance.fixes_per_quarter": "feedback.outer_loop.fixes_per_quarter",
}


@dataclass(frozen=True)
class Param:
    """One leaf of the configuration tree.

    Attributes:
        key: Dotted key, e.g. ``journey.touchpoints.setup.failure_prob``.
        value: Its current value.
        meta: What :func:`sim.config.schema.param` declared (doc, unit, lo, hi, source).
        annotation: The field's type annotation, as written.
        owner: The dataclass instance or dictionary that holds it.
        name: Its attribute name (or dictionary key) in ``owner``.
    """

    key: str
    value: Any
    meta: Mapping[str, Any]
    annotation: Any
    owner: Any
    name: str

    @property
    def kind(self) -> type | None:
        """``bool``, ``int`` or ``float`` for a scalar parameter (optionally None-able), else None."""
        text = str(self.annotation).replace(" ", "")
        for name, kind in (("bool", bool), ("int", int), ("float", float)):
            if text in (name, f"{name}|None", f"None|{name}", f"Optional[{name}]"):
                return kind
        return None

    @property
    def lo(self) -> float | None:
        """Smallest allowed value (inclusive), or None."""
        return self.meta.get("lo")

    @property
    def hi(self) -> float | None:
        """Largest allowed value (inclusive), or None."""
        return self.meta.get("hi")

    @property
    def declared(self) -> str:
        """The declared range as written in the docs: ``[0, 1]``, ``[0, ]`` (at least 0)."""
        lo, hi = self.lo, self.hi
        return f"[{'' if lo is None else f'{lo:g}'}, {'' if hi is None else f'{hi:g}'}]"

    @property
    def uncertainty(self) -> Uncertainty | None:
        """The declared uncertainty distribution (:mod:`sim.config.distributions`), or None."""
        return self.meta.get("uncertainty")

    @property
    def numeric(self) -> bool:
        """An int or float parameter, or a list of numbers (bools are not numeric)."""
        if self.kind in (int, float):
            return True
        return (
            isinstance(self.value, list)
            and bool(self.value)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.value)
        )

    @property
    def doc(self) -> str:
        """What the parameter means, without a final full stop (it is quoted in parentheses in messages)."""
        return str(self.meta.get("doc", "")).rstrip(".")

    def set(self, value: Any) -> None:
        """Set the value in its owner."""
        if isinstance(self.owner, dict):
            self.owner[self.name] = value
        else:
            setattr(self.owner, self.name, value)


def _is_tree(value: Any) -> bool:
    """A dataclass, or a non-empty dictionary of dataclasses (named touchpoints, departments, levers)."""
    if dataclasses.is_dataclass(value):
        return True
    return isinstance(value, dict) and bool(value) and all(dataclasses.is_dataclass(v) for v in value.values())


def walk(node: Any, prefix: str = "", *, within: type | None = None) -> Iterator[Param]:
    """Every leaf parameter of a configuration tree, depth first in declaration order.

    Dataclasses and dictionaries of dataclasses are descended into; anything else (a number, a string,
    a list, an empty or plain dictionary) is a leaf.

    Args:
        node: A dataclass instance (the whole configuration or a part of it).
        prefix: Key prefix of ``node`` (``"journey."``).
        within: Visit only the top-level fields this dataclass declares (``SiloConfig``: the model's
            parameters, without the run settings of a ``RunConfig``).

    Yields:
        One :class:`Param` per leaf.
    """
    names = {f.name for f in dataclasses.fields(within)} if within is not None else None
    for f in dataclasses.fields(node):
        if names is not None and f.name not in names:
            continue
        value = getattr(node, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            yield from walk(value, f"{key}.")
        elif _is_tree(value):
            for name, item in value.items():
                yield from walk(item, f"{key}.{name}.")
        else:
            yield Param(key, value, f.metadata, f.type, node, f.name)


def find(cfg: Any, key: str) -> Param | None:
    """The leaf parameter at dotted ``key`` (touchpoints, departments and levers by name), or None.

    Args:
        cfg: A typed configuration.
        key: Dotted key.

    Returns:
        The parameter, or None if ``key`` names no leaf (a misspelt key, or a whole section).
    """
    return next((p for p in walk(cfg) if p.key == key), None)


def numeric_parameters(cfg: SiloConfig) -> list[str]:
    """Every numeric (int or float) model parameter key of ``cfg`` (run settings excluded)."""
    return [p.key for p in walk(cfg, within=SiloConfig) if p.kind in (int, float)]


def suggest_key(key: str, cfg: SiloConfig | None = None) -> str:
    """`` Did you mean `X`?`` for a misspelt or misplaced model key, or an empty string."""
    if key in KNOWN_MISTAKES:
        return f" Did you mean `{KNOWN_MISTAKES[key]}`?"
    keys = numeric_parameters(cfg if cfg is not None else SiloConfig())
    close = difflib.get_close_matches(key, keys, n=2, cutoff=0.75)
    return f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


def fmt_range(lo: float | None, hi: float | None) -> str:
    """``between 0 and 1``, ``at least 0``, ``at most 10``; a distant cap: ``at least 1 and at most 5,200``.

    >>> fmt_range(1, 10_000_000)
    'at least 1 and at most 10,000,000'
    """
    if lo is not None and hi is not None and hi >= 1000:
        return f"at least {lo:g} and at most {hi:,.0f}"
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    if lo is not None:
        return f"at least {lo:g}"
    return f"at most {hi:g}"


def range_error(param: Param, value: float) -> str | None:
    """A sentence if ``value`` is outside ``param``'s declared range (or not finite), else None."""
    bad = (
        (isinstance(value, float) and not math.isfinite(value))
        or (param.lo is not None and value < param.lo)
        or (param.hi is not None and value > param.hi)
    )
    if bad:
        return f"`{param.key}` must be {fmt_range(param.lo, param.hi)} ({param.doc})"
    return None


def with_values(cfg: SiloConfig, values: Mapping[str, Any]) -> SiloConfig:
    """A copy of a typed configuration with some parameters set by dotted key.

    Args:
        cfg: The typed configuration (left unchanged).
        values: Dotted key -> new value, e.g. ``{"customer.base_weekly_churn": 0.002}``.

    Returns:
        The modified copy.

    Raises:
        KeyError: If a key names no parameter.
    """
    out = copy.deepcopy(cfg)
    params = {p.key: p for p in walk(out)} if values else {}  # one walk, not one per key (a draw sets ~90)
    for key, value in values.items():
        param = params.get(key)
        if param is None:
            raise KeyError(key)
        param.set(value)
    return out


def uncertain_parameters(
    cfg: SiloConfig, distributions: Mapping[str, Any] | None = None
) -> tuple[dict[str, tuple[Param, Uncertainty]], list[str]]:
    """Every numeric model parameter with its uncertainty: the schema's declaration, or the user's in its place.

    Args:
        cfg: A typed configuration (its values are the defaults the distributions must allow).
        distributions: The user's declarations by dotted key (``{kind, args, basis, multiplier}`` each),
            replacing the schema's for those keys.

    Returns:
        Key -> (parameter, uncertainty) for every numeric model parameter, and every problem found (each
        sentence names the key): an undeclared parameter, an unknown kind, a missing basis, a distribution
        outside the parameter's range, a user's key that names no numeric model parameter.
    """
    given = dict(distributions or {})
    table: dict[str, tuple[Param, Uncertainty]] = {}
    errors: list[str] = []
    for p in walk(cfg, within=SiloConfig):
        if not p.numeric:
            continue
        u = p.uncertainty
        if p.key in given:
            u, problems = from_mapping(p.key, given.pop(p.key))
            errors += problems
            if u is None:
                continue
        errors += uncertainty_errors(p.key, u, p.value, p.lo, p.hi, integer=p.kind is int)
        if u is not None:
            table[p.key] = (p, u)
    for key in given:
        errors.append(
            f"`distributions.{key}` names no numeric model parameter (docs/parameters.md lists them)"
            + suggest_key(key, cfg)
        )
    return table, errors


def _uncertainty_cell(p: Param) -> str:
    """``triangular(0.1, 0.3, 0.5); wide: assumption`` for the docs (empty for a parameter that is not numeric)."""
    u = p.uncertainty
    if u is None:
        return ""
    return u.basis if not u.varied else f"{u.describe()}; {u.basis}"


def parameter_table(root: type = SiloConfig, prefix: str = "") -> list[dict[str, str]]:
    """The schema's defaults as rows (key, default, unit, range, meaning, source) for the docs."""
    rows = []
    for p in walk(root(), prefix):
        rows.append(
            {
                "key": p.key,
                "default": "null" if p.value is None else str(p.value).replace("'", ""),
                "unit": p.meta.get("unit", ""),
                "range": "" if p.lo is None and p.hi is None else p.declared,
                "meaning": p.meta.get("doc", ""),
                "source": p.meta.get("source", ""),
                "uncertainty": _uncertainty_cell(p),
            }
        )
    return rows
