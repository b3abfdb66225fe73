"""The partial directory a comparison is assembled in, the lock beside it, and the checks of a directory reopened."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from sim.config import ConfigError
from sim.experiments.compare.settings import PROG
from sim.experiments.runs.rundir import MARKER, verify_run

if TYPE_CHECKING:
    from sim.experiments.compare.planning import Plan

LOCK_WAIT_SECONDS = 15.0  # a killed command's sweep stops itself within a second; wait that long for its lock


def partial_dir(out: Path) -> Path:
    """``<parent>/.<name>.partial``: the directory a comparison is assembled in before it is renamed to ``out``."""
    return out.parent / f".{out.name}.partial"


def lock_path(out: Path) -> Path:
    """``<parent>/.<name>.lock``: the lock of the comparison that ``out`` will hold (beside it, never inside).

    It lives outside both the partial directory and ``out``, so it stays the same file while the partial
    directory is renamed to ``out``: a command that waited for it then sees the finished comparison.
    """
    return out.parent / f".{out.name}.lock"


def _waiting(out: Path, holder: str) -> None:
    """Say once that this command waits for another one working on the same comparison."""
    print(f"{PROG}: {holder} is working on the comparison {out}; waiting for it to finish ...", file=sys.stderr)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[tuple[int, ...]]:
    """Hold the comparison's lock (:func:`lock_path`, a ``filelock`` file lock) while working on it.

    A second command on the same ``out`` waits up to :data:`LOCK_WAIT_SECONDS` for the first, then
    continues under the lock (it finds the comparison finished, or interrupted and ready to resume), or
    refuses. The file names its holder; it is removed when the lock is released normally.

    Yields:
        The lock's file descriptor, if the lock is a native one (the sweep process inherits it, so a
        sweep that outlives a killed command still holds the lock until it has stopped).

    Raises:
        ConfigError: If another command holds the lock for longer than :data:`LOCK_WAIT_SECONDS`.
    """
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    held: list[int] = []

    def acquired(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"silosim-compare process {os.getpid()} on host {socket.gethostname()}\n".encode())
        held[:] = [fd]

    lock = FileLock(path, on_acquired=acquired)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        _waiting(out, _holder(path))
        try:
            lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except Timeout:
            raise ConfigError(
                f"The comparison '{out}' is being worked on by {_holder(path)} (its lock is {path}); waited "
                f"{LOCK_WAIT_SECONDS:g} s. Wait for it to finish (or stop it), then run the same command again."
            ) from None
    try:
        yield tuple(held)
    finally:
        path.unlink(missing_ok=True)  # while still held: a command waiting on this inode sees it unlinked and retries
        lock.release()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


def damaged_runs(directory: Path, meta: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The runs of a finished comparison that are damaged or missing, each with what is wrong.

    Every run directory is verified against its ``COMPLETE`` marker (:func:`~sim.experiments.runs.rundir.verify_run`);
    a run that failed when it ran (``error.txt``, no marker) is not damaged, it is reported as failed. For a
    comparison silosim-compare made (its ``comparison.json`` has a fingerprint), every scenario x seed it ran
    must be present.

    Args:
        directory: The comparison directory.
        meta: Its ``comparison.json``.

    Returns:
        (run directory name, what is wrong) for each damaged or missing run, sorted by name.
    """
    runs = directory / "runs"
    found: dict[str, str] = {}
    present = sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs.is_dir() else []
    for path in present:
        if (path / "error.txt").exists() and not (path / MARKER).exists():
            continue
        reason = verify_run(path)
        if reason:
            found[path.name] = reason
    if meta and meta.get("fingerprint"):
        failed = {f"{f.get('scenario')}_s{f.get('seed')}" for f in meta.get("failed_runs") or []}
        names = {p.name for p in present}
        for scenario in meta.get("scenarios") or []:
            for seed in meta.get("seeds") or []:
                name = f"{scenario}_s{seed}"
                if name not in names and name not in failed:
                    found[name] = "its directory is missing"
    return sorted(found.items())


def _damage_message(directory: Path, meta: Mapping[str, Any], damaged: list[tuple[str, str]]) -> str:
    listed = "; ".join(f"{name} ({reason})" for name, reason in damaged[:10])
    more = f"; and {len(damaged) - 10} more" if len(damaged) > 10 else ""
    command = str(meta.get("command") or f"{PROG} ... out={directory}")
    if "out=" not in command:
        command += f" out={shlex.quote(str(directory))}"
    return (
        f"`from` is '{directory}', but {len(damaged)} of its runs are damaged or missing: {listed}{more}. Their "
        "numbers cannot be trusted, so nothing was read or rebuilt. To redo only those runs, run the comparison's "
        f"command again with out= set to this directory ({command}): it removes the damaged runs, reuses the "
        "intact ones and reruns the rest."
    )


def _reopen(p: Plan) -> None:
    """Turn a finished comparison with damaged runs back into its partial directory, without those runs."""
    if p.partial.exists():
        raise ConfigError(
            f"`out` is '{p.out}', which has damaged runs, but {p.partial} exists too; delete one of them and run "
            "the same command again."
        )
    damaged = damaged_runs(p.out, _read_plan_of(p.out))
    names = [name for name, _ in damaged]
    print(
        f"{PROG}: {p.out} holds {len(names)} damaged or missing run(s) ({', '.join(names)}); they are removed and "
        "rerun, the intact runs are reused",
        file=sys.stderr,
    )
    for name in names:
        shutil.rmtree(p.out / "runs" / name, ignore_errors=True)
    p.out.rename(p.partial)


def _read_plan_of(out: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / "comparison.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
