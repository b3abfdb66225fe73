"""Hydra callbacks: collect a multirun into one table when it ends.

Configured in conf/config.yaml (``hydra.callbacks.collect_runs``); switch off with
``~hydra.callbacks.collect_runs``, or add the weekly series with
``hydra.callbacks.collect_runs.timeseries=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

__all__ = ["CollectRuns"]


class CollectRuns(Callback):
    """Run the collector (``silosim-collect``) over the sweep directory at the end of every multirun."""

    def __init__(self, timeseries: bool = False) -> None:
        self.timeseries = timeseries

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Collect ``hydra.sweep.dir`` into ``runs.parquet`` (and ``incomplete.csv``) and report."""
        from sim.experiments.sweeps.collect import collect, report

        root = Path(str(config.hydra.sweep.dir))
        if not root.is_dir():
            return
        try:
            result = collect(root, timeseries=self.timeseries)
        except OSError as exc:  # the sweep itself succeeded; say why there is no table instead of failing it
            print(f"silosim: the sweep finished, but collecting it failed ({exc}); run `silosim-collect {root}`.")
            return
        report(result, root)
