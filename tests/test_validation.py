"""silosim-validate: the small version of the stylized-fact suite, its verdict logic, its outputs and its errors.

The full suite (20 seeds x 20,000 customers, every fact) is a documented command (docs/validation.md);
here a subset of the facts whose effects are large runs at a small size and must hold, a tightened
threshold must make the command fail with exit 1, and bad declarations are one-paragraph user errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

from sim.experiments.analysis.statistics import Interval
from sim.experiments.facts.measures import MEASURES, measure_run
from sim.experiments.facts.spec import Check, load_spec
from sim.experiments.facts.suite import judge

SMALL = ["seeds=4", "customers=4000", "weeks=104", "jobs=2"]
ROBUST = [  # facts whose effects are large enough to show at 4 seeds x 4,000 customers
    "promoters_give_most_referrals",
    "score_chasing_moves_measured_not_true",
    "loyalty_follows_category",
]


def _check(holds: dict) -> Check:
    return Check("true_nps_y3", "siloed_scorecards", None, holds)


@pytest.mark.parametrize(
    ("holds", "interval", "expected"),
    [
        ({"above": 0.0}, Interval(1.0, 0.1, 1.9, 5), True),
        ({"above": 0.0}, Interval(1.0, -0.1, 2.1, 5), False),  # the whole interval must clear the threshold
        ({"below": 2.0}, Interval(1.0, 0.5, 1.9, 5), True),
        ({"below": 2.0}, Interval(1.0, 0.5, 2.1, 5), False),
        ({"within": [-1.0, 1.0]}, Interval(0.0, -0.9, 0.9, 5), True),
        ({"within": [-1.0, 1.0]}, Interval(0.0, -1.1, 0.9, 5), False),
        ({"above": 0.0}, Interval(1.0, float("nan"), float("nan"), 1), False),  # undefined never holds
    ],
)
def test_a_check_holds_only_when_its_whole_interval_clears_the_threshold(
    holds: dict, interval: Interval, expected: bool
) -> None:
    assert judge(_check(holds), interval) is expected


def test_every_run_yields_every_declared_measure() -> None:
    measures = measure_run(["customers=800", "weeks=104", "warmup_weeks=20", "seed=3"])
    assert set(measures) == set(MEASURES)
    assert 0.0 < measures["promoter_referral_share"] <= 1.0
    shares = measures["share_detractors"] + measures["share_passives"] + measures["share_promoters"]
    assert shares == pytest.approx(1.0)


def test_the_declared_facts_load_with_their_sources() -> None:
    spec = load_spec(["out=/nonexistent/never-written"])
    assert len(spec.facts) >= 10
    assert all(f.source and f.title and f.checks for f in spec.facts)
    assert {"siloed_scorecards", "shared_stage_metrics", "closed_loop_followup", "score_chasing"} <= set(spec.scenarios)


@pytest.mark.slow
def test_small_suite_holds_and_writes_its_report(tmp_path: Path) -> None:
    out = run_command("silosim-validate", *SMALL, f"only=[{','.join(ROBUST)}]", "out=val", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ROBUST)} of {len(ROBUST)} facts hold." in out.stdout
    assert "runs 8/8 done" in out.stderr  # progress: 2 scenarios x 4 seeds
    report = tmp_path / "val"
    assert {p.name for p in report.iterdir()} == {"validation.md", "validation.json", "validation.png", "runs.csv"}
    payload = json.loads((report / "validation.json").read_text())
    assert payload["holds"] is True
    assert [f["name"] for f in payload["facts"]] == ROBUST
    for fact in payload["facts"]:
        for check in fact["checks"]:
            assert check["low"] <= check["value"] <= check["high"] and check["n"] == 4
    runs = pd.read_csv(report / "runs.csv")
    assert len(runs) == 8 and set(runs["scenario"]) == {"siloed_scorecards", "score_chasing"}
    md = (report / "validation.md").read_text()
    assert "| Fact | Check | Statistic | Value [CI] | Threshold | Holds |" in md and "TrueDelta" in md


@pytest.mark.slow
def test_a_failing_fact_exits_1_and_says_which(tmp_path: Path) -> None:
    tightened = "facts.promoters_give_most_referrals.checks.0.holds.above=0.99"  # no model gives 99%
    small = ["seeds=3", "customers=1000", "weeks=104"]
    out = run_command(
        "silosim-validate", *small, "only=[promoters_give_most_referrals]", tightened, "out=val", cwd=tmp_path
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Failing: promoters_give_most_referrals." in out.stdout
    assert json.loads((tmp_path / "val" / "validation.json").read_text())["holds"] is False


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["only=[no_such_fact]"], ["`only`", "no_such_fact", "stationary_baseline"]),
        (["seeds=1"], ["`seeds`", "1", "at least 3"]),
        (["confidence=1.5"], ["`confidence`", "1.5", "between 0 and 1"]),
        (["facts.stationary_baseline.checks.0.measure=nps_mood"], ["measure", "nps_mood", "true_nps_trend"]),
        (["facts.stationary_baseline.checks.0.holds={around: 1}"], ["holds.around", "not a configuration key"]),
        (["facts.stationary_baseline.checks.0.scenario=no_such_scenario"], ["no_such_scenario"]),
        (["overrides=[customer.rating_bias_sd=-1]"], ["customer.rating_bias_sd", "-1"]),
    ],
)
def test_bad_input_is_one_paragraph_exit_2_and_nothing_written(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    out = run_main("silosim-validate", *args, "out=val", cwd=tmp_path)
    assert_user_error(out, "silosim-validate", expected)
    assert not (tmp_path / "val").exists()
