"""No orphans: worker processes stop when the process that started them dies.

A pool's parent records itself in the environment (:func:`adopt_workers`) before it starts workers;
a worker calls :func:`stop_with_parent` when it starts (or before each task; it is idempotent). If its
parent is the recorded one, a daemon thread watches it and kills the worker within
:data:`POLL_SECONDS` of the parent's death (SIGKILL included, which no clean-up can catch), and
:func:`parent_alive` lets a worker that is about to publish a run directory check first, so a killed
sweep writes no run after the kill. In the parent's own process (a pool of one job runs in-process)
nothing is watched.

The commands turn SIGTERM into the Ctrl-C path (:func:`terminate_as_interrupt`), so a terminated
command shuts its pool down, kills its workers and keeps only what is complete, as on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

__all__ = [
    "PARENT_PID_ENV",
    "POLL_SECONDS",
    "ParentGoneError",
    "adopt_workers",
    "parent_alive",
    "stop_with_parent",
    "terminate_as_interrupt",
]

PARENT_PID_ENV = "SILOSIM_POOL_PARENT"  # the pid of the process whose pool workers watch it
POLL_SECONDS = 0.25
_WATCHED: dict[str, int] = {}


class ParentGoneError(RuntimeError):
    """The process that started this worker has died; its work is abandoned."""


def adopt_workers() -> None:
    """In a pool's parent, before the pool starts: its workers will watch this process."""
    os.environ[PARENT_PID_ENV] = str(os.getpid())


def stop_with_parent() -> None:
    """In a worker: die within :data:`POLL_SECONDS` of the parent that adopted it (idempotent).

    Outside a pool (no parent recorded) and in the parent itself (a pool of one job runs in-process) nothing
    is watched. A worker whose parent died before the worker had started (it was still importing) dies at once.
    """
    adopter = os.environ.get(PARENT_PID_ENV)
    if "parent" in _WATCHED or adopter is None or adopter == str(os.getpid()):
        return
    if adopter != str(os.getppid()):  # the parent that adopted this worker is gone already
        os.kill(os.getpid(), signal.SIGKILL)
    _WATCHED["parent"] = os.getppid()

    def watch() -> None:
        while parent_alive():
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="silosim-parent-watch", daemon=True).start()


def parent_alive() -> bool:
    """Whether this worker's watched parent still lives (always True outside a watched worker)."""
    parent = _WATCHED.get("parent")
    return parent is None or os.getppid() == parent


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """SIGTERM takes the Ctrl-C path (pools shut down, workers killed, complete work kept); main thread only."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
