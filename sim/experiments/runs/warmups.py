"""Shared warm-ups: runs whose warm-up keys agree run the 104-week warm-up once and fork from a copy of it.

Every run begins with ``warmup_weeks`` weeks under siloed practice (:class:`sim.engine.model.SiloModel`).
Runs with the same seed and the same settings the warm-up reads (:func:`sim.engine.model.warmup_key`:
every model setting except the programme's, the loops' and the horizon, :data:`~sim.engine.model.WARMUP_UNREAD`)
reach the same state at week 0, so a comparison, whose every replication seed runs every scenario (and, with
``uncertainty=parameters``, every scenario under the same parameter draw), needs one warm-up per seed, not
one per run. The outputs are the same to the byte as running each from scratch (tests/test_warmup.py).

Two ways to use it:

* :func:`run_forked`: a job that runs several configurations groups them by key, warms each group up once
  and continues every member from a copy (what an executor does with jobs that share a key);
* :class:`WarmCache`: jobs that each run one configuration (a Hydra multirun's) share warm-ups through a
  directory: the first job of a key writes its warm state there and the others continue from it. A
  comparison points its sweep at one with ``SILOSIM_WARM_CACHE`` (:func:`cache_from_environment`) and
  deletes it when the sweep ends.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.experiments.runs.files import atomic_write

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig
    from sim.engine.model import SiloModel

__all__ = ["WARM_CACHE_ENV", "WarmCache", "cache_from_environment", "group_by_warmup", "run_forked", "sharing"]

# Set by a command for the sweep it launches: the directory its jobs share their warm-ups through.
WARM_CACHE_ENV = "SILOSIM_WARM_CACHE"


def group_by_warmup(cfgs: Sequence[SiloConfig]) -> list[list[int]]:
    """Indices of ``cfgs`` grouped by warm-up key, groups in order of their first member, members in order."""
    from sim.engine.model import warmup_key

    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        groups.setdefault(warmup_key(cfg), []).append(i)
    return list(groups.values())


def run_forked[T](cfgs: Sequence[SiloConfig], each: Callable[[SiloModel], T], *, collect: bool = False) -> list[T]:
    """Build every configuration's model at week 0, sharing warm-ups, and hand each to ``each`` in turn.

    A group of one is built as usual (nothing to share, nothing to copy).

    Args:
        cfgs: Typed configurations (any mix of seeds and scenarios).
        each: What to do with a model at week 0 (typically run it and measure or write it).
        collect: As for :class:`SiloModel`.

    Returns:
        ``each``'s results, in the order of ``cfgs``.
    """
    from sim.engine.model import SiloModel, warm_up

    results: dict[int, T] = {}
    for group in group_by_warmup(cfgs):
        if len(group) == 1:
            results[group[0]] = each(SiloModel(cfgs[group[0]], collect=collect))
            continue
        state = warm_up(cfgs[group[0]])
        for i in group:
            results[i] = each(SiloModel.from_warm(state, cfgs[i], collect=collect))
    return [results[i] for i in range(len(cfgs))]


class WarmCache:
    """Warm states on disk, one file per warm-up key, shared by the jobs of a sweep (any process, any host).

    A job that finds its key's file continues from it; one that does not warms up and writes the file
    (atomically: a job never reads half a state). Two jobs that miss at the same time both warm up and
    write the same bytes, which costs time, never correctness.
    """

    SUFFIX = ".warm"

    def __init__(self, directory: str | Path) -> None:
        """Use ``directory`` (created when the first state is written)."""
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """The file of a warm-up key."""
        return self.directory / f"{key}{self.SUFFIX}"

    def model(self, cfg: SiloConfig, *, collect: bool = False) -> SiloModel:
        """``cfg``'s model at week 0: continued from the cached warm-up of its key, or warmed up and cached."""
        from sim.engine.model import SiloModel, WarmState, warm_up, warmup_key  # the engine, only in a job

        key = warmup_key(cfg)
        path = self.path(key)
        with contextlib.suppress(OSError):
            blob = path.read_bytes()
            try:
                return SiloModel.from_warm(WarmState(key, blob), cfg, collect=collect)
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
                pass  # a damaged file (a disk that filled up): warm up again and replace it
        state = warm_up(cfg)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next job time
            atomic_write(path, lambda tmp: tmp.write_bytes(state.blob))
        return SiloModel.from_warm(state, cfg, collect=collect)

    def clear(self) -> None:
        """Delete the cached states (when the sweep is over) and the directory if that leaves it empty."""
        for path in self.directory.glob(f"*{self.SUFFIX}"):
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def cache_from_environment() -> WarmCache | None:
    """The warm cache the launching command set for this sweep (``SILOSIM_WARM_CACHE``), if any."""
    directory = os.environ.get(WARM_CACHE_ENV)
    return WarmCache(directory) if directory else None


@contextlib.contextmanager
def sharing(directory: Path) -> Iterator[WarmCache]:
    """Within the block, sweeps this process launches share warm-ups through ``directory``; emptied after it."""
    cache = WarmCache(directory)
    previous = os.environ.get(WARM_CACHE_ENV)
    os.environ[WARM_CACHE_ENV] = str(directory.resolve())
    try:
        yield cache
    finally:
        if previous is None:
            os.environ.pop(WARM_CACHE_ENV, None)
        else:
            os.environ[WARM_CACHE_ENV] = previous
        cache.clear()
