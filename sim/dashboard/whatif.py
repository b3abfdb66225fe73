"""The A/B what-if behind the dashboard's A/B page: a baseline and an alternative, run over replications.

The alternative is another scenario, or a scenario with some of its levers changed (the sidebar's
scenario-level controls, :data:`sim.dashboard.controls.CONTROLS`). Replication r of both arms uses
seed ``first_seed + r`` (common random numbers), so their difference is paired, as in
``silosim-compare``. The runs go to a pool of worker processes on all cores (joblib's reusable
loky executor, kept warm between what-ifs) and each is written as a normal run directory
(:func:`sim.experiments.runs.rundir.write_run`); the page polls progress and can cancel. The result is
the comparison's summary table (with its multiple-comparison adjustment), the paired difference
over time with confidence bands, and the answer sentence the report would write.
:func:`export_whatif` turns a result into a normal comparison directory (report, slides, workbook),
with the changed alternative written as a scenario file so its ``silosim-compare`` command
reproduces it.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf
from scipy import stats

from sim.config import ConfigError, checked_config, group_options
from sim.config.run import scenario_title
from sim.dashboard.controls import CONTROLS, control_override, scenario_controls
from sim.experiments.analysis.runsets import RunSet, load_runs, summary_table
from sim.experiments.analysis.statistics import DEFAULT_ADJUSTMENT
from sim.experiments.compare.comparison import Comparison
from sim.experiments.compare.rebuild import assemble_comparison
from sim.experiments.runs.orphans import adopt_workers, stop_with_parent
from sim.report import write_deliverables
from sim.report.content import Answer, answers

__all__ = [
    "LIMITS",
    "OUTPUTS_ENV",
    "CancelledError",
    "WhatIf",
    "WhatIfResult",
    "check_whatif",
    "difference_bands",
    "export_whatif",
    "final_effect",
    "outputs_root",
    "parse_whatif",
    "run_whatif",
]

OUTPUTS_ENV = "SILOSIM_OUTPUTS"  # where comparisons are exported and listed (default ./outputs)
# Inclusive bounds of the typed inputs: a population small enough to try and large enough for a real book,
# a horizon of up to ten years, and enough replications for an interval without tying up the machine.
LIMITS = {
    "customers": (100, 200_000),
    "weeks": (4, 520),
    "replications": (2, 50),
    "first_seed": (0, 2**31 - 1),
}
CONFIDENCE = 0.95
WORKER_IDLE_SECONDS = 600  # the pool stays warm this long between what-ifs
POLL_SECONDS = 0.25
_COMPOSE_LOCK = threading.Lock()  # Hydra's global state is not thread-safe; sessions run in threads
_STAGED: set[Path] = set()  # staging directories of this process, removed when it exits (exports are copies)


@atexit.register
def _remove_staged() -> None:
    for path in list(_STAGED):
        shutil.rmtree(path, ignore_errors=True)


class CancelledError(Exception):
    """The user cancelled a what-if; nothing is kept."""


def outputs_root() -> Path:
    """Where the dashboard exports comparisons and looks for them: ``$SILOSIM_OUTPUTS`` or ``./outputs``."""
    return Path(os.environ.get(OUTPUTS_ENV) or "outputs")


@dataclass(frozen=True)
class WhatIf:
    """One A/B what-if, validated.

    Attributes:
        baseline: The baseline scenario.
        alternative: The scenario the alternative starts from.
        changes: Lever controls moved away from the alternative scenario's own setting (name -> value), applied
            to the alternative.
        customers: Initial customers of every run.
        weeks: Horizon of every run.
        replications: Runs per arm.
        first_seed: Seed of the first replication.
    """

    baseline: str
    alternative: str
    changes: tuple[tuple[str, float], ...] = ()
    customers: int = 2000
    weeks: int = 52
    replications: int = 5
    first_seed: int = 0

    @property
    def alternative_name(self) -> str:
        """The alternative's scenario name: its own, or ``<scenario>_what_if`` when levers are changed."""
        return f"{self.alternative}_what_if" if self.changes else self.alternative

    @property
    def seeds(self) -> list[int]:
        """One seed per replication, shared by both arms."""
        return list(range(self.first_seed, self.first_seed + self.replications))

    @property
    def total(self) -> int:
        """Runs the what-if makes."""
        return 2 * self.replications

    def lever_overrides(self) -> list[str]:
        """The alternative's changed levers as Hydra overrides (each set explicitly, even to the schema default)."""
        return [control_override(name, value) for name, value in self.changes]

    def overrides(self, arm: str) -> list[str]:
        """Every override of a run of ``arm`` (``baseline`` or ``alternative``), seed excluded."""
        scenario = self.baseline if arm == "baseline" else self.alternative
        common = [f"customers={self.customers}", f"weeks={self.weeks}"]
        quiet = ["output.customers=false", "output.progress=false"]  # as silosim-compare runs them
        levers = self.lever_overrides() if arm == "alternative" else []
        return [f"scenario={scenario}", *common, *quiet, *levers]

    def change_words(self) -> str:
        """The changed levers in words (``Follow-up capacity 10 (scenario: 5)``)."""
        return ", ".join(f"{CONTROLS[name].label} {value:g}" for name, value in self.changes)


def _whole(text: str | int | float, key: str, label: str) -> tuple[int | None, str | None]:
    """A whole number within :data:`LIMITS`, or an inline message naming the value and what is allowed."""
    lo, hi = LIMITS[key]
    allowed = f"enter a whole number from {lo:,} to {hi:,}"
    try:
        value = float(str(text).replace(",", "").strip())
    except ValueError:
        return None, f"{label} is '{text}', which is not a number: {allowed}."
    if not value.is_integer():
        return None, f"{label} is {text}, which is not a whole number: {allowed}."
    if not lo <= value <= hi:
        return None, f"{label} is {int(value):,}, which is out of range: {allowed}."
    return int(value), None


def parse_whatif(
    baseline: str,
    alternative: str,
    changes: Mapping[str, float],
    customers: str | int,
    weeks: str | int,
    replications: str | int,
    first_seed: str | int,
) -> tuple[WhatIf | None, dict[str, str]]:
    """The A/B page's inputs as a :class:`WhatIf`, or an inline message per bad input.

    Args:
        baseline: Baseline scenario.
        alternative: Alternative scenario.
        changes: Value of lever controls; one equal to the alternative scenario's own setting
            (:func:`sim.dashboard.controls.scenario_controls`, where the page's sliders start) changes nothing.
        customers: Initial customers (text from the page).
        weeks: Horizon in weeks.
        replications: Runs per arm.
        first_seed: Seed of the first replication.

    Returns:
        The what-if (None if any input is bad) and input name -> message.
    """
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for key, text, label in (
        ("customers", customers, "Customers"),
        ("weeks", weeks, "Weeks"),
        ("replications", replications, "Replications"),
        ("first_seed", first_seed, "First seed"),
    ):
        value, message = _whole(text, key, label)
        if message:
            errors[key] = message
        else:
            values[key] = int(value)  # type: ignore[arg-type]
    known = group_options("scenario")
    for key, name in (("baseline", baseline), ("alternative", alternative)):
        if name not in known:
            errors[key] = f"'{name}' is not a scenario; pick one of the list."
    # a lever counts as changed when it differs from the alternative scenario's own setting, where its slider starts
    own = scenario_controls(alternative) if alternative in known else {}
    delta = tuple(
        (name, float(changes[name]))
        for name, control in CONTROLS.items()
        if name in changes and name in own and not math.isclose(changes[name], own[name], abs_tol=control.step / 2)
    )
    if baseline == alternative and not delta and "alternative" not in errors:
        errors["alternative"] = "The alternative is the baseline itself: pick another scenario or change a lever below."
    if errors:
        return None, errors
    return WhatIf(baseline, alternative, delta, **values), {}


def _configs(spec: WhatIf) -> dict[str, Any]:
    with _COMPOSE_LOCK:
        return {
            "baseline": checked_config([*spec.overrides("baseline"), f"seed={spec.first_seed}"]),
            "alternative": checked_config([*spec.overrides("alternative"), f"seed={spec.first_seed}"]),
        }


def check_whatif(spec: WhatIf) -> dict[str, str]:
    """Compose and validate both arms as ``silosim`` would; an invalid combination is a message for the levers."""
    try:
        _configs(spec)
    except ConfigError as exc:
        return {"levers": str(exc)}
    return {}


# --------------------------------------------------------------------------------- running
def _run_one(overrides: list[str], name: str, title: str, description: str, run_dir: str) -> str:
    """In a worker process: compose, run and write one run directory."""
    from omegaconf import OmegaConf

    from sim.config import compose_config
    from sim.engine.model import SiloModel
    from sim.experiments.runs.rundir import write_run

    cfg = compose_config(overrides)
    OmegaConf.update(cfg, "scenario_name", name)
    OmegaConf.update(cfg, "about.title", title)
    OmegaConf.update(cfg, "about.description", description)
    model = SiloModel(cfg, collect=False)  # the run directory keeps no DataCollector panel
    model.run()
    write_run(model, Path(run_dir), cfg, overrides=overrides)
    return run_dir


def _pool() -> Any:
    from joblib.externals.loky import get_reusable_executor

    adopt_workers()  # the warm workers die with the dashboard, however it is stopped (SIGTERM, SIGKILL)
    return get_reusable_executor(
        max_workers=os.cpu_count() or 1, timeout=WORKER_IDLE_SECONDS, initializer=stop_with_parent
    )


@dataclass
class WhatIfResult:
    """A finished what-if: its runs, the summary table, the labels and where the runs are staged."""

    spec: WhatIf
    staging: Path
    runs: RunSet
    summary: pd.DataFrame
    titles: dict[str, str]
    descriptions: dict[str, str]
    wall_seconds: float
    exported: list[Path] = field(default_factory=list)

    @property
    def order(self) -> list[str]:
        """Baseline first, then the alternative."""
        return [self.spec.baseline, self.spec.alternative_name]

    def answers(self) -> list[Answer]:
        """The answer the report would write."""
        return answers(self.summary, self.spec.baseline, self.spec.weeks, CONFIDENCE, self.titles)


def _labels(spec: WhatIf, configs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    base, alt = configs["baseline"], configs["alternative"]
    titles = {spec.baseline: scenario_title(spec.baseline, base.about.title)}
    descriptions = {spec.baseline: base.about.description}
    alt_title = scenario_title(spec.alternative, alt.about.title)
    if spec.changes:
        titles[spec.alternative_name] = f"{alt_title}, with your changes"
        descriptions[spec.alternative_name] = f"{alt_title} with {spec.change_words()}."
    else:
        titles[spec.alternative_name] = alt_title
        descriptions[spec.alternative_name] = alt.about.description
    if titles[spec.alternative_name] == titles[spec.baseline]:
        titles[spec.alternative_name] += f" ({spec.alternative_name})"
    return titles, descriptions


def run_whatif(
    spec: WhatIf,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    staging: Path | None = None,
) -> WhatIfResult:
    """Run both arms over the replications on all cores and summarise them.

    Args:
        spec: The what-if.
        progress: Called with (runs done, total) as runs finish.
        cancelled: Polled while the runs go; when it returns True, pending runs are dropped.
        staging: Directory for the run directories (default: a new temporary one).

    Returns:
        The result.

    Raises:
        ConfigError: If an arm's configuration is invalid.
        CancelledError: If cancelled.
    """
    configs = _configs(spec)
    titles, descriptions = _labels(spec, configs)
    staging = Path(staging or tempfile.mkdtemp(prefix="silosim-whatif-"))
    _STAGED.add(staging)
    runs_dir = staging / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pool = _pool()
    futures: list[Future] = []
    for arm, name in (("baseline", spec.baseline), ("alternative", spec.alternative_name)):
        for seed in spec.seeds:
            overrides = [*spec.overrides(arm), f"seed={seed}"]
            run_dir = str(runs_dir / f"{name}_s{seed}")
            futures.append(pool.submit(_run_one, overrides, name, titles[name], descriptions[name], run_dir))
    _wait(futures, progress, cancelled, staging)
    runs = load_runs(runs_dir)
    order = [spec.baseline, spec.alternative_name]
    summary = summary_table(runs.outcomes, spec.baseline, order, CONFIDENCE, DEFAULT_ADJUSTMENT)
    return WhatIfResult(spec, staging, runs, summary, titles, descriptions, time.monotonic() - started)


def _wait(
    futures: list[Future],
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    staging: Path,
) -> None:
    pending = set(futures)
    if progress:
        progress(0, len(futures))
    try:
        while pending:
            done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a run that failed stops the what-if with its error
            if progress and done:
                progress(len(futures) - len(pending), len(futures))
            if cancelled and cancelled():
                raise CancelledError
    except BaseException:
        for future in pending:
            future.cancel()
        # a run already going cannot be cancelled: let it end before removing the staging directory, or it would
        # write its run directory back into it
        wait(pending)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def difference_bands(result: WhatIfResult, column: str, level: float = CONFIDENCE) -> pd.DataFrame:
    """The paired difference alternative - baseline of a weekly metric, with its pointwise t interval.

    Args:
        result: A finished what-if.
        column: A ``metrics.parquet`` column.
        level: Confidence level.

    Returns:
        Columns step, mean, low, high, n (replications paired that week).
    """
    m = result.runs.metrics
    base = m[m["scenario"] == result.spec.baseline].pivot(index="step", columns="seed", values=column)
    alt = m[m["scenario"] == result.spec.alternative_name].pivot(index="step", columns="seed", values=column)
    diff = (alt - base).dropna(axis=1, how="all")
    n = diff.notna().sum(axis=1).to_numpy()
    mean = diff.mean(axis=1).to_numpy()
    sd = diff.std(axis=1, ddof=1).to_numpy()
    t = stats.t.ppf(0.5 + level / 2.0, np.maximum(n - 1, 1))
    half = np.where(n > 1, t * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return pd.DataFrame({"step": diff.index.to_numpy(), "mean": mean, "low": mean - half, "high": mean + half, "n": n})


# -------------------------------------------------------------------------------- exporting
def _scenario_file(result: WhatIfResult) -> dict[str, str]:
    """The changed alternative as a scenario file (it builds on its scenario and changes only the levers)."""
    spec = result.spec
    if not spec.changes:
        return {}
    name = spec.alternative_name
    levers = OmegaConf.to_container(OmegaConf.from_dotlist(spec.lever_overrides()))
    body = {
        "defaults": [spec.alternative, "_self_"],
        "about": {"title": result.titles[name], "description": result.descriptions[name]},
        **levers,  # type: ignore[dict-item]
    }
    header = f"# @package _global_\n# What-if from the silosim dashboard: {spec.alternative} with changed levers.\n"
    return {f"scenarios/{name}.yaml": header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)}


def export_whatif(result: WhatIfResult, root: Path | None = None) -> Comparison:
    """Write a finished what-if as a normal comparison directory, with every deliverable.

    Args:
        result: The what-if.
        root: The outputs directory (default :func:`outputs_root`); the comparison goes under ``comparisons/``.

    Returns:
        The comparison written.
    """
    spec = result.spec
    name = f"whatif_{spec.baseline}_vs_{spec.alternative_name}"
    out = (root or outputs_root()) / "comparisons" / f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{name}"
    scenario_dir = out / "scenarios"
    command = [
        "silosim-compare",
        f"scenarios=[{spec.baseline},{spec.alternative_name}]",
        f"replications={spec.replications}",
        f"first_seed={spec.first_seed}",
        f"customers={spec.customers}",
        f"weeks={spec.weeks}",
        *([f"scenario_dir={scenario_dir}"] if spec.changes else []),
        f"out={out.parent / (out.name + '_rerun')}",
    ]
    meta = {
        "name": name,
        "scenarios": [spec.baseline, spec.alternative_name],
        "baseline": spec.baseline,
        "replications": spec.replications,
        "seeds": spec.seeds,
        "customers": spec.customers,
        "weeks": spec.weeks,
        "overrides": [],
        "confidence": CONFIDENCE,
        "clv_discount_rate": 0.10,
        "wall_seconds": round(result.wall_seconds, 1),
        "launcher": "dashboard",
        "n_jobs": -1,
        "failed_runs": [],
        "command": " ".join(command),
        "titles": result.titles,
        "descriptions": result.descriptions,
        "multiple_comparisons": DEFAULT_ADJUSTMENT,
        "report": {"title": f"What-if: {result.titles[spec.alternative_name]} against {result.titles[spec.baseline]}"},
    }
    run_dirs = sorted(p for p in (result.staging / "runs").iterdir() if p.is_dir())
    comparison = assemble_comparison(out, run_dirs, meta, write_deliverables, _scenario_file(result))
    result.exported.append(comparison.out)
    return comparison


def final_effect(result: WhatIfResult, outcome: str) -> tuple[float, float, float]:
    """An outcome's paired difference with the interval its verdict rests on (adjusted, as in the answer).

    Args:
        result: A finished what-if.
        outcome: A comparison outcome (``true_nps``, ``active_customers``, ...).

    Returns:
        The difference and its adjusted interval (NaN if undefined).
    """
    row = result.summary.set_index("scenario").loc[result.spec.alternative_name]
    return (
        float(row[f"{outcome}_diff"]),
        float(row[f"{outcome}_diff_adj_ci_low"]),
        float(row[f"{outcome}_diff_adj_ci_high"]),
    )
