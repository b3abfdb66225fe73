"""Provenance: what produced a result (silosim's version and commit, Python, the packages that decide the numbers).

Every run's ``summary.json``, a comparison's ``comparison.json`` (``meta["provenance"]``), every sweep
table (``runs.parquet``, through each run's summary), calibration (``fit.json``), policy search
(``study.json``) and scenario discovery (``discovery.json``) record :func:`provenance`. The same
configuration and seed give byte-identical ``metrics.parquet`` only with the same package versions
(docs/explanation/reproducibility.md), so a figure that does not say which versions made it cannot be checked.

The git commit is read only from a source checkout (the package's parent directory is the top of a
git work tree); an installed wheel records ``null`` and its version. ``dirty`` says whether tracked
files differed from that commit. Computed once per process (a sweep worker pays for it once).
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "provenance"]

# The packages whose versions decide a run's numbers or its files (docs/explanation/reproducibility.md).
PACKAGES = ("numpy", "numba", "llvmlite", "pandas", "pyarrow", "mesa", "hydra-core", "omegaconf", "scipy")
_GIT_TIMEOUT_S = 10.0


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(checkout: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - a fixed git command on our own checkout
            ["git", "-C", str(checkout), *args],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _checkout() -> Path | None:
    """The source checkout silosim is imported from, or None for an installed wheel."""
    import sim

    root = Path(sim.__file__).resolve().parent.parent  # the directory holding the package, wherever this module sits
    if not (root / "pyproject.toml").is_file() or not (root / ".git").exists():
        return None
    top = _git(root, "rev-parse", "--show-toplevel")
    return root if top and Path(top).resolve() == root else None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=8)
def _cached(extra: tuple[str, ...]) -> dict[str, Any]:
    checkout = _checkout()
    commit = _git(checkout, "rev-parse", "HEAD") if checkout else None
    status = _git(checkout, "status", "--porcelain", "--untracked-files=no") if checkout else None
    from sim import __version__

    return {
        "silosim": _version("silosim") or __version__,
        "git_commit": commit,
        "git_dirty": None if commit is None or status is None else bool(status),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in (*PACKAGES, *extra)},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "executable": sys.executable,
    }


def provenance(extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """What produced a result: silosim version, git commit and whether the tree was dirty, Python, packages.

    Args:
        extra: Further distributions to record (``("optuna",)`` for a study).

    Returns:
        ``silosim``, ``git_commit`` (None outside a source checkout), ``git_dirty``, ``python``,
        ``packages`` (distribution -> version), ``platform``, ``machine``, ``cpu``, ``executable``.

    >>> p = provenance()
    >>> sorted(p["packages"])[:3], p["python"].startswith("3.")
    (['hydra-core', 'llvmlite', 'mesa'], True)
    """
    result = _cached(tuple(extra))
    return {**result, "packages": dict(result["packages"])}
