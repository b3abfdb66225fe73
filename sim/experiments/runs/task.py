"""The job every run directory comes from: the Hydra task of ``silosim``, on every backend of the executor.

:func:`task` builds, runs and writes one model (or skips it when its directory already holds the same
complete run, which is how a rerun resumes a sweep). :func:`prepare` checks a command line before
Hydra creates anything (a user error leaves no directory behind) and :func:`launch` runs it as one
run or a multirun. The ``silosim`` console script (:mod:`sim.commands.run`) is a thin shell over
them; :func:`sim.experiments.runs.executor.launch_multirun` starts this module itself
(``python -m sim.experiments.runs.task -m ...``) for a comparison's or a design's runs.

A job never prints a user error or exits: it raises :class:`TaskExit` (a ``SystemExit`` carrying
the message), which Hydra's launchers hand back to the driver, where the console script prints it
as one paragraph. Importing this module registers the schema, the job-directory resolver, silosim's
Hydra plugins and the user's scenario and experiment directories (recorded in the environment by the
parent), which a launcher's worker process needs before it composes or names a job.
"""

from __future__ import annotations

import contextlib
import faulthandler
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
from sim.config import ConfigError, checked_config, register_group_dir
from sim.config.compose import (
    CONF_MODULE,
    prepare_calibration_overrides,
    register_user_dirs_from_environment,
    split_user_dirs,
)
from sim.experiments.analysis.outcomes import run_summary
from sim.experiments.runs.executor import PARENT_ENV
from sim.experiments.runs.files import check_writable, os_error_message
from sim.experiments.runs.orphans import terminate_as_interrupt
from sim.experiments.runs.resources import check_memory, describe_time
from sim.experiments.runs.rundir import execute_run, record_failure, register_resolvers
from sim.experiments.sweeps.plan import plan_multirun

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.engine.model import SiloModel

__all__ = ["SWEEP_JOBS_ENV", "TaskExit", "launch", "main", "prepare", "print_summary", "task", "watch_parent"]

PROG = "silosim"
# Set by ``silosim -m`` for its jobs (which may run in other processes): how many jobs the sweep has.
SWEEP_JOBS_ENV = "SILOSIM_SWEEP_JOBS"
PARENT_POLL_SECONDS = 0.5
EXIT_USER_ERROR = 2  # as sim.commands._common: bad input, nothing written
EXIT_OS_ERROR = 4  # as sim.commands._common: the system refused to write
EXIT_INTERRUPTED = 130


class TaskExit(SystemExit):
    """A job's user error or refused write: the exit status and the one paragraph the console prints."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code)
        self.message = message

    def __reduce__(self) -> tuple:  # a job's exception travels back from a worker process
        return (TaskExit, (self.code, self.message))


def print_summary(model: SiloModel, run_dir: Path) -> None:
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
def task(cfg: DictConfig) -> None:
    """Hydra task: build, run and write one model (or skip it if its directory already holds it).

    In a multirun, a run that fails with an unexpected error (not a user error, which stops the sweep)
    leaves ``error.txt`` and ``job.json`` (scenario, seed, overrides) in its directory instead of
    stopping the sweep, so the other runs complete and the failure can be reported by scenario and
    seed; resuming the sweep reruns it.

    Raises:
        TaskExit: A user error or a refused write (a full disk), in a sweep too: the sweep stops.
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
        raise TaskExit(EXIT_USER_ERROR, str(exc)) from None
    except Exception as exc:
        message = os_error_message(exc, f"writing the run directory {run_dir}")
        if message is not None:  # a full disk: one paragraph, and no run directory is left
            with contextlib.suppress(OSError):
                run_dir.rmdir()
            # in a sweep too: the whole sweep stops and its driver says why, once; complete runs are kept for a rerun
            raise TaskExit(EXIT_OS_ERROR, message) from None
        if not multirun:
            raise
        job = record_failure(run_dir, cfg, overrides, exc)
        print(f"{PROG}: run failed: scenario {job['scenario']}, seed {job['seed']}: {exc!r}", file=sys.stderr)
        return
    if model is None:
        where = f"{run_dir} already holds this run (same configuration, {run_dir / 'COMPLETE'} present); nothing to do."
        print(f"{PROG}: {label} skipped, already complete: {run_dir}" if multirun else where, flush=True)
    elif multirun:
        elapsed = time.perf_counter() - started
        final_nps = model.records[-1]["true_nps"] if model.records else float("nan")  # summary.json's final.true_nps
        print(f"{PROG}: {label} done in {elapsed:.2f} s (true NPS {final_nps:+.1f}): {run_dir}", flush=True)
    else:
        print_summary(model, run_dir)


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
        check_memory(plan.customers, plan.weeks, plan.warmup_weeks, plan.workers, "hydra.launcher.n_jobs")
        took = describe_time(plan.jobs, plan.customers, plan.weeks, plan.warmup_weeks, plan.workers)
        print(f"{PROG}: sweep of {plan.jobs} runs{rows}, {took}", flush=True)
        return plan.overrides
    if not flags:
        typed = checked_config(overrides)
        check_memory(typed.customers, typed.weeks, typed.warmup_weeks, 1)
    return overrides


def prepare(argv: list[str]) -> list[str]:
    """A command line checked and ready to launch: user directories registered, a calibration file applied.

    Raises:
        ConfigError: For bad input (nothing has been created).
    """
    overrides, dirs = split_user_dirs(argv)
    for group, directory in dirs.items():
        register_group_dir(group, directory)
    overrides = prepare_calibration_overrides(overrides)
    multirun = any(a in ("-m", "--multirun") for a in overrides)
    return _check(overrides, multirun)


def launch(overrides: list[str]) -> None:
    """Run the prepared command line through Hydra: one run, or a multirun on the chosen launcher.

    Raises:
        TaskExit: A job's user error or refused write.
        KeyboardInterrupt: Ctrl-C or SIGTERM (the workers are stopped; complete runs are kept).
    """
    sys.argv = [sys.argv[0] if sys.argv else PROG, *overrides]
    terminate_as_interrupt()  # SIGTERM shuts a sweep's workers down as Ctrl-C does
    # `kill -USR1 PID` prints every thread's stack to stderr (where a sweep hangs); not where stderr is no real file
    # (a test capturing it in-process: io.UnsupportedOperation, an OSError)
    if hasattr(signal, "SIGUSR1"):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            faulthandler.register(signal.SIGUSR1, all_threads=True)
    task()


def watch_parent() -> None:
    """A sweep started by another silosim command stops its process group (its workers) if that command dies.

    Only a sweep that leads its own process group (as :func:`sim.experiments.runs.executor.launch_multirun` starts
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


def main(argv: list[str]) -> int:
    """The multirun process :func:`~sim.experiments.runs.executor.launch_multirun` starts; its output goes to a log.

    The command that starts it has checked the settings; an error is still reported, on one line.

    Returns:
        The exit status.
    """
    watch_parent()
    try:
        launch(prepare(argv))
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TaskExit as exc:
        print(f"{PROG}: error: {exc.message}", file=sys.stderr)
        return int(exc.code or 1)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; complete runs are kept (the same command resumes).", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


# What a launcher's worker needs before it composes or names a job, and the driver before Hydra instantiates
# silosim's launcher and sweeper (an editable install hides them from Hydra's plugin scan).
register_user_dirs_from_environment()
register_resolvers()
register_plugins()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
