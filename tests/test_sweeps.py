"""Sweeps: the completion marker, resume after SIGKILL, the collector, launchers and multirun validation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import BIN, assert_user_error, run_command, run_main

from sim.config import compose_config
from sim.engine.model import SiloModel
from sim.experiments.runs.rundir import MARKER, is_complete, job_dirname, prepare_run_dir, write_run
from sim.experiments.sweeps.collect import collect

TINY = ["customers=500", "weeks=8", "warmup_weeks=4", "output.customers=false"]


def complete_runs(sweep: Path) -> list[Path]:
    """The visible complete runs (a run being renamed into place is still a hidden ``.<name>.tmp-<pid>``)."""
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".") and is_complete(p))


def temp_leftovers(sweep: Path) -> list[Path]:
    return list(sweep.rglob(".*.tmp-*"))


# ------------------------------------------------------------------ marker and atomic write
@pytest.fixture(scope="module")
def tiny_model() -> tuple[SiloModel, object]:
    cfg = compose_config(TINY)
    return SiloModel(cfg).run(), cfg


def test_marker_lists_every_file_with_its_size(tmp_path: Path, tiny_model) -> None:
    model, cfg = tiny_model
    run = write_run(model, tmp_path / "run", cfg, overrides=["seed=0"])
    marker = json.loads((run / MARKER).read_text())["files"]
    on_disk = {p.relative_to(run).as_posix(): p.stat().st_size for p in run.rglob("*") if p.is_file()}
    assert marker == {k: v for k, v in on_disk.items() if k != MARKER}
    assert {"metrics.parquet", "summary.json", "parameters.json", ".hydra/config.yaml"} <= set(marker)
    assert is_complete(run)
    with (run / "metrics.parquet").open("ab") as f:  # a file that changed after the marker was written
        f.write(b"x")
    assert not is_complete(run)


_DIE_AT = """
import os, sys
from pathlib import Path
import sim.experiments.runs.files as files
import sim.experiments.runs.rundir as rundir
from sim.config import compose_config
from sim.engine.model import SiloModel

die_at, run_dir = int(sys.argv[1]), Path(sys.argv[2])
cfg = compose_config({tiny!r})
model = SiloModel(cfg).run()
calls = [0]
real_fsync, real_rename = files.fsync_path, Path.rename

def step():
    if calls[0] == die_at:
        os._exit(9)  # no clean-up of any kind, as under SIGKILL
    calls[0] += 1

def fsync(path):
    step()
    real_fsync(path)

def rename(self, target):
    step()
    return real_rename(self, target)

files.fsync_path = fsync
Path.rename = rename
rundir.write_run(model, run_dir, cfg, overrides=["seed=0"])
"""


@pytest.mark.slow
@pytest.mark.parametrize("die_at", [0, 3, 5, 6, 7, 8, 9])
def test_sigkill_at_any_point_of_a_write_leaves_no_visible_partial_run(tmp_path: Path, tiny_model, die_at: int) -> None:
    """A process writing a run dies (no clean-up, as under SIGKILL) at an fsync or the rename; then resume.

    The write flushes 6 files and the marker, the .hydra directory and the temporary directory (steps 0-8),
    then renames (step 9); dying at step 10 (the parent's fsync) means it finished.
    """
    model, cfg = tiny_model
    run_dir = tmp_path / "sweep" / "seed=0"
    run_dir.mkdir(parents=True)  # as Hydra creates a job's directory before the task runs
    child = subprocess.run(
        [sys.executable, "-c", _DIE_AT.format(tiny=TINY), str(die_at), str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 9, child.stderr
    # The run is not visible: the job directory is as Hydra left it, and the attempt is a hidden temp dir.
    assert not is_complete(run_dir) and not any(run_dir.iterdir())
    assert len(temp_leftovers(run_dir.parent)) == 1
    # Resuming removes the leftover and writes the run.
    assert prepare_run_dir(run_dir, cfg) is False
    assert not temp_leftovers(run_dir.parent)
    write_run(model, run_dir, cfg, overrides=["seed=0"])
    assert is_complete(run_dir) and not temp_leftovers(run_dir.parent)
    assert pd.read_parquet(run_dir / "metrics.parquet")["step"].tolist() == list(range(8))
    assert prepare_run_dir(run_dir, cfg) is True  # and a second resume skips it


def test_a_complete_run_is_skipped_only_for_the_same_configuration(tmp_path: Path, tiny_model) -> None:
    from sim.config import ConfigError

    model, cfg = tiny_model
    run = write_run(model, tmp_path / "run", cfg)
    assert prepare_run_dir(run, cfg) is True
    other = compose_config([*TINY, "seed=5"])
    with pytest.raises(ConfigError, match="different configuration"):
        prepare_run_dir(run, other)


def test_job_directory_names_are_stable_safe_and_distinct() -> None:
    assert job_dirname("design.row=3,seed=0") == "design.row=3,seed=0"
    assert job_dirname("") == "defaults"
    slashed = job_dirname("scenario_dir=/a/b,seed=1")
    assert "/" not in slashed and slashed != job_dirname("scenario_dir=_a_b,seed=1")
    long = ",".join(f"journey.touchpoints.t{i}.failure_prob=0.0{i}" for i in range(9))
    assert len(job_dirname(long)) <= 120
    assert job_dirname(long) == job_dirname(long)
    assert job_dirname(long) != job_dirname(long.replace("0.08", "0.09"))


# ----------------------------------------------------------------------------- collector
def _fake_runs(template: Path, root: Path, n: int) -> None:
    """``n`` run directories copied from one real run, each with its own seed in its configuration."""
    config = (template / ".hydra" / "config.yaml").read_text()
    summary = json.loads((template / "summary.json").read_text())
    for i in range(n):
        run = root / f"seed={i}"
        shutil.copytree(template, run, copy_function=os.link)  # hard links: quick, and the data is the same
        for name in (".hydra/config.yaml", "summary.json", MARKER):
            (run / name).unlink()  # then written anew, leaving the template alone
        (run / ".hydra" / "config.yaml").write_text(config.replace("seed: 0", f"seed: {i}"))
        summary["seed"] = i
        (run / "summary.json").write_text(json.dumps(summary))
        (run / MARKER).write_text((template / MARKER).read_text())
        marker = json.loads((run / MARKER).read_text())
        marker["files"][".hydra/config.yaml"] = (run / ".hydra" / "config.yaml").stat().st_size
        marker["files"]["summary.json"] = (run / "summary.json").stat().st_size
        (run / MARKER).write_text(json.dumps(marker))


def test_collector_counts_each_run_once_and_lists_the_incomplete(tmp_path: Path, tiny_model) -> None:
    model, cfg = tiny_model
    template = write_run(model, tmp_path / "template", cfg, overrides=["seed=0"])
    sweep = tmp_path / "sweep"
    _fake_runs(template, sweep, 5)
    (sweep / "seed=5").mkdir()  # a job that failed or was killed before writing
    shutil.copytree(sweep / "seed=0", sweep / ".seed=6.tmp-4242")  # an interrupted attempt
    (sweep / ".seed=6.tmp-4242" / MARKER).unlink()
    shutil.copytree(sweep / "seed=1", sweep / "zz_copy_of_seed=1")  # the same run twice
    shutil.copytree(sweep / "seed=2", sweep / "seed=7")
    (sweep / "seed=7" / MARKER).unlink()  # files without a marker
    (sweep / ".submitit").mkdir()
    (sweep / "multirun.yaml").write_text("{}")
    result = collect(sweep, timeseries=True, quiet=True)
    table = pd.read_parquet(result.table)
    assert result.runs == len(table) == 5
    assert table["run"].tolist() == [f"seed={i}" for i in range(5)]
    assert table["seed"].tolist() == list(range(5))
    assert {"final.true_nps", "final.annual_retention", "total.revenue", "mean.true_nps"} <= set(table.columns)
    reasons = dict(result.incomplete)
    assert set(reasons) == {"seed=5", ".seed=6.tmp-4242", "zz_copy_of_seed=1", "seed=7"}
    assert "empty job directory" in reasons["seed=5"]
    assert "temporary directory" in reasons[".seed=6.tmp-4242"]
    assert "same configuration and seed as seed=1" in reasons["zz_copy_of_seed=1"]
    assert "no COMPLETE marker" in reasons["seed=7"]
    assert len(pd.read_csv(result.incomplete_table)) == 4
    series = pd.read_parquet(result.timeseries)
    assert len(series) == 5 * 8 and series.groupby("run").size().eq(8).all()
    # Collecting again (its own outputs now in the directory) gives the same table.
    again = collect(sweep, quiet=True)
    assert again.runs == 5 and pd.read_parquet(again.table).equals(table)


@pytest.mark.slow
def test_collector_memory_stays_flat_as_runs_grow(tmp_path: Path, tiny_model) -> None:
    model, cfg = tiny_model
    template = write_run(model, tmp_path / "template", cfg, overrides=["seed=0"])
    peaks = {}
    # Both above the 256-row batch written as one row group. The claim is per added run, so 300 more runs test it
    # as 900 did (at 60% of the cost): a row kept per run would add about 900 kB, three times the allowance.
    for n in (300, 600):
        root = tmp_path / f"sweep{n}"
        _fake_runs(template, root, n)
        tracemalloc.start()
        result = collect(root, timeseries=True, quiet=True)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result.runs == n == pq.ParquetFile(result.table).metadata.num_rows
        assert pq.ParquetFile(result.table).num_row_groups > 1 or n < 256
    # Twice the runs: the peak grows by the few hundred bytes kept per run (configuration digest and name;
    # 200-400 measured), not by its row (31 columns, about 3 kB as Python objects) or its weekly series.
    assert peaks[600] < peaks[300] + 300 * 1000, peaks


def test_collect_command_rejects_an_unreadable_directory(tmp_path: Path) -> None:
    out = run_main("silosim-collect", str(tmp_path / "no_such_sweep"), cwd=tmp_path)
    assert_user_error(out, "silosim-collect", ["no_such_sweep", "readable directory"])
    assert not (tmp_path / "no_such_sweep").exists()


# ------------------------------------------------------------------- multirun and resume
@pytest.mark.e2e
def test_multirun_resumes_skips_complete_runs_and_collects(tmp_path: Path) -> None:
    args = ["-m", *TINY, "seed=0,1", "hydra.sweep.dir=sweep", "hydra.launcher.n_jobs=1"]
    first = run_command("silosim", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sweep = tmp_path / "sweep"
    assert [p.name for p in complete_runs(sweep)] == ["seed=0", "seed=1"]
    stamp = (sweep / "seed=0" / MARKER).stat().st_mtime_ns
    # Extending the sweep reruns nothing that is complete.
    second = run_command(
        "silosim", *args[:-3], "seed=0,1,2", "hydra.sweep.dir=sweep", "hydra.launcher.n_jobs=1", cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("skipped") == 2 and second.stdout.count("done in") == 1
    assert (sweep / "seed=0" / MARKER).stat().st_mtime_ns == stamp
    table = pd.read_parquet(sweep / "runs.parquet")  # written by the Hydra callback
    assert sorted(table["seed"]) == [0, 1, 2]
    # Reusing the sweep directory with another configuration is refused, not silently skipped.
    third = run_command(
        "silosim",
        "-m",
        *TINY[:-1],
        "output.customers=true",
        "seed=0,1",
        "hydra.sweep.dir=sweep",
        "hydra.launcher.n_jobs=1",
        cwd=tmp_path,
    )
    assert third.returncode != 0
    # the message is wrapped to the terminal's width, so a long temporary path moves the line breaks: fold them
    assert "different configuration" in " ".join((third.stderr + third.stdout).split())


@pytest.mark.slow
@pytest.mark.e2e
def test_sigkilled_sweep_resumes_to_every_run_exactly_once(tmp_path: Path) -> None:
    """Kill a real parallel sweep (joblib, 2 workers) with SIGKILL mid-way, resume it with the same command."""
    cmd = [
        str(BIN / "silosim"),
        "-m",
        "customers=2000",
        "weeks=26",
        "warmup_weeks=4",
        "output.customers=false",
        "seed=range(0,12)",
        "hydra.sweep.dir=sweep",
        "hydra.launcher.n_jobs=2",
    ]
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if sweep.is_dir() and len(complete_runs(sweep)) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed; make its runs longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.5)  # let the killed workers go
    done_before = {p.name: (p / MARKER).stat().st_mtime_ns for p in complete_runs(sweep)}
    assert 3 <= len(done_before) < 12
    assert not (sweep / "runs.parquet").exists()  # the callback never ran

    resumed = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("skipped") == len(done_before)
    assert resumed.stdout.count("done in") == 12 - len(done_before)
    runs = complete_runs(sweep)
    assert [p.name for p in runs] == sorted(f"seed={i}" for i in range(12))
    assert all((sweep / name / MARKER).stat().st_mtime_ns == ns for name, ns in done_before.items())
    assert not temp_leftovers(sweep)
    for run in runs:
        assert len(pd.read_parquet(run / "metrics.parquet")) == 26
        assert json.loads((run / "summary.json").read_text())["seed"] == int(run.name.split("=")[1])
    table = pd.read_parquet(sweep / "runs.parquet")
    assert len(table) == 12 and table["run"].is_unique and sorted(table["seed"]) == list(range(12))
    assert len(pd.read_csv(sweep / "incomplete.csv")) == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["governance.followup_capacity=0,50,200"], ["governance.followup_capacity", "feedback.inner_loop.capacity"]),
        (["feedback.inner_loop.capacity=0,50,-3"], ["feedback.inner_loop.capacity", "-3", "at least 0"]),
        (["journey.handoff_failure_prob=0.1,1.2"], ["journey.handoff_failure_prob", "1.2", "between 0 and 1"]),
        (
            ["experiment=bad", "experiment_dir={dir}"],
            [
                "design.parameters.governance.followup_capacity",
                "feedback.inner_loop.capacity",
                "journey.handoff_failure_prob",
                "1.5",
                "between 0 and 1",
            ],
        ),
    ],
)
def test_bad_sweeps_are_one_paragraph_exit_2_and_create_nothing(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "bad.yaml").write_text(
        "# @package _global_\ndesign:\n  method: lhs\n  samples: 4\n  parameters:\n"
        "    governance.followup_capacity: [0, 50]\n    journey.handoff_failure_prob: [0.01, 1.5]\n"
    )
    out = run_main(
        "silosim", "-m", *[a.format(dir=mine) for a in args], "seed=0,1", "hydra.sweep.dir=sweep", cwd=tmp_path
    )
    assert_user_error(out, "silosim", expected)
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_submitit_local_launcher_runs_and_resumes_the_same_sweep(tmp_path: Path) -> None:
    """The SLURM launcher's code path (submitit, pickled jobs, one process per run) on this machine."""
    args = ["-m", *TINY, "seed=0,1,2", "hydra/launcher=slurm_local", "hydra.sweep.dir=sweep"]
    out = run_command("silosim", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    sweep = tmp_path / "sweep"
    assert [p.name for p in complete_runs(sweep)] == ["seed=0", "seed=1", "seed=2"]
    assert (sweep / ".submitit").is_dir()
    table = pd.read_parquet(sweep / "runs.parquet")
    assert sorted(table["seed"]) == [0, 1, 2]
    again = run_command("silosim", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(pd.read_parquet(sweep / "runs.parquet")) == 3
    # the same runs as the local launcher gives: byte-identical metrics
    local = run_command(
        "silosim", "-m", *TINY, "seed=1,2", "hydra.sweep.dir=local", "hydra.launcher.n_jobs=1", cwd=tmp_path
    )
    assert local.returncode == 0, local.stderr
    assert (sweep / "seed=1" / "metrics.parquet").read_bytes() == (
        tmp_path / "local" / "seed=1" / "metrics.parquet"
    ).read_bytes()


@pytest.mark.e2e
def test_latin_hypercube_experiment_runs_one_job_per_row_with_its_values(tmp_path: Path) -> None:
    from sim.config import to_config
    from sim.experiments.sweeps.design import design_matrix

    out = run_command(
        "silosim",
        "-m",
        "experiment=lhs_example",
        *TINY,
        "design.samples=4",
        "seed=0",
        "hydra.sweep.dir=lhs",
        "hydra.launcher.n_jobs=1",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "sweep of 4 runs (4 design rows)" in out.stdout
    table = pd.read_parquet(tmp_path / "lhs" / "runs.parquet").sort_values("design.row")
    assert table["design.row"].tolist() == [0, 1, 2, 3]
    design = to_config(compose_config(["experiment=lhs_example", "design.samples=4"])).design
    expected = design_matrix(design)
    for j, key in enumerate(design.parameters):
        assert table[key].to_numpy() == pytest.approx(expected[:, j])
        low, high = design.parameters[key]
        strata = sorted(((table[key] - low) / (high - low) * 4).astype(int).clip(0, 3))
        assert strata == [0, 1, 2, 3]  # Latin hypercube: one row in each quarter of every range
    config = (tmp_path / "lhs" / "design.row=2" / ".hydra" / "config.yaml").read_text()
    assert f"handoff_failure_prob: {expected[2, 0]}" in config


@pytest.mark.parametrize(
    ("sweep", "fragments"),
    [
        ("scenario=siloed_scorecards,nope", ["`scenario`", "'nope'", "closed_loop_followup"]),
        ("governance.metric_type=operational,bogus", ["`governance.metric_type`", "'bogus'", "outcome"]),
    ],
)
def test_a_bad_later_value_of_a_sweep_stops_it_before_any_run(tmp_path: Path, sweep: str, fragments: list[str]) -> None:
    out = run_main("silosim", "-m", sweep, "customers=100", "weeks=2", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert_user_error(out, "silosim", fragments)
    assert not (tmp_path / "sweep").exists()


def test_collect_rejects_a_file_as_its_output(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("x")
    (tmp_path / "sweep").mkdir()
    out = run_main("silosim-collect", str(tmp_path / "sweep"), "--out", str(target), cwd=tmp_path)
    assert_user_error(out, "silosim-collect", ["`--out`", "a_file", "a file"])
