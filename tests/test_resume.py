"""Resumable comparisons: SIGKILL a real silosim-compare mid-way, run the same command again, get the same results.

The uninterrupted comparison is the reference: the resumed one must hold every run exactly once, reuse
the runs the killed attempt completed (untouched), leave no temporary or partial directory, and give a
byte-identical summary table, tidy time series and per-run metrics. The same holds on the SLURM
launcher's code path (submitit's local executor).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, assert_user_error, run_command, run_main

from sim.experiments.runs.rundir import MARKER, is_complete

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SCENARIOS = ("siloed_scorecards", "closed_loop_followup")
SETTINGS = [f"scenarios=[{','.join(SCENARIOS)}]", "replications=6", "customers=2000", "weeks=26", "warmup_weeks=4"]
EXPECTED = sorted(f"{s}_s{k}" for s in SCENARIOS for k in range(6))


def complete_runs(runs: Path) -> dict[str, int]:
    """Complete run directories -> the modification time of their marker."""
    if not runs.is_dir():
        return {}
    found = {}
    for p in runs.iterdir():  # a run's hidden temporary directory is renamed into place while this looks
        if p.name.startswith(".") or not p.is_dir() or not is_complete(p):
            continue
        try:
            found[p.name] = (p / MARKER).stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return found


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if ".tmp-" in p.name or p.name.endswith(".partial")]


def wait_for_lock(lock: Path, seconds: float) -> bool:
    """Whether the comparison's lock can be taken within ``seconds`` (no process of the attempt is left)."""
    fd = os.open(lock, os.O_RDWR)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                time.sleep(0.1)
        return False
    finally:
        os.close(fd)


def kill_midway(args: list[str], cwd: Path, out: str, at_least: int) -> dict[str, int]:
    """Start ``silosim-compare ARGS``, SIGKILL it once ``at_least`` runs are complete; return the complete runs."""
    proc = subprocess.Popen(
        [str(BIN / "silosim-compare"), *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runs = cwd / f".{out}.partial" / "runs"
    # generous: on a loaded 2-core machine each of submitit's one-process-per-run jobs spends 10-15 CPU-s on imports
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and len(complete_runs(runs)) < at_least:
        time.sleep(0.05)
    assert proc.poll() is None, "the comparison finished before it could be killed; make its runs longer"
    if len(complete_runs(runs)) < at_least:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"fewer than {at_least} runs were complete after 600 s; nothing to resume from")
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its process group; no clean-up of any kind
    proc.wait(timeout=30)
    # The sweep it started (in a session of its own) notices and stops itself: it releases the lock it inherited.
    assert wait_for_lock(cwd / f".{out}.lock", 10), "the killed comparison's sweep kept running"
    time.sleep(0.3)
    return complete_runs(runs)


def assert_same_results(resumed: Path, reference: Path) -> None:
    assert sorted(p.name for p in (resumed / "runs").iterdir() if p.is_dir() and not p.name.startswith(".")) == EXPECTED
    table = pd.read_csv(resumed / "runs.csv")
    assert sorted(table["path"]) == EXPECTED and (table["status"] == "ok").all()  # every run exactly once
    assert (resumed / "summary.csv").read_bytes() == (reference / "summary.csv").read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(resumed / "comparison.parquet"), pd.read_parquet(reference / "comparison.parquet")
    )
    for name in EXPECTED:
        assert (resumed / "runs" / name / "metrics.parquet").read_bytes() == (
            reference / "runs" / name / "metrics.parquet"
        ).read_bytes()
    assert (resumed / "report.html").stat().st_size > 10_000


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same comparison, never interrupted."""
    base = tmp_path_factory.mktemp("reference")
    out = run_command("silosim-compare", *SETTINGS, "out=cmp", cwd=base)
    assert out.returncode == 0, out.stderr
    return base / "cmp"


def test_a_sigkilled_comparison_resumes_with_every_run_once_and_the_same_results(
    reference: Path, tmp_path: Path
) -> None:
    args = [*SETTINGS, "out=cmp", "n_jobs=2"]
    done_before = kill_midway(args, tmp_path, "cmp", at_least=3)
    assert 3 <= len(done_before) < len(EXPECTED)
    assert not (tmp_path / "cmp").exists()  # nothing half-written is visible

    # A changed setting is refused, naming the difference, and touches nothing.
    changed = run_command("silosim-compare", *SETTINGS[:1], "replications=5", *SETTINGS[2:], "out=cmp", cwd=tmp_path)
    assert_user_error(changed, "silosim-compare", ["`out`", "interrupted comparison", "seeds", "never mixed"])
    assert complete_runs(tmp_path / ".cmp.partial" / "runs") == done_before

    resumed = run_command("silosim-compare", *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done_before)} of 12 runs are complete and reused" in resumed.stderr
    log = (tmp_path / "cmp" / "logs" / "runs.log").read_text()
    assert log.count("skipped, already complete") == len(done_before)
    after = complete_runs(tmp_path / "cmp" / "runs")
    assert all(after[name] == stamp for name, stamp in done_before.items())  # reused, not rerun
    assert_same_results(tmp_path / "cmp", reference)
    assert not leftovers(tmp_path)
    meta = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert meta["runs_reused"] == len(done_before)
    assert meta["provenance"]["packages"]["numpy"] and "python" in meta["provenance"]


def test_without_out_the_same_command_resumes_the_unfinished_comparison(reference: Path, tmp_path: Path) -> None:
    args = [*SETTINGS, "name=resume_me", "n_jobs=2"]
    proc_dir = tmp_path / "outputs" / "comparisons"
    proc = subprocess.Popen(
        [str(BIN / "silosim-compare"), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600  # as in kill_midway
    while time.monotonic() < deadline and proc.poll() is None:
        partials = list(proc_dir.glob(".*_resume_me.partial")) if proc_dir.is_dir() else []
        if partials and len(complete_runs(partials[0] / "runs")) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the comparison finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    (partial,) = proc_dir.glob(".*_resume_me.partial")
    assert wait_for_lock(partial.parent / (partial.name[: -len(".partial")] + ".lock"), 10)
    resumed = run_command("silosim-compare", *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "runs are complete and reused" in resumed.stderr
    (final,) = (p for p in proc_dir.iterdir() if p.is_dir())
    assert final.name == partial.name[1 : -len(".partial")]  # the interrupted comparison, finished in place
    assert (final / "summary.csv").read_bytes() == (reference / "summary.csv").read_bytes()
    assert not leftovers(tmp_path)


def test_a_comparison_on_the_slurm_launcher_resumes_and_matches_the_local_one(reference: Path, tmp_path: Path) -> None:
    """submitit's local executor: the SLURM launcher's code path (pickled jobs, .submitit/, one process per run)."""
    args = [*SETTINGS, "out=cmp", "launcher=slurm_local", "hydra.launcher.timeout_min=10"]
    done_before = kill_midway(args, tmp_path, "cmp", at_least=2)
    assert 2 <= len(done_before) < len(EXPECTED)
    resumed = run_command("silosim-compare", *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # submitit runs each job in a process of its own session: a job already running when the command was killed may
    # still finish and be reused, so at least the runs complete at the kill are reused, and never all of them
    reused = re.search(r"(\d+) of 12 runs are complete and reused", resumed.stderr)
    assert reused and len(done_before) <= int(reused.group(1)) < len(EXPECTED), resumed.stderr
    assert (tmp_path / "cmp" / "runs" / ".submitit").is_dir()
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["launcher"] == "slurm_local"
    assert_same_results(tmp_path / "cmp", reference)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["launcher=mpi"], ["`launcher`", "'mpi'", "slurm_local"]),
        (["launcher=slurm", "hydra.launcher.no_such_option=3"], ["launcher settings", "no_such_option"]),
    ],
)
def test_bad_launcher_settings_are_one_paragraph_and_nothing_is_written(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    out = run_main("silosim-compare", *args, "out=cmp", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert list(tmp_path.iterdir()) == []
