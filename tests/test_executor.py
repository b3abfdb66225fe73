"""The one executor: a Dask cluster started by the test runs what the local backend runs, byte for byte.

A ``distributed.LocalCluster`` (two worker processes) is started here; a sweep and a comparison go to it
through ``hydra/launcher=dask`` / ``launcher=dask`` with its address, and their run directories are compared
with the local backend's; a rerun resumes (every run skipped); a job that fails is reported as on the local
backend. Functions (:func:`~sim.experiments.runs.executor.map_jobs`) give the same results and the same
failure on both. Runs are tiny (a few hundred customers, a few weeks).
"""

from __future__ import annotations

import functools
import json
import operator
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_user_error, run_command, run_main
from omegaconf import OmegaConf

from sim.config import ConfigError
from sim.experiments.replications import base_configuration, measuring, run_replications
from sim.experiments.runs import executor
from sim.experiments.runs.executor import Backend, JobError, map_jobs

TINY = ["customers=300", "weeks=6", "warmup_weeks=2", "output.customers=false"]
RUN_FILES = ("metrics.parquet", "departments.parquet", "parameters.json", "summary.json", ".hydra/config.yaml")
# A run that crashes, injected through sitecustomize into every process started with this PYTHONPATH (the
# cluster's workers and the local backend's), while the flag file exists.
HOOK = """\
import os
import sim.engine.model
_run = sim.engine.model.SiloModel.run
def run(self, *a, **k):
    if os.path.exists(os.environ.get("SILOSIM_TEST_FAIL_FLAG", "/nonexistent")) and self.cfg.seed == 1 \\
            and self.cfg.scenario_name == "closed_loop_followup":
        raise RuntimeError("injected failure")
    return _run(self, *a, **k)
sim.engine.model.SiloModel.run = run
"""


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sitecustomize directory and the flag file that arms it."""
    where = tmp_path_factory.mktemp("hook")
    (where / "sitecustomize.py").write_text(HOOK)
    return where, where / "fail"


@pytest.fixture(scope="module")
def cluster(hook: tuple[Path, Path]) -> Iterator[str]:
    """A local Dask cluster of two worker processes (one thread each); yields the scheduler's address."""
    distributed = pytest.importorskip("distributed")
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(hook[0]), os.environ.get("PYTHONPATH", "")])
    os.environ["SILOSIM_TEST_FAIL_FLAG"] = str(hook[1])
    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local:
            os.environ.clear()
            os.environ.update(saved)
            yield local.scheduler_address
            executor._close_clients()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def hooked_env(hook: tuple[Path, Path]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook[0]), os.environ.get("PYTHONPATH", "")]),
        "SILOSIM_TEST_FAIL_FLAG": str(hook[1]),
    }


def run_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.mark.slow
def test_a_sweep_on_a_dask_cluster_writes_what_the_local_backend_writes_and_resumes(
    cluster: str, tmp_path: Path
) -> None:
    sweep = ["-m", *TINY, "scenario=siloed_scorecards,closed_loop_followup", "seed=0,1"]
    local = run_command("silosim", *sweep, "hydra.launcher.n_jobs=2", "hydra.sweep.dir=local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    dask_args = [*sweep, "hydra/launcher=dask", f"hydra.launcher.address={cluster}", "hydra.sweep.dir=dask"]
    on_dask = run_command("silosim", *dask_args, cwd=tmp_path)
    assert on_dask.returncode == 0, on_dask.stderr
    runs = run_dirs(tmp_path / "local")
    assert len(runs) == 4 and runs == run_dirs(tmp_path / "dask")
    for run in runs:
        for name in RUN_FILES:
            assert (tmp_path / "local" / run / name).read_bytes() == (tmp_path / "dask" / run / name).read_bytes()
    assert "SilosimLauncher" in (tmp_path / "dask" / "multirun.yaml").read_text()
    again = run_command("silosim", *dask_args, cwd=tmp_path)  # resume: every run is complete already
    assert again.returncode == 0 and again.stdout.count("skipped, already complete") == 4, again.stdout


@pytest.mark.slow
def test_a_comparison_on_a_dask_cluster_reports_a_failed_run_as_the_local_backend_does(
    cluster: str, hook: tuple[Path, Path], tmp_path: Path
) -> None:
    settings = ["scenarios=[siloed_scorecards,closed_loop_followup]", "replications=3", *TINY]
    env = hooked_env(hook)
    hook[1].write_text("armed")
    try:
        local = run_command("silosim-compare", *settings, "out=local", "n_jobs=2", cwd=tmp_path, env=env)
        on_dask = run_command(
            "silosim-compare",
            *settings,
            "out=dask",
            "launcher=dask",
            f"hydra.launcher.address={cluster}",
            cwd=tmp_path,
            env=env,
        )
    finally:
        hook[1].unlink()
    for out in (local, on_dask):
        assert out.returncode == 1, out.stderr
        assert "closed_loop_followup, seed 1: RuntimeError: injected failure" in out.stdout
    assert f"Dask at {cluster}" in on_dask.stderr and "runs 6/6 done, 1 failed" in on_dask.stderr
    for name in ("local", "dask"):
        assert (tmp_path / name / "runs" / "closed_loop_followup_s1" / "error.txt").exists()
    assert (tmp_path / "local" / "summary.csv").read_bytes() == (tmp_path / "dask" / "summary.csv").read_bytes()
    runs = run_dirs(tmp_path / "local" / "runs")
    assert runs == run_dirs(tmp_path / "dask" / "runs")
    for run in (r for r in runs if r != "closed_loop_followup_s1"):
        a, b = tmp_path / "local" / "runs" / run, tmp_path / "dask" / "runs" / run
        for name in RUN_FILES:
            assert (a / name).read_bytes() == (b / name).read_bytes(), (run, name)
    meta = json.loads((tmp_path / "dask" / "comparison.json").read_text())
    assert meta["launcher"] == "dask" and [f["seed"] for f in meta["failed_runs"]] == [1]


@pytest.mark.slow
def test_functions_on_a_dask_cluster_give_the_local_results_and_the_same_failure(cluster: str) -> None:
    on_dask = Backend("dask", 2, (f"hydra.launcher.address={cluster}",))
    model = {"scenario": "siloed_scorecards", "customers": 300, "weeks": 4, "seed": 0, "overrides": []}
    cfg = base_configuration(OmegaConf.create(model), "test")
    measure = measuring(["true_nps", "active_customers"])
    local = run_replications(cfg, [0, 1, 2], measure, backend=Backend("local", 2))
    assert run_replications(cfg, [0, 1, 2], measure, backend=on_dask) == local
    assert local[0] != local[1]  # three seeds, three runs
    done: list[tuple[int, int]] = []
    assert map_jobs(functools.partial(operator.truediv, 6), [1, 2, 3], on_dask, progress=lambda *a: done.append(a))
    assert done[-1] == (3, 3)
    for backend in (Backend("local", 2), Backend("basic"), on_dask):
        with pytest.raises(JobError, match=r"^run seed 0 failed: ZeroDivisionError: division by zero$"):
            map_jobs(functools.partial(operator.truediv, 1), [1, 0, 2], backend, labels=["seed 1", "seed 0", "seed 2"])


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (["launcher=ray_local"], ["`launcher`", "'ray_local'", "dask (", "slurm_local ("]),
        (["launcher=dask", "hydra.launcher.address=not an address"], ["`hydra.launcher.address`", "tcp://"]),
        (["launcher=dask", "hydra.launcher.address=tcp://127.0.0.1:9"], ["no Dask scheduler answered", ":9'"]),
        (["launcher=slurm_local", "hydra.launcher.address=tcp://127.0.0.1:9"], ["setting of launcher=dask"]),
        (["launcher=dask", "n_jobs=0"], ["`n_jobs`", "-1 (all cores)"]),
    ],
)
def test_bad_backend_settings_are_one_paragraph_and_nothing_is_written(
    tmp_path: Path, options: list[str], fragments: list[str]
) -> None:
    out = run_main("silosim-compare", *options, "replications=2", *TINY, "out=cmp", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert list(tmp_path.iterdir()) == []


def test_a_studys_backend_setting_is_checked() -> None:
    assert executor.backend_setting({"launcher": "dask", "launcher_options": []}, 2) == Backend("dask", 2)
    with pytest.raises(ConfigError, match="`launcher_options`"):
        executor.backend_setting({"launcher": "dask", "launcher_options": ["address=x"]}, 2)
    with pytest.raises(ConfigError, match="`launcher` is 'mpi'"):
        executor.backend_setting({"launcher": "mpi"}, 2)
    with pytest.raises(ConfigError, match="no SLURM sampler"):
        executor.abc_sampler(Backend("slurm"), 2)


@pytest.mark.slow
def test_functions_on_submitits_local_executor_give_the_results_and_the_same_failure(tmp_path: Path) -> None:
    """The SLURM code path (pickled jobs, a submitit folder, one process per job) on this machine."""
    backend = Backend("slurm_local", 2, folder=str(tmp_path / "submitit"))
    assert map_jobs(functools.partial(operator.truediv, 6), [1, 2, 3], backend) == [6.0, 3.0, 2.0]
    with pytest.raises(JobError, match=r"^run seed 0 failed: ZeroDivisionError: division by zero$"):
        map_jobs(functools.partial(operator.truediv, 1), [1, 0], backend, labels=["seed 1", "seed 0"])
    assert (tmp_path / "submitit").is_dir()
