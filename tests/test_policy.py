"""silosim-policy: lever costs, the front, and an end-to-end search with Optuna (resumed, the budget a constraint)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

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


# a search space where the follow-up capacity (the lever that moves one-year retention most) decides
SEARCH = [
    "model.customers=3000",
    "model.weeks=104",
    "replications=2",
    "trials=8",
    "startup_trials=4",
    "policy.budget=100",
    "lever.followup_capacity=interval(2.0,10.0)",
    "lever.shared_stage_weight=choice(0.0,0.5)",
    "lever.executive_engagement=choice(0.5,0.6)",
    "lever.communication=0.7",
]


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("policy")
    out = run_command("silosim-policy", *SEARCH, "out_dir=search", cwd=base)
    return out, base / "search"


@pytest.mark.slow
@pytest.mark.e2e
def test_policy_search_respects_the_budget_and_its_frontier_is_non_dominated(
    search: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out, d = search
    assert out.returncode == 0, out.stderr
    assert "trial 1/8" in out.stdout and "trial 8/8" in out.stdout and "best within budget" in out.stdout
    trials = pd.read_csv(d / "trials.csv")
    assert len(trials) == 9  # the unchanged baseline plus eight trials
    assert (trials["feasible"] == (trials["cost"] <= 100 + 1e-9)).all()
    assert (~trials["feasible"]).any()  # settings over budget are simulated too (the front shows what they buy)
    assert ((trials["ci95_low"] <= trials["mean"]) & (trials["mean"] <= trials["ci95_high"])).all()
    assert trials["mean"].between(0, 1).all()
    assert (trials["lever.communication"] == 0.7).all()  # a fixed lever is not searched
    feasible = trials[trials["feasible"]]

    front = pd.read_csv(d / "front.csv")
    assert front["cost"].iloc[0] == 0.0  # the baseline anchors the front
    assert (np.diff(front["cost"]) >= 0).all() and (np.diff(front["mean"]) > 0).all()  # monotone
    assert (front["cost"] <= 100).all()
    for _, p in front.iterrows():  # non-dominated: nothing as cheap is better
        assert not ((feasible["cost"] <= p["cost"]) & (feasible["mean"] > p["mean"])).any()
    # Optuna's own constrained Pareto front of the study is the front's trials (the baseline is not a trial),
    # apart from trials that only tie with the baseline
    pareto = set(trials.loc[trials["optuna_pareto"], "trial"].astype(str))
    on_front = set(front["trial"].astype(str)) - {"baseline"}
    assert on_front <= pareto
    baseline_mean = front["mean"].iloc[0]
    assert all(trials.set_index(trials["trial"].astype(str)).loc[t, "mean"] <= baseline_mean for t in pareto - on_front)

    best = json.loads((d / "best.json").read_text())
    assert best["cost"] <= 100
    assert best["mean"] == pytest.approx(feasible["mean"].max())
    assert best["mean"] == pytest.approx(front["mean"].iloc[-1])
    assert best["diff_ci95_low"] <= best["diff_vs_baseline"] <= best["diff_ci95_high"]
    assert best["provenance"]["packages"]["optuna"]
    for name in ("front.png", "front.svg", "study.journal", "study.json", "baseline.json"):
        assert (d / name).stat().st_size > 500


@pytest.mark.slow
@pytest.mark.e2e
def test_policy_search_resumes_and_continues_its_study(
    search: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    """The same command with more trials continues the study: the first eight are kept, not simulated again."""
    out, d = search
    assert out.returncode == 0, out.stderr
    import shutil

    again = tmp_path / "search"
    shutil.copytree(d, again)
    args = [a if not a.startswith("trials=") else "trials=10" for a in SEARCH]
    more = run_command("silosim-policy", *args, "out_dir=search", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert "resuming the study in search: 8 of 10 trials done" in more.stdout
    assert "baseline (no programme" not in more.stdout  # the baseline is read back, not simulated
    assert [line.split()[1] for line in more.stdout.splitlines() if line.startswith("trial ")] == ["9/10", "10/10"]
    trials = pd.read_csv(again / "trials.csv")
    first = pd.read_csv(d / "trials.csv")
    assert len(trials) == 11
    kept = [c for c in first.columns if c != "optuna_pareto"]  # the Pareto front moves with more trials
    pd.testing.assert_frame_equal(trials.iloc[:9][kept], first[kept], check_dtype=False)
    # a changed setting is refused, naming it
    changed = run_command("silosim-policy", *args, "policy.budget=150", "out_dir=search", cwd=tmp_path)
    assert_user_error(changed, "silosim-policy", ["`out_dir`", "policy.budget 100 then, 150 now"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["objective=profit"], ["`objective`", "profit", "retention_3y, net_value"]),
        (["lever.communication=1.5"], ["`lever.communication` is 1.5", "[0, 1]"]),
        (["trials=0"], ["`trials` is 0", "at least 1"]),
        (["hydra.sweeper.n_trials=30"], ["`hydra.sweeper.n_trials`", "trials=N"]),
        (["policy.budget=-5"], ["`policy.budget`", "-5", "positive"]),
        (["lever.communication=interval(0.7,1.5)"], ["lever.communication", "governance.communication", "[0, 1]"]),
        (["lever.marketing_spend=interval(0,1)"], ["lever.marketing_spend", "policy.levers"]),
        (["model.customers=0"], ["customers", "at least 1"]),
    ],
)
def test_bad_policy_input_is_one_paragraph_exit_2_and_no_output(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    out = run_main("silosim-policy", *args, "out_dir=search", cwd=tmp_path)
    assert_user_error(out, "silosim-policy", expected)
    assert not (tmp_path / "search").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_two_workers_share_one_study(tmp_path: Path) -> None:
    """Two processes running the same command with the same out_dir (as SLURM array tasks would) share the study:
    together they run the requested trials once (each may finish the trial it started when the other reached the
    count), and both leave the same outputs."""
    import subprocess as sp

    from conftest import BIN

    args = [
        "model.customers=800", "model.weeks=26", "replications=2", "trials=6", "startup_trials=3", "jobs=1",
        "policy.budget=100", "out_dir=shared",
    ]  # fmt: skip
    workers = [
        sp.Popen([str(BIN / "silosim-policy"), *args], cwd=tmp_path, stdout=sp.PIPE, stderr=sp.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    ran = [sum(line.startswith("trial ") for line in o[0].splitlines()) for o in outs]
    assert all(r >= 1 for r in ran), ran  # both did some of the work
    trials = pd.read_csv(tmp_path / "shared" / "trials.csv")
    assert 6 <= len(trials) - 1 <= 7 and trials["trial"].iloc[1:].astype(int).is_unique
    assert len(trials) - 1 == sum(ran)  # every trial run once, by one of the two


def test_a_resumed_search_proposes_and_finds_what_the_uninterrupted_one_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted inside its third trial and resumed, the search holds the same settings and results, in order."""
    from optuna.trial import TrialState

    from sim.experiments.policy import load, search
    from sim.experiments.runs.studies import trials_in

    monkeypatch.chdir(tmp_path)
    small = ["model.customers=300", "model.weeks=8", "replications=2", "trials=5", "startup_trials=2", "jobs=1"]
    small += ["policy.budget=100", "lever.followup_capacity=interval(2.0,10.0)", "lever.communication=0.7"]
    small += ["lever.shared_stage_weight=choice(0.0,0.5)", "lever.executive_engagement=choice(0.5,0.6)"]

    def history(directory: str) -> list[tuple[dict[str, float], float]]:
        complete, _ = trials_in(search(load([*small, f"out_dir={directory}"]), progress=lambda _: None))
        return [(t.user_attrs["settings"], t.user_attrs["mean"]) for t in complete]

    reference = history("whole")

    def stop_in_third(line: str) -> None:
        if line.startswith("trial 3/"):
            raise KeyboardInterrupt  # as Ctrl-C or SIGTERM inside a trial: that trial never completes

    with pytest.raises(KeyboardInterrupt):
        search(load([*small, "out_dir=cut"]), progress=stop_in_third)
    resumed = history("cut")
    states = [t.state for t in search(load([*small, "out_dir=cut"]), progress=lambda _: None).get_trials()]
    assert states.count(TrialState.COMPLETE) == 5 and TrialState.RUNNING not in states
    assert len(states) == 6  # the interrupted trial stays in the journal, failed, and is not counted
    assert resumed == reference
