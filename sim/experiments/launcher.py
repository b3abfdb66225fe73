"""The one multirun launcher: a ``silosim -m`` sweep in its own process group, with progress.

``silosim-compare`` and ``silosim-sensitivity`` both run their runs as one Hydra multirun of the
``silosim`` app, so the runs go through whichever Hydra launcher the arguments choose (joblib on
this machine's cores by default, SLURM through submitit, Ray), write complete run directories or
nothing, and resume when the same sweep directory is run again. While the sweep works this prints
how many runs are complete and how many failed, the elapsed time and an estimate of the time left;
interrupting it (Ctrl-C) stops the whole process group, workers included. If this process dies
without a chance to clean up (SIGKILL, a closed laptop, a lost node), the sweep notices within a
second (``SILOSIM_PARENT_PID``, watched by :mod:`sim.commands.run`) and stops its process group, so
a rerun never races the remains of the attempt it resumes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.experiments.runs.rundir import count_runs

__all__ = ["PARENT_ENV", "LaunchResult", "fmt_duration", "launch_multirun"]

# Set for a sweep started by launch_multirun: the pid of the process that started it (see sim.commands.run).
PARENT_ENV = "SILOSIM_PARENT_PID"

POLL_SECONDS = 0.5
PRINT_EVERY_SECONDS = 10.0  # when stderr is not a terminal: a line at most this often (and every 10% of runs)


@dataclass(frozen=True)
class LaunchResult:
    """How a sweep ended."""

    returncode: int
    done: int
    failed: int
    wall_seconds: float


def fmt_duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def launch_multirun(
    arguments: list[str], sweep_dir: Path, total: int, log: Path, keep_open: Sequence[int] = ()
) -> LaunchResult:
    """Run ``silosim -m ARGUMENTS hydra.sweep.dir=SWEEP_DIR`` and report progress on stderr until it ends.

    Args:
        arguments: The multirun's overrides (scenario, seed and model settings, launcher choice).
        sweep_dir: The sweep directory (a stable one resumes an interrupted sweep).
        total: Runs the sweep holds, for the progress lines.
        log: File the sweep's own output is appended to.
        keep_open: File descriptors the sweep process inherits (a lock it holds as long as it runs).

    Returns:
        The exit status and the complete and failed runs in the sweep directory.
    """
    command = [sys.executable, "-m", "sim.commands.run", "-m", *arguments, f"hydra.sweep.dir={sweep_dir.resolve()}"]
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
    started = time.monotonic()
    with log.open("a") as handle:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True, pass_fds=tuple(keep_open)
        )
        try:
            returncode = _watch(process, sweep_dir, total, started)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
    done, failed = count_runs(sweep_dir)
    return LaunchResult(returncode, done, failed, time.monotonic() - started)


def _watch(process: subprocess.Popen, sweep_dir: Path, total: int, started: float) -> int:
    """Print a progress line whenever the count of finished runs changes (throttled off a terminal)."""
    tty = sys.stderr.isatty()
    last_print, last_count = 0.0, -1
    while True:
        returncode = process.poll()
        done, failed = count_runs(sweep_dir)
        count, now = done + failed, time.monotonic()
        elapsed = now - started
        due = tty or count == total or now - last_print >= PRINT_EVERY_SECONDS
        if count != last_count and (due or count - last_count >= max(1, total // 10)):
            left = f", about {fmt_duration(elapsed / count * (total - count))} left" if 0 < count < total else ""
            fails = f", {failed} failed" if failed else ""
            line = f"  runs {count}/{total} done{fails}, elapsed {fmt_duration(elapsed)}{left}"
            print(("\r" + line.ljust(70)) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            last_print, last_count = now, count
        if returncode is not None:
            if tty:
                print(file=sys.stderr)
            return returncode
        time.sleep(POLL_SECONDS)
