"""The A/B what-if behind the dashboard's A/B page: a baseline and an alternative, run over replications.

The alternative is another scenario, or a scenario with some of its levers changed (the sidebar's
scenario-level controls, :data:`sim.dashboard.controls.CONTROLS`). Replication r of both arms uses
seed ``first_seed + r`` (common random numbers), so their difference is paired, as in
``silosim-compare``. The runs go through the one executor (:mod:`sim.experiments.runs.executor`:
all cores, its local workers kept warm between what-ifs) and each is written as a normal run directory
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
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf
from scipy import stats

from sim.config import ConfigError, checked_config, group_options, register_group_dir
from sim.config.compose import prepare_calibration_overrides, split_user_dirs
from sim.config.run import scenario_title
from sim.dashboard.controls import CONTROLS, control_override, scenario_controls
from sim.experiments.analysis.runsets import RunSet, load_runs, summary_table
from sim.experiments.analysis.statistics import DEFAULT_ADJUSTMENT
from sim.experiments.compare.comparison import Comparison
from sim.experiments.compare.rebuild import assemble_comparison
from sim.experiments.runs.executor import Backend, map_jobs
from sim.experiments.runs.executor import CancelledError as _Cancelled
from sim.experiments.runs.warmups import WarmCache
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
BACKEND = Backend("local", -1)  # all cores; the executor keeps the workers warm between what-ifs
_COMPOSE_LOCK = threading.Lock()  # Hydra's global state is not thread-safe; sessions run in threads
_STAGED: set[Path] = set()  # staging directories of this process, removed when it exits (exports are copies)


@atexit.register
def _remove_staged() -> None:
    for path in list(_STAGED):
        shutil.rmtree(path, ignore_errors=True)


def _remove_staged_on_sigterm() -> None:
    """SIGTERM removes the staging directories too, then goes on as it would have (uvicorn's graceful stop).

    uvicorn stops on SIGTERM and then raises it again with the handler it found, by default Python's, which
    ends the process without running ``atexit``: staging directories were left in the temporary directory. This
    handler removes them and then hands the signal on (to uvicorn's handler while it serves, or to the default
    action), so the server stops exactly as before. Only the main thread may set a handler; elsewhere nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        _remove_staged()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)


_remove_staged_on_sigterm()


class CancelledError(_Cancelled):
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
        calibration: A calibrated file (``calibrated.yaml``) both arms run on, or "" for the bundled baseline.
        scenario_dir: The client's scenario folder, whose scenarios can be picked, or "".
    """

    baseline: str
    alternative: str
    changes: tuple[tuple[str, float], ...] = ()
    customers: int = 2000
    weeks: int = 52
    replications: int = 5
    first_seed: int = 0
    calibration: str = ""
    scenario_dir: str = ""

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
        sources = [f"scenario_dir={self.scenario_dir}"] * bool(self.scenario_dir)
        sources += [f"calibration={self.calibration}"] * bool(self.calibration)
        return [*sources, f"scenario={scenario}", *common, *quiet, *levers]

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
    calibration: str = "",
    scenario_dir: str = "",
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
        calibration: A calibrated file or the folder ``silosim-calibrate`` wrote it to (text; "" for none).
        scenario_dir: The client's scenario folder (text; "" for none), loaded by :func:`load_sources`.

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
    sources, problems = load_sources(calibration, scenario_dir)
    errors.update(problems)
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
    return WhatIf(baseline, alternative, delta, **values, **sources), {}


def load_sources(calibration: str, scenario_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """The client's calibration and scenario folder as typed on the page: checked, and the folder's scenarios loaded.

    A calibration is a calibrated file (``calibrated.yaml``, any name with silosim-calibrate's marker) or the folder
    silosim-calibrate wrote it to; a folder holding only ``closest_fit.yaml`` is refused (its targets were not met).
    A scenario folder's ``*.yaml`` files become scenarios both selects list, loaded as data, as
    ``scenario_dir=`` does for the commands.

    Returns:
        ``{"calibration": path, "scenario_dir": path}`` (empty strings when not given), and input name -> message.
    """
    errors: dict[str, str] = {}
    sources = {"calibration": "", "scenario_dir": ""}
    for key, load in (("scenario_dir", _scenario_folder), ("calibration", _calibration_file)):
        text = str((scenario_dir if key == "scenario_dir" else calibration) or "").strip()
        if not text:
            continue
        try:
            with _COMPOSE_LOCK:
                sources[key] = load(text)
        except ConfigError as exc:
            errors[key] = str(exc)
    return sources, errors


def _scenario_folder(text: str) -> str:
    """The folder's scenarios registered (every file checked as data); its absolute path."""
    return str(register_group_dir("scenario", Path(text).expanduser()).resolve())


def _calibration_file(text: str) -> str:
    """The calibrated file named, or the one in the folder silosim-calibrate wrote, checked; its absolute path."""
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "calibrated.yaml").is_file():
            closest = (path / "closest_fit.yaml").is_file()
            why = " (only closest_fit.yaml: a target was not met, so it is no calibration)" if closest else ""
            raise ConfigError(
                f"Calibration folder '{text}' holds no calibrated.yaml{why}: enter the folder silosim-calibrate "
                "wrote, or a calibrated file."
            )
        path = path / "calibrated.yaml"
    elif not path.is_file():
        raise ConfigError(
            f"Calibration is '{text}', which is neither a file nor a folder: enter a calibrated.yaml or the folder "
            "silosim-calibrate wrote it to."
        )
    prepare_calibration_overrides([f"calibration={path.resolve()}"])  # refuses a file that is no calibration
    return str(path.resolve())


def _prepared(overrides: list[str]) -> list[str]:
    """A run's overrides with its scenario folder loaded and its calibrated file made selectable (any process)."""
    rest, dirs = split_user_dirs(overrides)
    for group, directory in dirs.items():
        register_group_dir(group, directory)
    return prepare_calibration_overrides(rest)


def _configs(spec: WhatIf) -> dict[str, Any]:
    with _COMPOSE_LOCK:
        return {
            "baseline": checked_config(_prepared([*spec.overrides("baseline"), f"seed={spec.first_seed}"])),
            "alternative": checked_config(_prepared([*spec.overrides("alternative"), f"seed={spec.first_seed}"])),
        }


def check_whatif(spec: WhatIf) -> dict[str, str]:
    """Compose and validate both arms as ``silosim`` would; an invalid combination is a message for the levers."""
    try:
        _configs(spec)
    except ConfigError as exc:
        return {"levers": str(exc)}
    return {}


# --------------------------------------------------------------------------------- running
def _run_one(job: tuple[list[str], str, str, str, str, str]) -> str:
    """In a worker: compose, run and write one run directory (the arms of a seed share their warm-up).

    The job is (overrides, name, title, description, run directory, warm-up cache directory).
    """
    from omegaconf import OmegaConf

    from sim.config import compose_config
    from sim.config.compose import to_config
    from sim.experiments.runs.rundir import write_run

    overrides, name, title, description, run_dir, warm_dir = job
    cfg = compose_config(_prepared(overrides))
    OmegaConf.update(cfg, "scenario_name", name)
    OmegaConf.update(cfg, "about.title", title)
    OmegaConf.update(cfg, "about.description", description)
    model = WarmCache(warm_dir).model(to_config(cfg))  # the run directory keeps no DataCollector panel
    model.run()
    write_run(model, Path(run_dir), cfg, overrides=overrides)
    return run_dir


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
    # the baseline's runs first: the alternative's runs of the same seed continue from their warm-up where the
    # levers changed leave it alone (sim.experiments.runs.warmups)
    warm = WarmCache(staging / ".warm")
    jobs = [
        (
            [*spec.overrides(arm), f"seed={seed}"],
            name,
            titles[name],
            descriptions[name],
            str(runs_dir / f"{name}_s{seed}"),
            str(warm.directory),
        )
        for arm, name in (("baseline", spec.baseline), ("alternative", spec.alternative_name))
        for seed in spec.seeds
    ]
    try:
        map_jobs(
            _run_one,
            jobs,
            BACKEND,
            labels=[Path(job[4]).name for job in jobs],
            progress=progress,
            cancelled=cancelled,
        )
    except _Cancelled:
        shutil.rmtree(staging, ignore_errors=True)
        raise CancelledError from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the executor let running jobs end first: nothing writes after
        raise
    finally:
        warm.clear()
    runs = load_runs(runs_dir)
    order = [spec.baseline, spec.alternative_name]
    summary = summary_table(runs.outcomes, spec.baseline, order, CONFIDENCE, DEFAULT_ADJUSTMENT)
    return WhatIfResult(spec, staging, runs, summary, titles, descriptions, time.monotonic() - started)


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
    files = {}
    if spec.scenario_dir:  # the client's scenarios travel with the comparison, so its command reruns anywhere
        files = {f"scenarios/{p.name}": p.read_text() for p in sorted(Path(spec.scenario_dir).glob("*.yaml"))}
    if not spec.changes:
        return files
    name = spec.alternative_name
    levers = OmegaConf.to_container(OmegaConf.from_dotlist(spec.lever_overrides()))
    body = {
        "defaults": [spec.alternative, "_self_"],
        "about": {"title": result.titles[name], "description": result.descriptions[name]},
        **levers,  # type: ignore[dict-item]
    }
    header = f"# @package _global_\n# What-if from the silosim dashboard: {spec.alternative} with changed levers.\n"
    return {**files, f"scenarios/{name}.yaml": header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)}


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
        *([f"scenario_dir={scenario_dir}"] if spec.changes or spec.scenario_dir else []),
        *([f"calibration={spec.calibration}"] if spec.calibration else []),
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
