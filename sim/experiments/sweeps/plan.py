"""Checking a multirun before Hydra launches it, and adding an experiment design's rows to it.

``silosim -m ...`` calls :func:`plan_multirun` first: every swept value of a numeric parameter is
checked against its declared range, the configuration of the first job is composed and
validated, the experiment design (if any) is validated, and ``design.row=range(0,N)`` is added
when the experiment has a design and the command line does not sweep ``design.row`` itself.
So bad input stops the sweep before any job directory exists.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, RunConfig, checked_config, compose, find
from sim.config.walk import range_error
from sim.experiments.runs.executor import CHECKED_ENV
from sim.experiments.sweeps.design import design_size

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override

__all__ = ["MultirunPlan", "plan_multirun"]


@dataclass(frozen=True)
class MultirunPlan:
    """What a checked multirun will do."""

    overrides: list[str]
    """The command-line overrides, with ``design.row=range(0,N)`` added if the experiment has a design."""
    jobs: int
    """Number of jobs (runs) the sweep launches."""
    design_rows: int
    """Rows of the experiment design (0 without one)."""
    customers: int = 0
    """Initial customers of the largest job (the largest swept value of ``customers``)."""
    weeks: int = 0
    """Weeks of the longest job."""
    warmup_weeks: int = 0
    """Warm-up weeks of the longest job."""
    workers: int = 1
    """Jobs that run at once: the local launchers' ``hydra.launcher.n_jobs`` (-1: every core), at most ``jobs``."""


def _values(override: Override) -> list[str]:
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    try:
        return list(override.sweep_string_iterator())
    except Exception as exc:  # interval sweeps need a sweeper plugin that samples them
        raise ConfigError(
            f"`{override.key_or_group}` is swept as '{override.input_line.split('=', 1)[1]}', but "
            "silosim's sweeper enumerates only lists (a,b,c) and ranges (range(0,10)); use an "
            "experiment design (conf/experiment/) to sample intervals."
        ) from exc


def _check_value(key: str, text: str, typed: RunConfig) -> str | None:
    """A sentence if one swept value of a numeric parameter is not a number of its kind or out of range."""
    param = find(typed, key)
    if param is None or param.kind is None or text == "null":
        return None
    try:
        number = float(text) if param.kind is not bool else float(text.lower() == "true")
        if param.kind is int and number != math.floor(number):
            raise ValueError(text)
    except ValueError:
        return f"`{key}` is swept over '{text}', but it must be {'an integer' if param.kind is int else 'a number'}"
    problem = range_error(param, number)
    return f"`{key}` is swept over {text}, but {problem}" if problem else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plan_multirun(overrides: list[str]) -> MultirunPlan:
    """Check a multirun's overrides and work out its jobs.

    Args:
        overrides: The command-line overrides of ``silosim -m`` (without ``-m`` and ``scenario_dir``).

    Returns:
        The plan: overrides to launch with and the number of jobs.

    Raises:
        ConfigError: If a configuration cannot be composed, a swept value is out of range or the design
            is invalid.
    """
    parser = OverridesParser.create()
    try:
        cli = parser.parse_overrides([a for a in overrides if not a.startswith("-")])
    except Exception as exc:
        raise ConfigError(f"The sweep's arguments could not be parsed: {' '.join(str(exc).split()[:25])}") from None
    # The first job's configuration: every sweep at its first value. Hydra-only overrides are irrelevant here.
    first = [f"{o.get_key_element()}={_values(o)[0]}" for o in cli if not o.is_hydra_override()]
    full = compose("config", first, return_hydra_config=True)
    node = OmegaConf.select(full, "hydra.sweeper.params")
    params = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    # As Hydra's basic sweeper does: the config's sweeper params first, command-line overrides after (they win).
    sweeps = parser.parse_overrides([f"{k}={v}" for k, v in params.items()]) + cli
    typed = checked_config(first)
    if os.environ.get(CHECKED_ENV) != "1":  # a comparison has composed and checked every scenario already
        _check_other_values(cli, first)
    errors: list[str] = []
    counts: dict[str, int] = {}
    for o in sweeps:
        if o.is_hydra_override():
            continue
        values = _values(o)
        counts[o.key_or_group] = len(values)
        errors += [e for e in (_check_value(o.key_or_group, text, typed) for text in values) if e]
    if errors:
        raise ConfigError("Invalid sweep: " + "; ".join(errors) + ".")
    rows = design_size(typed.design) if typed.design.method != "none" else 0
    launch = list(overrides)
    if rows and "design.row" not in counts:
        launch.append(f"design.row=range(0,{rows})")
        counts["design.row"] = rows
    # Job directories are named after what varies between jobs (constant overrides are in every job's config).
    winning = {o.key_or_group: o for o in sweeps if not o.is_hydra_override()}
    constant = sorted(k for k, o in winning.items() if not o.is_sweep_override() and k != "design.row")
    if constant and not any(a.startswith("hydra.job.config.override_dirname.exclude_keys=") for a in launch):
        launch.append(f"hydra.job.config.override_dirname.exclude_keys=[{','.join(constant)}]")
    jobs = math.prod(counts.values()) if counts else 1
    largest = {
        key: _largest(winning.get(key), int(getattr(typed, key))) for key in ("customers", "weeks", "warmup_weeks")
    }
    return MultirunPlan(
        overrides=launch, jobs=jobs, design_rows=rows, workers=min(jobs, _workers(full, overrides)), **largest
    )


def _largest(override: Override | None, first: int) -> int:
    """The largest value a job takes of a size setting (its first value if none is a number)."""
    if override is None:
        return first
    numbers = [int(float(v)) for v in _values(override) if _is_number(v)]
    return max([first, *numbers])


def _workers(full: DictConfig, overrides: list[str]) -> int:
    """Jobs the launcher runs at once on this machine (``hydra.launcher.n_jobs``; 1 for a cluster launcher)."""
    launcher = next((o.split("=", 1)[1] for o in overrides if o.startswith("hydra/launcher=")), "local")
    if launcher not in LOCAL_LAUNCHERS:
        return 1  # a cluster launcher (SLURM, Ray): the runs do not share this machine's memory
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith("hydra.launcher.n_jobs=")), None)
    n_jobs = given if given is not None else OmegaConf.select(full, "hydra.launcher.n_jobs", default=-1)
    try:
        n_jobs = int(n_jobs)
    except (TypeError, ValueError):
        return 1  # Hydra refuses it when it launches
    return (os.cpu_count() or 1) if n_jobs < 1 else n_jobs


LOCAL_LAUNCHERS = ("local", "joblib")  # conf/hydra/launcher/: the launchers whose runs share this machine


def _check_other_values(cli: list[Override], first: list[str]) -> None:
    """Every other value of a non-numeric sweep (a scenario, a string, a flag) composes and validates too.

    The other sweeps stay at their first value, so a bad value stops the sweep before any job runs.
    """
    for o in cli:
        values = _values(o)
        if o.is_hydra_override() or len(values) < 2 or all(_is_number(v) for v in values):
            continue
        element = o.get_key_element()
        for v in values[1:]:
            checked_config([f"{element}={v}" if f.split("=", 1)[0] == element else f for f in first])
