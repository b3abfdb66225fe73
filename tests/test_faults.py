"""The fault table: hostile files, formula injection, racing commands, damaged runs, OS errors, impossible sizes.

Where a case can be driven in-process it is (``main(argv)`` of the console script, with stderr captured), so
the table stays fast; each user error must be one paragraph headed ``<program>: error:``, exit status 2, no
traceback, and nothing left behind. Runs are tiny (a few hundred customers, a few weeks).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_user_error, forgetting_user_groups
from openpyxl import load_workbook

from sim.commands import calibrate as calibrate_command
from sim.commands import collect as collect_command
from sim.commands import compare as compare_command
from sim.commands import discover as discover_command
from sim.commands import policy as policy_command
from sim.commands import run as run_command_module
from sim.commands import sensitivity as sensitivity_command
from sim.commands import validate as validate_command
from sim.config import ConfigError
from sim.config.compose import MAX_FILE_BYTES, MAX_VALUES
from sim.experiments.compare import partial as compare_partial
from sim.experiments.compare import run as compare_run
from sim.experiments.compare.planning import plan
from sim.experiments.compare.settings import prepare
from sim.experiments.runs.files import safe_table, safe_text

TINY = ["replications=2", "customers=300", "weeks=4", "warmup_weeks=2", "report.pdf=false"]
LEAK_MARKER = "hunter2-must-never-appear"


def _stopped(main: Callable[[list[str]], None], argv: list[str], capsys: pytest.CaptureFixture[str], code: int) -> str:
    """Run a console script's ``main`` in-process; it must exit with ``code``. Returns what it wrote to stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == code, err
    return err


def user_error(
    main: Callable[[list[str]], None], argv: list[str], capsys: pytest.CaptureFixture[str], fragments: Iterable[str]
) -> str:
    """Run a console script's ``main`` in-process; it must stop as :func:`conftest.assert_user_error` says, leaking
    nothing."""
    program = sys.modules[main.__module__].PROG
    err = _stopped(main, argv, capsys, 2)
    paragraph = assert_user_error(subprocess.CompletedProcess([program, *argv], 2, "", err), program, fragments)
    assert LEAK_MARKER not in paragraph
    return paragraph


def scenario_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    """A directory of the user's scenario files, by name."""
    directory = tmp_path / "mine"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


# ------------------------------------------------------------------------------------------ 1. files are data
RESOLVERS = {
    "env": "# @package _global_\nabout:\n  title: Plan ${oc.env:SILOSIM_TEST_SECRET}\n",
    "decode": "# @package _global_\ncustomer:\n  base_weekly_churn: ${oc.decode:'0.002'}\n",
    "custom": "# @package _global_\nabout:\n  description: ${silosim_jobdir:x}\n",
    "nested": "# @package _global_\njourney:\n  stages: [a, '${oc.env:HOME}']\n",
}


@pytest.mark.parametrize("kind", sorted(RESOLVERS))
def test_a_scenario_file_with_a_resolver_is_refused_naming_the_file_and_key(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILOSIM_TEST_SECRET", LEAK_MARKER)
    monkeypatch.chdir(tmp_path)
    mine = scenario_dir(tmp_path, {f"shared_{kind}": RESOLVERS[kind]})
    key = {"env": "about.title", "decode": "customer.base_weekly_churn", "custom": "about.description"}
    fragments = [f"shared_{kind}.yaml", "interpolation", key.get(kind, "journey.stages[1]")]
    user_error(
        compare_command.main,
        [f"scenarios=[siloed_scorecards,shared_{kind}]", f"scenario_dir={mine}", *TINY, "out=cmp"],
        capsys,
        fragments,
    )
    user_error(run_command_module.main, [f"scenario=shared_{kind}", f"scenario_dir={mine}"], capsys, fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing written


def test_the_projects_own_interpolation_still_works() -> None:
    from sim.config import compose_config

    cfg = compose_config(["scenario=closed_loop_followup"])
    assert cfg.scenario_name == "closed_loop_followup"  # conf/config.yaml: ${hydra:runtime.choices.scenario}


def test_an_alias_bomb_and_a_huge_file_are_refused_before_they_grow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = scenario_dir(tmp_path, {"bomb": "\n".join(lines) + "\n"})
    assert (bomb / "bomb.yaml").stat().st_size < 1000
    user_error(
        run_command_module.main, [f"scenario_dir={bomb}", "scenario=bomb"], capsys, ["bomb.yaml", f"{MAX_VALUES:,}"]
    )
    (tmp_path / "c").mkdir()
    cycle = scenario_dir(tmp_path / "c", {"cycle": "a: &a\n  b: *a\n"})
    user_error(run_command_module.main, [f"scenario_dir={cycle}"], capsys, ["cycle.yaml", "refer to themselves"])
    big = tmp_path / "big"
    big.mkdir()
    (big / "big.yaml").write_text("about:\n  description: '" + "x" * MAX_FILE_BYTES + "'\n")
    user_error(run_command_module.main, [f"scenario_dir={big}"], capsys, ["big.yaml", f"{MAX_FILE_BYTES:,} bytes"])


def test_text_settings_have_length_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_title = scenario_dir(tmp_path, {"long": f"# @package _global_\nabout:\n  title: {'T' * 10_000}\n"})
    user_error(
        run_command_module.main,
        [f"scenario_dir={long_title}", "scenario=long", "customers=300", "weeks=2"],
        capsys,
        ["`about.title`", "10,000 characters", "at most 80"],
    )
    user_error(compare_command.main, ["name=" + "n" * 10_000, *TINY], capsys, ["`name`", "1 to 64"])
    user_error(compare_command.main, ["name=../../etc", *TINY], capsys, ["`name`", "letters, digits"])
    user_error(compare_command.main, ["report.client=" + "c" * 10_000, *TINY], capsys, ["`report.client`", "120"])
    names = tmp_path / "names"
    names.mkdir()
    (names / ("s" * 100 + ".yaml")).write_text("about: {title: x}\n")
    user_error(run_command_module.main, [f"scenario_dir={names}"], capsys, ["100 characters", "at most 64"])


def test_a_scenario_passed_as_calibration_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = Path(__file__).resolve().parent.parent
    scenario = tmp_path / "full_transformation.yaml"
    scenario.write_text((repo / "scenarios" / "full_transformation.yaml").read_text())
    for main in (run_command_module.main, compare_command.main):
        user_error(
            main,
            [f"calibration={scenario}", "customers=300", "weeks=2"],
            capsys,
            ["`calibration`", "full_transformation.yaml", "not a calibrated file", "calibration_source", "scenario"],
        )


def test_a_calibrated_file_cannot_set_the_seed_or_run_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sneaky = tmp_path / "calibrated.yaml"
    sneaky.write_text(f"calibration_source: {sneaky}\nseed: 99\ncustomer:\n  base_weekly_churn: 0.002\n")
    user_error(run_command_module.main, [f"calibration={sneaky}", "weeks=2"], capsys, ["`seed`", "model parameters"])
    labels = tmp_path / "labels.yaml"
    labels.write_text(f"calibration_source: {labels}\nabout: {{title: Not a fit}}\n")
    user_error(run_command_module.main, [f"calibration={labels}", "weeks=2"], capsys, ["`about`"])
    fine = tmp_path / "fine.yaml"
    fine.write_text(f"calibration_source: {fine}\ncustomer:\n  base_weekly_churn: 0.002\n")
    from sim.config import checked_config

    assert checked_config([f"calibration={fine}"]).customer.base_weekly_churn == 0.002


# --------------------------------------------------------------------------------- 2. deliverables safe to open
def test_safe_text_neutralises_formula_triggers_and_leaves_numbers() -> None:
    for text in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")']:
        assert safe_text(text) == "'" + text
    assert safe_text(-3.5) == -3.5 and safe_text(-7) == -7 and safe_text("Plan B") == "Plan B"
    frame = pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "ok"], "value": [-1.5, 2.0], "n": [-3, 4]})
    safe = safe_table(frame)
    assert list(safe["name"]) == ["'=cmd|' /C calc'!A0", "ok"]
    assert safe["value"].tolist() == [-1.5, 2.0] and safe["n"].tolist() == [-3, 4]


@pytest.fixture(scope="module")
def hostile_comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished comparison whose scenario title, description and client are formulas and markup."""
    base = tmp_path_factory.mktemp("hostile")
    title = '=HYPERLINK("http://evil.example","click")'
    mine = scenario_dir(
        base,
        {
            "evil": f"# @package _global_\nabout:\n  title: '{title}'\n  description: '<script>alert(1)</script>'\n"
            "customer:\n  base_weekly_churn: 0.02\n"
        },
    )
    cwd = Path.cwd()
    os.chdir(base)
    try:
        with forgetting_user_groups():  # 'evil' is not left in the worker's scenario list
            compare_command.main(
                [
                    "scenarios=[siloed_scorecards,evil]",
                    f"scenario_dir={mine}",
                    *TINY,
                    "report.client=@SUM(1+1)<script>x</script>",
                    "out=cmp",
                ]
            )
    finally:
        os.chdir(cwd)
    return base / "cmp"


@pytest.mark.e2e
def test_the_workbook_holds_no_formula_and_shows_the_text_as_written(hostile_comparison: Path) -> None:
    book = load_workbook(hostile_comparison / "summary.xlsx")
    quoted = []
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(("=", "@", "+", "-")):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate)
                    quoted.append(cell.value)
    assert '=HYPERLINK("http://evil.example","click")' in quoted
    assert any(v.startswith("@SUM(1+1)") for v in quoted)
    numbers = [c.value for c in book["Paired differences"]["E"][1:]]
    assert all(isinstance(v, int | float) for v in numbers), numbers  # differences stay numbers
    assert min(numbers) < 0  # negative numbers are numbers, not text to neutralise


@pytest.mark.e2e
def test_the_tables_and_report_are_safe(hostile_comparison: Path) -> None:
    for name in ("summary.csv", "runs.csv"):
        for line in (hostile_comparison / name).read_text().splitlines():
            assert not any(cell.startswith(("=", "@", "+")) for cell in line.split(",")), (name, line)
    page = (hostile_comparison / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    meta = json.loads((hostile_comparison / "comparison.json").read_text())
    assert meta["titles"]["evil"].startswith("=HYPERLINK")  # kept as written in the data; neutralised when shown


# ------------------------------------------------------------------------- 3. one owner per comparison
@pytest.mark.e2e
def test_a_second_command_waits_and_finds_the_finished_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both commands plan before either starts; the second waits while the first runs and finishes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_partial, "LOCK_WAIT_SECONDS", 300.0)
    arguments = ["scenarios=[siloed_scorecards,closed_loop_followup]", *TINY, "out=cmp"]
    first, second = (plan(prepare(arguments)) for _ in range(2))
    launches: list[str] = []
    waiting = threading.Event()
    real_launch, real_waiting = compare_run.launch_multirun, compare_partial._waiting
    outcome: dict[str, object] = {}

    def second_command() -> None:
        try:
            outcome["comparison"] = compare_run.run_comparison(second, arguments)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    def launch(*args: object, **kwargs: object) -> object:
        launches.append("launch")
        if len(launches) == 1:  # the first command holds the lock: start the second and let it wait
            threading.Thread(target=second_command, name="second", daemon=True).start()
            assert waiting.wait(60), "the second command did not wait for the lock"
        return real_launch(*args, **kwargs)

    def note_waiting(out: Path, holder: str) -> None:
        real_waiting(out, holder)
        waiting.set()

    monkeypatch.setattr(compare_run, "launch_multirun", launch)
    monkeypatch.setattr(compare_partial, "_waiting", note_waiting)
    done = compare_run.run_comparison(first, arguments)
    deadline = threading.Event()
    for _ in range(600):
        if outcome:
            break
        deadline.wait(0.1)
    assert "error" not in outcome, outcome.get("error")
    found = outcome["comparison"]
    assert isinstance(found, compare_run.Comparison) and found.out == done.out
    assert launches == ["launch"]  # the second command reran nothing
    assert "finished this comparison" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]  # no partial directory, no lock file left
    assert len(found.runs.outcomes) == 4


def test_a_second_command_refuses_when_the_first_keeps_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from filelock import FileLock

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_partial, "LOCK_WAIT_SECONDS", 0.5)
    arguments = ["scenarios=[siloed_scorecards,closed_loop_followup]", *TINY, "out=cmp"]
    p = plan(prepare(arguments))
    held = FileLock(compare_partial.lock_path(p.out))
    held.acquire()
    try:
        with pytest.raises(ConfigError, match="being worked on"):
            compare_run.run_comparison(p, arguments)
    finally:
        held.release()
    assert not p.partial.exists() and not p.out.exists()  # the refused command created nothing
    assert "waiting for it to finish" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- 4. damage reported
@pytest.mark.e2e
def test_damaged_runs_are_refused_by_name_and_rerunning_redoes_only_those(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = ["scenarios=[siloed_scorecards,closed_loop_followup]", *TINY, "out=cmp"]
    compare_command.main(arguments)
    runs = tmp_path / "cmp" / "runs"
    before = (tmp_path / "cmp" / "summary.csv").read_bytes()
    markers = {p.name: (p / "COMPLETE").stat().st_mtime_ns for p in runs.iterdir() if p.is_dir()}
    truncated = runs / "siloed_scorecards_s1" / "metrics.parquet"
    truncated.write_bytes(truncated.read_bytes()[:100])
    flipped = runs / "closed_loop_followup_s0" / "metrics.parquet"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    flipped.write_bytes(bytes(data))

    paragraph = user_error(
        compare_command.main,
        ["from=cmp", "report.client=Other"],
        capsys,
        [
            "2 of its runs are damaged",
            "siloed_scorecards_s1",
            "metrics.parquet is 100 bytes",
            "closed_loop_followup_s0",
            "checksum",
            "out=",
        ],
    )
    assert "report.html" not in paragraph
    assert flipped.read_bytes() == bytes(data)  # refused: nothing was touched

    compare_command.main(arguments)  # the comparison's own command: only the damaged runs are redone
    err = capsys.readouterr().err
    assert "2 damaged or missing run(s)" in err and "2 of 4 runs are complete and reused" in err
    after = {p.name: (p / "COMPLETE").stat().st_mtime_ns for p in runs.iterdir() if p.is_dir()}
    assert after.keys() == markers.keys()
    assert {n for n in after if after[n] != markers[n]} == {"siloed_scorecards_s1", "closed_loop_followup_s0"}
    assert (tmp_path / "cmp" / "summary.csv").read_bytes() == before  # the same numbers as before the damage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]


# ------------------------------------------------------------------------------ 5. OS errors are user errors
def system_error(
    main: Callable[[list[str]], None], argv: list[str], capsys: pytest.CaptureFixture[str], fragments: Iterable[str]
) -> str:
    """Like :func:`user_error`, for an operating-system error met during the work: exit status 4."""
    err = _stopped(main, argv, capsys, 4)
    assert "Traceback" not in err and "\n\n" not in err.strip(), err
    paragraph = " ".join(err.split()).replace("- ", "-")
    for fragment in fragments:
        assert fragment in paragraph, (fragment, paragraph)
    return paragraph


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterable[Path]:
    """A 3 MB tmpfs (root can mount one; elsewhere the tests that need it are skipped with the reason)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"a size-limited tmpfs cannot be mounted here ({done.stderr.strip() or 'mount needs root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_kb: int) -> None:
    """Fill the disk but ``leave_kb`` kilobytes."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave_kb * 1024))


def zero_byte_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_size == 0 and p.name != "filler"]


LONG = "n" * 300


@pytest.mark.parametrize(
    ("main", "argv", "key"),
    [
        (run_command_module.main, ["hydra.run.dir=/proc/x", "customers=300", "weeks=2"], "`hydra.run.dir`"),
        (run_command_module.main, ["-m", "seed=1,2", "hydra.sweep.dir=/proc/x"], "`hydra.sweep.dir`"),
        (compare_command.main, ["out=/proc/x", *TINY], "`out`"),
        (sensitivity_command.main, ["morris_example", "--sweep-dir", "/proc/x"], "`--sweep-dir`"),
        (sensitivity_command.main, ["morris_example", "hydra.sweep.dir=/proc/x"], "`hydra.sweep.dir`"),
        (sensitivity_command.main, ["morris_example", "--sweep-dir", "s", "--out", "/proc/x"], "`--out`"),
        (collect_command.main, ["sweep", "--out", "/proc/x"], "`--out`"),
        (
            discover_command.main,
            ["sweep", "--outcome", "final.true_nps", "--above", "0", "--out", "/proc/x"],
            "`--out`",
        ),
    ],
    ids=[
        "silosim",
        "silosim-m",
        "silosim-compare",
        "sensitivity-sweep-dir",
        "sensitivity-hydra-sweep-dir",
        "sensitivity-out",
        "collect",
        "discover",
    ],
)
def test_a_path_that_cannot_exist_is_refused_before_any_run(
    main: Callable[[list[str]], None],
    argv: list[str],
    key: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep").mkdir()  # a sweep directory to collect or explain (empty: it must not be read first)
    user_error(main, argv, capsys, [key, "/proc/x", "nothing can be written in '/proc'"])
    assert [p.name for p in tmp_path.iterdir()] == ["sweep"] and not any((tmp_path / "sweep").iterdir())


def test_names_too_long_are_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    user_error(run_command_module.main, [f"hydra.run.dir={LONG}", "weeks=2"], capsys, ["300 bytes", "255"])
    user_error(compare_command.main, [f"out={LONG}/x", *TINY], capsys, ["`out`", "300 bytes"])
    user_error(validate_command.main, [f"out={LONG}"], capsys, ["`out`", "300 bytes"])
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_output_is_refused_before_any_run(
    small_disk: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    sweep = tmp_path / "sweep"  # a sweep directory to collect or explain
    sweep.mkdir()
    cases = [
        (run_command_module.main, [f"hydra.run.dir={small_disk}/run", "weeks=2"], "`hydra.run.dir`"),
        (compare_command.main, [f"out={small_disk}/cmp", *TINY], "`out`"),
        (validate_command.main, [f"out={small_disk}/v"], "`out`"),
        (calibrate_command.main, ["target.nps=10", f"out_dir={small_disk}/k"], "`out_dir`"),
        (policy_command.main, [f"out_dir={small_disk}/p"], "`out_dir`"),
        (sensitivity_command.main, ["morris_example", "--sweep-dir", f"{small_disk}/s"], "`--sweep-dir`"),
        (collect_command.main, [str(sweep), "--out", f"{small_disk}/c"], "`--out`"),
        (discover_command.main, [str(sweep), "--outcome", "x", "--above", "0", "--out", f"{small_disk}/d"], "`--out`"),
    ]
    for main, argv, key in cases:
        user_error(main, argv, capsys, [key, str(small_disk), "read-only", "EROFS"])


def test_a_full_disk_in_a_run_is_one_paragraph_and_leaves_no_run(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(small_disk, leave_kb=150)
    run_dir = small_disk / "run"
    system_error(
        run_command_module.main,
        ["customers=5000", "weeks=8", "warmup_weeks=2", f"hydra.run.dir={run_dir}"],
        capsys,
        [str(run_dir), "no space is left on the device", "ENOSPC"],
    )
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no run directory, no temporary one


def test_a_full_disk_in_a_sweep_job_stops_the_sweep_with_one_paragraph_and_it_resumes(
    small_disk: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sweep = small_disk / "sweep"
    argv = ["-m", "seed=range(0,4)", "customers=2000", "weeks=8", "warmup_weeks=2", f"hydra.sweep.dir={sweep}"]
    argv += ["hydra.launcher.n_jobs=1", "~hydra.callbacks.collect_runs"]
    fill(small_disk, leave_kb=400)  # room for the sweep's own files and a run or two, not for four
    err = system_error(run_command_module.main, argv, capsys, ["no space is left on the device", "ENOSPC"])
    assert err.count("silosim: error:") == 1 and "Traceback" not in err
    # what is there is complete: every run directory holds a COMPLETE run, no temporary one, no empty table
    runs = [p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]
    kept = {p.name for p in runs}
    assert all((p / "COMPLETE").is_file() for p in runs), [p.name for p in runs]
    assert len(kept) < 4 and not list(sweep.glob(".*.tmp-*")) and not zero_byte_files(small_disk)
    stamps = {name: (sweep / name / "COMPLETE").stat().st_mtime_ns for name in kept}
    (small_disk / "filler").unlink()  # space again: the same command resumes, reusing the complete runs
    run_command_module.main(argv)
    assert sum(1 for _ in sweep.glob("*/COMPLETE")) == 4
    assert {name: (sweep / name / "COMPLETE").stat().st_mtime_ns for name in kept} == stamps  # not rerun


@pytest.mark.e2e
@pytest.mark.parametrize("leave_kb", [500, 250])  # 500: the disk fills after some runs, or in the first; 250: in it
def test_a_full_disk_in_a_comparison_keeps_the_complete_runs_and_no_empty_table(
    small_disk: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leave_kb: int
) -> None:
    """Exit 4 (the system refused a write) whether the disk fills in the runs or in the comparison's own files.

    Before, a disk that filled before any run completed exited 1 ("no run completed"), as a failed run does.
    """
    monkeypatch.chdir(tmp_path)
    fill(small_disk, leave_kb=leave_kb)
    out = small_disk / "cmp"
    system_error(
        compare_command.main,
        ["scenarios=[siloed_scorecards,closed_loop_followup]", *TINY, f"out={out}"],
        capsys,
        [str(small_disk / ".cmp.partial"), "no space is left on the device", "run the command again"],
    )
    assert not out.exists() and not zero_byte_files(small_disk)
    runs = small_disk / ".cmp.partial" / "runs"
    for run in (p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")):
        assert (run / "COMPLETE").exists() or (run / "error.txt").exists() or not any(run.iterdir()), run


# ------------------------------------------------------------------------------ 6. resources checked first
@pytest.mark.parametrize(
    ("main", "argv", "fragments"),
    [
        (run_command_module.main, ["customers=1000000000000"], ["`customers`", "at most 10,000,000"]),
        (run_command_module.main, ["weeks=100000000"], ["`weeks`", "at most 5,200"]),
        (run_command_module.main, ["-m", "experiment=sobol_example", "design.samples=1048576"], ["`design.samples`"]),
        (compare_command.main, ["replications=100000"], ["`replications`", "at most 1,000"]),
        # about 150 hours at the documented speed, and over 24 however fast a quick run finds this machine
        (compare_command.main, ["replications=1000", "customers=2000000", "n_jobs=1"], ["hours", "allow_long=true"]),
        (validate_command.main, ["seeds=100000"], ["`seeds`", "at most 1,000"]),
    ],
    ids=["customers", "weeks", "sobol-samples", "replications", "hours", "validate-seeds"],
)
def test_impossible_sizes_are_refused_before_any_run(
    main: Callable[[list[str]], None],
    argv: list[str],
    fragments: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the work started instead of being refused")  # fails at once, rather than running hours

    monkeypatch.setattr(compare_run, "launch_multirun", started)
    user_error(main, argv, capsys, fragments)
    assert list(tmp_path.iterdir()) == []


def test_work_that_cannot_fit_the_memory_is_refused_naming_the_setting_to_lower(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.experiments.runs import resources

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(resources, "available_bytes", lambda: 2_000_000_000)  # a 2 GB machine
    user_error(run_command_module.main, ["customers=5000000"], capsys, ["5,000,000", "GB", "2.0 GB available"])
    user_error(
        compare_command.main,
        ["customers=1000000", "n_jobs=2", "replications=2"],
        capsys,
        ["2 runs at once", "`n_jobs`"],
    )
    user_error(
        run_command_module.main,
        ["-m", "seed=1,2,3", "customers=1000,3000000", "hydra.launcher.n_jobs=2"],
        capsys,
        ["`customers` is 3,000,000", "2 runs at once", "`hydra.launcher.n_jobs`"],
    )
    user_error(
        calibrate_command.main,
        ["target.nps=10", "model.customers=3000000", "jobs=2"],
        capsys,
        ["`customers` is 3,000,000", "2 runs at once", "`jobs`"],
    )
    user_error(
        validate_command.main, ["customers=3000000", "jobs=2"], capsys, ["3,000,000", "2 runs at once", "`jobs`"]
    )
    assert resources.run_bytes(20_000, 156, 104) < 500_000_000  # the default run fits a small laptop
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- 7. no orphans
def start_sweep(cwd: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``silosim -m`` over 6 seeds on 2 workers; returns the process and its workers once they run jobs."""
    psutil = pytest.importorskip("psutil")
    from conftest import BIN

    with (cwd / "stderr.txt").open("wb") as stderr:  # where the sweep's stacks go if it hangs (see below)
        proc = subprocess.Popen(
            [
                str(BIN / "silosim"),
                "-m",
                "seed=range(0,6)",
                "customers=20000",
                "weeks=104",
                "hydra.sweep.dir=sweep",
                "hydra.launcher.n_jobs=2",
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,  # the child has its own copy of the descriptor; ours is closed at once
            start_new_session=True,
        )
    deadline = time.monotonic() + 240
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        children = psutil.Process(proc.pid).children(recursive=True)
        workers = [c.pid for c in children if "loky" in " ".join(c.cmdline()) or "joblib" in " ".join(c.cmdline())]
        if len(workers) >= 2 and (cwd / "sweep").is_dir():
            break
        time.sleep(0.2)
    assert proc.poll() is None and len(workers) >= 2, "the sweep's workers did not start"
    time.sleep(2)  # the workers are inside their first runs
    return proc, workers


def alive(pids: list[int]) -> list[int]:
    psutil = pytest.importorskip("psutil")
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def completed(sweep: Path) -> set[str]:
    return {p.parent.name for p in sweep.glob("*/COMPLETE")} if sweep.is_dir() else set()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_sweep_leaves_no_worker_and_writes_no_run_after_the_kill(how: int, tmp_path: Path) -> None:
    proc, workers = start_sweep(tmp_path)
    os.kill(proc.pid, how)  # the main process only: its workers must notice by themselves
    killed_at = completed(tmp_path / "sweep")
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # once on CI (SIGTERM, the other test worker busy): say where it hangs
        os.kill(proc.pid, signal.SIGUSR1)  # faulthandler: every thread's stack to its stderr
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGKILL)
        stacks = (tmp_path / "stderr.txt").read_text(errors="replace")[-6000:]
        pytest.fail(f"the sweep did not exit within 60 s of {signal.Signals(how).name}; its threads:\n{stacks}")
    deadline = time.monotonic() + 5
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(workers), f"workers outlived the killed sweep: {alive(workers)}"
    time.sleep(3)
    assert completed(tmp_path / "sweep") == killed_at, "a run was written after the kill"
    if how == signal.SIGTERM:
        assert proc.returncode == 130


def test_a_resumed_study_marks_the_interrupted_trial_failed_and_leaves_live_ones(tmp_path: Path) -> None:
    import socket

    import optuna
    from optuna.trial import TrialState

    from sim.experiments.runs.studies import WORKER_ATTR, open_study

    sampler = optuna.samplers.RandomSampler(seed=0)
    study = open_study(tmp_path, "search", ["maximize"], sampler)
    abandoned, live = study.ask(), study.ask()
    gone = subprocess.Popen(["true"])  # a process that has exited: its pid names no live worker
    gone.wait()
    abandoned.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{gone.pid}")
    live.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")

    resumed = open_study(tmp_path, "search", ["maximize"], sampler)
    states = {t.number: t.state for t in resumed.get_trials(deepcopy=False)}
    assert states == {abandoned.number: TrialState.FAIL, live.number: TrialState.RUNNING}
