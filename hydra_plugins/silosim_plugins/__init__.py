"""silosim's Hydra plugins: the local and Dask launcher and the sweeper (:mod:`sim.experiments.sweeps.launching`).

Hydra instantiates plugins only from the ``hydra_plugins`` namespace package; these classes are thin
shims over silosim's own code. Their configs are ``conf/hydra/launcher/local.yaml`` (the default
launcher), ``conf/hydra/launcher/dask.yaml`` and ``conf/hydra/sweeper/silosim.yaml``. Hydra finds the
classes by scanning ``hydra_plugins`` in an installed wheel; an editable install's import hook hides
them from that scan, so :func:`register` registers them when the Hydra task
(:mod:`sim.experiments.runs.task`) is imported. The imports go one way: these shims call silosim's
code lazily; nothing they import imports the task or the commands (an import-linter contract).
"""

from __future__ import annotations

from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

__all__ = ["SilosimLauncher", "SilosimSweeper", "register"]


class SilosimLauncher(Launcher):
    """Runs a sweep's jobs in long-lived workers: this machine's cores, or a Dask cluster (sim.experiments.sweeps)."""

    def __init__(self, n_jobs: int = -1, backend: str = "local", address: str | None = None) -> None:
        self.n_jobs, self.backend, self.address = n_jobs, backend, address
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep what every job needs."""
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Any, initial_job_idx: int) -> list[JobReturn]:
        """Run the jobs; one ``JobReturn`` per job, in order."""
        from sim.experiments.sweeps.launching import launch_jobs

        assert self.config is not None and self.hydra_context is not None  # noqa: S101 - Hydra calls setup first
        return launch_jobs(
            job_overrides,
            initial_job_idx,
            self.n_jobs,
            self.hydra_context,
            self.config,
            self.task_function,
            backend=self.backend,
            address=self.address,
        )


class SilosimSweeper(Sweeper):
    """Hydra's basic sweeper, minus the check that composes every job once more in the driver before launching.

    ``silosim -m`` checks every swept value and composes the first job before Hydra starts
    (:func:`sim.experiments.sweeps.plan.plan_multirun`); composing all N jobs again, one after another,
    cost about 0.15 s a job (150 s before the first run of a 1,000-run sweep). It wraps the basic sweeper
    rather than subclassing it: Hydra's plugin scan re-executes its module, which would leave a subclass
    with a stale base class.
    """

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        self.basic = BasicSweeper(max_batch_size=max_batch_size, params=params)
        self.basic.validate_batch_is_legal = self._checked_before  # type: ignore[method-assign]

    @staticmethod
    def _checked_before(batch: Any) -> None:
        """Checked by silosim before the sweep started."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Set up the basic sweeper (and through it the launcher)."""
        self.basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        """Sweep as Hydra's basic sweeper does."""
        return self.basic.sweep(arguments)


def register() -> None:
    """Register silosim's launcher and sweeper with Hydra (an editable install hides them from Hydra's scan)."""
    from hydra.core.plugins import Plugins

    for plugin in (SilosimLauncher, SilosimSweeper):
        Plugins.instance().register(plugin)
