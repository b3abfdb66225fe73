"""Run settings: what a run writes, the experiment design it belongs to and how its scenario is named.

:class:`RunConfig` is the schema Hydra composes for the ``silosim`` command: the model's
:class:`~sim.config.schema.SiloConfig` plus ``output``, ``design`` and ``about`` (the scenario's
display title and one-line description). The engine reads only the model part; the commands, the
experiments, the report and the dashboard read the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.config.schema import SiloConfig, param

__all__ = ["TEXT_LIMITS", "AboutConf", "DesignConf", "OutputConf", "RunConfig", "UncertaintyConf", "scenario_title"]

# Longest labels a scenario may declare (characters); config validation refuses longer ones.
TEXT_LIMITS = {"about.title": 80, "about.description": 300}


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
        "of 2); morris: number of trajectories (rows r(D+1)). D = number of parameters. At most 4096.",
        "",
        1,
        4096,
        "Experiment choice; at most 4096 (a Sobol design of 2^12 base samples is already about 10^5 runs).",
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
class UncertaintyConf:
    """A parameter draw this run applies (set by ``silosim-compare uncertainty=parameters``; none by default)."""

    file: str = param(
        "",
        "Draws file written by silosim-compare (draws.json): run with seed s applies its row s - `first_seed` "
        "(empty: no draw).",
        source="Set by `silosim-compare uncertainty=parameters`.",
    )
    first_seed: int = param(
        0, "Seed of the run that applies the file's first draw.", "", 0, None, "Set by silosim-compare."
    )


@dataclass
class AboutConf:
    """How a scenario is named for people: every figure, table, slide and the dashboard show these words.

    A scenario file sets them near its top (``about: {title: ..., description: ...}``); a scenario
    that declares none is shown by its file name in words (``our_plan`` -> ``Our plan``). They are
    labels only: the model never reads them.
    """

    title: str = param(
        "",
        "Display title of the scenario in figures, tables, slides and the dashboard (a few words; up to about "
        "40 characters fit a slide; one line of at most 80). Empty: the file name in words.",
        source="Scenario file; labels only, the model never reads it.",
    )
    description: str = param(
        "",
        "One line on what the scenario changes, in plain words (shown beside the title in reports and the "
        "dashboard; at most 300 characters). Empty: none.",
        source="Scenario file; labels only, the model never reads it.",
    )


def scenario_title(name: str, title: str | None = "") -> str:
    """The display title of a scenario: its declared title, or its file name in words.

    >>> scenario_title("closed_loop_followup", "Closed-loop follow-up")
    'Closed-loop follow-up'
    >>> scenario_title("our_plan")
    'Our plan'
    """
    declared = " ".join(str(title or "").split())
    if declared:
        return declared
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass
class RunConfig(SiloConfig):
    """One run: the model's configuration plus what the run writes, the design row it applies and its labels."""

    output: OutputConf = field(default_factory=OutputConf)
    design: DesignConf = field(default_factory=DesignConf)
    uncertainty: UncertaintyConf = field(default_factory=UncertaintyConf)
    about: AboutConf = field(default_factory=AboutConf)
