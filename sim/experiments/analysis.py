"""Analysis of finished runs: loading run directories, outcomes per run, confidence intervals.

Pure functions over tables, so the arithmetic can be checked by hand. The model never
imports this module; it reads only what run directories contain (MODEL.md's output contract).

Confidence intervals are Student-t intervals over replications. Differences against the
baseline are *paired*: replication r of every scenario uses the same seed (common random
numbers), so the difference is taken run by run and its interval comes from the spread of
those differences, which is narrower than the unpaired (Welch) interval whenever the paired
runs are positively correlated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.outcomes import RunContext, comparison_outcomes, compute
from sim.experiments.rundir import is_complete

__all__ = [
    "Interval",
    "RunSet",
    "load_runs",
    "mean_ci",
    "outcomes_of_run",
    "paired_difference",
    "summary_table",
    "trajectory_bands",
    "unpaired_difference",
]


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2.0


def mean_ci(values: Iterable[float], level: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval of independent replications.

    Args:
        values: One value per replication (NaNs are dropped).
        level: Confidence level.

    Returns:
        The interval; with fewer than two values its bounds are NaN.
    """
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = x.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n)
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(scenario: pd.Series, baseline: pd.Series, level: float = 0.95) -> Interval:
    """Mean difference scenario - baseline over replications matched by seed, with its paired t interval.

    Args:
        scenario: Outcome per run, indexed by seed.
        baseline: The same outcome of the baseline, indexed by seed.
        level: Confidence level.

    Returns:
        The interval of the mean paired difference (seeds present in both only).
    """
    both = pd.concat({"s": scenario, "b": baseline}, axis=1, join="inner").dropna()
    return mean_ci(both["s"] - both["b"], level)


def unpaired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Difference of means a - b with a Welch interval, ignoring any pairing (for comparison with the paired one).

    Args:
        a: Outcome per run of one scenario.
        b: Outcome per run of the other.
        level: Confidence level.

    Returns:
        The interval of the difference of means.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    diff = float(x.mean() - y.mean())
    if se == 0:
        return Interval(diff, diff, diff, min(x.size, y.size))
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2.0, dof) * se)
    return Interval(diff, diff - half, diff + half, min(x.size, y.size))


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
    """The comparison outcomes of one run (the registry's, :mod:`sim.experiments.outcomes`), from its metrics.

    Args:
        metrics: The run's metrics.parquet.
        clv_discount_rate: Annual discount rate for the customer lifetime value.

    Returns:
        Outcome name -> value.
    """
    context = RunContext(clv_discount_rate=clv_discount_rate)
    return compute([o.name for o in comparison_outcomes()], metrics, context)


def _job_of(name: str) -> dict[str, object]:
    """Scenario and seed from a run directory named ``<scenario>_s<seed>`` (seed -1 if the name does not say)."""
    scenario, sep, seed = name.rpartition("_s")
    if sep and seed.isdigit():
        return {"scenario": scenario, "seed": int(seed)}
    return {"scenario": name, "seed": -1}


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
    rows, metrics, departments, outcomes = [], [], [], []
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        summary_file, error_file = path / "summary.json", path / "error.txt"
        if is_complete(path):
            summary = json.loads(summary_file.read_text())
            scenario, seed = summary["scenario"], int(summary["seed"])
            m = pd.read_parquet(path / "metrics.parquet")
            d = pd.read_parquet(path / "departments.parquet")
            for frame in (m, d):
                frame.insert(0, "seed", seed)
                frame.insert(0, "scenario", scenario)
            metrics.append(m)
            departments.append(d)
            outcomes.append({"scenario": scenario, "seed": seed, **outcomes_of_run(m, clv_discount_rate)})
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
    runs = pd.DataFrame(rows, columns=["scenario", "seed", "status", "path", "error"])
    metrics_frame = pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame()
    dept_frame = pd.concat(departments, ignore_index=True) if departments else pd.DataFrame()
    out = pd.DataFrame(outcomes)
    if not out.empty:
        seeds = sorted(out["seed"].unique())
        rank = {s: i for i, s in enumerate(seeds)}
        for frame in (metrics_frame, dept_frame, out):
            frame.insert(2, "replication", frame["seed"].map(rank).astype(np.int64))
    return RunSet(runs, metrics_frame, dept_frame, out)


# ------------------------------------------------------------------ aggregation
def summary_table(outcomes: pd.DataFrame, baseline: str, order: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Per scenario: mean and CI of every outcome, and the paired difference against the baseline.

    Args:
        outcomes: One row per run (scenario, seed and the comparison outcomes of the registry).
        baseline: Scenario the differences are taken against.
        order: Scenario order of the rows.
        level: Confidence level.

    Returns:
        One row per scenario with ``<outcome>_mean``, ``_ci_low``, ``_ci_high`` and
        ``<outcome>_diff``, ``_diff_ci_low``, ``_diff_ci_high`` columns, plus ``replications``.
    """
    base = outcomes[outcomes["scenario"] == baseline].set_index("seed")
    rows = []
    for scenario in order:
        runs = outcomes[outcomes["scenario"] == scenario].set_index("seed")
        row: dict[str, object] = {"scenario": scenario, "replications": len(runs)}
        for key in (o.name for o in comparison_outcomes()):
            ci = mean_ci(runs[key], level)
            row[f"{key}_mean"], row[f"{key}_ci_low"], row[f"{key}_ci_high"] = ci.mean, ci.low, ci.high
            diff = paired_difference(runs[key], base[key], level)
            row[f"{key}_diff"], row[f"{key}_diff_ci_low"], row[f"{key}_diff_ci_high"] = diff.mean, diff.low, diff.high
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
