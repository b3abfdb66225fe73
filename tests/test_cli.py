"""The silosim command: the output contract, reproducibility, and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

from sim.experiments.runs.rundir import CUSTOMER_COLUMNS, DEPARTMENT_COLUMNS, METRIC_COLUMNS

SMALL = ["customers=1500", "weeks=20", "warmup_weeks=4"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    out = run_command("silosim", "scenario=closed_loop_followup", "seed=3", *SMALL, "hydra.run.dir=run", cwd=base)
    assert out.returncode == 0, out.stderr
    assert "Run directory:" in out.stdout and "True NPS (final)" in out.stdout
    return base / "run"


@pytest.mark.e2e
def test_run_writes_the_output_contract(run_dir: Path) -> None:
    for name in (
        "metrics.parquet",
        "departments.parquet",
        "customers.parquet",
        "summary.json",
        ".hydra/config.yaml",
        ".hydra/overrides.yaml",
    ):
        assert (run_dir / name).is_file(), name
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert set(METRIC_COLUMNS) <= set(metrics.columns)
    assert list(metrics["step"]) == list(range(20))
    departments = pd.read_parquet(run_dir / "departments.parquet")
    assert set(DEPARTMENT_COLUMNS) <= set(departments.columns)
    assert len(departments) == 20 * 5
    assert {"lever_handle_time_push", "lever_cross_sell_pressure"} <= set(departments.columns)
    customers = pd.read_parquet(run_dir / "customers.parquet")
    assert set(CUSTOMER_COLUMNS) <= set(customers.columns)
    assert customers["customer_id"].is_unique
    # one row per customer active at some point of the run: those active at its start plus everyone acquired
    assert len(customers) == metrics["active_before"].iloc[0] + metrics["acquired"].sum()
    assert (customers["left_step"] >= -1).all()
    assert set(customers["problem_resolution"].astype(str)) <= {"none", "quick", "slow", "unresolved", "silent"}
    still_active = customers["left_step"].eq(-1).sum()
    assert still_active == metrics["active_customers"].iloc[-1]


@pytest.mark.e2e
def test_summary_and_resolved_config(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["scenario"] == "closed_loop_followup"
    assert summary["seed"] == 3
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert summary["final"]["true_nps"] == pytest.approx(metrics["true_nps"].iloc[-1])
    assert summary["total"]["recoveries"] == metrics["recoveries"].sum()
    assert 0.0 < summary["final"]["annual_retention"] <= 1.0
    config = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "scenario_name: closed_loop_followup" in config
    assert "${" not in config  # fully resolved
    assert "capacity: 5.0" in config  # the scenario's inner loop


@pytest.mark.e2e
def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        out = run_command(
            "silosim", f"seed={seed}", *SMALL, "output.customers=false", f"hydra.run.dir={name}", cwd=tmp_path
        )
        assert out.returncode == 0, out.stderr
    a, b, c = ((tmp_path / n / "metrics.parquet").read_bytes() for n in "abc")
    assert a == b
    assert a != c
    assert not (tmp_path / "a" / "customers.parquet").exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("scenario=no_such_scenario", ["`scenario`", "no_such_scenario", "siloed_scorecards"]),
        (
            "feedback.survey.relationship_response_rate=1.5",
            ["feedback.survey.relationship_response_rate", "1.5", "between 0 and 1"],
        ),
        ("org.departments.Service.capacity=-5", ["org.departments.Service.capacity", "-5", "at least 0"]),
        ("journey.stages=[]", ["journey.stages", "empty"]),
        ("journey.touchpoints.setup.owner=Legal", ["journey.touchpoints.setup.owner", "Legal", "Operations"]),
        ("journey.touchpoints.setup.stage=checkout", ["journey.touchpoints.setup.stage", "checkout", "onboard"]),
        ("feedback.survey.respons_rate=0.2", ["feedback.survey.respons_rate", "response_rate"]),
        ("customers=abc", ["`customers`", "abc", "whole number"]),
        ("scenario_dir=/no/such/dir", ["scenario_dir", "/no/such/dir", "directory"]),
    ],
)
def test_bad_input_is_one_paragraph_exit_2_and_no_output(tmp_path: Path, override: str, expected: list[str]) -> None:
    out = run_main("silosim", override, "weeks=2", "customers=500", "hydra.run.dir=bad", cwd=tmp_path)
    assert_user_error(out, "silosim", expected)
    assert not (tmp_path / "bad").exists()
    assert not list(tmp_path.glob(".bad.tmp-*"))


@pytest.mark.e2e
def test_user_scenario_directory(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "our_plan.yaml").write_text(
        "# @package _global_\ngovernance:\n  shared_customer_view: true\n  executive_engagement: 1.0\n"
    )
    out = run_command("silosim", "scenario=our_plan", f"scenario_dir={mine}", *SMALL, "hydra.run.dir=run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["scenario"] == "our_plan"
    assert summary["programme"]["present"] is True
    config = (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
    assert "shared_customer_view: true" in config


@pytest.mark.e2e
def test_unreadable_scenario_file_is_a_user_error(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "broken.yaml").write_text("governance: [unclosed\n")
    out = run_command("silosim", "scenario=broken", f"scenario_dir={mine}", *SMALL, "hydra.run.dir=run", cwd=tmp_path)
    assert_user_error(out, "silosim", ["`scenario_dir`", "broken.yaml", "not valid YAML"])
    assert not (tmp_path / "run").exists()


@pytest.mark.e2e
def test_existing_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    out = run_command("silosim", *SMALL, "hydra.run.dir=taken", cwd=tmp_path)
    assert_user_error(out, "silosim", ["taken", "already contains files"])
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["keep.txt"]


def test_parameter_docs_are_up_to_date() -> None:
    from sim.config.paramdoc import DOC_PATH, render

    assert DOC_PATH.read_text() == render(), "run `python -m sim.config.paramdoc`"
