"""The one executor: every path that runs many models runs them here, on one backend chosen by one setting.

``launcher`` names the backend (:data:`LAUNCHERS`): ``local`` (this machine's cores, the default),
``joblib`` and ``basic`` (Hydra's own launchers, kept for comparison), ``slurm`` and ``slurm_local``
(submitit: a SLURM cluster, or its local executor for testing), and ``dask`` (a Dask distributed
cluster: a scheduler named by ``hydra.launcher.address=tcp://HOST:8786``, or a cluster of
``n_jobs`` worker processes started on this machine). The same :class:`Backend` serves the two
shapes of work:

* **run directories** (comparisons, their parameter draws, sweeps, sensitivity designs):
  :func:`launch_multirun` starts one ``silosim -m`` multirun of the Hydra task
  (:mod:`sim.experiments.runs.task`) in a process group of its own, with the backend's launcher
  arguments (:meth:`Backend.hydra_arguments`); silosim's Hydra launcher runs the jobs on long-lived
  loky workers or on the Dask cluster (:mod:`sim.experiments.sweeps.launching`), submitit's on SLURM.
  Every backend runs the same job, so a run directory is byte-for-byte the same whichever ran it;
  a job that fails leaves ``error.txt`` and ``job.json`` in its directory on every backend; a run
  already complete is skipped (resume); the progress lines count the run directories.
* **functions** (replications of calibrations and policy searches, the stylized facts, the dashboard's
  what-ifs, the ABC calibration's predictive draws): :func:`map_jobs` runs ``fn(item)`` for every
  item and returns the results in order, reporting progress as (done, total) and a failed job as one
  :class:`JobError` naming it (a user error, :class:`~sim.config.ConfigError`, passes through as
  itself), the same on every backend. The ABC calibration's own simulations go through pyabc's
  sampler for the backend (:func:`abc_sampler`: multicore, single core or Dask).

Why Dask and not Ray: Dask distributed is pure Python, in the main environment and the lock with no
pin (Ray's Hydra launcher pinned cloudpickle below 3, which joblib and submitit cannot use, so Ray
lived in a virtual environment of its own), pyabc samples on it (``DaskDistributedSampler``), and a
``distributed.LocalCluster`` starts in a second, which is what the suite tests against.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config import ConfigError
from sim.experiments.runs.orphans import PARENT_PID_ENV, adopt_workers, stop_with_parent
from sim.experiments.runs.rundir import count_runs

__all__ = [
    "CHECKED_ENV",
    "LAUNCHERS",
    "PARENT_ENV",
    "Backend",
    "CancelledError",
    "JobError",
    "LaunchResult",
    "abc_sampler",
    "backend_setting",
    "dask_client",
    "fmt_duration",
    "launch_multirun",
    "map_jobs",
    "place_of_driver",
    "progress_printer",
]

# launcher -> what it is (the values the `launcher` setting takes; the Hydra launcher config of the same name runs it)
LAUNCHERS = {
    "local": "this machine's cores in long-lived worker processes (the default)",
    "joblib": "this machine's cores through Hydra's joblib launcher",
    "basic": "one run at a time in the command's own process",
    "slurm": "a SLURM cluster through submitit, one SLURM job per run",
    "slurm_local": "submitit's local executor, the SLURM code path on this machine",
    "dask": "a Dask distributed cluster (hydra.launcher.address=tcp://HOST:8786, or a local one of n_jobs workers)",
}
ON_THIS_MACHINE = ("local", "joblib", "basic")
# Set for a sweep started by launch_multirun: the pid of the process that started it (see sim.experiments.runs.task).
PARENT_ENV = "SILOSIM_PARENT_PID"
# Set for a sweep whose every configuration the launching command has composed and checked already (a
# comparison's scenarios): the sweep's own check composes only its first job (the other values cost 0.5 s each).
CHECKED_ENV = "SILOSIM_SWEEP_CHECKED"
TASK_MODULE = "sim.experiments.runs.task"
POLL_SECONDS = 0.5
PRINT_EVERY_SECONDS = 10.0  # when stderr is not a terminal: a line at most this often (and every 10% of runs)
CONNECT_SECONDS = 10.0  # a Dask scheduler that does not answer within this is reported as unreachable
WORKER_IDLE_SECONDS = 600  # a local pool's idle workers stop after this (the dashboard keeps its pool warm)
ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss)://)?\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")
ADDRESS_KEY = "hydra.launcher.address"


class JobError(RuntimeError):
    """A job that failed, named by its label, with the error it raised (``__cause__``)."""

    def __init__(self, label: str, error: BaseException) -> None:
        super().__init__(f"run {label} failed: {type(error).__name__}: {error}")
        self.label = label
        self.error = error


class CancelledError(Exception):
    """The caller cancelled the jobs (:func:`map_jobs`'s ``cancelled`` returned True)."""


@dataclass(frozen=True)
class Backend:
    """Where many models run: the ``launcher``, the parallel runs on this machine, and the launcher's options.

    Attributes:
        launcher: One of :data:`LAUNCHERS`.
        n_jobs: Parallel runs on this machine, or the workers of a local Dask cluster (-1: all cores).
        options: ``hydra.launcher.KEY=VALUE`` settings of the launcher (``hydra.launcher.partition=gpu``,
            ``hydra.launcher.address=tcp://scheduler:8786``).
        folder: Where submitit keeps its job files for :func:`map_jobs` on SLURM (a shared file system).
    """

    launcher: str = "local"
    n_jobs: int = -1
    options: tuple[str, ...] = field(default_factory=tuple)
    folder: str | None = None

    @property
    def address(self) -> str | None:
        """The Dask scheduler's address, if one was given (else a local cluster is started)."""
        given = next((o.split("=", 1)[1] for o in self.options if o.startswith(f"{ADDRESS_KEY}=")), None)
        return given or None

    def errors(self) -> list[str]:
        """What is wrong with the settings, one sentence each (empty if nothing)."""
        out = []
        if self.launcher not in LAUNCHERS:
            allowed = "; ".join(f"{name} ({what})" for name, what in LAUNCHERS.items())
            out.append(f"`launcher` is {self.launcher!r}, but it must be one of: {allowed}")
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs == 0 or self.n_jobs < -1:
            out.append(f"`n_jobs` is {self.n_jobs!r}, but it must be -1 (all cores) or a positive number of runs")
        if self.address is not None and self.launcher != "dask":
            out.append(f"`{ADDRESS_KEY}` is set, but it is a setting of launcher=dask, not of {self.launcher}")
        elif self.address is not None and not ADDRESS.match(self.address):
            out.append(
                f"`{ADDRESS_KEY}` is {self.address!r}, but it must be a Dask scheduler's address such as "
                "tcp://scheduler.example.org:8786 (or leave it out for a local cluster of n_jobs workers)"
            )
        return out

    def check(self, reach: bool = True) -> None:
        """Raise one paragraph for bad settings; with ``reach``, also for a Dask scheduler that does not answer.

        Raises:
            ConfigError: Naming the key, the value and what is allowed.
        """
        errors = self.errors()
        if errors:
            raise ConfigError("; ".join(errors) + ".")
        if reach and self.launcher == "dask" and self.address:
            _check_reachable(self.address)

    @property
    def local(self) -> bool:
        """Whether the runs go on this machine's cores (the memory and time checks apply)."""
        return self.launcher in ON_THIS_MACHINE or (self.launcher == "dask" and not self.address)

    @property
    def cluster_workers(self) -> int:
        """Worker processes of a local pool or local Dask cluster (``n_jobs``; -1: all cores)."""
        return (os.cpu_count() or 1) if self.n_jobs == -1 else self.n_jobs

    def workers(self, jobs: int) -> int:
        """Runs that go at once on this machine, for ``jobs`` runs (1 for a cluster's, which run elsewhere)."""
        if self.launcher == "basic" or not self.local:
            return 1
        return max(1, min(jobs, self.cluster_workers))

    def describe(self, jobs: int) -> str:
        """How the runs go, for a progress line: "4 parallel", "one at a time", "dask at tcp://...", "slurm"."""
        if self.launcher == "basic":
            return "one at a time"
        if self.launcher == "dask":
            return f"Dask at {self.address}" if self.address else f"a local Dask cluster of {self.workers(jobs)}"
        return f"{self.workers(jobs)} parallel" if self.local else self.launcher

    def hydra_arguments(self) -> list[str]:
        """The multirun's launcher choice and options (``hydra/launcher=...``)."""
        arguments = [f"hydra/launcher={self.launcher}"]
        if self.launcher in ("local", "joblib", "dask"):
            arguments.append(f"hydra.launcher.n_jobs={self.n_jobs}")
        return arguments + list(self.options)


def _check_reachable(address: str) -> None:
    """A TCP connection to the scheduler, so a wrong address is one paragraph before anything runs."""
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            return
    except OSError as exc:
        raise ConfigError(
            f"`{ADDRESS_KEY}` is {address!r}, but no Dask scheduler answered there ({exc.strerror or exc}); start "
            "one (dask scheduler, then dask worker ADDRESS --nthreads 1 on each machine) or leave the address out "
            "for a local cluster of n_jobs workers."
        ) from None


# ----------------------------------------------------------------------------- run directories (Hydra multiruns)
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
    arguments: list[str],
    sweep_dir: Path,
    total: int,
    log: Path,
    keep_open: Sequence[int] = (),
    checked: bool = False,
) -> LaunchResult:
    """Run ``silosim -m ARGUMENTS hydra.sweep.dir=SWEEP_DIR`` and report progress on stderr until it ends.

    The multirun runs in a process group of its own: interrupting this process (Ctrl-C, SIGTERM) stops
    the whole group, workers and a local Dask cluster included; if this process dies without a chance
    to clean up (SIGKILL, a lost node), the multirun notices within a second (:data:`PARENT_ENV`) and
    stops its group, so a rerun never races the remains of the attempt it resumes.

    Args:
        arguments: The multirun's overrides (scenario, seed and model settings, the backend's
            :meth:`Backend.hydra_arguments`).
        sweep_dir: The sweep directory (a stable one resumes an interrupted sweep).
        total: Runs the sweep holds, for the progress lines.
        log: File the sweep's own output is appended to.
        keep_open: File descriptors the sweep process inherits (a lock it holds as long as it runs).
        checked: The caller has composed and checked every scenario of the sweep (:data:`CHECKED_ENV`).

    Returns:
        The exit status and the complete and failed runs in the sweep directory.
    """
    command = [sys.executable, "-m", TASK_MODULE, "-m", *arguments, f"hydra.sweep.dir={sweep_dir.resolve()}"]
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
    env.pop(CHECKED_ENV, None)
    if checked:
        env[CHECKED_ENV] = "1"
    started = time.monotonic()
    say = progress_printer(total, started)
    with log.open("a") as handle:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True, pass_fds=tuple(keep_open)
        )
        try:
            while True:
                returncode = process.poll()
                done, failed = count_runs(sweep_dir)
                say(done + failed, total, failed)
                if returncode is not None:
                    break
                time.sleep(POLL_SECONDS)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        finally:
            say.close()
    done, failed = count_runs(sweep_dir)
    return LaunchResult(returncode, done, failed, time.monotonic() - started)


class progress_printer:  # noqa: N801 - used as a function
    """The one progress line: ``runs 12/40 done, 1 failed, elapsed 0:31, about 1:12 left`` on stderr.

    On a terminal the line is rewritten in place whenever the count changes; elsewhere (a log) a line is
    printed at most every :data:`PRINT_EVERY_SECONDS` or every tenth of the runs, and at the end.
    """

    def __init__(self, total: int, started: float | None = None, what: str = "runs") -> None:
        self.total, self.what = total, what
        self.started = time.monotonic() if started is None else started
        self.tty = sys.stderr.isatty()
        self.last_print, self.last_count = 0.0, -1

    def __call__(self, count: int, total: int | None = None, failed: int = 0) -> None:
        """Report ``count`` of the runs finished (``failed`` of them failed)."""
        total = self.total if total is None else total
        now = time.monotonic()
        elapsed = now - self.started
        due = self.tty or count == total or now - self.last_print >= PRINT_EVERY_SECONDS
        if count == self.last_count or not (due or count - self.last_count >= max(1, total // 10)):
            return
        left = f", about {fmt_duration(elapsed / count * (total - count))} left" if 0 < count < total else ""
        fails = f", {failed} failed" if failed else ""
        line = f"  {self.what} {count}/{total} done{fails}, elapsed {fmt_duration(elapsed)}{left}"
        print(("\r" + line.ljust(70)) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)
        self.last_print, self.last_count = now, count

    def close(self) -> None:
        """End the terminal's line."""
        if self.tty and self.last_count >= 0:
            print(file=sys.stderr)


# ----------------------------------------------------------------------------- functions
def map_jobs(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    backend: Backend | None = None,
    *,
    labels: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Any]:
    """``[fn(item) for item in items]`` on the backend, in order.

    Args:
        fn: A picklable function (module level) of one item.
        items: The items.
        backend: Where the jobs run (default: all of this machine's cores).
        labels: A name per item for a failure's message (default: its position).
        progress: Called with (jobs finished, total) as jobs finish.
        cancelled: Polled while the jobs run; when it returns True the pending jobs are dropped and
            :class:`CancelledError` is raised.

    Returns:
        One result per item.

    Raises:
        JobError: The first job that failed (the pending ones are dropped).
        ConfigError: A job's user error, as itself.
    """
    backend = backend or Backend()
    labels = list(labels) if labels is not None else [str(k) for k in range(len(items))]
    one_here = backend.launcher in ("local", "joblib") and backend.workers(len(items)) == 1
    if backend.launcher == "basic" or one_here:
        return _in_process(fn, items, labels, progress, cancelled)
    with _pool(backend) as (submit, abort):
        futures = [submit(fn, item) for item in items]
        _wait(futures, labels, progress, cancelled, abort)
        return [f.result() for f in futures]


def _in_process(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    labels: Sequence[str],
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> list[Any]:
    out = []
    for k, item in enumerate(items):
        if cancelled and cancelled():
            raise CancelledError
        try:
            out.append(fn(item))
        except (ConfigError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise JobError(labels[k], exc) from exc
        if progress:
            progress(k + 1, len(items))
    return out


def _wait(
    futures: list[Future],
    labels: Sequence[str],
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    abort: Callable[[], None] | None = None,
) -> None:
    """Wait for every job; the first failure (or a cancellation) drops the rest, lets running ones end, raises."""
    index = {id(f): k for k, f in enumerate(futures)}
    pending = set(futures)
    if progress:
        progress(0, len(futures))
    try:
        while pending:
            done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            finished = sorted(done, key=lambda f: index[id(f)])
            _raise_first_failure(finished, [labels[index[id(f)]] for f in finished])
            if progress and done:
                progress(len(futures) - len(pending), len(futures))
            if cancelled and cancelled():
                raise CancelledError
    except BaseException:
        for future in pending:
            future.cancel()
        if abort is not None:  # a cluster's queued and running jobs (SLURM: scancel)
            abort()
        # a job already going cannot be cancelled: let it end, so nothing writes after the caller cleaned up
        wait([f for f in pending if not f.cancelled()], timeout=None)
        raise


def _raise_first_failure(done: Sequence[Future], labels: Sequence[str]) -> None:
    """A user error as itself, any other failure as a :class:`JobError` naming the job."""
    for future, label in zip(done, labels, strict=True):
        error = future.exception()
        if isinstance(error, ConfigError):
            raise error
        if error is not None:
            raise JobError(label, error) from error


def _worker_start() -> None:
    """In a local worker: never outlive the command that started it."""
    stop_with_parent()


_ONE_AT_A_TIME = threading.Lock()  # a Dask worker with several threads: a model run is single-threaded anyway


def place_of_driver() -> tuple[str, dict[str, str]]:
    """The driver's working directory and silosim's environment (the user's scenario and experiment directories)."""
    private = (PARENT_ENV, PARENT_PID_ENV)  # the watch on the driver concerns its own processes only
    return os.getcwd(), {k: v for k, v in os.environ.items() if k.startswith("SILOSIM_") and k not in private}


def _call(fn: Callable[[Any], Any], item: Any, place: tuple[str, dict[str, str]]) -> Any:
    """A function job on a Dask worker, in the driver's working directory and with its silosim environment."""
    from sim.config.compose import register_user_dirs_from_environment

    stop_with_parent()  # a local Dask cluster's worker, too, dies with the command
    with _ONE_AT_A_TIME:
        os.chdir(place[0])
        os.environ.update(place[1])
        register_user_dirs_from_environment()
        return fn(item)


@contextlib.contextmanager
def _pool(backend: Backend) -> Iterator[tuple[Callable[..., Future], Callable[[], None] | None]]:
    """``submit(fn, item) -> Future`` on the backend's workers, and what stops the jobs already submitted."""
    if backend.launcher == "dask":
        executor = dask_client(backend.address, backend.cluster_workers).get_executor(pure=False)
        place = place_of_driver()
        yield (lambda fn, item: executor.submit(_call, fn, item, place)), None
        return
    if backend.launcher in ("slurm", "slurm_local"):
        with _submitit(backend) as pool:
            yield pool
        return
    from joblib.externals.loky import get_reusable_executor

    adopt_workers()  # the workers die with this process, however it is stopped
    executor = get_reusable_executor(
        max_workers=backend.cluster_workers, timeout=WORKER_IDLE_SECONDS, initializer=_worker_start
    )
    yield executor.submit, None


def _guarded(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """In a submitit job: the result, or the exception itself (submitit would hand back its traceback's text)."""
    try:
        return True, fn(item)
    except Exception as exc:
        return False, exc


def _unwrapped(job: Any) -> Any:
    ok, value = job.result()
    if not ok:
        raise value
    return value


@contextlib.contextmanager
def _submitit(backend: Backend) -> Iterator[tuple[Callable[..., Future], Callable[[], None]]]:
    """The submitit executor (SLURM, or its local executor), each job's result awaited in a thread as a Future."""
    from concurrent.futures import ThreadPoolExecutor

    import submitit

    folder = Path(backend.folder or tempfile.mkdtemp(prefix="silosim-submitit-")) / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster="local" if backend.launcher == "slurm_local" else "slurm")
    generic = {"timeout_min", "mem_gb", "cpus_per_task", "gpus_per_node", "nodes", "tasks_per_node", "name"}
    params: dict[str, Any] = {"timeout_min": 60, "cpus_per_task": 1, "mem_gb": 2}
    for option in backend.options:
        key, _, value = option.removeprefix("hydra.launcher.").partition("=")
        params[key if key in generic or backend.launcher == "slurm_local" else f"slurm_{key}"] = _scalar(value)
    if backend.launcher == "slurm_local":
        params = {k: v for k, v in params.items() if k in generic}
    executor.update_parameters(**params)
    jobs: list[Any] = []

    def abort() -> None:
        for job in jobs:
            with contextlib.suppress(Exception):
                if not job.done():
                    job.cancel(check=False)

    with ThreadPoolExecutor(max_workers=64) as waiters:

        def submit(fn: Callable[[Any], Any], item: Any) -> Future:
            job = executor.submit(_guarded, fn, item)
            jobs.append(job)
            return waiters.submit(_unwrapped, job)

        try:
            yield submit, abort
        except BaseException:
            abort()
            raise


def _scalar(value: str) -> Any:
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(value)
    return value


# ----------------------------------------------------------------------------- Dask
_CLIENTS: dict[tuple[str | None, int], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def dask_client(address: str | None, workers: int) -> Any:
    """A ``distributed.Client`` for this process: connected to ``address``, or to a local cluster it starts.

    The local cluster has ``workers`` worker processes of one thread each (a run is single-threaded, and
    the Hydra task keeps per-process state), listens on loopback only, and has no dashboard. The client
    is kept for the life of the process (the dashboard's what-ifs and a calibration's trials reuse it)
    and closed at exit. Workers of a remote cluster need silosim installed and the outputs' file system.
    """
    key = (address, 0 if address else workers)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is not None and client.status == "running":
            return client
        from distributed import Client, LocalCluster

        if address:
            client = Client(address, timeout=CONNECT_SECONDS)
        else:
            adopt_workers()  # the cluster's worker processes die with this one
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        _CLIENTS[key] = client
        return client


@atexit.register
def _close_clients() -> None:
    for client in list(_CLIENTS.values()):
        cluster = getattr(client, "cluster", None)
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
    _CLIENTS.clear()


def abc_sampler(backend: Backend, jobs: int) -> Any:
    """The pyabc sampler for the backend: one core, this machine's cores, or the Dask cluster.

    Args:
        backend: The backend (``launcher``); ``slurm`` has no pyabc sampler (run the calibration itself
            as a SLURM job, on all the cores of a node).
        jobs: Parallel simulations on this machine (1: a single core, seeded and repeatable; -1: all cores).

    Raises:
        ConfigError: For ``slurm`` and ``slurm_local``.
    """
    import pyabc

    if backend.launcher in ("slurm", "slurm_local"):
        raise ConfigError(
            f"`launcher` is {backend.launcher!r}, but the ABC calibration samples through pyabc, which has no "
            "SLURM sampler; use launcher=local (submit silosim-calibrate itself as a SLURM job, on all the cores "
            "of a node) or launcher=dask."
        )
    if backend.launcher == "dask":
        client = dask_client(backend.address, backend.cluster_workers)
        return pyabc.sampler.DaskDistributedSampler(dask_client=client)
    if jobs == 1 or backend.launcher == "basic":
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=jobs if jobs > 0 else None)


def backend_setting(node: Any, jobs: int) -> Backend:
    """The backend a study's settings choose: ``launcher`` (default local) and ``launcher_options`` (a list).

    Args:
        node: The study's settings (``conf/calibrate.yaml``, ``conf/policy.yaml``, ``conf/validate.yaml``).
        jobs: Its parallel processes on this machine (``jobs``; -1: all cores).

    Raises:
        ConfigError: One paragraph naming the setting, its value and what is allowed.
    """
    launcher = node.get("launcher") or "local"
    options = node.get("launcher_options") or []
    if not isinstance(launcher, str):
        raise ConfigError(f"`launcher` is {launcher!r}, but it must be one of {', '.join(LAUNCHERS)}.")
    if isinstance(options, str) or not all(isinstance(o, str) and o.startswith("hydra.launcher.") for o in options):
        raise ConfigError(
            f"`launcher_options` is {options!r}, but it must be a list of hydra.launcher.KEY=VALUE settings, each "
            "quoted on the command line, e.g. 'launcher_options=[\"hydra.launcher.address=tcp://scheduler:8786\"]'."
        )
    backend = Backend(launcher, jobs, tuple(str(o) for o in options))
    backend.check()
    return backend
