"""Scenario discovery: PRIM finds a box with known answers, pairs runs by seed and parameters, and runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

from sim.config import ConfigError
from sim.experiments.sweeps.discovery import cases, discover, input_columns


@pytest.mark.slow
def test_prim_finds_the_box_that_generated_the_cases() -> None:
    """Cases are exactly a > 0.6 and b < 4 in a uniform sample: PRIM must find those two limits and leave c free."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.uniform(0, 1, 800), "b": rng.uniform(0, 10, 800), "c": rng.uniform(0, 1, 800)})
    y = ((x["a"] > 0.6) & (x["b"] < 4)).to_numpy()
    found = discover(x, y, min_density=0.95)
    assert found.cases == int(y.sum()) and found.runs == 800
    assert found.base_rate == pytest.approx(y.mean())
    assert found.box["density"] >= 0.95 and found.box["coverage"] >= 0.9 and found.dense_enough
    # a looser density requirement buys coverage with a box that reaches further into b
    loose = discover(x, y, min_density=0.8)
    assert loose.box["coverage"] >= found.box["coverage"] and 0.8 <= loose.box["density"] <= found.box["density"]
    limits = found.limits.set_index("parameter")
    assert set(limits.index) == {"a", "b"}
    assert limits.loc["a", "low"] == pytest.approx(0.6, abs=0.05) and limits.loc["a", "high"] == x["a"].max()
    assert limits.loc["b", "high"] == pytest.approx(4.0, abs=0.5) and limits.loc["b", "low"] == x["b"].min()
    assert limits.loc["a", "qp_low"] < 1e-6 and limits.loc["b", "qp_high"] < 1e-6  # far from noise
    trajectory = found.trajectory
    assert trajectory["coverage"].is_monotonic_decreasing and (trajectory["mass"].diff().dropna() < 0).all()


def test_runs_are_paired_by_parameters_and_seed_and_judged_by_their_difference() -> None:
    runs = pd.DataFrame(
        {
            "run": [f"r{i}" for i in range(8)],
            "scenario": ["base"] * 4 + ["plan"] * 4,
            "seed": [0, 1, 0, 1] * 2,
            "design.row": [0, 0, 1, 1] * 2,
            "p": [0.1, 0.1, 0.9, 0.9] * 2,
            "final.annual_retention": [0.80, 0.82, 0.70, 0.71, 0.81, 0.85, 0.75, 0.72],
            "final.true_nps": [1.0] * 8,
            "provenance.python": ["3.12.1"] * 8,
        }
    )
    assert input_columns(runs) == ["p"]
    x, y, value = cases(runs, "final.annual_retention", 0.02, above=True, versus="base")
    assert len(x) == 4 and x["p"].tolist() == [0.1, 0.1, 0.9, 0.9]
    assert value.round(6).tolist() == [0.01, 0.03, 0.05, 0.01]
    assert y.tolist() == [False, True, True, False]
    x, y, _ = cases(runs, "final.annual_retention", 0.75, above=False, scenario="base")
    assert y.tolist() == [False, False, True, True]
    with pytest.raises(ConfigError, match="no such column"):
        cases(runs, "final.retention", 0.0)
    with pytest.raises(ConfigError, match="`--versus` is 'nope'"):
        cases(runs, "final.annual_retention", 0.0, versus="nope")
    with pytest.raises(ConfigError, match="all 4 are cases"):
        discover(*cases(runs, "final.annual_retention", -1.0, versus="base")[:2])


TINY_LHS = """# @package _global_
customers: 500
weeks: 8
warmup_weeks: 4
output: {customers: false, progress: false}
design:
  method: lhs
  samples: 40
  parameters:
    journey.handoff_failure_prob: [0.0, 0.4]
    market.value_mean: [10.0, 30.0]
    feedback.survey.relationship_response_rate: [0.05, 0.3]
hydra:
  sweep:
    dir: runs
"""


@pytest.mark.slow
@pytest.mark.e2e
def test_discover_end_to_end_finds_the_parameter_that_drives_the_outcome(tmp_path: Path) -> None:
    """On a real sweep where only hand-off failure moves true NPS (the other two parameters move it by exactly 0
    under common random numbers), low true NPS is found where hand-off failure is high."""
    (tmp_path / "exps").mkdir()
    (tmp_path / "exps" / "tiny.yaml").write_text(TINY_LHS)
    sweep = run_command("silosim", "-m", "experiment=tiny", f"experiment_dir={tmp_path / 'exps'}", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    nps = pd.read_parquet(tmp_path / "runs" / "runs.parquet")["final.true_nps"]
    threshold = float(nps.quantile(0.3))
    out = run_command(
        "silosim-discover", "runs", "--outcome", "final.true_nps", "--below", str(threshold), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "# Scenario discovery: True NPS, final week is below" in out.stdout
    found = tmp_path / "runs" / "discovery"
    boxes = pd.read_csv(found / "boxes.csv").set_index("parameter")
    assert "journey.handoff_failure_prob" in boxes.index
    handoff = boxes.loc["journey.handoff_failure_prob"]
    assert handoff["low"] > handoff["range_low"] + 0.1 * (handoff["range_high"] - handoff["range_low"])
    assert "Probability that a hand-off between departments fails" in handoff["meaning"]
    payload = json.loads((found / "discovery.json").read_text())
    assert payload["runs"] == 40 and 0 < payload["cases"] < 40
    assert payload["box"]["density"] > payload["base_rate"]  # the box is denser than the whole space
    assert payload["provenance"]["packages"]["ema-workbench"]
    peeling = pd.read_csv(found / "peeling.csv")
    assert {"coverage", "density", "mass", "res_dim"} <= set(peeling.columns)
    assert (found / "discovery.png").stat().st_size > 20_000 and (found / "discovery.svg").exists()

    bad = run_main("silosim-discover", "runs", "--outcome", "final.nope", "--above", "0", cwd=tmp_path)
    assert_user_error(bad, "silosim-discover", ["`--outcome`", "final.nope", "final.true_nps"])


def test_discover_refuses_a_missing_sweep(tmp_path: Path) -> None:
    out = run_main("silosim-discover", "no_such_sweep", "--outcome", "final.true_nps", "--above", "0", cwd=tmp_path)
    assert_user_error(out, "silosim-discover", ["no_such_sweep", "not a directory"])
    assert list(tmp_path.iterdir()) == []
