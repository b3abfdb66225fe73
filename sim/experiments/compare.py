"""Comparisons: scenarios x replications with common random numbers, aggregated into tables.

The runs are one Hydra multirun of the ``silosim`` app (``scenario=a,b,... seed=range(s,s+R)``)
through the one multirun launcher (:mod:`sim.experiments.launcher`), so replication r of every
scenario uses seed s + r: the scenarios see the same random draws wherever their mechanisms
agree, and the differences against the baseline are paired. The comparison directory is
assembled under a temporary name and renamed into place when complete; a ``present`` hook
(the report layer's figures and report) writes its deliverables into it before the rename.

The command is :mod:`sim.commands.compare`; from Python, :func:`sim.report.compare` runs a
comparison and writes its report.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from sim.config import ConfigError, SiloConfig, checked_config, compose, group_options, register_group_dir
from sim.config.compose import register_schemas
from sim.experiments.analysis import RunSet, load_runs, summary_table
from sim.experiments.files import atomic_directory, require_fresh
from sim.experiments.launcher import launch_multirun

__all__ = [
    "LAUNCHERS",
    "CompareConf",
    "Comparison",
    "Plan",
    "arguments_of",
    "compose_compare",
    "plan",
    "prepare",
    "run_comparison",
    "split_arguments",
]

PROG = "silosim-compare"
LAUNCHERS = ("joblib", "basic")


@dataclass
class CompareConf:
    """Settings of a comparison (defaults in ``conf/compare.yaml`` and ``conf/comparison/``).

    Attributes:
        name: Name of the comparison (used in the default output directory).
        scenarios: Scenarios to run, in the order they are shown.
        baseline: Scenario the others are compared against (default: the first).
        replications: Runs per scenario; replication r uses seed ``first_seed + r`` in every scenario.
        first_seed: Seed of the first replication.
        customers: Initial customers of every run.
        weeks: Horizon of every run.
        overrides: Model overrides applied to every scenario, e.g. ``[governance.communication=0.9]``.
        scenario_dir: A directory of the user's own scenario files.
        n_jobs: Parallel runs (-1: all cores).
        launcher: Hydra launcher: ``joblib`` (parallel, default) or ``basic`` (one run at a time).
        out: Output directory (default ``outputs/comparisons/<time>_<name>``); must not exist.
        confidence: Confidence level of every interval.
        clv_discount_rate: Annual discount rate of the customer lifetime value.
    """

    name: str = "comparison"
    scenarios: list[str] = field(default_factory=list)
    baseline: str | None = None
    replications: int = 20
    first_seed: int = 0
    customers: int = 20000
    weeks: int = 156
    overrides: list[str] = field(default_factory=list)
    scenario_dir: str | None = None
    n_jobs: int = -1
    launcher: str = "joblib"
    out: str | None = None
    confidence: float = 0.95
    clv_discount_rate: float = 0.10


def compose_compare(overrides: Sequence[str]) -> CompareConf:
    """Compose the comparison settings from ``conf/compare.yaml`` and ``key=value`` overrides.

    Raises:
        ConfigError: For an unknown setting or comparison, or a value of the wrong type.
    """
    register_schemas(compare_schema=CompareConf)
    obj = OmegaConf.to_object(compose("compare", overrides))
    if not isinstance(obj, CompareConf):  # pragma: no cover - conf/compare.yaml names the schema
        raise TypeError("conf/compare.yaml must be composed with the compare_schema")
    return obj


def split_arguments(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate comparison settings from model overrides.

    ``replications=5`` sets the comparison; a model key such as ``governance.communication=0.9`` or
    ``track_customers=10`` is applied to every scenario (it is added to ``overrides``).

    Args:
        arguments: ``key=value`` arguments.

    Returns:
        The comparison's own overrides and the model overrides.

    Raises:
        ConfigError: For an argument that is neither.
    """
    own = set(CompareConf.__dataclass_fields__)
    model_top = set(SiloConfig.__dataclass_fields__) - {"seed", "scenario_name"} | {"output"}
    mine, model = [], []
    for arg in arguments:
        if "=" not in arg:
            raise ConfigError(
                f"`{arg}` is not a setting: {PROG} takes key=value settings, e.g. replications=5 "
                "customers=5000 (see --help)"
            )
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if key in own or key == "comparison":  # `comparison` picks a file of conf/comparison/
            mine.append(arg)
        elif key == "calibration":  # a calibrated file from silosim-calibrate, applied to every scenario
            model.append(f"calibration={Path(value).expanduser().resolve()}")
        elif key.split(".", 1)[0] in model_top:
            model.append(arg)
        elif key in ("seed", "scenario"):
            raise ConfigError(
                f"`{key}` is set per run by {PROG}; use `first_seed` (replication r uses first_seed + r)"
                " and `scenarios=[...]` instead"
            )
        else:
            raise ConfigError(
                f"`{key}` is neither a setting of {PROG} ({', '.join(sorted(own))}) nor a model "
                "parameter (docs/parameters.md lists them)"
            )
    return mine, model


def prepare(arguments: Sequence[str]) -> CompareConf:
    """Settings from command-line style arguments: the comparison's own, plus model overrides for every scenario.

    Registers the user's scenario directory, if any, so its scenarios can be composed.

    Raises:
        ConfigError: For bad arguments (one paragraph naming the key, the value and what is allowed).
    """
    mine, model = split_arguments(arguments)
    conf = compose_compare(mine)
    conf.overrides = [*conf.overrides, *model]
    if conf.scenario_dir:
        register_group_dir("scenario", conf.scenario_dir)
    return conf


@dataclass
class Plan:
    """A validated comparison: the settings, each scenario's resolved configuration, the multirun."""

    conf: CompareConf
    baseline: str
    configs: dict[str, dict[str, Any]]
    arguments: list[str]
    out: Path

    @property
    def total(self) -> int:
        """Runs the comparison holds."""
        return len(self.conf.scenarios) * self.conf.replications


def _model_overrides(conf: CompareConf) -> list[str]:
    return [f"customers={conf.customers}", f"weeks={conf.weeks}", *conf.overrides]


def _setting_errors(conf: CompareConf) -> list[str]:
    """Every problem with the comparison's own settings."""
    return _scenario_errors(conf) + _number_errors(conf)


def _scenario_errors(conf: CompareConf) -> list[str]:
    """The scenarios exist, each once, and the baseline is one of them."""
    errors = []
    known = group_options("scenario")
    if not conf.scenarios:
        errors.append("`scenarios` is empty, but it must list at least two scenarios to compare")
    unknown = [s for s in conf.scenarios if s not in known]
    if unknown:
        errors.append(
            f"`scenarios` names {unknown}, which do not exist. Allowed: {', '.join(known)} (add your own "
            "with scenario_dir=PATH)"
        )
    if len(set(conf.scenarios)) != len(conf.scenarios):
        errors.append(f"`scenarios` is {conf.scenarios}, but each scenario may appear only once")
    baseline = conf.baseline or (conf.scenarios[0] if conf.scenarios else "")
    if conf.scenarios and baseline not in conf.scenarios:
        errors.append(f"`baseline` is {baseline!r}, but it must be one of the scenarios {conf.scenarios}")
    return errors


def _number_errors(conf: CompareConf) -> list[str]:
    """Replications, sizes, seeds, parallelism, the launcher, the confidence level and the discount rate."""
    checks = [
        (
            conf.replications < 2,
            f"`replications` is {conf.replications}, but at least 2 are needed for a confidence interval",
        ),
        (
            conf.customers < 1 or conf.weeks < 1,
            f"`customers` is {conf.customers} and `weeks` is {conf.weeks}, but both must be at least 1",
        ),
        (conf.first_seed < 0, f"`first_seed` is {conf.first_seed}, but it must be at least 0"),
        (
            conf.n_jobs == 0 or conf.n_jobs < -1,
            f"`n_jobs` is {conf.n_jobs}, but it must be -1 (all cores) or a positive number of parallel runs",
        ),
        (conf.launcher not in LAUNCHERS, f"`launcher` is {conf.launcher!r}, but it must be one of {list(LAUNCHERS)}"),
        (
            not 0 < conf.confidence < 1,
            f"`confidence` is {conf.confidence}, but it must be between 0 and 1 (e.g. 0.95)",
        ),
        (conf.clv_discount_rate < 0, f"`clv_discount_rate` is {conf.clv_discount_rate}, but it must be at least 0"),
    ]
    return [message for failed, message in checks if failed]


def plan(conf: CompareConf) -> Plan:
    """Check every setting and every scenario's configuration before anything runs.

    Args:
        conf: The comparison settings.

    Returns:
        The plan.

    Raises:
        ConfigError: With one paragraph naming the setting, its value and what is allowed.
    """
    stamp = f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{conf.name}"
    out = Path(conf.out) if conf.out else Path("outputs/comparisons") / stamp
    errors = _setting_errors(conf)
    try:
        require_fresh(out, "out", "comparisons")
    except ConfigError as exc:
        errors.append(str(exc).rstrip("."))
    if errors:
        raise ConfigError("; ".join(errors) + ".")
    configs: dict[str, dict[str, Any]] = {}
    for scenario in conf.scenarios:
        try:
            typed = checked_config([f"scenario={scenario}", *_model_overrides(conf)])
        except ConfigError as exc:
            raise ConfigError(f"Scenario '{scenario}' with overrides {conf.overrides}: {exc}") from None
        configs[scenario] = OmegaConf.to_container(OmegaConf.structured(typed), resolve=True)  # type: ignore[assignment]
    arguments = [
        f"scenario={','.join(conf.scenarios)}",
        f"seed=range({conf.first_seed},{conf.first_seed + conf.replications})",
        *_model_overrides(conf),
        "output.customers=false",
        "output.progress=false",
        "hydra.sweep.subdir=${hydra:runtime.choices.scenario}_s${seed}",
    ]
    if conf.launcher == "joblib":
        arguments += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={conf.n_jobs}"]
    else:
        arguments.append("hydra/launcher=basic")
    if conf.scenario_dir:
        arguments.append(f"scenario_dir={Path(conf.scenario_dir).resolve()}")
    baseline = conf.baseline or conf.scenarios[0]
    return Plan(conf, baseline, configs, arguments, out)


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


Present = Callable[[Path, Comparison], None]


def run_comparison(p: Plan, arguments: Sequence[str], present: Present | None = None) -> Comparison:
    """Run the plan and write the comparison directory.

    Args:
        p: A validated plan.
        arguments: The command-line arguments (for the reproduce command in the report).
        present: Writes deliverables (figures, report) into the directory being built, before it is
            renamed into place.

    Returns:
        The comparison.

    Raises:
        RuntimeError: If no run completed, or every run of the baseline failed.
    """
    conf = p.conf
    workers = os.cpu_count() if conf.n_jobs == -1 else conf.n_jobs
    how = f"{workers} parallel" if conf.launcher == "joblib" else "one at a time"
    print(
        f"{PROG}: {len(conf.scenarios)} scenarios x {conf.replications} replications = {p.total} runs of "
        f"{conf.customers:,} customers x {conf.weeks} weeks ({how})",
        file=sys.stderr,
    )
    with atomic_directory(p.out) as work:
        launched = launch_multirun(p.arguments, work / "runs", p.total, work / "logs" / "runs.log")
        runs = load_runs(work / "runs", conf.clv_discount_rate)
        if runs.outcomes.empty:
            tail = (work / "logs" / "runs.log").read_text().splitlines()[-15:]
            raise RuntimeError(
                f"no run completed (exit status {launched.returncode}); last lines of the run log:\n" + "\n".join(tail)
            )
        if p.baseline not in set(runs.outcomes["scenario"]):
            raise RuntimeError(f"every run of the baseline '{p.baseline}' failed; nothing to compare against")
        meta = _meta(p, runs, launched.wall_seconds, arguments)
        comparison = Comparison(work, runs, pd.DataFrame(), meta, p.configs)
        comparison.summary = summary_table(runs.outcomes, p.baseline, comparison.order, conf.confidence)
        _write_tables(work, comparison)
        if present is not None:
            present(work, comparison)
    comparison.out = p.out
    # the run directories moved with the comparison; point the table at their final place
    runs.runs["path"] = [str(p.out / "runs" / Path(x).name) for x in runs.runs["path"]]
    return comparison


def _meta(p: Plan, runs: RunSet, wall_seconds: float, arguments: Sequence[str]) -> dict[str, Any]:
    conf = p.conf
    return {
        "name": conf.name,
        "scenarios": conf.scenarios,
        "baseline": p.baseline,
        "replications": conf.replications,
        "seeds": list(range(conf.first_seed, conf.first_seed + conf.replications)),
        "customers": conf.customers,
        "weeks": conf.weeks,
        "overrides": conf.overrides,
        "confidence": conf.confidence,
        "clv_discount_rate": conf.clv_discount_rate,
        "wall_seconds": round(wall_seconds, 1),
        "launcher": conf.launcher,
        "n_jobs": conf.n_jobs,
        "failed_runs": runs.failures[["scenario", "seed", "error"]].to_dict("records"),
        "command": " ".join([PROG, *(shlex.quote(a) for a in arguments)]),
    }


def _write_tables(work: Path, comparison: Comparison) -> None:
    """comparison.parquet, summary.csv, runs.csv and comparison.json."""
    runs = comparison.runs
    runs.metrics.to_parquet(work / "comparison.parquet", index=False, compression="zstd")
    comparison.summary.to_csv(work / "summary.csv", index=False, float_format="%.6g")
    runs.runs.assign(path=[str(Path(x).name) for x in runs.runs["path"]]).to_csv(work / "runs.csv", index=False)
    (work / "comparison.json").write_text(json.dumps(comparison.meta, indent=2) + "\n")


def arguments_of(settings: dict[str, Any], out: str | Path) -> list[str]:
    """``key=value`` arguments from Python keyword settings (lists as ``[a,b]``, None as ``null``)."""

    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            return "[" + ",".join(text(v) for v in value) + "]"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    return [f"{k}={text(v)}" for k, v in settings.items()] + [f"out={out}"]
