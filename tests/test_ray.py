"""The Ray launcher against a local Ray instance (opt-in: needs hydra-ray-launcher; see docs/how-to/cluster.md).

python3.12 -m venv .venv-ray && .venv-ray/bin/pip install -e ".[dev]" "hydra-ray-launcher>=1.2.2"
SILOSIM_TEST_RAY=1 .venv-ray/bin/python -m pytest tests/test_ray.py -q
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SILOSIM_TEST_RAY") != "1",
        reason="opt-in: SILOSIM_TEST_RAY=1 in a venv with hydra-ray-launcher (make test-ray; docs/how-to/cluster.md)",
    ),
]

TINY = ["customers=500", "weeks=8", "warmup_weeks=4", "output.customers=false"]


def test_ray_launcher_runs_resumes_and_matches_the_local_launcher(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    args = [
        "-m",
        *TINY,
        "seed=0,1,2",
        "hydra/launcher=ray_local",
        "hydra.launcher.ray.init.num_cpus=2",
        "hydra.sweep.dir=sweep",
    ]
    env = {**os.environ, "RAY_ADDRESS": ""}  # a local instance, never a cluster the machine might know
    out = run_command("silosim", *args, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = tmp_path / "sweep"
    assert sorted(pd.read_parquet(sweep / "runs.parquet")["seed"]) == [0, 1, 2]
    again = run_command("silosim", *args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipped") == 3
    local = run_command(
        "silosim", "-m", *TINY, "seed=0,1,2", "hydra.sweep.dir=local", "hydra.launcher.n_jobs=1", cwd=tmp_path
    )
    assert local.returncode == 0, local.stderr
    for seed in range(3):
        assert (sweep / f"seed={seed}" / "metrics.parquet").read_bytes() == (
            tmp_path / "local" / f"seed={seed}" / "metrics.parquet"
        ).read_bytes()
