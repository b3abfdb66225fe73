"""Comparisons: scenarios x replications with common random numbers, aggregated into tables.

The runs are one Hydra multirun of the ``silosim`` app (``scenario=a,b,... seed=range(s,s+R)``)
through the one executor (:mod:`sim.experiments.runs.executor`), on any of its backends
(this machine's cores, SLURM through submitit, a Dask cluster), so replication r of every
scenario uses seed s + r: the scenarios see the same random draws wherever their mechanisms
agree, and the differences against the baseline are paired.

A comparison resumes. Its directory is assembled under the hidden name ``.<out>.partial`` beside
``out``, which holds ``plan.json`` (the settings and their fingerprint) and the run directories;
each run is written all or nothing (:mod:`sim.experiments.rundir`). Interrupted at any moment
(SIGKILL, Ctrl-C, a lost node, a wall-time limit), the same command run again finds the partial
directory, checks that the settings are the same (a changed setting is refused with the
differences named), reuses every complete run, runs the rest, and renames the directory into
place when the deliverables are written (a ``present`` hook, the report layer's figures and
report, writes them before the rename). Without ``out=`` the newest unfinished comparison of the
same settings under ``outputs/comparisons/`` is resumed. A lock file beside ``out``
(:func:`lock_path`, never inside the directory that is renamed) keeps two commands from working on
one comparison at once: the second waits, then finds the comparison finished (and reruns nothing),
or resumes it, or refuses; the sweep process started for the runs holds the lock too, and stops
itself if the command that started it dies.

The command is :mod:`sim.commands.compare`; from Python, :func:`sim.report.compare` runs a
comparison and writes its report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout
from omegaconf import OmegaConf

from sim.config import ConfigError, SiloConfig, checked_config, compose, group_options, register_group_dir
from sim.config.compose import register_schemas
from sim.config.run import scenario_title
from sim.experiments.analysis import (
    DEFAULT_ADJUSTMENT,
    RunSet,
    adjustment_errors,
    family_size,
    load_runs,
    summary_table,
)
from sim.experiments.calibration import calibration_record
from sim.experiments.deliverables import ReportConf, quoted, report_errors
from sim.experiments.files import (
    atomic_directory,
    atomic_write,
    check_writable,
    fsync_path,
    naming,
    require_fresh,
    safe_table,
)
from sim.experiments.outcomes import comparison_outcomes
from sim.experiments.provenance import provenance
from sim.experiments.resources import check_memory, estimate_seconds
from sim.experiments.rundir import MARKER, count_runs, verify_run
from sim.experiments.runs.executor import LAUNCHERS, Backend, fmt_duration, launch_multirun
from sim.experiments.uncertainty import (
    DRAWS_DIR,
    draw_arguments,
    plan_draws,
    read_distributions,
    summarise_draws,
    write_plan_draws,
)
from sim.experiments.uncertainty import setting_errors as uncertainty_errors

__all__ = [
    "LAUNCHERS",
    "REBUILD_SETTINGS",
    "CompareConf",
    "Comparison",
    "Plan",
    "arguments_of",
    "assemble_comparison",
    "compose_compare",
    "load_comparison",
    "plan",
    "prepare",
    "rebuild_changes",
    "rebuild_comparison",
    "run_comparison",
    "scenario_labels",
    "split_arguments",
    "summarise",
]

PROG = "silosim-compare"
PLAN_FILE = "plan.json"
DEFAULT_PARENT = Path("outputs/comparisons")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # `name`: it names the comparison's directory
MAX_REPLICATIONS = 1000
MAX_HOURS = 24.0  # a comparison estimated to take longer starts only with allow_long=true
LOCK_WAIT_SECONDS = 15.0  # a killed command's sweep stops itself within a second; wait that long for its lock


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
        n_jobs: Parallel runs with the local or joblib launcher (-1: all cores).
        launcher: Hydra launcher: ``local`` (this machine's cores, silosim's launcher, default), ``joblib``
            (the same through Hydra's joblib launcher), ``basic`` (one run at a time),
            ``slurm`` (a SLURM cluster through submitit), ``slurm_local`` (submitit's local executor) or
            ``dask`` (a Dask cluster: ``hydra.launcher.address=tcp://HOST:8786``, or a local one of ``n_jobs``
            workers); :data:`sim.experiments.runs.executor.LAUNCHERS`.
        launcher_options: ``hydra.launcher.KEY=VALUE`` settings of that launcher (``hydra.launcher.partition=gpu``).
        out: Output directory (default ``outputs/comparisons/<time>_<name>``); must not exist, unless the same
            comparison was interrupted there (then it is resumed).
        confidence: Confidence level of every interval.
        clv_discount_rate: Annual discount rate of the customer lifetime value.
        multiple_comparisons: How the intervals the verdicts rest on allow for the number of comparisons:
            ``bonferroni`` (default), ``holm`` or ``none`` (:mod:`sim.experiments.analysis`).
        report: Client, title, logo, theme, paper and template of the deliverables.
        uncertainty: ``none`` (default: every parameter at its declared value, intervals from simulation noise
            only) or ``parameters`` (also ``draws`` runs per scenario, each with one parameter set drawn from the
            schema's distributions, the same sets for every scenario; :mod:`sim.experiments.uncertainty`).
        draws: Parameter draws per scenario with uncertainty=parameters.
        distributions: A YAML file of distributions replacing the schema's: parameter key -> ``{kind, args, basis}``.
        allow_long: Start a comparison estimated to take longer than :data:`MAX_HOURS` hours.
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
    launcher: str = "local"
    launcher_options: list[str] = field(default_factory=list)
    out: str | None = None
    confidence: float = 0.95
    clv_discount_rate: float = 0.10
    multiple_comparisons: str = DEFAULT_ADJUSTMENT
    report: ReportConf = field(default_factory=ReportConf)
    uncertainty: str = "none"
    draws: int = 0
    distributions: str | None = None
    allow_long: bool = False


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
        if key.split(".", 1)[0] in own or key == "comparison":  # `comparison` picks a file of conf/comparison/
            mine.append(quoted(arg))
        elif key == "calibration":  # a calibrated file from silosim-calibrate, applied to every scenario
            model.append(f"calibration={Path(value).expanduser().resolve()}")
        elif key.split(".", 1)[0] in model_top or key.startswith("hydra.launcher."):
            model.append(arg)
        elif key in ("seed", "scenario"):
            raise ConfigError(
                f"`{key}` is set per run by {PROG}; use `first_seed` (replication r uses first_seed + r)"
                " and `scenarios=[...]` instead"
            )
        else:
            raise ConfigError(
                f"`{key}` is neither a setting of {PROG} ({', '.join(sorted(own))}), a launcher option "
                "(hydra.launcher.KEY=VALUE) nor a model parameter (docs/parameters.md lists them)"
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
    conf.launcher_options = [*conf.launcher_options, *(a for a in model if a.startswith("hydra.launcher."))]
    conf.overrides = [*conf.overrides, *(a for a in model if not a.startswith("hydra.launcher."))]
    if conf.scenario_dir:
        register_group_dir("scenario", conf.scenario_dir)
    return conf


@dataclass
class Plan:
    """A validated comparison: the settings, each scenario's resolved configuration, the multirun.

    ``partial`` is the hidden directory the comparison is assembled in (``.<out>.partial``), which an
    interrupted attempt leaves behind for the same command to resume; ``fingerprint`` identifies the
    settings that decide the results (not the launcher, its options or the parallelism).
    """

    conf: CompareConf
    baseline: str
    configs: dict[str, dict[str, Any]]
    arguments: list[str]
    out: Path
    fingerprint: str = ""
    damaged: list[str] = field(default_factory=list)
    draws: dict[str, Any] | None = None  # uncertainty=parameters: the plan of the parameter draws

    @property
    def total(self) -> int:
        """Runs the comparison holds (at the declared values; the parameter draws' are counted apart)."""
        return len(self.conf.scenarios) * self.conf.replications

    @property
    def partial(self) -> Path:
        """Where the comparison is assembled (and where an interrupted one waits to be resumed)."""
        return partial_dir(self.out)


def partial_dir(out: Path) -> Path:
    """``<parent>/.<name>.partial``: the directory a comparison is assembled in before it is renamed to ``out``."""
    return out.parent / f".{out.name}.partial"


def _model_overrides(conf: CompareConf) -> list[str]:
    return [f"customers={conf.customers}", f"weeks={conf.weeks}", *conf.overrides]


def _setting_errors(conf: CompareConf) -> list[str]:
    """Every problem with the comparison's own settings."""
    errors = _scenario_errors(conf) + _number_errors(conf) + _presentation_errors(conf)
    if not NAME_PATTERN.fullmatch(str(conf.name)):
        errors.append(
            f"`name` is {str(conf.name)[:40]!r}{'...' if len(str(conf.name)) > 40 else ''}, but it must be 1 to 64 "
            "letters, digits, '_', '-' or '.' (not starting with '.' or '-'; it names the comparison's directory)"
        )
    if conf.uncertainty != "none" or conf.draws or conf.distributions:
        from sim.config import compose_config, to_config

        errors += uncertainty_errors(conf.uncertainty, conf.draws, conf.distributions, to_config(compose_config([])))
    return errors


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
            conf.replications > MAX_REPLICATIONS,
            f"`replications` is {conf.replications:,}, but it must be at most {MAX_REPLICATIONS:,}",
        ),
        (
            conf.customers < 1 or conf.weeks < 1,
            f"`customers` is {conf.customers} and `weeks` is {conf.weeks}, but both must be at least 1",
        ),
        (conf.first_seed < 0, f"`first_seed` is {conf.first_seed}, but it must be at least 0"),
        (
            not 0 < conf.confidence < 1,
            f"`confidence` is {conf.confidence}, but it must be between 0 and 1 (e.g. 0.95)",
        ),
        (conf.clv_discount_rate < 0, f"`clv_discount_rate` is {conf.clv_discount_rate}, but it must be at least 0"),
    ]
    return [message for failed, message in checks if failed] + backend(conf).errors()


def plan(conf: CompareConf) -> Plan:
    """Check every setting and every scenario's configuration before anything runs.

    An ``out`` (or, without one, an unfinished comparison under ``outputs/comparisons/``) whose
    partial directory holds the same settings is resumed; one holding other settings is refused.

    Args:
        conf: The comparison settings.

    Returns:
        The plan.

    Raises:
        ConfigError: With one paragraph naming the setting, its value and what is allowed.
    """
    errors = _setting_errors(conf)
    try:
        check_writable(Path(conf.out) if conf.out else DEFAULT_PARENT, "out")
    except ConfigError as exc:  # nothing more can be learnt about a path the system refuses
        raise ConfigError("; ".join([*errors, str(exc).rstrip(".")]) + ".") from None
    damaged: list[str] = []
    if conf.out:
        try:
            require_fresh(Path(conf.out), "out", "comparisons")
        except ConfigError as exc:
            stored = _read_plan_of(Path(conf.out))
            damaged = [name for name, _ in damaged_runs(Path(conf.out), stored)] if stored else []
            if not damaged:  # a finished comparison with damaged runs is reopened to redo them (below)
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
    baseline = conf.baseline or conf.scenarios[0]
    _check_resources(conf, int(configs[baseline].get("warmup_weeks") or 0))
    settings = _plan_settings(conf, baseline)
    fingerprint = _fingerprint(settings, configs)
    if damaged and conf.out and (_read_plan_of(Path(conf.out)) or {}).get("fingerprint") != fingerprint:
        require_fresh(Path(conf.out), "out", "comparisons")  # another comparison's directory: refused
    draws = _plan_draws(conf, configs)
    out = _output_dir(conf, settings, fingerprint)
    arguments = [
        f"scenario={','.join(conf.scenarios)}",
        f"seed=range({conf.first_seed},{conf.first_seed + conf.replications})",
        *_model_overrides(conf),
        "output.customers=false",
        "output.progress=false",
        "hydra.sweep.subdir=${hydra:runtime.choices.scenario}_s${seed}",
        *_launcher_arguments(conf),
    ]
    if conf.scenario_dir:
        arguments.append(f"scenario_dir={Path(conf.scenario_dir).resolve()}")
    return Plan(conf, baseline, configs, arguments, out, fingerprint, damaged, draws)


def _plan_draws(conf: CompareConf, configs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The plan of the parameter draws with uncertainty=parameters, else None."""
    if conf.uncertainty != "parameters":
        return None
    mine = read_distributions(conf.distributions)[0]
    return plan_draws(conf.draws, conf.first_seed, conf.replications, mine, configs)


def _runs_planned(conf: CompareConf) -> int:
    """Runs the comparison starts: the replications, plus one run per scenario per parameter draw."""
    draws = conf.draws if conf.uncertainty == "parameters" else 0
    return len(conf.scenarios) * (conf.replications + draws)


def backend(conf: CompareConf) -> Backend:
    """Where the comparison's runs go (the executor's backend): ``launcher``, ``n_jobs``, the launcher's options."""
    return Backend(conf.launcher, conf.n_jobs, tuple(conf.launcher_options))


def _workers(conf: CompareConf) -> int:
    """Runs that go at once on this machine."""
    return backend(conf).workers(_runs_planned(conf))


def _check_resources(conf: CompareConf, warmup_weeks: int) -> None:
    """Memory for the runs that go at once, and the time the whole comparison would take (before any run).

    Raises:
        ConfigError: If the runs cannot fit this machine's memory, or would take longer than :data:`MAX_HOURS`
            without ``allow_long=true``.
    """
    workers = _workers(conf)  # 1 for a cluster's: it runs each on its own
    check_memory(conf.customers, conf.weeks, warmup_weeks, workers)
    total = _runs_planned(conf)
    seconds = estimate_seconds(total, conf.customers, conf.weeks, warmup_weeks, workers)
    if seconds > MAX_HOURS * 3600 and not conf.allow_long and backend(conf).local:
        raise ConfigError(
            f"The comparison is {total:,} runs of {conf.customers:,} customers x {conf.weeks + warmup_weeks:,} "
            f"weeks on {workers} worker(s): about {fmt_duration(seconds)} (h:mm:ss), more than the {MAX_HOURS:g} "
            "hours a comparison may take without confirmation. Lower `replications`, `customers` or `weeks`, or "
            "add allow_long=true to start it anyway."
        )


def _launcher_arguments(conf: CompareConf) -> list[str]:
    """The multirun's launcher choice and options, checked by composing them (before anything runs)."""
    arguments = backend(conf).hydra_arguments()
    try:
        compose("config", arguments, return_hydra_config=True)
    except ConfigError as exc:
        raise ConfigError(f"The launcher settings {arguments} are invalid: {exc}") from None
    backend(conf).check()  # a Dask scheduler's address answers
    return arguments


def _plan_settings(conf: CompareConf, baseline: str) -> dict[str, Any]:
    """The settings that decide a comparison's results (resuming needs them unchanged)."""
    return {
        "name": conf.name,
        "scenarios": list(conf.scenarios),
        "baseline": baseline,
        "seeds": list(range(conf.first_seed, conf.first_seed + conf.replications)),
        "customers": conf.customers,
        "weeks": conf.weeks,
        "overrides": list(conf.overrides),
        "confidence": conf.confidence,
        "clv_discount_rate": conf.clv_discount_rate,
        **(
            {
                "uncertainty": conf.uncertainty,
                "draws": conf.draws,
                "distributions": read_distributions(conf.distributions)[0],
            }
            if conf.uncertainty != "none"
            else {}
        ),
    }


def _fingerprint(settings: dict[str, Any], configs: dict[str, dict[str, Any]]) -> str:
    """A digest of the settings and every scenario's resolved configuration."""
    text = json.dumps({"settings": settings, "configs": configs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_plan(partial: Path) -> dict[str, Any] | None:
    try:
        return json.loads((partial / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _output_dir(conf: CompareConf, settings: dict[str, Any], fingerprint: str) -> Path:
    """``out``, or the unfinished comparison of the same settings to resume, or a new time-stamped directory.

    Raises:
        ConfigError: If ``out``'s partial directory holds a comparison of other settings.
    """
    if conf.out:
        out = Path(conf.out)
        stored = _read_plan(partial_dir(out))
        if partial_dir(out).exists() and (stored is None or stored.get("fingerprint") != fingerprint):
            raise ConfigError(_changed_settings_message(out, settings, stored))
        return out
    unfinished = sorted(
        (p for p in DEFAULT_PARENT.glob(f".*_{conf.name}.partial") if p.is_dir()),
        key=lambda p: p.name,
        reverse=True,
    )
    for partial in unfinished:
        stored = _read_plan(partial)
        if stored is not None and stored.get("fingerprint") == fingerprint:
            return partial.parent / partial.name[1 : -len(".partial")]
    return DEFAULT_PARENT / f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{conf.name}"


def _changed_settings_message(out: Path, settings: dict[str, Any], stored: dict[str, Any] | None) -> str:
    where = f"`out` is '{out}', where an interrupted comparison waits to be resumed ({partial_dir(out)})"
    if stored is None:
        return f"{where}, but its plan cannot be read; choose another `out`, or delete {partial_dir(out)}."
    before = stored.get("settings", {})
    changed = [
        f"{key} {before.get(key)!r} then, {value!r} now" for key, value in settings.items() if before.get(key) != value
    ]
    what = "; ".join(changed) if changed else "a scenario's or a model parameter's configuration differs"
    return (
        f"{where}, but with other settings ({what}); runs of different configurations are never mixed. Rerun "
        f"it with its own settings ({stored.get('command', 'see its plan.json')}) to finish it, or choose "
        f"another `out`, or delete {partial_dir(out)} to start afresh."
    )


def _presentation_errors(conf: CompareConf) -> list[str]:
    """The multiple-comparison adjustment and the deliverables' settings (``report.*``)."""
    return adjustment_errors(conf.multiple_comparisons) + report_errors(conf.report)


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


def run_comparison(p: Plan, arguments: Sequence[str], present: Present | None = None) -> Comparison:
    """Run (or resume) the plan and write the comparison directory.

    Args:
        p: A validated plan.
        arguments: The command-line arguments (for the reproduce command in the report).
        present: Writes deliverables (figures, report) into the directory being built, before it is
            renamed into place.

    Returns:
        The comparison.

    Raises:
        ConfigError: If another command is working on the same comparison.
        RuntimeError: If no run completed, or every run of the baseline failed (the complete runs are kept
            for the same command to resume).
    """
    conf = p.conf
    command = " ".join([PROG, *(shlex.quote(a) for a in arguments)])
    with _locked(p.out) as lock_fds, naming(p.partial):
        if p.damaged:
            _reopen(p)
        finished = _finished_meanwhile(p)
        if finished is not None:
            return finished
        if not p.partial.is_dir():  # created whole, plan included, so a partial directory always holds its plan
            record = {"fingerprint": p.fingerprint, "settings": _plan_settings(conf, p.baseline), "command": command}
            with atomic_directory(p.partial) as work:
                (work / PLAN_FILE).write_text(json.dumps(record, indent=2) + "\n")
        reused, _ = count_runs(p.partial / "runs")
        _announce(p, reused)
        try:
            launched = launch_multirun(
                p.arguments, p.partial / "runs", p.total, p.partial / "logs" / "runs.log", keep_open=lock_fds
            )
            if p.draws:
                _launch_draws(p, p.draws, lock_fds)
        except KeyboardInterrupt:
            done, _ = count_runs(p.partial / "runs")
            print(f"{PROG}: interrupted; {done} of {p.total} runs are kept: {_resume_hint(p)}", file=sys.stderr)
            raise
        comparison = _assemble(p, launched, reused, command, present)
        _finish(p)
    comparison.out = p.out
    # the run directories moved with the comparison; point the table at their final place
    comparison.runs.runs["path"] = [str(p.out / "runs" / Path(x).name) for x in comparison.runs.runs["path"]]
    return comparison


def _launch_draws(p: Plan, draws: dict[str, Any], lock_fds: tuple[int, ...]) -> None:
    """uncertainty=parameters: the draws file, then one run per scenario and parameter draw (resumable too)."""
    work = p.partial / DRAWS_DIR
    path = write_plan_draws(p.partial, draws)
    total = len(p.conf.scenarios) * int(draws["draws"])
    print(
        f"{PROG}: parameter uncertainty: {total} runs, {draws['draws']} parameter draws per scenario", file=sys.stderr
    )
    launched = launch_multirun(
        draw_arguments(p.arguments, draws, path),
        work / "runs",
        total,
        p.partial / "logs" / "draws.log",
        keep_open=lock_fds,
    )
    draws["wall_seconds"] = round(launched.wall_seconds, 1)


def _announce(p: Plan, reused: int) -> None:
    conf = p.conf
    how = backend(conf).describe(p.total)
    warmup = int(p.configs[p.baseline].get("warmup_weeks") or 0)
    estimate = estimate_seconds(p.total - reused, conf.customers, conf.weeks, warmup, _workers(conf))
    print(
        f"{PROG}: {len(conf.scenarios)} scenarios x {conf.replications} replications = {p.total} runs of "
        f"{conf.customers:,} customers x {conf.weeks} weeks ({how}; at most about {fmt_duration(estimate)})",
        file=sys.stderr,
    )
    if reused:
        print(
            f"{PROG}: resuming the interrupted comparison in {p.partial}: {reused} of {p.total} runs are "
            "complete and reused",
            file=sys.stderr,
        )


def _resume_hint(p: Plan) -> str:
    return f"run the same command again to resume ({p.partial})"


def _assemble(p: Plan, launched: Any, reused: int, command: str, present: Present | None) -> Comparison:
    """Load the runs and write the tables and deliverables into the partial directory."""
    work, conf = p.partial, p.conf
    runs = load_runs(work / "runs", conf.clv_discount_rate)
    if runs.outcomes.empty:
        tail = (work / "logs" / "runs.log").read_text().splitlines()[-15:]
        raise RuntimeError(
            f"no run completed (exit status {launched.returncode}); {_resume_hint(p)} after fixing the cause. "
            "Last lines of the run log:\n" + "\n".join(tail)
        )
    if p.baseline not in set(runs.outcomes["scenario"]):
        raise RuntimeError(
            f"every run of the baseline '{p.baseline}' failed; nothing to compare against ({_resume_hint(p)})"
        )
    meta = _meta(p, runs, launched.wall_seconds, command)
    meta["runs_reused"] = reused
    comparison = Comparison(work, runs, pd.DataFrame(), meta, p.configs)
    comparison.summary = summarise(comparison)
    if p.draws:
        names = [o.name for o in comparison_outcomes()]
        meta["uncertainty"] = summarise_draws(
            work, runs.outcomes, p.draws, p.baseline, comparison.order, names, conf.confidence, conf.clv_discount_rate
        )
        if meta["uncertainty"].get("note"):
            print(f"{PROG}: parameter uncertainty: {meta['uncertainty']['note']}", file=sys.stderr)
    _write_tables(work, comparison)
    if present is not None:
        present(work, comparison)
    return comparison


def _finish(p: Plan) -> None:
    """Rename the partial directory into place (``out`` may be an empty directory), durably."""
    fsync_path(p.partial)
    try:
        p.partial.rename(p.out)  # POSIX rename replaces an empty directory atomically
    except OSError:
        p.out.rmdir()
        p.partial.rename(p.out)
    fsync_path(p.out.parent)


def lock_path(out: Path) -> Path:
    """``<parent>/.<name>.lock``: the lock of the comparison that ``out`` will hold (beside it, never inside).

    It lives outside both the partial directory and ``out``, so it stays the same file while the partial
    directory is renamed to ``out``: a command that waited for it then sees the finished comparison.
    """
    return out.parent / f".{out.name}.lock"


def _waiting(out: Path, holder: str) -> None:
    """Say once that this command waits for another one working on the same comparison."""
    print(f"{PROG}: {holder} is working on the comparison {out}; waiting for it to finish ...", file=sys.stderr)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[tuple[int, ...]]:
    """Hold the comparison's lock (:func:`lock_path`, a ``filelock`` file lock) while working on it.

    A second command on the same ``out`` waits up to :data:`LOCK_WAIT_SECONDS` for the first, then
    continues under the lock (it finds the comparison finished, or interrupted and ready to resume), or
    refuses. The file names its holder; it is removed when the lock is released normally.

    Yields:
        The lock's file descriptor, if the lock is a native one (the sweep process inherits it, so a
        sweep that outlives a killed command still holds the lock until it has stopped).

    Raises:
        ConfigError: If another command holds the lock for longer than :data:`LOCK_WAIT_SECONDS`.
    """
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    held: list[int] = []

    def acquired(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"silosim-compare process {os.getpid()} on host {socket.gethostname()}\n".encode())
        held[:] = [fd]

    lock = FileLock(path, on_acquired=acquired)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        _waiting(out, _holder(path))
        try:
            lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except Timeout:
            raise ConfigError(
                f"The comparison '{out}' is being worked on by {_holder(path)} (its lock is {path}); waited "
                f"{LOCK_WAIT_SECONDS:g} s. Wait for it to finish (or stop it), then run the same command again."
            ) from None
    try:
        yield tuple(held)
    finally:
        path.unlink(missing_ok=True)  # while still held: a command waiting on this inode sees it unlinked and retries
        lock.release()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


def _finished_meanwhile(p: Plan) -> Comparison | None:
    """The comparison another command finished in ``out`` while this one waited for the lock, or None.

    Raises:
        ConfigError: If ``out`` now holds something else (another comparison, or other files).
    """
    if not p.out.exists() or (p.out.is_dir() and not any(p.out.iterdir())):
        return None
    meta = _read_plan_of(p.out)
    if meta is None or meta.get("fingerprint") != p.fingerprint:
        require_fresh(p.out, "out", "comparisons")  # refuses, naming what is there
        raise ConfigError(f"`out` is '{p.out}', which another command has just filled; choose a new directory.")
    print(
        f"{PROG}: another command finished this comparison (the same settings) while this one waited; nothing was "
        f"rerun: {p.out}",
        file=sys.stderr,
    )
    return load_comparison(p.out)


def damaged_runs(directory: Path, meta: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The runs of a finished comparison that are damaged or missing, each with what is wrong.

    Every run directory is verified against its ``COMPLETE`` marker (:func:`~sim.experiments.rundir.verify_run`);
    a run that failed when it ran (``error.txt``, no marker) is not damaged, it is reported as failed. For a
    comparison silosim-compare made (its ``comparison.json`` has a fingerprint), every scenario x seed it ran
    must be present.

    Args:
        directory: The comparison directory.
        meta: Its ``comparison.json``.

    Returns:
        (run directory name, what is wrong) for each damaged or missing run, sorted by name.
    """
    runs = directory / "runs"
    found: dict[str, str] = {}
    present = sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs.is_dir() else []
    for path in present:
        if (path / "error.txt").exists() and not (path / MARKER).exists():
            continue
        reason = verify_run(path)
        if reason:
            found[path.name] = reason
    if meta and meta.get("fingerprint"):
        failed = {f"{f.get('scenario')}_s{f.get('seed')}" for f in meta.get("failed_runs") or []}
        names = {p.name for p in present}
        for scenario in meta.get("scenarios") or []:
            for seed in meta.get("seeds") or []:
                name = f"{scenario}_s{seed}"
                if name not in names and name not in failed:
                    found[name] = "its directory is missing"
    return sorted(found.items())


def _damage_message(directory: Path, meta: Mapping[str, Any], damaged: list[tuple[str, str]]) -> str:
    listed = "; ".join(f"{name} ({reason})" for name, reason in damaged[:10])
    more = f"; and {len(damaged) - 10} more" if len(damaged) > 10 else ""
    command = str(meta.get("command") or f"{PROG} ... out={directory}")
    if "out=" not in command:
        command += f" out={shlex.quote(str(directory))}"
    return (
        f"`from` is '{directory}', but {len(damaged)} of its runs are damaged or missing: {listed}{more}. Their "
        "numbers cannot be trusted, so nothing was read or rebuilt. To redo only those runs, run the comparison's "
        f"command again with out= set to this directory ({command}): it removes the damaged runs, reuses the "
        "intact ones and reruns the rest."
    )


def _reopen(p: Plan) -> None:
    """Turn a finished comparison with damaged runs back into its partial directory, without those runs."""
    if p.partial.exists():
        raise ConfigError(
            f"`out` is '{p.out}', which has damaged runs, but {p.partial} exists too; delete one of them and run "
            "the same command again."
        )
    damaged = damaged_runs(p.out, _read_plan_of(p.out))
    names = [name for name, _ in damaged]
    print(
        f"{PROG}: {p.out} holds {len(names)} damaged or missing run(s) ({', '.join(names)}); they are removed and "
        "rerun, the intact runs are reused",
        file=sys.stderr,
    )
    for name in names:
        shutil.rmtree(p.out / "runs" / name, ignore_errors=True)
    p.out.rename(p.partial)


def _read_plan_of(out: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / "comparison.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _meta(p: Plan, runs: RunSet, wall_seconds: float, command: str) -> dict[str, Any]:
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
        "command": command,
        "fingerprint": p.fingerprint,
        "provenance": provenance(),
        **_presentation_meta(p),
    }


def _write_tables(work: Path, comparison: Comparison) -> None:
    """comparison.parquet, summary.csv, runs.csv and comparison.json."""
    runs = comparison.runs
    # each through a temporary name: a full disk leaves no half-written (or 0-byte) table behind
    atomic_write(work / "comparison.parquet", lambda tmp: runs.metrics.to_parquet(tmp, index=False, compression="zstd"))
    _write_summary(work, comparison)
    table = safe_table(runs.runs.assign(path=[str(Path(x).name) for x in runs.runs["path"]]))
    atomic_write(work / "runs.csv", lambda tmp: table.to_csv(tmp, index=False))
    _write_meta(work, comparison)


def _write_summary(work: Path, comparison: Comparison) -> None:
    """summary.csv: formula-safe text, and numbers with the digits the dashboard and a rebuild read back."""
    summary = safe_table(comparison.summary)
    atomic_write(work / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False, float_format="%.12g"))


def _write_meta(work: Path, comparison: Comparison) -> None:
    """comparison.json."""
    meta = json.dumps(comparison.meta, indent=2) + "\n"
    atomic_write(work / "comparison.json", lambda tmp: tmp.write_text(meta))


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


# ------------------------------------------------------------------------------------------------------------
# Presenting and reopening (issue 14): display titles, the summary with its multiple-comparison adjustment,
# a finished comparison read back from its directory (silosim-compare from=DIR), its deliverables rebuilt in
# place, and a comparison assembled from runs made elsewhere (the dashboard's A/B what-if).

# Settings that change how a finished comparison is presented, not what was run (silosim-compare from=DIR).
REBUILD_SETTINGS = ("name", "baseline", "confidence", "multiple_comparisons", "clv_discount_rate", "report")
# What a rebuild writes again; anything else in the directory (runs/, comparison.parquet, runs.csv, logs/) stays.
DELIVERABLES = (
    "figures",
    "report.html",
    "report.pdf",
    "report.pptx",
    "summary.xlsx",
    "summary.csv",
    "uncertainty.csv",
    "importance.csv",
    "comparison.json",
)
_META_KEYS = ("name", "scenarios", "baseline", "replications", "customers", "weeks", "confidence")


def scenario_labels(configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """Display titles and one-line descriptions of scenarios from their resolved configurations.

    A scenario without ``about.title`` is named after its file. When scenarios would share a title (a
    user's scenario that builds on a bundled one and declares none inherits its title), the first in
    order keeps it and the others are told apart by their file names.

    Args:
        configs: Resolved configuration per scenario.

    Returns:
        Title and description per scenario.
    """
    about = {s: dict(c.get("about") or {}) for s, c in configs.items()}
    titles: dict[str, str] = {}
    for s, a in about.items():
        title = scenario_title(s, a.get("title"))
        titles[s] = f"{title} ({s})" if title in titles.values() else title
    descriptions = {s: " ".join(str(a.get("description") or "").split()) for s, a in about.items()}
    return titles, descriptions


def _report_meta(report: ReportConf | Mapping[str, Any]) -> dict[str, Any]:
    """The deliverables' settings as comparison.json keeps them, with file paths made absolute."""
    typed = report if isinstance(report, ReportConf) else _report_conf(report)
    out = asdict(typed)
    for key in ("logo", "template_dir"):
        if out[key]:
            out[key] = str(Path(out[key]).expanduser().resolve())
    return out


def _report_conf(settings: Mapping[str, Any]) -> ReportConf:
    merged = OmegaConf.merge(OmegaConf.structured(ReportConf), OmegaConf.create(dict(settings)))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def _presentation_meta(p: Plan) -> dict[str, Any]:
    titles, descriptions = scenario_labels(p.configs)
    return {
        "titles": titles,
        "descriptions": descriptions,
        "multiple_comparisons": p.conf.multiple_comparisons,
        "report": _report_meta(p.conf.report),
        "calibration": calibration_record(p.configs),
    }


def summarise(comparison: Comparison) -> pd.DataFrame:
    """The comparison's summary table at its confidence level, with its multiple-comparison adjustment.

    Records in ``comparison.meta`` how many paired differences the comparison judges (``family_size``).

    Args:
        comparison: A comparison whose runs are loaded.

    Returns:
        The summary table (:func:`sim.experiments.analysis.summary_table`).
    """
    order = comparison.order
    comparison.meta["family_size"] = family_size(order, comparison.baseline)
    return summary_table(
        comparison.runs.outcomes, comparison.baseline, order, comparison.confidence, comparison.adjustment
    )


def _read_meta(directory: Path) -> dict[str, Any]:
    """comparison.json of a finished comparison directory, or a ConfigError naming what is missing."""
    shown = f"`from` is '{directory}'"
    if not directory.is_dir():
        kind = "a file" if directory.exists() else "not a directory"
        raise ConfigError(f"{shown}, but that is {kind}; pass a directory written by silosim-compare.")
    try:
        meta = json.loads((directory / "comparison.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}, but it holds no comparison.json; pass a directory written by silosim-compare."
        ) from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{shown}, but its comparison.json cannot be read as JSON.") from None
    missing = [k for k in _META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise ConfigError(f"{shown}, but its comparison.json lacks {missing}; is it a silosim-compare directory?")
    if not (directory / "runs").is_dir():
        raise ConfigError(f"{shown}, but it has no runs/ directory; the runs are needed to rebuild the deliverables.")
    return meta


def _run_configs(runs: RunSet) -> dict[str, dict[str, Any]]:
    """Each scenario's resolved configuration, from its first complete run's ``.hydra/config.yaml``."""
    done = runs.runs[runs.runs["status"] == "ok"].sort_values(["scenario", "seed"])
    configs = {}
    for scenario, group in done.groupby("scenario", sort=False):
        text = (Path(group["path"].iloc[0]) / ".hydra" / "config.yaml").read_text(encoding="utf-8")
        configs[str(scenario)] = OmegaConf.to_container(OmegaConf.create(text), resolve=True)
    return configs  # type: ignore[return-value]


def _apply_changes(meta: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Put rebuild settings (``baseline``, ``report.client``, ...) into the comparison's settings."""
    for key, value in changes.items():
        if key.startswith("report."):
            node = meta.setdefault("report", {})
            *parents, last = key.split(".")[1:]
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        elif key == "report":
            meta["report"] = {**meta.get("report", {}), **value}
        else:
            meta[key] = value


def _rebuild_errors(meta: dict[str, Any]) -> list[str]:
    errors = []
    if meta["baseline"] not in meta["scenarios"]:
        errors.append(
            f"`baseline` is {meta['baseline']!r}, but it must be one of the scenarios run {meta['scenarios']}"
        )
    if not 0 < float(meta["confidence"]) < 1:
        errors.append(f"`confidence` is {meta['confidence']}, but it must be between 0 and 1 (e.g. 0.95)")
    if float(meta.get("clv_discount_rate", 0.10)) < 0:
        errors.append(f"`clv_discount_rate` is {meta['clv_discount_rate']}, but it must be at least 0")
    errors += adjustment_errors(str(meta["multiple_comparisons"]))
    try:
        errors += report_errors(_report_conf(meta["report"]))
    except Exception:  # settings written by hand into comparison.json; OmegaConf's error types vary
        errors.append(f"`report` in comparison.json is {meta['report']!r}, which is not a valid set of report settings")
    return errors


def load_comparison(directory: str | Path, changes: Mapping[str, Any] | None = None) -> Comparison:
    """A finished comparison read back from its directory, optionally presented with other settings.

    Args:
        directory: A directory written by ``silosim-compare`` (or exported from the dashboard).
        changes: Presentation settings to apply (:data:`REBUILD_SETTINGS`: ``baseline``, ``confidence``,
            ``multiple_comparisons``, ``clv_discount_rate``, ``name``, ``report.*``), dotted keys.

    Returns:
        The comparison with its summary recomputed under those settings.

    Raises:
        ConfigError: If the directory is not a finished comparison, or a setting is invalid.
    """
    path = Path(directory).expanduser()
    meta = _read_meta(path)
    damaged = damaged_runs(path, meta)
    if damaged:
        raise ConfigError(_damage_message(path, meta, damaged))
    meta.setdefault("multiple_comparisons", DEFAULT_ADJUSTMENT)
    meta.setdefault("clv_discount_rate", 0.10)
    meta["report"] = {**asdict(ReportConf()), **meta.get("report", {})}
    _apply_changes(meta, changes or {})
    errors = _rebuild_errors(meta)
    if errors:
        raise ConfigError("; ".join(errors) + ".")
    meta["report"] = _report_meta(meta["report"])
    runs = load_runs(path / "runs", float(meta["clv_discount_rate"]))
    done = set(runs.outcomes["scenario"]) if not runs.outcomes.empty else set()
    if meta["baseline"] not in done:
        raise ConfigError(
            f"`baseline` is {meta['baseline']!r}, but '{path}' holds no complete run of it; choose one of "
            f"{sorted(done) or 'the scenarios run (there are no complete runs)'}."
        )
    configs = _run_configs(runs)
    titles, descriptions = scenario_labels(configs)
    meta["titles"] = {**titles, **meta.get("titles", {})}
    meta["descriptions"] = {**descriptions, **meta.get("descriptions", {})}
    comparison = Comparison(path, runs, pd.DataFrame(), meta, configs)
    comparison.summary = summarise(comparison)
    return comparison


def rebuild_changes(arguments: Sequence[str]) -> dict[str, Any]:
    """The presentation settings given to ``silosim-compare from=DIR``, typed and checked.

    Args:
        arguments: ``key=value`` arguments other than ``from=``.

    Returns:
        Dotted key -> value, for the keys given.

    Raises:
        ConfigError: For a setting that would need new runs, an unknown one, or a value of the wrong type.
    """
    given = []
    for arg in arguments:
        if "=" not in arg:
            raise ConfigError(f"`{arg}` is not a setting: {PROG} takes key=value settings, e.g. report.client=Acme")
        key = arg.partition("=")[0].lstrip("+~")
        if key.split(".", 1)[0] not in REBUILD_SETTINGS:
            raise ConfigError(
                f"`{key}` cannot be given with `from`: rebuilding presents the runs already made, and "
                f"{key} would need new ones. Allowed with from=DIR: {', '.join(REBUILD_SETTINGS)} (report.client, "
                "report.title, report.logo, report.theme.*, report.paper, report.pdf, report.template_dir); run "
                f"{PROG} without from= to make new runs"
            )
        given.append((key, quoted(arg)))
    typed = OmegaConf.structured(compose_compare([arg for _, arg in given]))
    changes = {}
    for key, _ in given:
        value = OmegaConf.select(typed, key)
        changes[key] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return changes


def rebuild_comparison(
    directory: str | Path, arguments: Sequence[str], present: Present, command: Sequence[str] = ()
) -> Comparison:
    """Rebuild a finished comparison's summary, figures, report and exports in place, without running anything.

    Everything is written into a temporary directory inside the comparison first; only when all of it is
    written does it replace the previous deliverables (a deliverable not written this time, such as a PDF
    when Chromium has gone, is removed so no stale numbers remain). runs/, comparison.parquet and runs.csv
    are left as they are.

    Args:
        directory: The comparison directory.
        arguments: Presentation settings as ``key=value`` (:data:`REBUILD_SETTINGS`).
        present: Writes the deliverables into a directory.
        command: The command line, recorded in comparison.json under ``rebuilds``.

    Returns:
        The comparison as now presented.

    Raises:
        ConfigError: For a directory that is not a finished comparison, or bad settings.
    """
    comparison = load_comparison(directory, rebuild_changes(arguments))
    stamp = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
    comparison.meta.setdefault("rebuilds", []).append({"at": stamp, "command": shlex.join(command)})
    target = comparison.out
    work = target / f".rebuild.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        _write_summary(work, comparison)
        if comparison.meta.get("uncertainty") and (target / DRAWS_DIR).is_dir():  # at the new settings, too
            comparison.meta["uncertainty"] = summarise_draws(
                target, comparison.runs.outcomes, comparison.meta["uncertainty"], comparison.baseline,
                comparison.order, [o.name for o in comparison_outcomes()], comparison.confidence,
                float(comparison.meta["clv_discount_rate"]), target=work,
            )  # fmt: skip
        present(work, comparison)
        _write_meta(work, comparison)
        _swap_in(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return comparison


def _swap_in(work: Path, target: Path) -> None:
    """Move every deliverable written in ``work`` into ``target`` (comparison.json last); drop stale ones."""
    written = {p.name for p in work.iterdir()}
    for name in [n for n in DELIVERABLES if n != "comparison.json"] + ["comparison.json"]:
        new, old = work / name, target / name
        if name not in written:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
            continue
        if new.is_dir():
            aside = target / f".{name}.old-{os.getpid()}"
            if old.exists():
                old.rename(aside)
            new.rename(old)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(new, old)


def assemble_comparison(
    out: Path,
    run_dirs: Sequence[Path],
    meta: dict[str, Any],
    present: Present | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> Comparison:
    """A comparison directory from complete run directories made elsewhere (the dashboard's A/B what-if).

    The directory is built under a temporary name and renamed into place when complete, like one that
    ``silosim-compare`` runs itself; it can be reopened with ``silosim-compare from=DIR``.

    Args:
        out: The comparison directory to write (must not exist or be empty).
        run_dirs: Complete run directories named ``<scenario>_s<seed>``; copied into ``runs/``.
        meta: The comparison's settings, as comparison.json holds them.
        present: Writes the deliverables.
        extra_files: Relative path -> text of further files (e.g. the what-if's scenario file).

    Returns:
        The comparison.

    Raises:
        ConfigError: If ``out`` holds files already.
    """
    require_fresh(out, "out", "comparisons")
    with atomic_directory(out) as work:
        for run in run_dirs:
            shutil.copytree(run, work / "runs" / Path(run).name)
        for name, text in (extra_files or {}).items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text, encoding="utf-8")
        (work / "comparison.json").write_text(json.dumps(meta, indent=2) + "\n")
        comparison = load_comparison(work)
        _write_tables(work, comparison)
        if present is not None:
            present(work, comparison)
    comparison.out = out
    comparison.runs.runs["path"] = [str(out / "runs" / Path(x).name) for x in comparison.runs.runs["path"]]
    return comparison
