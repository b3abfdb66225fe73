"""Every console script, driven with hostile input: one paragraph naming the key, the value and what is
allowed; exit status 2; no traceback; nothing written; never a file's content or Hydra's search path.

The files a user might pass by mistake are made once per test: a missing path, a directory where a file
belongs, a file where a directory belongs, a binary file, text that is not YAML, and YAML that is not a
mapping (its lines hold a secret that must never be echoed). Tests run as root in CI, so a file without
read permission is still readable; the binary and non-mapping files stand for unreadable content.

The table runs each command's ``main(argv)`` in this process (``run_main``: no interpreter start, imports or JIT
per case); one case per console script also runs as a process, as a user starts it, so the installed script,
its exit status and its stderr are checked end to end.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import assert_user_error, run_command, run_main

ECHO_MARKER = "s3cret-line-that-must-never-be-echoed"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Paths of the hostile files, by name, and the working directory's contents before the command."""
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file.txt").write_text("just text\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 20)
    (tmp_path / "not_yaml.yaml").write_text("key: [unclosed\n  - and: {broken\n")
    (tmp_path / "passwd").write_text("\n".join(f"root{i}:x:0:0:{ECHO_MARKER}:/root:/bin/bash" for i in range(30)))
    return {
        "missing": str(tmp_path / "no" / "such.yaml"),
        "dir": str(tmp_path / "a_dir"),
        "file": str(tmp_path / "a_file.txt"),
        "binary": str(tmp_path / "binary.yaml"),
        "not_yaml": str(tmp_path / "not_yaml.yaml"),
        "passwd": str(tmp_path / "passwd"),
    }


SMALL = ["customers=300", "weeks=2"]
CASES = [
    # --- silosim: unknown names, wrong types, out-of-range values
    ("silosim", ["scenario=nope"], ["`scenario`", "'nope'", "closed_loop_followup"]),
    ("silosim", ["customers=abc"], ["`customers`", "'abc'", "whole number"]),
    ("silosim", ["seed=-1"], ["`seed`", "-1", "at least 0"]),
    (
        "silosim",
        ["feedback.survey.relationship_response_rate=1.5"],
        ["`feedback.survey.relationship_response_rate`", "1.5", "between 0 and 1"],
    ),
    ("silosim", ["org.departments.Service.capacity=-5"], ["`org.departments.Service.capacity`", "-5", "at least 0"]),
    ("silosim", ["journey.stages=[]"], ["`journey.stages`", "empty"]),
    ("silosim", ["journey.touchpoints.setup.owner=Legal"], ["`journey.touchpoints.setup.owner`", "'Legal'", "Billing"]),
    ("silosim", ["journey.touchpoints.setup.stage=moon"], ["`journey.touchpoints.setup.stage`", "'moon'", "onboard"]),
    ("silosim", ["custmers=5"], ["`custmers`", "customers"]),
    ("silosim", ["+foo=1"], ["`foo`", "Keys allowed"]),
    ("silosim", ["customers=[1"], ["customers=[1", "key=value"]),
    ("silosim", ["-m", "experiment=nope"], ["`experiment`", "'nope'", "lhs_example"]),
    ("silosim", ["-m", "feedback.inner_loop.capacity=1,-3"], ["`feedback.inner_loop.capacity`", "-3", "at least 0"]),
    # --- silosim: files
    ("silosim", ["calibration={missing}"], ["`calibration`", "no such file"]),
    ("silosim", ["calibration={dir}"], ["`calibration`", "a_dir", "directory"]),
    ("silosim", ["calibration={binary}"], ["`calibration`", "binary.yaml", "not a text file"]),
    ("silosim", ["calibration={not_yaml}"], ["`calibration`", "not_yaml.yaml", "not valid YAML", "line"]),
    ("silosim", ["calibration={passwd}"], ["`calibration`", "passwd", "not a mapping"]),
    ("silosim", ["calibration=nope"], ["`calibration`", "'nope'", "calibrated"]),
    ("silosim", ["scenario_dir={file}"], ["`scenario_dir`", "a_file.txt", "a file"]),
    ("silosim", ["scenario_dir={missing}"], ["`scenario_dir`", "not a readable directory"]),
    ("silosim", ["hydra.run.dir={file}"], ["`hydra.run.dir`", "a_file.txt", "a file"]),
    # --- silosim-compare
    ("silosim-compare", ["scenarios=[siloed_scorecards,nope]"], ["`scenarios`", "nope", "closed_loop_followup"]),
    ("silosim-compare", ["replications=abc"], ["`replications`", "'abc'", "whole number"]),
    ("silosim-compare", ["confidence=1.5"], ["`confidence`", "1.5", "between 0 and 1"]),
    ("silosim-compare", ["comparison=nope"], ["`comparison`", "'nope'", "headline"]),
    ("silosim-compare", ["replicates=5"], ["`replicates`", "replications"]),
    ("silosim-compare", ["calibration={dir}"], ["`calibration`", "directory"]),
    ("silosim-compare", ["calibration={passwd}"], ["`calibration`", "not a mapping"]),
    ("silosim-compare", ["scenario_dir={file}"], ["`scenario_dir`", "a file"]),
    ("silosim-compare", ["out={file}"], ["`out`", "a_file.txt", "a file"]),
    ("silosim-compare", ["governance.communication=2"], ["`governance.communication`", "2", "between 0 and 1"]),
    # --- silosim-calibrate
    ("silosim-calibrate", ["target.nps=abc"], ["`target.nps`", "'abc'", "finite number"]),
    ("silosim-calibrate", ["target.nps=150"], ["`target.nps`", "150", "[-100, 100]"]),
    ("silosim-calibrate", ["target.bogus=1"], ["`target.bogus`", "nps"]),
    ("silosim-calibrate", ["target.nps=10", "model.scenario=nope"], ["`scenario`", "'nope'", "siloed_scorecards"]),
    ("silosim-calibrate", ["target.nps=10", "model.customers=-5"], ["`customers`", "-5", "at least 1"]),
    ("silosim-calibrate", ["target.nps=10", "method=magic"], ["`method`", "'magic'", "least_squares"]),
    ("silosim-calibrate", ["target.nps=10", "out_dir={file}"], ["`out_dir`", "a_file.txt", "a file"]),
    # --- silosim-policy
    ("silosim-policy", ["objective=happiness"], ["`objective`", "'happiness'", "retention_3y"]),
    ("silosim-policy", ["policy.budget=-1"], ["`policy.budget`", "-1", "positive"]),
    ("silosim-policy", ["model.scenario=nope"], ["`scenario`", "'nope'", "siloed_scorecards"]),
    ("silosim-policy", ["model.calibration={dir}"], ["`calibration`", "directory"]),
    ("silosim-policy", ["out_dir={file}"], ["`out_dir`", "a_file.txt", "a file"]),
    # --- silosim-sensitivity
    ("silosim-sensitivity", ["nope"], ["`experiment`", "'nope'", "sobol_example"]),
    ("silosim-sensitivity", ["lhs_example"], ["`design.method`", "'lhs'", "sobol"]),
    ("silosim-sensitivity", ["sobol_example", "customers=abc"], ["`customers`", "'abc'", "whole number"]),
    ("silosim-sensitivity", ["sobol_example", "--sweep-dir", "{file}"], ["a_file.txt", "a file"]),
    ("silosim-sensitivity", ["sobol_example", "experiment_dir={file}"], ["`experiment_dir`", "a file"]),
    ("silosim-sensitivity", ["sobol_example", "--bogus"], ["--bogus", "Usage: silosim-sensitivity"]),
    # --- silosim-collect
    ("silosim-collect", ["{missing}"], ["no/such.yaml", "not a readable directory"]),
    ("silosim-collect", ["{file}"], ["a_file.txt", "not a readable directory"]),
    ("silosim-collect", ["{dir}", "--out", "{file}"], ["`--out`", "a_file.txt", "a file"]),
    ("silosim-collect", [], ["directory", "Usage: silosim-collect"]),
]


def _arguments(program: str, args: list[str], files: dict[str, str]) -> list[str]:
    """The case's arguments, with the hostile files filled in and small, contained outputs added."""
    arguments = [a.format(**files) for a in args]
    if program == "silosim":
        arguments += SMALL
        if not any(a.startswith("hydra.run.dir=") for a in arguments):
            arguments.append("hydra.run.dir=run" if "-m" not in arguments else "hydra.sweep.dir=sweep")
    elif program == "silosim-compare":
        arguments += [*SMALL, "replications=2"] + ([] if any(a.startswith("out=") for a in arguments) else ["out=cmp"])
    elif program == "silosim-calibrate" and not any(a.startswith("out_dir=") for a in arguments):
        arguments.append("out_dir=fit")
    elif program == "silosim-policy" and not any(a.startswith("out_dir=") for a in arguments):
        arguments.append("out_dir=search")
    elif program == "silosim-sensitivity" and "--sweep-dir" not in arguments:
        arguments += ["--sweep-dir", "sweep"]
    return arguments


def _check(
    out: subprocess.CompletedProcess[str], program: str, fragments: list[str], before: list[str], cwd: Path
) -> None:
    paragraph = assert_user_error(out, program, fragments)
    assert ECHO_MARKER not in out.stderr + out.stdout
    assert "search path" not in paragraph.lower() and "provider=" not in paragraph
    assert len(paragraph) < 1500
    assert sorted(p.name for p in cwd.iterdir()) == before, "a user error must leave nothing behind"


@pytest.mark.parametrize(("program", "args", "fragments"), CASES, ids=[f"{p}:{' '.join(a)}" for p, a, _ in CASES])
def test_hostile_input_is_one_clear_paragraph(
    tmp_path: Path, files: dict[str, str], program: str, args: list[str], fragments: list[str]
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    out = run_main(program, *_arguments(program, args, files), cwd=tmp_path)
    _check(out, program, fragments, before, tmp_path)


# The first case of each console script, run as a process.
SMOKE = [next(case for case in CASES if case[0] == program) for program in dict.fromkeys(p for p, _, _ in CASES)]


@pytest.mark.e2e
@pytest.mark.parametrize(("program", "args", "fragments"), SMOKE, ids=[f"{p}:{' '.join(a)}" for p, a, _ in SMOKE])
def test_the_installed_script_reports_hostile_input_the_same_way(
    tmp_path: Path, files: dict[str, str], program: str, args: list[str], fragments: list[str]
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    out = run_command(program, *_arguments(program, args, files), cwd=tmp_path, timeout=120)
    _check(out, program, fragments, before, tmp_path)
