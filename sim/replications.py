"""Replications: one configuration run over several seeds, its headline figures and their confidence intervals.

Calibration and policy search both judge a configuration by the mean of a figure over
replications (seeds ``seed0, seed0 + 1, ...``). Two configurations evaluated with the same seeds
share their random draws wherever their mechanisms agree (common random numbers), so their
difference is far less noisy than either figure.

The figures a client observes (see :data:`FIGURES`) are measured over the last year of the run
(the last 52 weeks, or the whole run if it is shorter).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim import analysis
from sim.analysis import Interval

if TYPE_CHECKING:
    from sim.config import SiloConfig
    from sim.model import SiloModel

__all__ = [
    "FIGURES",
    "WEEKS_PER_YEAR",
    "checked_base",
    "figures",
    "mean_ci",
    "run_replications",
    "with_values",
]

WEEKS_PER_YEAR = 52

# The figures a client can observe, with their meaning and unit (used in reports).
FIGURES: dict[str, tuple[str, str]] = {
    "nps": ("measured NPS (survey), mean of the weekly rolling value over the last year", "NPS points, -100..100"),
    "true_nps": ("true NPS of all active customers, last week", "NPS points, -100..100"),
    "annual_retention": ("annual retention over the last year: product of weekly retention", "share, 0-1"),
    "annual_churn": ("annual churn over the last year: 1 - annual retention", "share, 0-1"),
    "first_contact_resolution": ("first-contact resolution, mean over the last year", "share, 0-1"),
}


def checked_base(overrides: list[str], what: str) -> SiloConfig:
    """Compose, type-check and validate the model configuration a command runs replications of.

    Args:
        overrides: Hydra overrides of the model.
        what: The command's name for error messages ("calibration", "policy search").

    Returns:
        The typed, validated configuration.

    Raises:
        ConfigError: One paragraph naming what is wrong.
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.config import ConfigError, compose_config, to_config, validate

    try:
        base = to_config(compose_config(overrides))
        validate(base)
    except ConfigError as exc:
        raise ConfigError(f"The {what}'s model settings are invalid: {exc}") from None
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(
            f"The {what}'s model settings ({' '.join(overrides)}) could not be composed: {' '.join(str(exc).split())}"
        ) from None
    return base


def mean_ci(values: Iterable[float], level: float = 0.95) -> Interval:
    """Mean and two-sided Student-t confidence interval of the mean (zero width for one value).

    The arithmetic is :func:`sim.analysis.mean_ci`'s; a single replication gets a zero-width
    interval here, so a fit with one replication per trial can still be compared with its target.

    Args:
        values: One value per replication (NaNs are dropped).
        level: Confidence level.

    Returns:
        The mean and interval.
    """
    ci = analysis.mean_ci(values, level)
    if ci.n == 1:
        return Interval(ci.mean, ci.mean, ci.mean, 1)
    return ci


def figures(model: SiloModel) -> dict[str, float]:
    """The observable figures of one finished run (see :data:`FIGURES`)."""
    from sim.metrics import annual_retention

    m = model.metrics_frame().tail(WEEKS_PER_YEAR)
    retention = annual_retention(m["active_before"], m["churned"], WEEKS_PER_YEAR)
    return {
        "nps": float(m["measured_nps"].mean()),
        "true_nps": float(m["true_nps"].iloc[-1]),
        "annual_retention": retention,
        "annual_churn": 1.0 - retention,
        "first_contact_resolution": float(m["first_contact_resolution"].mean()),
    }


def with_values(cfg: SiloConfig, values: Mapping[str, Any]) -> SiloConfig:
    """A copy of a typed configuration with some parameters set by dotted key.

    Args:
        cfg: The typed configuration (left unchanged).
        values: Dotted key -> new value, e.g. ``{"customer.base_weekly_churn": 0.002}``.

    Returns:
        The modified copy.

    Raises:
        KeyError: If a key does not exist.
    """
    out = copy.deepcopy(cfg)
    for key, value in values.items():
        *path, last = key.split(".")
        node: Any = out
        for part in path:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        if isinstance(node, dict):
            if last not in node:
                raise KeyError(key)
            node[last] = value
        else:
            if not hasattr(node, last):
                raise KeyError(key)
            setattr(node, last, value)
    return out


def run_replications(
    cfg: SiloConfig,
    seeds: Sequence[int],
    measure: Callable[[SiloModel], dict[str, float]] = figures,
    jobs: int = 1,
) -> list[dict[str, float]]:
    """Run one configuration once per seed and measure each run.

    Args:
        cfg: The typed configuration (its own seed is replaced).
        seeds: One seed per replication.
        measure: Figures of a finished model.
        jobs: Parallel processes (1 = in this process).

    Returns:
        One dict of figures per seed, in seed order.
    """
    configs = [dataclasses.replace(cfg, seed=int(s)) for s in seeds]
    if jobs == 1 or len(configs) == 1:
        return [_run_one(c, measure) for c in configs]
    from joblib import Parallel, delayed

    return list(Parallel(n_jobs=jobs)(delayed(_run_one)(c, measure) for c in configs))


def _run_one(cfg: SiloConfig, measure: Callable[[SiloModel], dict[str, float]]) -> dict[str, float]:
    from sim.model import SiloModel

    return measure(SiloModel(cfg).run())
