"""Replications: one configuration run over several seeds, its outcomes and their confidence intervals.

Calibration and policy search both judge a configuration by the mean of an outcome over
replications (seeds ``seed0, seed0 + 1, ...``). Two configurations evaluated with the same seeds
share their random draws wherever their mechanisms agree (common random numbers), so their
difference is far less noisy than either figure. Outcomes are those of the registry
(:mod:`sim.experiments.analysis.outcomes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from sim.config import ConfigError, checked_config
from sim.experiments.analysis import statistics
from sim.experiments.analysis.outcomes import RunContext, compute
from sim.experiments.analysis.statistics import Interval
from sim.experiments.runs.orphans import adopt_workers, stop_with_parent

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config.schema import SiloConfig
    from sim.engine.model import SiloModel

__all__ = ["base_configuration", "mean_ci", "measuring", "run_replications"]


def base_configuration(model: DictConfig, what: str) -> SiloConfig:
    """The configuration a calibration or policy search runs replications of, from its ``model`` settings.

    Args:
        model: ``scenario``, ``customers``, ``weeks``, ``seed``, ``overrides`` (model parameters as key=value)
            and, optionally, ``industry`` (a preset) and ``calibration`` (a calibrated file).
        what: The experiment's name for error messages ("calibration", "policy search").

    Returns:
        The typed, validated configuration (no tracked panel, no progress bar).

    Raises:
        ConfigError: One paragraph naming what is wrong.
    """
    overrides = [
        f"scenario={model.scenario}",
        f"customers={model.customers}",
        f"weeks={model.weeks}",
        f"seed={model.seed}",
        "track_customers=0",
        "output.progress=false",
        *[str(o) for o in (model.get("overrides") or [])],
    ]
    if model.get("industry"):
        overrides.append(f"industry={model.industry}")
    if model.get("calibration"):
        overrides.append(f"calibration={model.calibration}")
    if model.get("journey"):  # a journey file (silosim-journey import) in place of the default journey
        overrides.append(f"journey={model.journey}")
    try:
        return checked_config(overrides)
    except ConfigError as exc:
        raise ConfigError(f"The {what}'s model settings are invalid: {exc}") from None


def mean_ci(values: Iterable[float], level: float = 0.95) -> Interval:
    """Mean and two-sided Student-t confidence interval of the mean (zero width for one value).

    The arithmetic is :func:`sim.experiments.analysis.statistics.mean_ci`'s; a single replication gets a
    zero-width interval here, so a fit with one replication per trial can still be compared with its target.

    Args:
        values: One value per replication (NaNs are dropped).
        level: Confidence level.

    Returns:
        The mean and interval.
    """
    ci = statistics.mean_ci(values, level)
    if ci.n == 1:
        return Interval(ci.mean, ci.mean, ci.mean, 1)
    return ci


def measuring(names: Sequence[str], context: RunContext | None = None) -> Callable[[SiloModel], dict[str, float]]:
    """A function that computes the named outcomes of a finished model (for :func:`run_replications`)."""

    def outcomes(model: SiloModel) -> dict[str, float]:
        run_context = context or RunContext(customers=model.cfg.customers)
        return compute(names, model.metrics_frame(), run_context)

    return outcomes


def run_replications(
    cfg: SiloConfig,
    seeds: Sequence[int],
    measure: Callable[[SiloModel], dict[str, float]],
    jobs: int = 1,
) -> list[dict[str, float]]:
    """Run one configuration once per seed and measure each run.

    Args:
        cfg: The typed configuration (its own seed is replaced).
        seeds: One seed per replication.
        measure: Outcomes of a finished model (see :func:`measuring`).
        jobs: Parallel processes (1 = in this process).

    Returns:
        One dict of outcomes per seed, in seed order.
    """
    configs = [dataclasses.replace(cfg, seed=int(s)) for s in seeds]
    if jobs == 1 or len(configs) == 1:
        return [_run_one(c, measure) for c in configs]
    from joblib import Parallel, delayed

    adopt_workers()
    return list(Parallel(n_jobs=jobs)(delayed(_run_one)(c, measure) for c in configs))


def _run_one(cfg: SiloConfig, measure: Callable[[SiloModel], dict[str, float]]) -> dict[str, float]:
    from sim.engine.model import SiloModel

    stop_with_parent()  # in a pool's worker: never outlive the command
    return measure(SiloModel(cfg, collect=False).run())
