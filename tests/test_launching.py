"""silosim's launcher: a job composed from a cached template is Hydra's own composition, and a sweep on it
writes the same run directories as on Hydra's joblib launcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_command
from omegaconf import OmegaConf

from sim.experiments.sweeps.launching import JobComposer

JOBS = [
    ["experiment=lhs_example", "customers=700", f"design.row={row}", f"seed={seed}", f"scenario={scenario}"]
    for scenario in ("siloed_scorecards", "closed_loop_followup")
    for row in (0, 5, 63)
    for seed in (0, 2)
]


@pytest.mark.slow
def test_a_job_composed_from_a_template_is_hydras_own_composition() -> None:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from sim.config.compose import hydra_context

    with hydra_context():
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", ["experiment=lhs_example", "customers=700"], RunMode.MULTIRUN)
        composer = JobComposer(loader, master)
        for job in JOBS:
            ours = composer.compose(job)
            hydra = loader.load_sweep_config(master, job)
            assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydra), job
            assert ours.hydra.job.override_dirname == hydra.hydra.job.override_dirname
        assert composer.reused >= len(JOBS) - 4  # two templates (one per scenario), each checked once
        assert not composer.refused


TINY = ["customers=400", "weeks=6", "warmup_weeks=2", "output.customers=false"]


@pytest.mark.e2e
def test_a_sweep_on_silosims_launcher_writes_what_the_joblib_launcher_writes(tmp_path: Path) -> None:
    sweep = ["-m", *TINY, "scenario=siloed_scorecards,closed_loop_followup", "seed=0,1"]
    ours = run_command("silosim", *sweep, "hydra.sweep.dir=ours", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    theirs = run_command("silosim", *sweep, "hydra/launcher=joblib", "hydra.sweep.dir=theirs", cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stderr
    runs = sorted(p.name for p in (tmp_path / "ours").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(runs) == 4
    assert runs == sorted(p.name for p in (tmp_path / "theirs").iterdir() if p.is_dir() and not p.name.startswith("."))
    for run in runs:
        a, b = tmp_path / "ours" / run, tmp_path / "theirs" / run
        for name in ("metrics.parquet", "departments.parquet", "parameters.json", ".hydra/config.yaml"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), (run, name)
        sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
        assert sa == sb
    # resuming on the other launcher skips every run
    again = run_command("silosim", *sweep, "hydra/launcher=joblib", "hydra.sweep.dir=ours", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped") == 4, again.stderr
