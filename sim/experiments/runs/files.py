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

An output directory is checked before any work starts (:func:`check_writable`): a path the system
will not let silosim write (read-only, no permission, a name too long, a place such as ``/proc``
where nothing can be created) is refused with one paragraph naming the path and the cause; an
operating-system error later (a full disk) is told the same way (:func:`os_error_message`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
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
    "check_writable",
    "fsync_path",
    "naming",
    "os_error_message",
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


# What an operating-system error means for the user, by errno.
OS_CAUSES = {
    errno.ENOSPC: "no space is left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission is denied",
    errno.EPERM: "the operation is not permitted there",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "a name in the path is too long",
    errno.ENOENT: "the directory cannot be created there",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "a directory stands where a file belongs",
    errno.EIO: "the device reported an input/output error",
}
NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole path (Linux)
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]|errno (\d+)", re.IGNORECASE)


def os_errno(exc: BaseException) -> int | None:
    """The errno of an OS error, also when a library (pyarrow) keeps it only in the message."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    match = _ERRNO_IN_TEXT.search(str(exc))
    return int(match[1] or match[2]) if match else None


def os_error_message(exc: BaseException, doing: str = "writing its outputs") -> str | None:
    """One paragraph for an operating-system error the user can act on, or None for any other error.

    Args:
        exc: The error.
        doing: What the command was doing, for the message.

    Returns:
        The paragraph (the path, the cause, what to do), or None if ``exc`` is not such an error.
    """
    number = os_errno(exc)
    if not isinstance(exc, OSError) or number not in OS_CAUSES:
        return None
    where = getattr(exc, "filename", None)
    path = f" '{where}'" if where else ""
    return (
        f"The system refused{path} while {doing}: {OS_CAUSES[number]} ({errno.errorcode.get(number, number)}). "
        "What was complete is kept (a resumable command resumes when run again); nothing half-written counts as "
        "done. Free space, fix the permission or choose another output directory, then run the command again."
    )


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Let an OS error that names no file (pyarrow's, for one) name ``path``, where the work was being written."""
    try:
        yield
    except OSError as exc:
        number = os_errno(exc)
        if exc.filename or number not in OS_CAUSES:
            raise
        raise OSError(number, os.strerror(number), str(path)) from exc


def check_writable(path: Path | str, key: str) -> None:
    """Refuse an output directory that cannot be created or written, before any work starts.

    The directory is not created: its nearest existing parent must be a directory in which a directory can be
    made (probed with a hidden temporary one, removed at once), and every name in the path must fit.

    Args:
        path: The output directory (it may not exist yet).
        key: The setting that named it (``out``, ``out_dir``, ``hydra.run.dir``).

    Raises:
        ConfigError: Naming the path and the cause.
    """
    target = Path(path).expanduser()
    shown = f"`{key}` is '{str(path)[:200]}{'...' if len(str(path)) > 200 else ''}'"
    too_long = next((part for part in target.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if too_long is not None or len(os.fsencode(str(target.absolute()))) > PATH_MAX:
        what = f"a name in it is {len(os.fsencode(too_long))} bytes" if too_long else "the whole path is too long"
        raise ConfigError(
            f"{shown}, but {what}; file systems allow {NAME_MAX} bytes per name and {PATH_MAX} per path. Choose a "
            "shorter output directory."
        )
    ancestor = next((p for p in [target, *target.absolute().parents] if p.exists()), Path("/"))
    if not ancestor.is_dir():
        raise ConfigError(f"{shown}, but '{ancestor}' is a file, not a directory; choose another output directory.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".silosim-probe-", dir=ancestor))
    except OSError as exc:
        number = os_errno(exc)
        cause = OS_CAUSES.get(number or 0, exc.strerror or type(exc).__name__)
        raise ConfigError(
            f"{shown}, but nothing can be written in '{ancestor}': {cause} "
            f"({errno.errorcode.get(number or 0, 'error')}). Choose an output directory you can write to."
        ) from None


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
