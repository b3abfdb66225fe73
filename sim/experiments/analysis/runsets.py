"""Finished runs on disk as tables: a comparison's run directories, outcomes per run, summaries and bands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.analysis.outcomes import RunContext, comparison_outcomes, compute
from sim.experiments.analysis.statistics import (
    DEFAULT_ADJUSTMENT,
    adjusted_levels,
    mean_ci,
    paired_difference,
    paired_p_value,
)
from sim.experiments.runs.rundir import is_complete

__all__ = [
    "RunSet",
    "load_runs",
    "outcomes_of_run",
    "summary_table",
    "trajectory_bands",
]


# ------------------------------------------------------------------- runs on disk
@dataclass
class RunSet:
    """The runs of a comparison as tables.

    Attributes:
        runs: One row per run directory: scenario, seed, status (``ok``/``failed``/``incomplete``),
            path and, for failures, the error.
        metrics: Tidy time series of the completed runs: scenario, replication, seed, step and the
            metric columns of metrics.parquet.
        departments: Department rows of the completed runs, with scenario, replication and seed.
        outcomes: One row per completed run with the comparison outcomes (the outcome registry's).
    """

    runs: pd.DataFrame
    metrics: pd.DataFrame
    departments: pd.DataFrame
    outcomes: pd.DataFrame

    @property
    def failures(self) -> pd.DataFrame:
        """Runs that did not complete."""
        return self.runs[self.runs["status"] != "ok"]


def outcomes_of_run(metrics: pd.DataFrame, clv_discount_rate: float) -> dict[str, float]:
    """The comparison outcomes of one run (the registry's, :mod:`sim.experiments.analysis.outcomes`), from its metrics.

    Args:
        metrics: The run's metrics.parquet.
        clv_discount_rate: Annual discount rate for the customer lifetime value.

    Returns:
        Outcome name -> value.
    """
    context = RunContext(clv_discount_rate=clv_discount_rate)
    return compute([o.name for o in comparison_outcomes()], metrics, context)


READ_THREADS = 4  # threads reading run directories' tables (parquet decoding runs outside the GIL)


def _job_of(name: str) -> dict[str, object]:
    """Scenario and seed from a run directory named ``<scenario>_s<seed>`` (seed -1 if the name does not say)."""
    scenario, sep, seed = name.rpartition("_s")
    if sep and seed.isdigit():
        return {"scenario": scenario, "seed": int(seed)}
    return {"scenario": name, "seed": -1}


def _read_run(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A complete run's metrics and departments tables."""
    return pd.read_parquet(path / "metrics.parquet"), pd.read_parquet(path / "departments.parquet")


def _stacked(frames: list[pd.DataFrame], runs: list[tuple[Path, str, int]]) -> pd.DataFrame:
    """The runs' tables one under the other, each row led by its run's ``scenario`` and ``seed``."""
    if not frames:
        return pd.DataFrame()
    stacked = pd.concat(frames, ignore_index=True)
    lengths = [len(f) for f in frames]
    stacked.insert(0, "seed", np.repeat(np.array([seed for _, _, seed in runs], dtype=np.int64), lengths))
    stacked.insert(0, "scenario", np.repeat(np.array([scenario for _, scenario, _ in runs], dtype=object), lengths))
    return stacked


def load_runs(runs_dir: Path, clv_discount_rate: float = 0.10) -> RunSet:
    """Read every run directory under ``runs_dir``.

    A run counts as complete when its ``COMPLETE`` marker lists every file with its size (the CLI
    writes a run into a temporary directory, writes the marker last and renames the directory into
    place); a directory holding ``error.txt`` is a failed run; anything else is incomplete. Nothing
    is counted twice: temporary directories (names starting with a dot) are skipped.

    Args:
        runs_dir: Directory holding one subdirectory per run.
        clv_discount_rate: Annual discount rate for the customer lifetime value.

    Returns:
        The runs as tables.
    """
    rows, outcomes, complete = [], [], []
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        summary_file, error_file = path / "summary.json", path / "error.txt"
        if is_complete(path):
            summary = json.loads(summary_file.read_text())
            scenario, seed = summary["scenario"], int(summary["seed"])
            complete.append((path, scenario, seed))
            rows.append({"scenario": scenario, "seed": seed, "status": "ok", "path": str(path), "error": ""})
        else:
            meta = json.loads((path / "job.json").read_text()) if (path / "job.json").exists() else _job_of(path.name)
            status = "failed" if error_file.exists() else "incomplete"
            error = error_file.read_text().strip().splitlines()[-1] if error_file.exists() else "no output written"
            rows.append(
                {
                    "scenario": meta["scenario"],
                    "seed": meta["seed"],
                    "status": status,
                    "path": str(path),
                    "error": error,
                }
            )
    # Parquet decoding releases the GIL: a few threads read the runs' files side by side (same frames, same order).
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        frames = list(pool.map(_read_run, [path for path, _, _ in complete]))
    for (_, scenario, seed), (m, _) in zip(complete, frames, strict=True):
        outcomes.append({"scenario": scenario, "seed": seed, **outcomes_of_run(m, clv_discount_rate)})
    metrics_frame = _stacked([m for m, _ in frames], complete)
    dept_frame = _stacked([d for _, d in frames], complete)
    runs = pd.DataFrame(rows, columns=["scenario", "seed", "status", "path", "error"])
    out = pd.DataFrame(outcomes)
    if not out.empty:
        seeds = sorted(out["seed"].unique())
        rank = {s: i for i, s in enumerate(seeds)}
        for frame in (metrics_frame, dept_frame, out):
            frame.insert(2, "replication", frame["seed"].map(rank).astype(np.int64))
    return RunSet(runs, metrics_frame, dept_frame, out)


# ------------------------------------------------------------------ aggregation
def summary_table(
    outcomes: pd.DataFrame,
    baseline: str,
    order: Sequence[str],
    level: float = 0.95,
    adjustment: str = DEFAULT_ADJUSTMENT,
) -> pd.DataFrame:
    """Per scenario: mean and CI of every outcome, and the paired difference against the baseline.

    Args:
        outcomes: One row per run (scenario, seed and the comparison outcomes of the registry).
        baseline: Scenario the differences are taken against.
        order: Scenario order of the rows.
        level: Confidence level.
        adjustment: How the verdict intervals allow for the family of comparisons (:data:`ADJUSTMENTS`).

    Returns:
        One row per scenario with ``<outcome>_mean``, ``_ci_low``, ``_ci_high``; the paired difference
        ``<outcome>_diff``, ``_diff_ci_low``, ``_diff_ci_high`` (at the stated level, unadjusted); its
        two-sided paired t-test ``_diff_p`` and adjusted ``_diff_p_adj``; and the interval the verdict
        rests on, ``_diff_adj_ci_low``, ``_diff_adj_ci_high``, at level ``_diff_adj_level``; plus
        ``replications``. The baseline's own differences are zero and outside the family.
    """
    names = [o.name for o in comparison_outcomes()]
    base = outcomes[outcomes["scenario"] == baseline].set_index("seed")
    runs = {s: outcomes[outcomes["scenario"] == s].set_index("seed") for s in order}
    family = [(s, k) for s in order if s != baseline for k in names]
    p_values = [paired_p_value(runs[s][k], base[k]) for s, k in family]
    p_adjusted, levels = adjusted_levels(p_values, level, adjustment)
    judged = {pair: (p, pa, lv) for pair, p, pa, lv in zip(family, p_values, p_adjusted, levels, strict=True)}
    rows = []
    for scenario in order:
        row: dict[str, object] = {"scenario": scenario, "replications": len(runs[scenario])}
        for key in names:
            ci = mean_ci(runs[scenario][key], level)
            row[f"{key}_mean"], row[f"{key}_ci_low"], row[f"{key}_ci_high"] = ci.mean, ci.low, ci.high
            diff = paired_difference(runs[scenario][key], base[key], level)
            row[f"{key}_diff"], row[f"{key}_diff_ci_low"], row[f"{key}_diff_ci_high"] = diff.mean, diff.low, diff.high
            p, p_adj, verdict_level = judged.get((scenario, key), (1.0, 1.0, level))
            adj = paired_difference(runs[scenario][key], base[key], verdict_level)
            row[f"{key}_diff_p"], row[f"{key}_diff_p_adj"] = p, p_adj
            row[f"{key}_diff_adj_ci_low"], row[f"{key}_diff_adj_ci_high"] = adj.low, adj.high
            row[f"{key}_diff_adj_level"] = verdict_level
        rows.append(row)
    return pd.DataFrame(rows)


def trajectory_bands(metrics: pd.DataFrame, column: str, level: float = 0.95) -> pd.DataFrame:
    """Per scenario and step: mean of ``column`` over replications and its t interval.

    Args:
        metrics: Tidy time series (scenario, seed, step, columns).
        column: Metric to summarise.
        level: Confidence level.

    Returns:
        Columns scenario, step, mean, low, high, n.
    """
    g = metrics.groupby(["scenario", "step"])[column]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    dof = np.maximum(out["n"].to_numpy() - 1, 1)
    t = stats.t.ppf(0.5 + level / 2.0, dof)
    half = np.where(out["n"] > 1, t * out["sd"] / np.sqrt(out["n"]), np.nan)
    out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    return out.drop(columns="sd")
