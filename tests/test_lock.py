"""The lock (uv.lock) matches pyproject.toml, pins every package with hashes, and is what is installed.

`make install` runs `uv sync --locked`, which refuses a lock that has drifted from pyproject.toml; these tests
say the same in the suite, without the network, so a dependency edited without `uv lock` fails here first.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def _lock() -> dict:
    return tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _normal(requirement: str, extra: str | None = None) -> tuple[str, frozenset[str], str, str]:
    """A requirement as uv.lock records it: name, extras, specifier set, marker (with its extra)."""
    parsed = Requirement(requirement)
    marker = str(parsed.marker) if parsed.marker else ""
    if extra:
        marker = f"{marker} and extra == '{extra}'" if marker else f"extra == '{extra}'"
    return canonicalize_name(parsed.name), frozenset(parsed.extras), str(parsed.specifier), marker


def _locked(entry: dict) -> tuple[str, frozenset[str], str, str]:
    specifier = str(Requirement(f"x{entry.get('specifier', '')}").specifier)
    return canonicalize_name(entry["name"]), frozenset(entry.get("extras", ())), specifier, entry.get("marker", "")


def test_the_lock_records_exactly_the_requirements_of_pyproject() -> None:
    project = _project()
    wanted = {_normal(r) for r in project["dependencies"]}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        wanted |= {_normal(r, extra) for r in requirements}
    (silosim,) = (p for p in _lock()["package"] if p["name"] == "silosim")
    recorded = {_locked(e) for e in silosim["metadata"]["requires-dist"]}
    assert recorded == wanted, (
        f"uv.lock is stale (run .venv/bin/uv lock): only in pyproject.toml {sorted(wanted - recorded)}, "
        f"only in uv.lock {sorted(recorded - wanted)}"
    )
    assert silosim["metadata"].get("provides-extras", []) == sorted(project.get("optional-dependencies", {}))


def test_every_locked_package_is_pinned_from_pypi_with_hashes() -> None:
    for package in _lock()["package"]:
        if package["name"] == "silosim":
            continue
        assert package["source"] == {"registry": "https://pypi.org/simple"}, package["name"]
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        assert files, f"{package['name']} has no file in the lock"
        for file in files:
            assert file["hash"].startswith("sha256:"), (package["name"], file["url"])


def test_each_package_is_locked_once() -> None:
    names = [p["name"] for p in _lock()["package"]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_installed_environment_is_the_lock() -> None:
    locked = {p["name"]: p["version"] for p in _lock()["package"] if p["name"] != "silosim"}
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    if installed.get("uv") is None:
        pytest.skip("not installed by make install (no uv in this environment)")
    differ = {n: (installed[n], v) for n, v in locked.items() if installed.get(n, v) != v}
    assert not differ, f"installed versions differ from uv.lock (installed, locked); run make install: {differ}"
    direct = {_normal(r)[0] for r in _project()["dependencies"]}
    assert not direct - installed.keys(), sorted(direct - installed.keys())
