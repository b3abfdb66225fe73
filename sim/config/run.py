"""Run settings: what a run writes and the experiment design it belongs to (not model parameters).

:class:`RunConfig` is the schema Hydra composes for the ``silosim`` command: the model's
:class:`~sim.config.schema.SiloConfig` plus ``output`` and ``design``. The engine reads only the
model part; the commands and the experiments read the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.config.schema import SiloConfig, param

__all__ = ["DesignConf", "OutputConf", "RunConfig"]


@dataclass
class OutputConf:
    """What a run writes."""

    customers: bool = param(True, "Write customers.parquet (switch off for large sweeps).", source="Output option.")
    progress: bool = param(True, "Show a progress bar while the model runs.", source="Output option.")


@dataclass
class DesignConf:
    """An experiment design: uncertain parameters with bounds, sampled into rows that a sweep runs.

    An experiment config (``conf/experiment/``) fills this in; ``silosim -m experiment=NAME`` then runs
    one job per row (``design.row``), each with the row's parameter values applied.
    """

    method: str = param(
        "none",
        "How the rows are sampled: 'none' (no design), 'lhs' (Latin hypercube), 'sobol' (Saltelli "
        "sampling for Sobol indices) or 'morris' (Morris trajectories).",
        "",
        None,
        None,
        "SALib (Herman & Usher 2017; Iwanaga et al. 2022).",
    )
    samples: int = param(
        16,
        "lhs: number of rows; sobol: base sample N (rows N(2D+2) with second order, N(D+2) without; a power "
        "of 2); morris: number of trajectories (rows r(D+1)). D = number of parameters.",
        "",
        1,
        None,
        "Experiment choice.",
    )
    seed: int = param(
        0, "Seed of the design's sampler (the runs' own seed is `seed`).", "", 0, None, "Experiment choice."
    )
    second_order: bool = param(True, "sobol: also sample for second-order indices.", source="Experiment choice.")
    levels: int = param(
        4, "morris: number of grid levels (even).", "", 2, None, "Morris 1991; 4 levels is SALib's default."
    )
    parameters: dict[str, Any] = param(
        {},
        "Uncertain parameters: dotted key -> [low, high], within the key's declared range. Integer "
        "parameters are rounded.",
        "",
        None,
        None,
        "Experiment choice.",
    )
    outcomes: list[str] = param(
        ["final.true_nps", "final.annual_retention", "total.revenue"],
        "Outcome columns of the collected runs the sensitivity analysis explains (summary.json, flattened).",
        "",
        None,
        None,
        "Issue: three-year true NPS, retention, revenue.",
    )
    row: int | None = param(
        None,
        "The design row this run applies (set by the sweep; null = none).",
        "",
        0,
        None,
        "Set by `silosim -m experiment=NAME`.",
    )


@dataclass
class RunConfig(SiloConfig):
    """One run: the model's configuration plus what the run writes and the design row it applies."""

    output: OutputConf = field(default_factory=OutputConf)
    design: DesignConf = field(default_factory=DesignConf)
