"""``silosim-sensitivity``: Sobol indices or Morris screening with SALib, run through the sweep machinery.

    silosim-sensitivity sobol_example                       # sweep (parallel, resumable), then analyse
    silosim-sensitivity morris_example customers=2000       # overrides go to every run
    silosim-sensitivity sobol_example --analyse-only        # analyse the runs already in the sweep directory

The experiment config (``conf/experiment/<name>.yaml``, or ``experiment_dir=PATH``) declares the
method (``design.method``: ``sobol`` or ``morris``), the uncertain parameters and their bounds and
the outcomes (``design.outcomes``, columns of the collected table such as ``final.true_nps``). The
runs are a ``silosim -m experiment=<name>`` sweep into a stable directory, so they run on any
launcher and an interrupted analysis resumes where it stopped. Outcomes are averaged over seeds
for each design row. Writes, into the sweep directory (or ``--out``):

* ``sensitivity_indices.csv``: one row per outcome, parameter (or pair) and index: Sobol ``S1``,
  ``ST`` and ``S2`` or Morris ``mu_star``, ``sigma`` and ``mu``, with the half-width of the 95%
  bootstrap confidence interval (``conf``; SALib's) and ``ci_low``/``ci_high``;
* ``sensitivity.png``: one panel per outcome, the indices as bars with their confidence intervals.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.experiments.sweeps.design import design_matrix, design_size, problem

if TYPE_CHECKING:
    from sim.config import DesignConf

__all__ = [
    "CONF_LEVEL",
    "INDICES_FILE",
    "analyse",
    "default_sweep_dir",
    "first_values",
    "outcome_table",
    "runs_per_row",
]

INDICES_FILE = "sensitivity_indices.csv"
FIGURE_FILE = "sensitivity.png"
CONF_LEVEL = 0.95
RESAMPLES = 200


def outcome_table(runs: pd.DataFrame, design: DesignConf, outcomes: list[str]) -> pd.DataFrame:
    """Mean outcome per design row (over seeds), in row order, checked against the design.

    Args:
        runs: The collected table (``runs.parquet``) of the experiment's sweep.
        design: The experiment's design.
        outcomes: Outcome columns.

    Returns:
        One row per design row (index ``design.row``), one column per outcome.

    Raises:
        ConfigError: If an outcome is not a column, rows are missing, or the runs' parameter values are not
            the design's (the directory holds another experiment's runs).
    """
    missing_cols = [o for o in outcomes if o not in runs.columns]
    if missing_cols:
        allowed = ", ".join(c for c in runs.columns if c.split(".")[0] in ("final", "mean", "total"))
        raise ConfigError(
            f"`design.outcomes` names {missing_cols}, which the collected runs do not have. Allowed: {allowed}."
        )
    n = design_size(design)
    if "design.row" not in runs.columns:
        raise ConfigError(
            "The sweep directory holds no runs of an experiment design (no `design.row` column); "
            "run the experiment first (without --analyse-only)."
        )
    means = runs.groupby("design.row")[outcomes].mean().reindex(range(n))
    absent = means.index[means[outcomes].isna().any(axis=1)].tolist()
    if absent:
        shown = ", ".join(map(str, absent[:10])) + (" ..." if len(absent) > 10 else "")
        raise ConfigError(
            f"{len(absent)} of the {n} design rows have no complete run yet (rows {shown}); run "
            "the same command again (without --analyse-only) to resume the sweep."
        )
    expected = design_matrix(design)
    for j, key in enumerate(design.parameters):
        if key in runs.columns:
            got = runs.groupby("design.row")[key].first().reindex(range(n)).to_numpy(dtype=float)
            if not np.allclose(got, expected[:, j], rtol=1e-9, atol=0.51 if np.allclose(got, np.round(got)) else 0):
                raise ConfigError(
                    f"The runs' values of `{key}` are not those of this design (method "
                    f"{design.method!r}, samples {design.samples}, seed {design.seed}); the sweep "
                    "directory holds another experiment's runs. Use another `--sweep-dir`."
                )
    return means


def analyse(means: pd.DataFrame, design: DesignConf, seed: int = 0) -> pd.DataFrame:
    """Sobol or Morris indices of each outcome column of ``means`` (rows in design order).

    Args:
        means: :func:`outcome_table`'s result.
        design: The design (method ``sobol`` or ``morris``).
        seed: Seed of SALib's bootstrap.

    Returns:
        Tidy indices: ``outcome, parameter, index, value, conf, ci_low, ci_high``.
    """
    from SALib.analyze import morris, sobol

    prob = problem(design)
    names = prob["names"]
    rows: list[dict[str, object]] = []

    def add(outcome: str, parameter: str, index: str, value: float, conf: float) -> None:
        rows.append(
            {
                "outcome": outcome,
                "parameter": parameter,
                "index": index,
                "value": float(value),
                "conf": float(conf),
                # mu* is a mean of absolute effects: its interval cannot reach below zero
                "ci_low": float(max(value - conf, 0.0) if index == "mu_star" else value - conf),
                "ci_high": float(value + conf),
            }
        )

    for outcome in means.columns:
        y = means[outcome].to_numpy(dtype=float)
        if design.method == "sobol":
            res = sobol.analyze(
                prob,
                y,
                calc_second_order=design.second_order,
                num_resamples=RESAMPLES,
                conf_level=CONF_LEVEL,
                seed=seed,
            )
            for i, name in enumerate(names):
                add(outcome, name, "S1", res["S1"][i], res["S1_conf"][i])
                add(outcome, name, "ST", res["ST"][i], res["ST_conf"][i])
            if design.second_order:
                for i in range(len(names)):
                    for k in range(i + 1, len(names)):
                        add(outcome, f"{names[i]} x {names[k]}", "S2", res["S2"][i, k], res["S2_conf"][i, k])
        elif design.method == "morris":
            x = design_matrix(design)
            res = morris.analyze(
                prob, x, y, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, num_levels=design.levels, seed=seed
            )
            for i, name in enumerate(names):
                add(outcome, name, "mu_star", res["mu_star"][i], res["mu_star_conf"][i])
                # SALib gives no interval for sigma and mu: NaN, not a zero width that would look like certainty
                add(outcome, name, "sigma", res["sigma"][i], float("nan"))
                add(outcome, name, "mu", res["mu"][i], float("nan"))
        else:
            raise ConfigError(
                f"`design.method` is {design.method!r}, but sensitivity analysis needs 'sobol' or 'morris'."
            )
    return pd.DataFrame(rows)


def default_sweep_dir(experiment: str, overrides: list[str]) -> Path:
    """The experiment's ``hydra.sweep.dir`` if it sets a stable one, else ``outputs/sensitivity/EXPERIMENT``.

    Raises:
        ConfigError: If the experiment's configuration cannot be composed.
    """
    from omegaconf import OmegaConf

    from sim.config import compose

    full = compose("config", [f"experiment={experiment}", *overrides], return_hydra_config=True)
    raw = OmegaConf.to_container(full.hydra.sweep, resolve=False)["dir"]
    if "${now:" in str(raw):
        return Path("outputs") / "sensitivity" / experiment
    return Path(str(full.hydra.sweep.dir))


def runs_per_row(experiment: str, overrides: list[str]) -> int:
    """Runs per design row: the experiment's or the command line's seed sweep."""
    from sim.experiments.sweeps.plan import plan_multirun

    plan = plan_multirun([f"experiment={experiment}", *overrides])
    return max(1, plan.jobs // (plan.design_rows or 1))


def first_values(overrides: list[str]) -> list[str]:
    """Each swept override at its first value (``seed=0,1`` -> ``seed=0``; ``seed=range(0,3)`` -> ``seed=0``)."""
    out = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and value.startswith("range(") and value.endswith(")"):
            override = f"{key}={value[6:-1].split(',')[0].strip()}"
        elif sep and "," in value and not value.startswith(("[", "{", "'", '"')):
            override = f"{key}={value.split(',')[0]}"
        out.append(override)
    return out
