"""Analysis of finished runs: loading run directories, outcomes per run, confidence intervals.

Pure functions over tables, so the arithmetic can be checked by hand. The model never
imports this module; it reads only what run directories contain (MODEL.md's output contract).

Confidence intervals are Student-t intervals over replications. Differences against the
baseline are *paired*: replication r of every scenario uses the same seed (common random
numbers), so the difference is taken run by run and its interval comes from the spread of
those differences, which is narrower than the unpaired (Welch) interval whenever the paired
runs are positively correlated.

A comparison judges several outcomes of several alternatives at once: its *family* of paired
differences is every alternative x every comparison outcome. :data:`ADJUSTMENTS` are the ways the
intervals its verdicts rest on allow for that (:func:`adjusted_levels`): ``bonferroni`` (each
interval at level 1 - alpha/m, so all m hold together at the stated level), ``holm`` (Holm's
step-down, which controls the same family-wise error with more power; each interval is drawn at
its step's level, so it clears zero exactly when Holm declares the effect), or ``none``.
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
    "ADJUSTMENTS",
    "DEFAULT_ADJUSTMENT",
    "Interval",
    "RunSet",
    "adjusted_levels",
    "adjustment_errors",
    "direction",
    "family_size",
    "load_runs",
    "mean_ci",
    "outcomes_of_run",
    "paired_difference",
    "paired_p_value",
    "summary_table",
    "trajectory_bands",
    "unpaired_difference",
]

# How the intervals the verdicts rest on allow for the number of comparisons (docs/explanation/statistics.md).
ADJUSTMENTS = ("bonferroni", "holm", "none")
DEFAULT_ADJUSTMENT = "bonferroni"


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


def paired_p_value(scenario: pd.Series, baseline: pd.Series) -> float:
    """Two-sided p-value of the paired t-test of scenario - baseline (seeds present in both only).

    Consistent with :func:`paired_difference`: its interval at level 1 - g excludes zero exactly when
    the p-value is below g. Differences without spread give 0 (a nonzero difference) or 1 (none).

    Args:
        scenario: Outcome per run, indexed by seed.
        baseline: The same outcome of the baseline, indexed by seed.

    Returns:
        The p-value, NaN with fewer than two pairs.
    """
    both = pd.concat({"s": scenario, "b": baseline}, axis=1, join="inner").dropna()
    d = (both["s"] - both["b"]).to_numpy(dtype=float)
    if d.size < 2:
        return float("nan")
    sd = float(d.std(ddof=1))
    mean = float(d.mean())
    if sd == 0.0 or not math.isfinite(sd):
        return 0.0 if mean != 0.0 else 1.0
    t = mean / (sd / math.sqrt(d.size))
    return float(2.0 * stats.t.sf(abs(t), d.size - 1))


def adjusted_levels(p_values: Sequence[float], level: float, method: str) -> tuple[list[float], list[float]]:
    """Adjusted p-values and the confidence level of each comparison's verdict interval.

    ``none``: the stated level for each. ``bonferroni``: p x m and level 1 - alpha/m. ``holm``: Holm's
    step-down adjusted p-values; the interval of the comparison ranked k (by p-value) is drawn at
    1 - alpha/(m - k + 1) while Holm still rejects, and every later one at the level where it stopped,
    so an interval clears zero exactly when its adjusted p-value is below alpha. Missing p-values
    (NaN) count as 1.

    >>> adjusted_levels([0.01, 0.04, 0.03], 0.95, "bonferroni")[0]
    [0.03, 0.12, 0.09]
    >>> [round(p, 3) for p in adjusted_levels([0.01, 0.04, 0.03], 0.95, "holm")[0]]
    [0.03, 0.06, 0.06]

    Args:
        p_values: One unadjusted p-value per comparison of the family.
        level: The stated confidence level (1 - alpha).
        method: One of :data:`ADJUSTMENTS`.

    Returns:
        The adjusted p-values and the interval levels, in the order given.
    """
    p = [1.0 if v is None or not math.isfinite(v) else float(v) for v in p_values]
    m, alpha = len(p), 1.0 - level
    if method == "none" or m == 0:
        return p, [level] * m
    if method == "bonferroni":
        return [min(1.0, m * v) for v in p], [1.0 - alpha / m] * m
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, levels = [0.0] * m, [0.0] * m
    running, stopped_at = 0.0, None
    for rank, i in enumerate(order):  # rank 0 is the smallest p-value, tested against alpha / m
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
        if stopped_at is None and p[i] > alpha / (m - rank):
            stopped_at = rank
        step = rank if stopped_at is None else stopped_at
        levels[i] = 1.0 - alpha / (m - step)
    return adjusted, levels


def adjustment_errors(method: str, key: str = "multiple_comparisons") -> list[str]:
    """The problem with an adjustment setting, if any (for a one-paragraph user error)."""
    if method in ADJUSTMENTS:
        return []
    return [f"`{key}` is {method!r}, but it must be one of {list(ADJUSTMENTS)} (default {DEFAULT_ADJUSTMENT})"]


def family_size(scenarios: Sequence[str], baseline: str) -> int:
    """How many paired differences a comparison judges: every alternative x every comparison outcome."""
    return len([s for s in scenarios if s != baseline]) * len(comparison_outcomes())


def direction(low: float, high: float) -> int:
    """The verdict an interval of a difference supports: +1 (clearly up), -1 (clearly down), 0 (unchanged)."""
    if low > 0:
        return 1
    if high < 0:
        return -1
    return 0


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
