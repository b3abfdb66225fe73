"""silosim installs as a package: build the wheel, install it into a fresh virtual environment, and run the
commands from a directory outside the checkout (conf/ and scenarios/ found through pkg://sim._conf).

The fresh environment gets silosim from the wheel alone (``pip install --no-deps``); its dependencies are
the project environment's, made visible by a ``.pth`` line (the same versions, without downloading a few
hundred megabytes again). A ``.pth`` line does not run the editable install's finder, so ``import sim``
in the fresh environment can only find the wheel's copy, which the test checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

IGNORED = (".git", ".venv*", "outputs", "multirun", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("install")
    # build from a copy, so setuptools' build/ directory never lands in the checkout
    source = base / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED))
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(base), str(source)], base
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(base.glob("silosim-*.whl"))
    venv = base / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    pip = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)], base
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base).stdout.strip()
    (Path(site) / "silosim_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_wheel_ships_the_configuration_and_every_scenario(installed: Path, tmp_path: Path) -> None:
    code = (
        "import importlib.resources, sim; from pathlib import Path;"
        "conf = Path(str(importlib.resources.files('sim._conf')));"
        "print(sim.__file__); print(sorted(p.stem for p in (conf / 'scenario').glob('*.yaml')))"
    )
    out = _run([str(installed / "python"), "-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    location, scenarios = out.stdout.splitlines()
    assert Path(location).is_relative_to(installed.parent), f"sim imported from {location}, not the wheel"
    assert len(eval(scenarios)) == 9  # noqa: S307 - our own printed list


def test_installed_silosim_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed / "silosim"), "customers=500", "weeks=4", "scenario=closed_loop_followup",
                "hydra.run.dir=run"], tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["scenario"] == "closed_loop_followup" and summary["weeks"] == 4
    assert len(pd.read_parquet(tmp_path / "run" / "metrics.parquet")) == 4
    help_page = _run([str(installed / "silosim"), "--help"], tmp_path)
    assert help_page.returncode == 0 and "full_transformation" in help_page.stdout


def test_installed_silosim_compare_runs_outside_the_checkout_with_a_users_scenario(
    installed: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "my_scenarios"
    mine.mkdir()
    (mine / "our_plan.yaml").write_text("# @package _global_\nfeedback:\n  inner_loop: {capacity: 8.0}\n")
    out = _run([str(installed / "silosim-compare"), "scenarios=[siloed_scorecards,our_plan]", f"scenario_dir={mine}",
                "replications=2", "customers=500", "weeks=4", "launcher=basic", "out=cmp"], tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = pd.read_csv(tmp_path / "cmp" / "summary.csv")
    assert list(summary["scenario"]) == ["siloed_scorecards", "our_plan"]
    assert (summary["replications"] == 2).all()
    assert (tmp_path / "cmp" / "report.html").stat().st_size > 10_000
