"""silosim-policy: lever costs, the frontier, and an end-to-end search with hydra-optuna-sweeper."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_command

from sim.experiments.policy import frontier, lever_cost

LEVERS = {
    "followup_capacity": {"baseline": 0.0, "cost_per_unit": 15.0},
    "executive_engagement": {"baseline": 0.5, "cost_per_unit": 300.0},
}


def test_lever_cost_counts_only_settings_above_the_baseline() -> None:
    assert lever_cost({"followup_capacity": 4.0, "executive_engagement": 0.7}, LEVERS) == pytest.approx(60 + 60)
    assert lever_cost({"followup_capacity": 0.0, "executive_engagement": 0.3}, LEVERS) == 0.0


def test_frontier_keeps_only_points_no_cheaper_point_beats() -> None:
    points = pd.DataFrame(
        {
            "trial": ["baseline", 0, 1, 2, 3, 4],
            "cost": [0.0, 50.0, 80.0, 120.0, 120.0, 400.0],
            "mean": [0.60, 0.59, 0.62, 0.61, 0.63, 0.70],
            "feasible": [True, True, True, True, True, False],
        }
    )
    front = frontier(points)
    assert list(front["trial"]) == ["baseline", 1, 3]


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("policy")
    # a search space where the follow-up capacity (the lever that moves one-year retention most) decides
    out = run_command(
        "silosim-policy",
        "model.customers=3000",
        "model.weeks=104",
        "replications=2",
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.sampler.n_startup_trials=4",
        "policy.budget=100",
        "lever.followup_capacity=interval(2.0,10.0)",
        "lever.shared_stage_weight=choice(0.0,0.5)",
        "lever.executive_engagement=choice(0.5,0.6)",
        "lever.communication=choice(0.7)",
        "hydra.sweep.dir=search",
        cwd=base,
    )
    return out, base / "search"


@pytest.mark.slow
@pytest.mark.e2e
def test_policy_search_respects_the_budget_and_its_frontier_is_non_dominated(
    search: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out, d = search
    assert out.returncode == 0, out.stderr
    assert "trial 1/8" in out.stdout and "trial 8/8" in out.stdout and "best so far" in out.stdout
    trials = pd.read_csv(d / "trials.csv")
    assert len(trials) == 9  # the unchanged baseline plus eight trials
    assert (trials.loc[trials["feasible"], "cost"] <= 100 + 1e-9).all()
    assert (trials.loc[~trials["feasible"], "cost"] > 100).all()
    assert trials.loc[~trials["feasible"], "mean"].isna().all()  # over budget: never simulated
    feasible = trials[trials["feasible"]]
    assert ((feasible["ci95_low"] <= feasible["mean"]) & (feasible["mean"] <= feasible["ci95_high"])).all()
    assert feasible["mean"].between(0, 1).all()

    front = pd.read_csv(d / "frontier.csv")
    assert front["cost"].iloc[0] == 0.0  # the baseline anchors the frontier
    assert len(front) >= 2  # some lever setting beats the unchanged baseline
    assert (np.diff(front["cost"]) >= 0).all() and (np.diff(front["mean"]) > 0).all()  # monotone
    assert (front["cost"] <= 100).all()
    for _, p in front.iterrows():  # non-dominated: nothing as cheap is better
        assert not ((feasible["cost"] <= p["cost"]) & (feasible["mean"] > p["mean"])).any()

    best = json.loads((d / "best.json").read_text())
    assert best["cost"] <= 100
    assert best["mean"] == pytest.approx(feasible["mean"].max())
    assert best["mean"] == pytest.approx(front["mean"].iloc[-1])
    # each trial's mean is the mean of its replications, all run on the same seeds
    for path in sorted(d.glob("trial_*/trial.json")):
        row = json.loads(path.read_text())
        if row["feasible"]:
            assert row["mean"] == pytest.approx(float(np.mean(row["values"])))
            assert len(row["values"]) == 2
    for name in ("frontier.png", "frontier.svg", "optimization_results.yaml"):
        assert (d / name).stat().st_size > 1000 or name.endswith(".yaml")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["objective=profit"], ["`objective`", "profit", "retention_3y, net_value"]),
        (["lever.communication=1.5"], ["`lever.communication` is 1.5", "[0, 1]"]),
        (["hydra.sweeper.n_trials=0"], ["`hydra.sweeper.n_trials` is 0", "at least 1"]),
        (["policy.budget=-5"], ["`policy.budget`", "-5", "positive"]),
        (["lever.communication=interval(0.7,1.5)"], ["lever.communication", "governance.communication", "[0, 1]"]),
        (["lever.marketing_spend=interval(0,1)"], ["lever.marketing_spend", "policy.levers"]),
        (["model.customers=0"], ["customers", "at least 1"]),
    ],
)
def test_bad_policy_input_is_one_paragraph_exit_2_and_no_output(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    out = run_command("silosim-policy", *args, "hydra.sweep.dir=search", cwd=tmp_path)
    assert_user_error(out, "silosim-policy", expected)
    assert not (tmp_path / "search").exists()
