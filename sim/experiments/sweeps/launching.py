"""silosim's local launcher and sweeper: a sweep's per-run cost outside the engine, cut.

Hydra's joblib launcher composes every job's configuration from scratch in the worker (about
0.15 s: the defaults tree, every YAML file, the schema) and ships the whole Hydra context with
every job; before any job starts, Hydra's basic sweeper composes every job once more in the
driver, one after another, to check it (150 s for a 1,000-run sweep). silosim checks a sweep
itself before it starts (:mod:`sim.experiments.sweeps.plan`), so its sweeper skips that pass; its
launcher starts long-lived worker processes (loky, as joblib does) that receive the Hydra context
once, and compose a job from a cached *template*:

* jobs that choose the same config groups (scenario, experiment, ...) and set the same keys share a
  template, composed by Hydra once per worker;
* a job's configuration is a copy of its template with the job's own ``key=value`` overrides applied
  by Hydra's own code (``ConfigLoaderImpl._apply_overrides_to_config``, as a full composition applies
  them last), and Hydra's per-job fields set as Hydra sets them (the task's overrides, the override
  directory name, the run-time cache);
* the first reuse of every template is checked against a full composition in each worker; if the two
  differ in any way, that template is never reused again and every job is composed in full. Jobs
  with ``+key``, ``++key`` or ``~key`` overrides are always composed in full.

Each job then runs as Hydra's own ``run_job`` runs it under the joblib launcher, step by step, without the
two deep copies of the configuration Hydra makes for the result it hands back, so the run directories are
byte-for-byte the same (tested). Selected by ``hydra/launcher=local`` (the
default, ``conf/hydra/launcher/local.yaml``) and ``hydra/sweeper=silosim``; the plugin classes
Hydra instantiates live in ``hydra_plugins.silosim_plugins`` and call this module.

With ``hydra/launcher=dask`` the same jobs run on a Dask distributed cluster (the executor's
:func:`~sim.experiments.runs.executor.dask_client`: a scheduler's address, or a local cluster):
the worker's set-up (the Hydra context, the sweep's configuration, the task) is scattered to every
worker once and done there on its first job, and a worker process runs one job at a time (a worker
started with several threads runs them one after another), so a job and its run directory are the
same as on the local workers.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from sim.experiments.runs.orphans import adopt_workers, stop_with_parent

__all__ = ["JobComposer", "launch_jobs"]

log = logging.getLogger(__name__)


class JobComposer:
    """Composes a sweep's job configurations, reusing a template per config-group choice (see the module)."""

    def __init__(self, config_loader: Any, master: DictConfig) -> None:
        self.loader = config_loader
        self.master = master
        self.templates: dict[tuple, DictConfig] = {}
        self.checked: set[tuple] = set()
        self.refused: set[tuple] = set()
        self.groups: set[str] = set()
        self.full = 0
        self.reused = 0

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        """The job's configuration, as ``load_sweep_config`` composes it."""
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(list(overrides))
        if not self.groups:  # the first job: compose in full, and learn which keys are config groups
            cfg = self._full(overrides)
            self.groups = set(cfg.hydra.runtime.choices.keys())
            self._keep(self._template_key(parsed), cfg)
            return cfg
        key = self._template_key(parsed)
        if key is None or key in self.refused or key not in self.templates:
            cfg = self._full(overrides)
            self._keep(key, cfg)
            return cfg
        cfg = self._from_template(self.templates[key], parsed)
        if key not in self.checked:  # the first reuse of a template is checked against Hydra's own composition
            self.checked.add(key)
            full = self._full(overrides)
            if OmegaConf.to_yaml(full) != OmegaConf.to_yaml(cfg):
                log.warning("silosim launcher: a template differs from Hydra's composition; not reusing it")
                self.refused.add(key)
                return full
        self.reused += 1
        return cfg

    def _template_key(self, parsed: list) -> tuple | None:
        """Group choices and the keys set, or None for a job that must be composed in full."""
        if any(o.is_add() or o.is_force_add() or o.is_delete() or o.is_hydra_override() for o in parsed):
            return None
        groups = [o for o in parsed if o.package is not None or o.key_or_group in self.groups]
        values = [o for o in parsed if o.package is None and o.key_or_group not in self.groups]
        return (tuple(sorted(o.input_line for o in groups)), tuple(sorted(o.key_or_group for o in values)))

    def _full(self, overrides: Sequence[str]) -> DictConfig:
        self.full += 1
        return self.loader.load_sweep_config(self.master, list(overrides))

    def _keep(self, key: tuple | None, cfg: DictConfig) -> None:
        if key is not None and key not in self.templates:
            self.templates[key] = copy.deepcopy(cfg)

    def _from_template(self, template: DictConfig, parsed: list) -> DictConfig:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname

        cfg = copy.deepcopy(template)
        values = [o for o in parsed if o.package is None and o.key_or_group not in self.groups]
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        cfg.hydra.overrides.task = [o.input_line for o in parsed]
        settings = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=parsed, kv_sep=settings.kv_sep, item_sep=settings.item_sep, exclude_keys=settings.exclude_keys
        )
        OmegaConf.copy_cache(from_config=self.master, to_config=cfg)
        return cfg


# ------------------------------------------------------------------------------ the worker's side
_WORKER: dict[str, Any] = {}


def _init_worker(hydra_context: Any, master: DictConfig, task_function: Any, singleton_state: Any) -> None:
    """Set up a worker once: Hydra's globals, its singletons, the context and a composer."""
    from hydra.core.singleton import Singleton
    from hydra.core.utils import setup_globals

    stop_with_parent()  # a worker never outlives the sweep that started it
    setup_globals()
    Singleton.set_state(singleton_state)
    _WORKER.update(
        context=hydra_context,
        master=master,
        task=task_function,
        composer=JobComposer(hydra_context.config_loader, master),
    )


_ONE_JOB_AT_A_TIME = threading.Lock()  # a Dask worker with several threads: Hydra's state is per process


def _run_dask_job(token: str, setup: tuple, place: tuple, idx: int, overrides: Sequence[str]) -> Any:
    """One job on a Dask worker: set the worker up on its first job of this sweep, then run it as locally.

    ``place`` is the driver's working directory and silosim's environment (the user's scenario and experiment
    directories, the sweep's size), which a local worker inherits and a cluster's worker is given: relative
    paths (the sweep directory, ``scenario_dir``) mean the same on both (a cluster shares the file system).
    """
    from sim.config.compose import register_user_dirs_from_environment

    cwd, env = place
    with _ONE_JOB_AT_A_TIME:
        os.chdir(cwd)
        if _WORKER.get("token") != token:
            os.environ.update(env)
            register_user_dirs_from_environment()
            _init_worker(*setup)
            _WORKER["token"] = token
        # a cluster's worker prints where no user looks: its lines go back to the driver, which prints them
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ret = _run_job(idx, overrides)
        return ret, out.getvalue(), err.getvalue()


def _run_job(idx: int, overrides: Sequence[str]) -> Any:
    """One job in a worker: compose (from a template if possible), then run it as Hydra's ``run_job`` does."""
    from hydra.core.utils import JobReturn, JobStatus

    try:
        cfg = _WORKER["composer"].compose(overrides)
        with open_dict(cfg):
            cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
            cfg.hydra.job.num = idx
        ret = _run_composed_job(cfg, _WORKER["context"], _WORKER["task"])
    except BaseException as exc:  # a user error's SystemExit included: the driver re-raises it
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=exc)
        return ret
    # the driver needs the status and the return value, not the configurations (they cost a pickling each)
    ret.cfg, ret.hydra_cfg = None, None
    return ret


def _run_composed_job(config: DictConfig, hydra_context: Any, task_function: Any) -> Any:
    """Hydra's ``run_job`` for a sweep's job (``hydra.core.utils.run_job``, step by step), without its two copies.

    Hydra deep-copies the job's configuration twice (the task's, without ``hydra``, and Hydra's own) so that the
    ``JobReturn`` it hands back owns them; here the composer's configuration is the job's alone (a copy of its
    template, or a fresh composition), so the task gets it with ``hydra`` removed in place, and Hydra's
    configuration is the masked copy :class:`~hydra.core.hydra_config.HydraConfig` holds, made self-contained (its
    ``${hydra....}`` interpolations resolve within it; the one that names a task's key, ``hydra.sweep.subdir``'s
    ``${seed}``, is resolved into the output directory first). That was about 40 ms of a job's CPU. Everything else is
    as Hydra does it, in its order: the output directory, the working directory, logging, ``env_set``, the
    callbacks, the task's result or exception, and the Hydra configuration restored afterwards. One difference a
    callback could see: ``on_job_end`` gets the configuration without its ``hydra`` node (Hydra's is in
    ``job_return.hydra_cfg``); silosim's callbacks act at the end of the sweep only.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
    from omegaconf import read_write

    callbacks = hydra_context.callbacks
    old_cwd = os.getcwd()
    holder = HydraConfig.instance()
    original = holder.cfg
    holder.set_config(config)
    output_dir = os.path.join(
        str(OmegaConf.select(config, "hydra.sweep.dir")), str(OmegaConf.select(config, "hydra.sweep.subdir"))
    )
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    holder.set_config(config)
    hydra_cfg = holder.cfg
    hydra_cfg.hydra._set_parent(hydra_cfg)  # self-contained: the task's configuration loses its `hydra` below
    chdir = False
    try:
        ret = JobReturn()
        ret.overrides = list(OmegaConf.to_container(config.hydra.overrides.task))
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = bool(hydra_cfg.hydra.job.chdir)
        if chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        env_set = hydra_cfg.hydra.job.env_set
        callbacks.on_job_start(config=config, task_function=task_function)
        task_cfg = config
        with read_write(task_cfg), open_dict(task_cfg):
            del task_cfg["hydra"]
        ret.cfg, ret.hydra_cfg = task_cfg, hydra_cfg
        with env_override(env_set):
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:
                ret.return_value = e
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        holder.cfg = original
        if chdir:
            os.chdir(old_cwd)


# ------------------------------------------------------------------------------ the driver's side
def launch_jobs(
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
    n_jobs: int,
    hydra_context: Any,
    config: DictConfig,
    task_function: Any,
    backend: str = "local",
    address: str | None = None,
) -> list[Any]:
    """Run a batch of jobs on ``n_jobs`` long-lived workers (-1: all cores); returns Hydra's ``JobReturn`` per job.

    A job that raised (a user error's ``SystemExit`` too) comes back as a failed ``JobReturn`` holding the
    exception, which the sweeper re-raises, as under Hydra's own launchers. ``backend="dask"`` runs them on a
    Dask cluster (``address``, or a local one of ``n_jobs`` workers) instead.
    """
    from hydra.core.singleton import Singleton
    from hydra.core.utils import configure_log, setup_globals
    from joblib.externals.loky import cpu_count, get_reusable_executor

    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    workers = cpu_count() if n_jobs == -1 else max(1, int(n_jobs))
    setup = (hydra_context, config, task_function, Singleton.get_state())
    if backend == "dask":
        return _launch_on_dask(job_overrides, initial_job_idx, workers, address, setup)
    workers = max(1, min(workers, len(job_overrides)))
    adopt_workers()
    executor = get_reusable_executor(
        max_workers=workers,
        initializer=_init_worker,
        initargs=setup,
        reuse=False,
    )
    futures = [
        executor.submit(_run_job, initial_job_idx + k, list(overrides)) for k, overrides in enumerate(job_overrides)
    ]
    try:
        results = [f.result() for f in futures]
    except BaseException:
        executor.shutdown(wait=False, kill_workers=True)
        raise
    executor.shutdown(wait=True)
    return results


def _launch_on_dask(
    job_overrides: Sequence[Sequence[str]], initial_job_idx: int, workers: int, address: str | None, setup: tuple
) -> list[Any]:
    """The batch on a Dask cluster; the set-up is sent to each worker once."""
    from sim.experiments.runs.executor import dask_client, place_of_driver

    client = dask_client(address, workers)
    shared = client.scatter(setup, broadcast=True, hash=False)
    token = uuid.uuid4().hex
    place = place_of_driver()
    futures = [
        client.submit(_run_dask_job, token, shared, place, initial_job_idx + k, list(overrides), pure=False)
        for k, overrides in enumerate(job_overrides)
    ]
    from distributed import as_completed

    position = {future.key: k for k, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        for future in as_completed(futures):  # each job's own lines as it finishes, as the local workers print them
            ret, out, err = future.result()
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.stdout.flush()
            sys.stderr.flush()
            results[position[future.key]] = ret
    except BaseException:
        client.cancel(futures)
        raise
    return results
