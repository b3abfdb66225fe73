"""``silosim-compare``: scenarios x replications with common random numbers, aggregated into a report.

    silosim-compare                                   # the headline comparison (conf/comparison/headline.yaml)
    silosim-compare replications=5 customers=5000 weeks=104
    silosim-compare scenarios=[siloed_scorecards,our_plan] scenario_dir=./my_scenarios
    silosim-compare comparison=all_scenarios out=outputs/board_pack
    silosim-compare calibration=outputs/calibrate/<run>/calibrated.yaml   # calibrated to a client

The runs are one Hydra multirun of the ``silosim`` app (``scenario=a,b,... seed=range(s,s+R)``)
through Hydra's joblib launcher on all cores, so replication r of every scenario uses seed
s + r: the scenarios see the same random draws wherever their mechanisms agree, and the
differences against the baseline are paired. The comparison directory is assembled under a
temporary name and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.analysis import RunSet, load_runs, summary_table
from sim.cli import available_scenarios, register_scenario_dir, user_error
from sim.config import CONF_DIR, ConfigError, compose_config, to_config, validate
from sim.outputs import MARKER

__all__ = ["CompareConf", "compare", "compose_compare", "main", "print_summary", "run_comparison"]

PROG = "silosim-compare"


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


LAUNCHERS = ("joblib", "basic")


def _explain(exc: Exception) -> str:
    """One sentence for a composition error of the comparison's own settings."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
    text = str(cause).splitlines()[0] if str(cause) else str(exc)
    allowed = ", ".join(f.name for f in CompareConf.__dataclass_fields__.values())
    if "Could not find 'comparison/" in str(exc):
        names = sorted(p.stem for p in (CONF_DIR / "comparison").glob("*.yaml"))
        return f"{exc}. Allowed comparisons: {', '.join(names)}."
    if key and "not in" in text:
        return f"`{key}` is not a setting of {PROG}. Allowed settings: {allowed}."
    if key:
        return f"`{key}` could not be set: {text}. Settings and their types: see README, 'The main job'."
    return f"The comparison settings could not be read: {text}"


def compose_compare(overrides: list[str]) -> tuple[CompareConf, DictConfig]:
    """Compose the comparison settings from ``conf/compare.yaml`` and command-line overrides.

    Args:
        overrides: Hydra-style ``key=value`` overrides.

    Returns:
        The typed settings and the composed config.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    ConfigStore.instance().store(name="compare_schema", node=CompareConf)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="compare", overrides=overrides)
    obj = OmegaConf.to_object(cfg)
    if not isinstance(obj, CompareConf):
        raise TypeError("conf/compare.yaml must be composed with the compare_schema")
    return obj, cfg


@dataclass
class Plan:
    """A validated comparison: the settings, each scenario's resolved configuration, the multirun."""

    conf: CompareConf
    baseline: str
    configs: dict[str, dict[str, Any]]
    command: list[str]
    out: Path


def _model_overrides(c: CompareConf) -> list[str]:
    return [f"customers={c.customers}", f"weeks={c.weeks}", *c.overrides]


def plan(c: CompareConf) -> Plan:
    """Check every setting and every scenario's configuration before anything runs.

    Args:
        c: The comparison settings.

    Returns:
        The plan.

    Raises:
        ConfigError: With one paragraph naming the setting, its value and what is allowed.
    """
    errors = []
    extra = Path(c.scenario_dir) if c.scenario_dir else None
    known = available_scenarios(extra)
    if not c.scenarios:
        errors.append("`scenarios` is empty, but it must list at least two scenarios to compare")
    unknown = [s for s in c.scenarios if s not in known]
    if unknown:
        errors.append(
            f"`scenarios` names {unknown}, which do not exist. Allowed: {', '.join(known)} (add your own "
            "with scenario_dir=PATH)"
        )
    if len(set(c.scenarios)) != len(c.scenarios):
        errors.append(f"`scenarios` is {c.scenarios}, but each scenario may appear only once")
    baseline = c.baseline or (c.scenarios[0] if c.scenarios else "")
    if c.scenarios and baseline not in c.scenarios:
        errors.append(f"`baseline` is {baseline!r}, but it must be one of the scenarios {c.scenarios}")
    if c.replications < 2:
        errors.append(f"`replications` is {c.replications}, but at least 2 are needed for a confidence interval")
    if c.customers < 1 or c.weeks < 1:
        errors.append(f"`customers` is {c.customers} and `weeks` is {c.weeks}, but both must be at least 1")
    if c.first_seed < 0:
        errors.append(f"`first_seed` is {c.first_seed}, but it must be at least 0")
    if c.n_jobs == 0 or c.n_jobs < -1:
        errors.append(f"`n_jobs` is {c.n_jobs}, but it must be -1 (all cores) or a positive number of parallel runs")
    if c.launcher not in LAUNCHERS:
        errors.append(f"`launcher` is {c.launcher!r}, but it must be one of {list(LAUNCHERS)}")
    if not 0 < c.confidence < 1:
        errors.append(f"`confidence` is {c.confidence}, but it must be between 0 and 1 (e.g. 0.95)")
    if c.clv_discount_rate < 0:
        errors.append(f"`clv_discount_rate` is {c.clv_discount_rate}, but it must be at least 0")
    out = Path(c.out) if c.out else Path("outputs/comparisons") / f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{c.name}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        errors.append(
            f"`out` is '{out}', but it already exists and is not empty; choose a new directory "
            "(comparisons are never overwritten)"
        )
    if errors:
        raise ConfigError("; ".join(errors) + ".")

    configs: dict[str, dict[str, Any]] = {}
    for scenario in c.scenarios:
        overrides = [f"scenario={scenario}", *_model_overrides(c)]
        try:
            cfg = compose_config(overrides)
            validate(to_config(cfg))
        except ConfigError as exc:
            raise ConfigError(f"Scenario '{scenario}' with overrides {c.overrides}: {exc}") from exc
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            from sim.cli import _explain as explain_model

            raise ConfigError(f"Scenario '{scenario}': {explain_model(exc, overrides, extra)}") from exc
        configs[scenario] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]

    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "-m",
        f"scenario={','.join(c.scenarios)}",
        f"seed=range({c.first_seed},{c.first_seed + c.replications})",
        *_model_overrides(c),
        "output.customers=false",
        "output.progress=false",
        "hydra.sweep.subdir=${hydra:runtime.choices.scenario}_s${seed}",
    ]
    if c.launcher == "joblib":
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={c.n_jobs}"]
    else:
        command.append("hydra/launcher=basic")
    if c.scenario_dir:
        command.append(f"scenario_dir={Path(c.scenario_dir).resolve()}")
    return Plan(c, baseline, configs, command, out)


# ----------------------------------------------------------------------- running
def _finished(runs_dir: Path) -> tuple[int, int]:
    """Completed and failed runs so far."""
    if not runs_dir.exists():
        return 0, 0
    done = failed = 0
    for p in runs_dir.iterdir():
        if p.name.startswith("."):
            continue
        if (p / MARKER).exists():
            done += 1
        elif (p / "error.txt").exists():
            failed += 1
    return done, failed


def _fmt_time(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _launch(p: Plan, work: Path, total: int) -> int:
    """Run the multirun into ``work/runs``, showing progress; return its exit status."""
    runs_dir = work / "runs"
    (work / "logs").mkdir(parents=True)
    log = (work / "logs" / "runs.log").open("w")
    cmd = [*p.command, f"hydra.sweep.dir={runs_dir.resolve()}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # noqa: S603
    start, last_print, last_count = time.monotonic(), 0.0, -1
    tty = sys.stderr.isatty()
    try:
        while True:
            rc = proc.poll()
            done, failed = _finished(runs_dir)
            count = done + failed
            now = time.monotonic()
            elapsed = now - start
            if count != last_count and (
                tty or count == total or now - last_print >= 10 or count - last_count >= max(1, total // 10)
            ):
                eta = f", about {_fmt_time(elapsed / count * (total - count))} left" if 0 < count < total else ""
                fails = f", {failed} failed" if failed else ""
                line = f"  runs {count}/{total} done{fails}, elapsed {_fmt_time(elapsed)}{eta}"
                print(("\r" + line.ljust(70)) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
                last_print, last_count = now, count
            if rc is not None:
                if tty:
                    print(file=sys.stderr)
                return rc
            time.sleep(0.5)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    finally:
        log.close()


def run_comparison(p: Plan, argv: list[str]) -> tuple[Path, RunSet, pd.DataFrame]:
    """Run the plan and write the comparison directory.

    Args:
        p: A validated plan.
        argv: The command-line overrides (for the reproduce command in the report).

    Returns:
        The comparison directory, the runs and the summary table.
    """
    from sim.figures import make_figures
    from sim.report import write_report

    c = p.conf
    total = len(c.scenarios) * c.replications
    p.out.parent.mkdir(parents=True, exist_ok=True)
    work = p.out.parent / f".{p.out.name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        workers = os.cpu_count() if c.n_jobs == -1 else c.n_jobs
        how = f"{workers} parallel" if c.launcher == "joblib" else "one at a time"
        print(
            f"{PROG}: {len(c.scenarios)} scenarios x {c.replications} replications = {total} runs of "
            f"{c.customers:,} customers x {c.weeks} weeks ({how})",
            file=sys.stderr,
        )
        started = time.monotonic()
        rc = _launch(p, work, total)
        wall = time.monotonic() - started
        runs = load_runs(work / "runs", c.clv_discount_rate)
        if runs.outcomes.empty:
            tail = (work / "logs" / "runs.log").read_text().splitlines()[-15:]
            raise RuntimeError(f"no run completed (exit status {rc}); last lines of the run log:\n" + "\n".join(tail))
        ok = set(runs.outcomes["scenario"])
        missing = [s for s in c.scenarios if s not in ok]
        if p.baseline in missing:
            raise RuntimeError(f"every run of the baseline '{p.baseline}' failed; nothing to compare against")
        order = [s for s in c.scenarios if s in ok]
        summary = summary_table(runs.outcomes, p.baseline, order, c.confidence)
        metrics = runs.metrics
        metrics.to_parquet(work / "comparison.parquet", index=False, compression="zstd")
        summary.to_csv(work / "summary.csv", index=False, float_format="%.6g")
        runs.runs.assign(path=[str(Path(x).name) for x in runs.runs["path"]]).to_csv(work / "runs.csv", index=False)
        figures = make_figures(runs, summary, order, p.baseline, work / "figures", c.confidence)
        meta = {
            "name": c.name,
            "scenarios": c.scenarios,
            "baseline": p.baseline,
            "replications": c.replications,
            "seeds": list(range(c.first_seed, c.first_seed + c.replications)),
            "customers": c.customers,
            "weeks": c.weeks,
            "overrides": c.overrides,
            "confidence": c.confidence,
            "clv_discount_rate": c.clv_discount_rate,
            "wall_seconds": round(wall, 1),
            "launcher": c.launcher,
            "n_jobs": c.n_jobs,
            "failed_runs": runs.failures[["scenario", "seed", "error"]].to_dict("records"),
            "command": " ".join([PROG, *(shlex.quote(a) for a in argv)]),
        }
        (work / "comparison.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_report(work / "report.html", summary, runs, figures, meta, p.configs)
        work.rename(p.out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # the run directories moved with the comparison; point the table at their final place
    runs.runs["path"] = [str(p.out / "runs" / Path(x).name) for x in runs.runs["path"]]
    return p.out, runs, summary


# ------------------------------------------------------------------------ output
def print_summary(summary: pd.DataFrame, baseline: str, confidence: float) -> None:
    """The table a strategist reads first: each scenario's outcomes and its paired effect."""
    pct = f"{round(100 * confidence)}%"
    header = (
        f"{'Scenario':<24} {'True NPS':>9} {'vs baseline (' + pct + ' CI)':>26} {'Retention':>10} "
        f"{'vs baseline, pts':>22} {'Customers':>10} {'Revenue':>14} {'CLV':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for _, r in summary.iterrows():
        base = r["scenario"] == baseline
        nps_d = (
            "baseline"
            if base
            else (f"{r['true_nps_diff']:+.1f} ({r['true_nps_diff_ci_low']:+.1f} to {r['true_nps_diff_ci_high']:+.1f})")
        )
        ret_d = (
            "baseline"
            if base
            else (
                f"{100 * r['annual_retention_diff']:+.1f} ({100 * r['annual_retention_diff_ci_low']:+.1f} to "
                f"{100 * r['annual_retention_diff_ci_high']:+.1f})"
            )
        )
        print(
            f"{r['scenario']:<24} {r['true_nps_mean']:>+9.1f} {nps_d:>26} {100 * r['annual_retention_mean']:>9.1f}% "
            f"{ret_d:>22} {r['active_customers_mean']:>10,.0f} {r['cumulative_revenue_mean']:>14,.0f} "
            f"{r['customer_lifetime_value_mean']:>8,.0f}"
        )


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate comparison settings from model overrides.

    ``replications=5`` sets the comparison; a model key such as ``governance.communication=0.9`` or
    ``track_customers=10`` is applied to every scenario (it is added to ``overrides``).

    Args:
        argv: ``key=value`` arguments.

    Returns:
        The comparison's own overrides and the model overrides.

    Raises:
        ConfigError: For an argument that is neither.
    """
    from sim.config import SiloConfig

    own = set(CompareConf.__dataclass_fields__)
    model_top = set(SiloConfig.__dataclass_fields__) - {"seed", "scenario_name"}
    mine, model = [], []
    for arg in argv:
        if "=" not in arg:
            raise ConfigError(
                f"`{arg}` is not a setting: {PROG} takes key=value settings, e.g. replications=5 "
                "customers=5000 (see --help)"
            )
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        top = key.split(".", 1)[0]
        if key in own or key == "comparison":  # `comparison` picks a file of conf/comparison/
            mine.append(arg)
        elif key == "calibration":  # a calibrated file from silosim-calibrate, applied to every scenario
            model.append(f"calibration={Path(value).expanduser().resolve()}")
        elif top in model_top or top in ("journey", "org"):
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


def _arg_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_arg_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def compare(out: str | Path, **settings: Any) -> tuple[Path, RunSet, pd.DataFrame]:
    """Run a comparison from Python (a notebook, a script), with the settings of the command line.

    Example::

        out, runs, summary = compare("outputs/nb", scenarios=["siloed_scorecards", "closed_loop_followup"],
                                     replications=5, customers=3000, weeks=104)

    Model parameters are passed with their dotted key as a string: ``**{"governance.communication": 0.9}``.

    Args:
        out: Output directory (must not exist).
        **settings: Comparison settings and model overrides.

    Returns:
        The comparison directory, the runs and the summary table.

    Raises:
        ConfigError: For bad settings (one paragraph naming the key, the value and what is allowed).
    """
    args = [f"{k}={_arg_value(v)}" for k, v in settings.items()] + [f"out={out}"]
    mine, model = split_arguments(args)
    conf, _ = compose_compare(mine)
    conf.overrides = [*conf.overrides, *model]
    if conf.scenario_dir:
        register_scenario_dir(conf.scenario_dir, PROG)
    return run_comparison(plan(conf), args)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-compare`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        print("Settings (key=value):", ", ".join(CompareConf.__dataclass_fields__), file=sys.stdout)
        print("Any model parameter (docs/parameters.md) given as key=value is applied to every scenario.")
        return
    try:
        mine, model = split_arguments(argv)
    except ConfigError as exc:
        user_error(str(exc), PROG)
    try:
        conf, _ = compose_compare(mine)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        user_error(_explain(exc), PROG)
    conf.overrides = [*conf.overrides, *model]
    if conf.scenario_dir:
        register_scenario_dir(conf.scenario_dir, PROG)
    try:
        p = plan(conf)
    except ConfigError as exc:
        user_error(str(exc), PROG)
    try:
        out, runs, summary = run_comparison(p, argv)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; nothing was written.", file=sys.stderr)
        sys.exit(130)
    except RuntimeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    print_summary(summary, p.baseline, conf.confidence)
    failures = runs.failures
    if not failures.empty:
        print(f"\n{len(failures)} run(s) failed and are left out of the comparison:")
        for _, f in failures.iterrows():
            print(f"  {f['scenario']}, seed {f['seed']}: {f['error']} ({f['path']})")
    print(f"\nComparison directory: {out}")
    print(f"Report: {out / 'report.html'}")
    if not failures.empty:
        sys.exit(1)


if __name__ == "__main__":
    main()
