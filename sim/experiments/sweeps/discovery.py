"""Scenario discovery: under which conditions does an outcome of interest happen? PRIM on a collected sweep.

A sweep over uncertain parameters (an experiment design, ``silosim -m experiment=...``) is
collected into ``runs.parquet`` (one row per run). A *case of interest* is a run whose outcome
lies above (or below) a threshold, or, with ``versus``, a run whose outcome minus that of the
paired run of another scenario does (same parameters, same seed: common random numbers, so the
difference is the scenario's effect and not luck). PRIM, the Patient Rule Induction Method
(Friedman & Fisher 1999) as the EMA workbench implements it (Kwakkel 2017, "The Exploratory
Modeling Workbench", Environmental Modelling & Software 96), peels the parameter space down to a
box of conditions where cases are dense:

* **coverage**: the share of all cases of interest that lie inside the box;
* **density**: the share of the runs inside the box that are cases;
* **mass**: the share of all runs inside the box.

Peeling trades coverage for density step by step (the *peeling trajectory*); the chosen box is
the one with the highest coverage among those at least ``min_density`` dense (or the densest).
Each restricted parameter carries PRIM's quasi-p-value (a one-sided binomial test of whether the
restriction raises the density), so a restriction that noise alone could explain is visible.

The command is :mod:`sim.commands.discover`; the figure is :func:`sim.report.research.plot_discovery`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError

__all__ = ["Discovery", "cases", "discover", "input_columns", "judged_scenario"]

# Columns of runs.parquet that identify a run or record its results, never an uncertain input.
IDENTITY = ("run", "scenario", "seed", "customers", "weeks", "design.row")
RESULT_SECTIONS = ("final.", "mean.", "total.", "last_year.", "programme.", "provenance.")


def input_columns(runs: pd.DataFrame) -> list[str]:
    """The swept parameters of a collected sweep: numeric columns that vary and are neither identity nor results."""
    out = []
    for column in runs.columns:
        if column in IDENTITY or column.startswith(RESULT_SECTIONS):
            continue
        values = runs[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.nunique() > 1:
            out.append(column)
    return out


def _check_columns(runs: pd.DataFrame, outcome: str, inputs: list[str]) -> None:
    if outcome not in runs.columns:
        shown = ", ".join(c for c in runs.columns if c.startswith(("final.", "last_year.", "total.", "mean.")))
        raise ConfigError(f"`--outcome` is '{outcome}', but the sweep's table has no such column; outcomes: {shown}.")
    missing = [k for k in inputs if k not in runs.columns]
    if missing:
        raise ConfigError(
            f"`--inputs` names {missing}, which are not columns of the sweep's table; its swept parameters are "
            f"{', '.join(input_columns(runs)) or 'none'}."
        )
    if not inputs:
        raise ConfigError(
            "The sweep has no swept numeric parameter to explain the outcome with; sweep some (an experiment "
            "design, conf/experiment/) or name them with `--inputs`."
        )


def cases(
    runs: pd.DataFrame,
    outcome: str,
    threshold: float,
    above: bool = True,
    scenario: str | None = None,
    versus: str | None = None,
    inputs: list[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """The inputs of each run (or each pair of runs), whether it is a case of interest, and its value.

    Args:
        runs: A collected sweep (``runs.parquet``).
        outcome: The outcome column (``final.annual_retention``).
        threshold: Cases lie above it (``above``) or below it.
        above: Cases lie above the threshold (else below).
        scenario: Only this scenario's runs (with ``versus``: the scenario whose effect is judged).
        versus: Judge ``outcome(scenario) - outcome(versus)``, pairing runs with the same parameters and seed.
        inputs: The parameters that may explain it (default: every swept parameter).

    Returns:
        The inputs (one row per run or pair), the case flags and the values judged.

    Raises:
        ConfigError: For an unknown column or scenario, or no run (or pair) to judge.
    """
    inputs = list(inputs) if inputs else input_columns(runs)
    _check_columns(runs, outcome, inputs)
    if versus is not None:
        table = _paired(runs, outcome, scenario, versus, inputs)
    else:
        if scenario is not None:
            _check_scenario(runs, scenario, "--scenario")
            runs = runs[runs["scenario"] == scenario]
        table = runs[[*inputs, outcome]].rename(columns={outcome: "value"}).dropna()
    if table.empty:
        raise ConfigError(f"No run of the sweep has both the inputs {inputs} and the outcome '{outcome}'.")
    value = table["value"].astype(float).reset_index(drop=True)
    flags = (value > threshold) if above else (value < threshold)
    return table[inputs].astype(float).reset_index(drop=True), flags.to_numpy(dtype=bool), value


def _check_scenario(runs: pd.DataFrame, scenario: str, key: str) -> None:
    known = sorted(runs["scenario"].dropna().unique()) if "scenario" in runs else []
    if scenario not in known:
        raise ConfigError(f"`{key}` is '{scenario}', but the sweep's scenarios are {', '.join(known) or 'none'}.")


def judged_scenario(runs: pd.DataFrame, scenario: str | None, versus: str) -> str:
    """The scenario whose effect is judged against ``versus``: ``scenario``, or the sweep's only other one.

    Raises:
        ConfigError: If a scenario is not in the sweep, or the sweep holds several others and none is named.
    """
    _check_scenario(runs, versus, "--versus")
    others = sorted(set(runs["scenario"]) - {versus})
    if scenario is None:
        if len(others) != 1:
            raise ConfigError(
                f"`--versus` is '{versus}', and the sweep holds {others}: name the scenario whose effect is judged "
                "with `--scenario`."
            )
        scenario = others[0]
    _check_scenario(runs, scenario, "--scenario")
    return scenario


def _paired(runs: pd.DataFrame, outcome: str, scenario: str | None, versus: str, inputs: list[str]) -> pd.DataFrame:
    scenario = judged_scenario(runs, scenario, versus)
    keys = [*inputs, "seed", *(["design.row"] if "design.row" in runs else [])]
    a = runs[runs["scenario"] == scenario][[*keys, outcome]]
    b = runs[runs["scenario"] == versus][[*keys, outcome]]
    both = a.merge(b, on=keys, suffixes=("", ".versus"), validate="one_to_one")
    if both.empty:
        raise ConfigError(
            f"No run of '{scenario}' has a run of '{versus}' with the same parameters and seed to pair with; "
            "sweep both scenarios over the same design (e.g. scenario=a,b with experiment=...)."
        )
    return both.assign(value=both[outcome] - both[f"{outcome}.versus"])


@dataclass
class Discovery:
    """PRIM's result: the peeling trajectory, the chosen box and its restrictions."""

    trajectory: pd.DataFrame
    """One row per box of the peeling: coverage, density, mass, res_dim (parameters restricted), n, k."""
    chosen: int
    """Row of the chosen box in the trajectory."""
    limits: pd.DataFrame
    """The chosen box's restricted parameters: parameter, low, high, range_low, range_high, qp_low, qp_high."""
    runs: int
    """Runs (or pairs) judged."""
    cases: int
    """Cases of interest among them."""
    dense_enough: bool = True
    """Whether the chosen box reaches the requested density (else it is the densest box of the trajectory)."""

    @property
    def box(self) -> dict[str, float]:
        """The chosen box's coverage, density and mass."""
        row = self.trajectory.iloc[self.chosen]
        return {k: float(row[k]) for k in ("coverage", "density", "mass")}

    @property
    def base_rate(self) -> float:
        """Share of all runs that are cases (the density of the whole space)."""
        return self.cases / self.runs if self.runs else math.nan


def discover(
    x: pd.DataFrame,
    y: np.ndarray,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    min_density: float = 0.8,
) -> Discovery:
    """Run PRIM (EMA workbench) and choose a box on its peeling trajectory.

    Args:
        x: The inputs, one row per run.
        y: Whether each run is a case of interest.
        peel_alpha: Share of the runs peeled off in each step.
        paste_alpha: Share pasted back in each pasting step.
        mass_min: Peeling stops when the box holds this share of the runs.
        min_density: The chosen box is the one with the highest coverage among those at least this dense.

    Returns:
        The trajectory, the chosen box and its limits.

    Raises:
        ConfigError: If there is no case of interest, or every run is one (nothing to discover).
    """
    n, k = len(y), int(np.sum(y))
    if k == 0 or k == n:
        what = "none" if k == 0 else f"all {n}"
        raise ConfigError(
            f"Of {n} runs (or pairs of runs), {what} are cases of interest, so there are no conditions to find; "
            "move the threshold (`--above`/`--below`) inside the range of the outcome."
        )
    for key, value, lo, hi in (
        ("--peel-alpha", peel_alpha, 0.0, 0.5),
        ("--paste-alpha", paste_alpha, 0.0, 0.5),
        ("--mass-min", mass_min, 0.0, 1.0),
        ("--min-density", min_density, 0.0, 1.0),
    ):
        if not lo < value < hi:
            raise ConfigError(f"`{key}` is {value:g}, but it must lie strictly between {lo:g} and {hi:g}.")
    box = _find_box(x, y, peel_alpha, paste_alpha, mass_min)
    trajectory = box.peeling_trajectory.reset_index(drop=True)
    dense = trajectory[trajectory["density"] >= min_density]
    chosen = int(dense["coverage"].idxmax()) if not dense.empty else int(trajectory["density"].idxmax())
    return Discovery(trajectory, chosen, _limits(box, chosen, x), n, k, not dense.empty)


def _find_box(x: pd.DataFrame, y: np.ndarray, peel_alpha: float, paste_alpha: float, mass_min: float) -> Any:
    """EMA workbench's PRIM, quietly (it logs and warns about optional parallel back ends)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        logging.getLogger("EMA").setLevel(logging.WARNING)
        finder = prim.Prim(x, y, peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
        return finder.find_box()


def _limits(box: Any, chosen: int, x: pd.DataFrame) -> pd.DataFrame:
    """The restricted parameters of box ``chosen``: its limits, the sampled range and the quasi-p-values."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        _stats, table = box.inspect(chosen, style="data")[0]
    rows = []
    for parameter in table.index:
        rows.append(
            {
                "parameter": str(parameter),
                "low": float(table.loc[parameter].iloc[0]),
                "high": float(table.loc[parameter].iloc[1]),
                "range_low": float(x[parameter].min()),
                "range_high": float(x[parameter].max()),
                "qp_low": _number(table.loc[parameter].iloc[2]),
                "qp_high": _number(table.loc[parameter].iloc[3]),
            }
        )
    columns = ["parameter", "low", "high", "range_low", "range_high", "qp_low", "qp_high"]
    return pd.DataFrame(rows, columns=columns)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
