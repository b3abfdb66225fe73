"""A comparison: its directory, runs, summary table, settings and configurations, and how its tables are written."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config.run import scenario_title
from sim.experiments.analysis.runsets import RunSet, summary_table
from sim.experiments.analysis.statistics import DEFAULT_ADJUSTMENT, family_size
from sim.experiments.runs.files import atomic_write, safe_table


# ----------------------------------------------------------------------- running
@dataclass
class Comparison:
    """A finished comparison: where it is, its runs, its summary table, its settings."""

    out: Path
    runs: RunSet
    summary: pd.DataFrame
    meta: dict[str, Any]
    configs: dict[str, dict[str, Any]]

    @property
    def order(self) -> list[str]:
        """Scenarios with at least one completed run, in the order the settings list them."""
        done = set(self.runs.outcomes["scenario"])
        return [s for s in self.meta["scenarios"] if s in done]

    @property
    def baseline(self) -> str:
        """The scenario the others are compared against."""
        return str(self.meta["baseline"])

    @property
    def confidence(self) -> float:
        """Confidence level of every interval."""
        return float(self.meta["confidence"])

    @property
    def titles(self) -> dict[str, str]:
        """Display title of each scenario (its ``about.title``, or its file name in words)."""
        return {s: self.meta.get("titles", {}).get(s) or scenario_title(s) for s in self.meta["scenarios"]}

    @property
    def descriptions(self) -> dict[str, str]:
        """One-line description of each scenario (empty if it declares none)."""
        return {s: self.meta.get("descriptions", {}).get(s, "") for s in self.meta["scenarios"]}

    @property
    def adjustment(self) -> str:
        """How the verdict intervals allow for the number of comparisons."""
        return str(self.meta.get("multiple_comparisons") or DEFAULT_ADJUSTMENT)


Present = Callable[[Path, Comparison], None]


def write_tables(work: Path, comparison: Comparison) -> None:
    """comparison.parquet, summary.csv, runs.csv and comparison.json."""
    runs = comparison.runs
    # each through a temporary name: a full disk leaves no half-written (or 0-byte) table behind
    atomic_write(work / "comparison.parquet", lambda tmp: runs.metrics.to_parquet(tmp, index=False, compression="zstd"))
    write_summary(work, comparison)
    table = safe_table(runs.runs.assign(path=[str(Path(x).name) for x in runs.runs["path"]]))
    atomic_write(work / "runs.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_meta(work, comparison)


def write_summary(work: Path, comparison: Comparison) -> None:
    """summary.csv: formula-safe text, and numbers with the digits the dashboard and a rebuild read back."""
    summary = safe_table(comparison.summary)
    atomic_write(work / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False, float_format="%.12g"))


def write_meta(work: Path, comparison: Comparison) -> None:
    """comparison.json."""
    meta = json.dumps(comparison.meta, indent=2) + "\n"
    atomic_write(work / "comparison.json", lambda tmp: tmp.write_text(meta))


def summarise(comparison: Comparison) -> pd.DataFrame:
    """The comparison's summary table at its confidence level, with its multiple-comparison adjustment.

    Records in ``comparison.meta`` how many paired differences the comparison judges (``family_size``).

    Args:
        comparison: A comparison whose runs are loaded.

    Returns:
        The summary table (:func:`sim.experiments.analysis.runsets.summary_table`).
    """
    order = comparison.order
    comparison.meta["family_size"] = family_size(order, comparison.baseline)
    return summary_table(
        comparison.runs.outcomes, comparison.baseline, order, comparison.confidence, comparison.adjustment
    )
