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

Each job then runs through Hydra's own ``run_job`` exactly as under the joblib launcher, so the run
directories are byte-for-byte the same (tested). Selected by ``hydra/launcher=local`` (the
default, ``conf/hydra/launcher/local.yaml``) and ``hydra/sweeper=silosim``; the plugin classes
Hydra instantiates live in ``hydra_plugins.silosim_plugins`` and call this module.
"""

from __future__ import annotations

import copy
import logging
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


def _run_job(idx: int, overrides: Sequence[str]) -> Any:
    """One job in a worker: compose (from a template if possible), then Hydra's ``run_job`` as joblib's does."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobReturn, JobStatus, run_job

    try:
        cfg = _WORKER["composer"].compose(overrides)
        with open_dict(cfg):
            cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
            cfg.hydra.job.num = idx
        HydraConfig.instance().set_config(cfg)
        ret = run_job(
            hydra_context=_WORKER["context"],
            config=cfg,
            task_function=_WORKER["task"],
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except BaseException as exc:  # a user error's SystemExit included: the driver re-raises it
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=exc)
        return ret
    # the driver needs the status and the return value, not the configurations (they cost a pickling each)
    ret.cfg, ret.hydra_cfg = None, None
    return ret


# ------------------------------------------------------------------------------ the driver's side
def launch_jobs(
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
    n_jobs: int,
    hydra_context: Any,
    config: DictConfig,
    task_function: Any,
) -> list[Any]:
    """Run a batch of jobs on ``n_jobs`` long-lived workers (-1: all cores); returns Hydra's ``JobReturn`` per job.

    A job that raised (a user error's ``SystemExit`` too) comes back as a failed ``JobReturn`` holding the
    exception, which the sweeper re-raises, as under Hydra's own launchers.
    """
    from hydra.core.singleton import Singleton
    from hydra.core.utils import configure_log, setup_globals
    from joblib.externals.loky import cpu_count, get_reusable_executor

    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    workers = cpu_count() if n_jobs == -1 else max(1, int(n_jobs))
    workers = max(1, min(workers, len(job_overrides)))
    adopt_workers()
    executor = get_reusable_executor(
        max_workers=workers,
        initializer=_init_worker,
        initargs=(hydra_context, config, task_function, Singleton.get_state()),
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
