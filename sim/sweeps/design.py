"""Experiment designs: declared uncertain parameters and bounds, sampled into rows that a sweep runs.

An experiment config (``conf/experiment/<name>.yaml``) fills in the ``design`` section of the
configuration; ``silosim -m experiment=<name>`` runs one Hydra job per design row
(``design.row=range(0,N)``, added by the ``silosim`` command), and each job applies its row's
values before building the model. The rows are regenerated from the design section alone
(method, samples, seed, bounds), so every job, on any machine or launcher, sees the same matrix
and nothing has to be shipped to the workers.

Sampling uses SALib: Latin hypercube (``lhs``), Saltelli's scheme for Sobol indices (``sobol``)
and Morris trajectories (``morris``).
"""

from __future__ import annotations

import difflib
import functools
import json
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import OmegaConf

from sim.config import ConfigError, numeric_parameters, param_spec, range_error, to_config

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config import DesignConf, SiloConfig

__all__ = ["DESIGN_METHODS", "apply_row", "design_matrix", "design_size", "problem", "validate_design"]

DESIGN_METHODS = ("none", "lhs", "sobol", "morris")


def problem(design: DesignConf) -> dict[str, Any]:
    """The SALib problem dictionary of a design (names and bounds, in declaration order)."""
    names = list(design.parameters)
    return {"num_vars": len(names), "names": names, "bounds": [list(map(float, design.parameters[n])) for n in names]}


def design_size(design: DesignConf) -> int:
    """Number of rows (runs per seed) of a design, without sampling it."""
    d = len(design.parameters)
    if design.method == "lhs":
        return design.samples
    if design.method == "sobol":
        return design.samples * (2 * d + 2 if design.second_order else d + 2)
    if design.method == "morris":
        return design.samples * (d + 1)
    return 0


@functools.lru_cache(maxsize=8)
def _matrix(key: str) -> np.ndarray:
    """Sample a design (cached per process: every job of a sweep regenerates the same matrix)."""
    from SALib.sample import latin, morris, sobol

    spec = json.loads(key)
    prob = {"num_vars": len(spec["names"]), "names": spec["names"], "bounds": spec["bounds"]}
    if spec["method"] == "lhs":
        return latin.sample(prob, spec["samples"], seed=spec["seed"])
    if spec["method"] == "sobol":
        return sobol.sample(prob, spec["samples"], calc_second_order=spec["second_order"], seed=spec["seed"])
    if spec["method"] == "morris":
        return morris.sample(prob, spec["samples"], num_levels=spec["levels"], seed=spec["seed"])
    raise ValueError(f"unknown design method {spec['method']!r}")


def design_matrix(design: DesignConf) -> np.ndarray:
    """The design's rows (one per run) by parameters, deterministic in the design section.

    Args:
        design: A validated design with a method other than 'none'.

    Returns:
        An array of shape (design_size(design), number of parameters).
    """
    prob = problem(design)
    key = json.dumps(
        {
            "method": design.method,
            "samples": design.samples,
            "seed": design.seed,
            "second_order": design.second_order,
            "levels": design.levels,
            "names": prob["names"],
            "bounds": prob["bounds"],
        },
        sort_keys=True,
    )
    return _matrix(key).copy()


def validate_design(cfg: SiloConfig) -> None:
    """Check the design section against the schema; raise one ConfigError naming every problem.

    Checks that the method is known, every parameter is a numeric parameter of the configuration,
    its bounds are two numbers, low below high, both within the parameter's declared range, and that
    Sobol's base sample is a power of two and Morris's levels even.

    Args:
        cfg: The typed configuration.

    Raises:
        ConfigError: If anything is wrong.
    """
    design = cfg.design
    errors: list[str] = []
    if design.method not in DESIGN_METHODS:
        errors.append(f"`design.method` is {design.method!r}, but it must be one of {list(DESIGN_METHODS)}")
    if design.method != "none" and not design.parameters:
        errors.append(
            f"`design.parameters` is empty, but design method {design.method!r} needs at least one "
            "parameter with bounds, e.g. `journey.handoff_failure_prob: [0.01, 0.12]`"
        )
    if design.method == "sobol" and design.samples & (design.samples - 1):
        errors.append(
            f"`design.samples` is {design.samples}, but Sobol sampling needs a power of two (e.g. 8, 16, 64, 1024)"
        )
    if design.method == "morris" and design.levels % 2:
        errors.append(f"`design.levels` is {design.levels}, but Morris sampling needs an even number of levels")
    known = numeric_parameters(cfg)
    for key, bounds in design.parameters.items():
        name = f"design.parameters.{key}"
        spec = param_spec(key, cfg)
        if spec is None or spec.type is bool:
            from sim.cli import _KNOWN_MISTAKES

            close = (
                [_KNOWN_MISTAKES[key]]
                if key in _KNOWN_MISTAKES
                else difflib.get_close_matches(key, known, n=2, cutoff=0.75)
            )
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            errors.append(
                f"`{name}` names '{key}', which is not a numeric parameter of the model; "
                f"docs/parameters.md lists every key with its range.{hint}"
            )
            continue
        try:
            low, high = (float(b) for b in bounds)
            if isinstance(bounds, str) or any(isinstance(b, bool) for b in bounds):
                raise TypeError(bounds)
        except (TypeError, ValueError):
            errors.append(f"`{name}` is {bounds!r}, but it must be two numbers [low, high]")
            continue
        if not low < high:
            errors.append(f"`{name}` is [{low:g}, {high:g}], but low must be below high")
        for value in (low, high):
            problem_text = range_error(spec, value)
            if problem_text:
                errors.append(f"`{name}` has the bound {value:g}, but {problem_text}")
    if errors:
        raise ConfigError("Invalid experiment design: " + "; ".join(errors) + ".")


def apply_row(cfg: DictConfig) -> DictConfig:
    """Set the parameter values of the configuration's design row (``design.row``), if any.

    Args:
        cfg: A composed configuration.

    Returns:
        The same configuration, with the row's values written into their keys (integers rounded).

    Raises:
        ConfigError: If the design is invalid or the row is beyond its last row.
    """
    typed = to_config(cfg)
    design = typed.design
    if design.row is None:
        return cfg
    validate_design(typed)
    n = design_size(design)
    if design.method == "none" or design.row >= n:
        raise ConfigError(
            f"`design.row` is {design.row}, but design method {design.method!r} with these "
            f"settings has {n} rows (0 to {n - 1})."
        )
    values = design_matrix(design)[design.row]
    for key, value in zip(design.parameters, values, strict=True):
        spec = param_spec(key, typed)
        assert spec is not None  # noqa: S101 - checked by validate_design
        OmegaConf.update(cfg, key, round(float(value)) if spec.type is int else float(value), merge=False)
    return cfg
