"""Writing outputs all or nothing: atomic directories and files, and refusing to overwrite.

Every output directory silosim writes (a run, a comparison, a calibration, a policy search) is
built under a hidden temporary name beside its target (``.<name>.tmp-<pid>``) and renamed into
place when complete, so an interrupted command leaves either nothing or the whole directory; a
single file is written to a temporary name and renamed (:func:`atomic_write`). Outputs are never
overwritten: :func:`require_fresh` refuses a directory that already holds files.

Tables are safe to open: a text cell that a spreadsheet would read as a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return, OWASP's CSV-injection triggers) is written
with a leading apostrophe (:func:`safe_text`, :func:`safe_table`); numbers, negative ones included,
stay numbers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.config.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "atomic_directory",
    "atomic_write",
    "fsync_path",
    "require_fresh",
    "safe_table",
    "safe_text",
    "temporary_name",
]

# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """A text value a spreadsheet shows as text: ``'`` before a leading formula trigger; anything else as is.

    >>> safe_text("=SUM(A1:A9)")
    "'=SUM(A1:A9)"
    >>> safe_text(-3.5), safe_text("Plan B")
    (-3.5, 'Plan B')
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names pass through :func:`safe_text` (numbers untouched)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind not in "biufcmM":  # text, mixed or categorical
            out[column] = out[column].map(safe_text)
    out.columns = [safe_text(c) for c in out.columns]
    return out


def temporary_name(target: Path) -> Path:
    """``<parent>/.<name>.tmp-<pid>``: where ``target`` is built before it is renamed into place."""
    return target.parent / f".{target.name}.tmp-{os.getpid()}"


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def require_fresh(path: Path, key: str, what: str) -> None:
    """Refuse an output directory that is a file or already holds files.

    Args:
        path: The output directory (it may not exist yet).
        key: The setting that named it (``out``, ``out_dir``).
        what: What is written there, plural (``comparisons``).

    Raises:
        ConfigError: If ``path`` is a file or a non-empty directory.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"`{key}` is '{path}', but that is a file; choose a new directory.")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(
            f"`{key}` is '{path}', but it already exists and is not empty; choose a new directory "
            f"({what} are never overwritten)."
        )


@contextmanager
def atomic_directory(target: Path, *, durable: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it into place when the block succeeds.

    The target may be absent or an empty directory (as Hydra creates for a job); on any exception,
    including KeyboardInterrupt, the temporary directory is removed and nothing is left behind.

    Args:
        target: The directory to create.
        durable: Flush every file and directory to disk before the rename, and the parent after it
            (a run directory must survive a power cut as complete or not at all).

    Yields:
        The temporary directory to write into.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if durable:
            for path in sorted(tmp.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                fsync_path(path)
            fsync_path(tmp)
        try:
            tmp.rename(target)  # POSIX rename replaces an empty directory atomically
        except OSError:
            target.rmdir()
            tmp.rename(target)
        if durable:
            fsync_path(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write one file through a temporary name beside it, then rename it into place.

    Args:
        path: The file to write.
        write: Called with the temporary path; writes the content there.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
