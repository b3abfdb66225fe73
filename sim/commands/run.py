"""The ``silosim`` command: a Hydra app that runs one scenario and writes a run directory.

    silosim scenario=closed_loop_followup customers=50000 weeks=156 seed=7
    silosim scenario=my_case scenario_dir=./my_scenarios
    silosim -m scenario=siloed_scorecards,shared_stage_metrics seed=0,1,2 hydra.sweep.dir=outputs/sweep
    silosim -m experiment=lhs_example
    silosim calibration=outputs/calibrate/<run>/calibrated.yaml scenario=closed_loop_followup

User errors (an unknown scenario, a bad value, a missing file) print one paragraph and exit with
status 2, with no traceback and no run directory. A multirun is checked the same way before any
job starts. A job whose directory already holds a complete run of the same configuration is
skipped, so re-running an interrupted sweep with the same command resumes it.

This module is also the task that Hydra's launchers run in their worker processes: importing it
registers the schema, the job-directory resolver and the user's scenario and experiment
directories (recorded in the environment by the parent), which the workers need before they
compose or name a job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from hydra_plugins.silosim_plugins import register as register_plugins
from sim.commands._common import EXIT_INTERRUPTED, EXIT_OS_ERROR, paragraph, user_error, user_errors, wants_help
from sim.config import ConfigError, checked_config, group_options, register_group_dir
from sim.config.compose import (
    CONF_MODULE,
    prepare_calibration_overrides,
    register_user_dirs_from_environment,
    split_user_dirs,
)
from sim.experiments.analysis.outcomes import run_summary
from sim.experiments.launcher import PARENT_ENV
from sim.experiments.runs.files import check_writable, os_error_message
from sim.experiments.runs.orphans import terminate_as_interrupt
from sim.experiments.runs.resources import check_memory
from sim.experiments.runs.rundir import execute_run, record_failure, register_resolvers
from sim.experiments.sweeps.plan import plan_multirun

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.engine.model import SiloModel

__all__ = ["main"]

PROG = "silosim"
# Set by ``silosim -m`` for its jobs (which may run in other processes): how many jobs the sweep has.
SWEEP_JOBS_ENV = "SILOSIM_SWEEP_JOBS"
PARENT_POLL_SECONDS = 0.5

HELP = """\
silosim: run one what-if scenario of the silo model and write its run directory.

Usage:  silosim [key=value ...]            one run
        silosim -m [key=a,b,c ...]         a sweep (Hydra multirun; resumes when rerun)

Common settings:
  scenario=NAME        the what-if scenario (default siloed_scorecards); one of:
                       {scenarios}
  scenario_dir=PATH    a directory of your own scenario files (<name>.yaml)
  customers=N          initial customers (default 20000)
  weeks=N              horizon in weeks (default 156, three years)
  seed=N               root seed; the same seed gives byte-identical metrics
  calibration=PATH     a calibrated.yaml written by silosim-calibrate
  output.customers=false   skip customers.parquet (large sweeps)
  hydra.run.dir=PATH   where the run directory goes (default outputs/runs/<time>_<scenario>_s<seed>)
  experiment=NAME      with -m: an experiment design (conf/experiment/: lhs_example, sobol_example, ...)
  any model parameter, e.g. governance.communication=0.9 (docs/parameters.md lists them all)

Outputs: metrics.parquet, departments.parquet, customers.parquet, summary.json, .hydra/config.yaml
(docs/reference/outputs.md). Exit status: 0 done, 1 a run failed, 2 bad input (nothing written), 4 the
system refused to write (a full disk, a read-only file system, a permission).

Other commands: silosim-compare (scenarios x replications, with a report), silosim-calibrate,
silosim-policy, silosim-sensitivity, silosim-collect, silosim-discover. Docs: README.md, docs/odd.md (the model),
docs/parameters.md (every parameter), docs/architecture.md (the code).
Hydra's own help: silosim --hydra-help."""


def _print_summary(model: SiloModel, run_dir: Path) -> None:
    """The short summary table a strategist reads first."""
    s = run_summary(model)
    final = s["final"]
    programme = s["programme"]
    rows = [
        ("Scenario", s["scenario"]),
        ("Seed", str(s["seed"])),
        ("Weeks simulated", str(s["weeks"])),
        ("True NPS (final)", f"{final['true_nps']:+.1f}"),
        ("Measured NPS (final, survey)", f"{final['measured_nps']:+.1f}"),
        ("Annual retention (last year)", f"{100 * final['annual_retention']:.1f}%"),
        ("Active customers (final)", f"{final['active_customers']:,}"),
        ("Revenue, whole run", f"{s['total']['revenue']:,.0f}"),
        ("Programme", "abandoned" if programme["abandoned"] else "active" if final["program_active"] else "none"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print(f"\nRun directory: {run_dir}")


@hydra.main(config_path=f"pkg://{CONF_MODULE}", config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    """Hydra task: build, run and write one model (or skip it if its directory already holds it).

    In a multirun, a run that fails with an unexpected error (not a user error, which stops the sweep)
    leaves ``error.txt`` and ``job.json`` (scenario, seed, overrides) in its directory instead of
    stopping the sweep, so the other runs complete and the failure can be reported by scenario and
    seed; resuming the sweep reruns it.
    """
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    label = ""
    if multirun:
        label = f"job {hc.job.num + 1}/{os.environ.get(SWEEP_JOBS_ENV, '?')} ({hc.job.override_dirname or 'defaults'})"
    started = time.perf_counter()
    overrides = list(hc.overrides.task)
    try:
        progress = bool(cfg.output.progress) and sys.stderr.isatty() and not multirun
        # a sweep's jobs share their Hydra configuration (the sweep's multirun.yaml): only a single run writes its own
        model = execute_run(cfg, run_dir, overrides, hydra_config=None if multirun else hc, progress=progress)
    except ConfigError as exc:  # a user error (bad value, a directory holding another run): stop, in a sweep too
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # the empty directory Hydra created
        user_error(str(exc), PROG)
    except Exception as exc:
        message = os_error_message(exc, f"writing the run directory {run_dir}")
        if message is not None and not multirun:  # a full disk: one paragraph, and no run directory is left
            with contextlib.suppress(OSError):
                run_dir.rmdir()
            print(paragraph(PROG, message), file=sys.stderr)
            sys.exit(EXIT_OS_ERROR)
        if not multirun:
            raise
        job = record_failure(run_dir, cfg, overrides, exc)
        print(f"{PROG}: run failed: scenario {job['scenario']}, seed {job['seed']}: {exc!r}", file=sys.stderr)
        return
    if model is None:
        where = f"{run_dir} already holds this run (same configuration, {run_dir / 'COMPLETE'} present); nothing to do."
        print(f"{PROG}: {label} skipped, already complete: {run_dir}" if multirun else where, flush=True)
    elif multirun:
        final = run_summary(model)["final"]
        elapsed = time.perf_counter() - started
        print(f"{PROG}: {label} done in {elapsed:.2f} s (true NPS {final['true_nps']:+.1f}): {run_dir}", flush=True)
    else:
        _print_summary(model, run_dir)


def _check(overrides: list[str], multirun: bool) -> list[str]:
    """Validate before Hydra creates anything, so a user error leaves no directory behind.

    Returns:
        The overrides to launch with (a multirun's design rows and job naming added).
    """
    key, default = ("hydra.sweep.dir", "outputs/multirun") if multirun else ("hydra.run.dir", "outputs/runs")
    given = next((a.split("=", 1)[1] for a in overrides if a.startswith(f"{key}=")), None)
    check_writable(given or default, key)  # before Hydra creates it, and before any run
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        given = next((a.split("=", 1)[1] for a in overrides if a.startswith(f"{key}=")), None)
        if given and Path(given).exists() and not Path(given).is_dir():
            raise ConfigError(
                f"`{key}` is '{given}', but that is a file; choose a directory (runs are never overwritten)."
            )
    flags = [a for a in overrides if a.startswith("-")]
    if multirun and flags in (["-m"], ["--multirun"]):
        plan = plan_multirun(overrides)
        os.environ[SWEEP_JOBS_ENV] = str(plan.jobs)
        rows = f" ({plan.design_rows} design rows)" if plan.design_rows else ""
        print(f"{PROG}: sweep of {plan.jobs} runs{rows}", flush=True)
        return plan.overrides
    if not flags:
        typed = checked_config(overrides)
        check_memory(typed.customers, typed.weeks, typed.warmup_weeks, 1)
    return overrides


def _stop_with_parent() -> None:
    """A sweep started by another silosim command stops its process group (its workers) if that command dies.

    Only a sweep that leads its own process group (as :func:`sim.experiments.launcher.launch_multirun` starts
    it) does this, so a user's shell is never signalled. Without it, a sweep whose command was killed would
    go on writing runs while the rerun of that command resumes the same directory.
    """
    parent = os.environ.pop(PARENT_ENV, None)
    if not parent or not parent.isdigit() or os.getpgrp() != os.getpid():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(PARENT_POLL_SECONDS)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="silosim-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _stop_with_parent()
    if wants_help(argv):
        print(HELP.format(scenarios=", ".join(group_options("scenario"))))
        return
    with user_errors(PROG):
        overrides, dirs = split_user_dirs(argv)
        for group, directory in dirs.items():
            register_group_dir(group, directory)
        overrides = prepare_calibration_overrides(overrides)
        multirun = any(a in ("-m", "--multirun") for a in overrides)
        overrides = _check(overrides, multirun)
    sys.argv = [sys.argv[0] if sys.argv else PROG, *overrides]
    terminate_as_interrupt()  # SIGTERM shuts a sweep's workers down as Ctrl-C does
    try:
        _app()
    except KeyboardInterrupt:  # the workers are stopped; complete runs are kept, a rerun resumes
        print(f"\n{PROG}: interrupted; complete runs are kept (the same command resumes).", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


# A launcher's worker imports this module to run the task: it needs these before it composes or names a job.
register_user_dirs_from_environment()
register_resolvers()
register_plugins()

if __name__ == "__main__":
    main()
