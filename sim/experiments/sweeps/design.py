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

import functools
import json
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import OmegaConf

from sim.config import ConfigError, find, to_config, validate_design, with_values

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config import DesignConf, RunConfig

__all__ = ["apply_row", "apply_row_typed", "design_matrix", "design_size", "problem"]


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


def apply_row(cfg: DictConfig) -> DictConfig:
    """Set the parameter values of the configuration's design row (``design.row``), if any.

    Args:
        cfg: A composed configuration.

    Returns:
        The same configuration, with the row's values written into their keys (integers rounded).

    Raises:
        ConfigError: If the design is invalid or the row is beyond its last row.
    """
    return apply_row_typed(cfg)[0]


def apply_row_typed(cfg: DictConfig) -> tuple[DictConfig, RunConfig]:
    """:func:`apply_row`, also returning the typed configuration (converted once: a sweep's job pays for one).

    Args:
        cfg: A composed configuration.

    Returns:
        The configuration with the row's values written into their keys, and its typed dataclass tree.

    Raises:
        ConfigError: If the design is invalid or the row is beyond its last row.
    """
    typed = to_config(cfg)
    design = typed.design
    if design.row is None:
        return cfg, typed
    validate_design(typed)
    n = design_size(design)
    if design.method == "none" or design.row >= n:
        raise ConfigError(
            f"`design.row` is {design.row}, but design method {design.method!r} with these "
            f"settings has {n} rows (0 to {n - 1})."
        )
    values = {}
    for key, value in zip(design.parameters, design_matrix(design)[design.row], strict=True):
        integer = find(typed, key).kind is int  # a numeric parameter: checked by validate_design
        values[key] = round(float(value)) if integer else float(value)
        OmegaConf.update(cfg, key, values[key], merge=False)
    return cfg, with_values(typed, values)
