"""Aggregation and confidence-interval arithmetic against hand-computed values on small synthetic data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.engine.metrics import customer_lifetime_value
from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import load_runs, outcomes_of_run, summary_table, trajectory_bands
from sim.experiments.analysis.statistics import mean_ci, paired_difference, unpaired_difference

OUTCOMES = [o.name for o in comparison_outcomes()]

# Student-t quantiles t(0.975, dof), from tables: dof 2 -> 4.302653, dof 4 -> 2.776445.
T2, T4 = 4.302653, 2.776445


def test_mean_ci_of_one_to_five() -> None:
    # mean 3, sd sqrt(2.5), se sqrt(2.5)/sqrt(5) = 0.707107, half width 2.776445 * 0.707107 = 1.963243
    ci = mean_ci([1, 2, 3, 4, 5])
    assert ci.mean == 3.0 and ci.n == 5
    assert ci.low == pytest.approx(3 - 1.963243, abs=1e-5)
    assert ci.high == pytest.approx(3 + 1.963243, abs=1e-5)
    assert ci.half_width == pytest.approx(T4 * math.sqrt(2.5) / math.sqrt(5), abs=1e-5)


def test_mean_ci_edge_cases() -> None:
    assert math.isnan(mean_ci([]).mean)
    one = mean_ci([4.0])
    assert one.mean == 4.0 and math.isnan(one.low)
    assert mean_ci([2.0, float("nan"), 4.0]).n == 2
    same = mean_ci([7, 7, 7])
    assert same.low == same.high == 7.0
    assert mean_ci([1, 2, 3, 4, 5], level=0.99).half_width > mean_ci([1, 2, 3, 4, 5]).half_width


def test_paired_difference_by_seed() -> None:
    # differences by seed: 3-1, 5-4, 7-4 = 2, 1, 3 -> mean 2, sd 1, half width 4.302653 / sqrt(3) = 2.484138
    scenario = pd.Series([3.0, 5.0, 7.0], index=[0, 1, 2])
    baseline = pd.Series([4.0, 1.0, 4.0], index=[1, 0, 2])  # order must not matter: pairs are by seed
    d = paired_difference(scenario, baseline)
    assert d.mean == pytest.approx(2.0)
    assert d.low == pytest.approx(2 - 2.484138, abs=1e-5)
    assert d.high == pytest.approx(2 + 2.484138, abs=1e-5)
    assert d.half_width == pytest.approx(T2 / math.sqrt(3), abs=1e-5)


def test_paired_difference_uses_only_seeds_present_in_both() -> None:
    d = paired_difference(
        pd.Series([3.0, 5.0, 7.0, 100.0], index=[0, 1, 2, 9]), pd.Series([1.0, 4.0, 4.0], index=[0, 1, 2])
    )
    assert d.n == 3 and d.mean == pytest.approx(2.0)


def test_unpaired_welch_interval() -> None:
    # a = 3,5,7 (var 4), b = 1,4,4 (var 3): se = sqrt(4/3 + 3/3) = 1.527525;
    # Welch dof = (7/3)^2 / ((4/3)^2/2 + 1/2) = 3.92; t(0.975, 3.92) = 2.798932 -> half width 4.275444
    d = unpaired_difference([3, 5, 7], [1, 4, 4])
    assert d.mean == pytest.approx(2.0)
    assert d.half_width == pytest.approx(4.275444, abs=1e-4)


def test_pairing_narrows_the_interval_when_runs_are_correlated() -> None:
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 5, 20)  # common random numbers: the same luck in both scenarios
    a, b = 10 + shared + rng.normal(0, 0.5, 20), 8 + shared + rng.normal(0, 0.5, 20)
    paired = paired_difference(pd.Series(a), pd.Series(b))
    unpaired = unpaired_difference(a, b)
    assert paired.mean == pytest.approx(unpaired.mean)
    assert paired.half_width < unpaired.half_width / 3


def synthetic_metrics(
    weeks: int = 104, active: int = 1000, weekly_churn: float = 0.005, value: float = 2.0
) -> pd.DataFrame:
    """A run that keeps a constant population: churned customers replaced by new ones each week."""
    churned = round(active * weekly_churn)
    return pd.DataFrame(
        {
            "step": np.arange(weeks),
            "active_before": active,
            "churned": churned,
            "acquired": churned,
            "active_customers": active,
            "revenue": active * value,
            "true_nps": np.linspace(20, 10, weeks),
            "measured_nps": np.linspace(22, 12, weeks),
        }
    )


def test_outcomes_of_a_run() -> None:
    m = synthetic_metrics()
    out = outcomes_of_run(m, clv_discount_rate=0.1)
    retention = 0.995**52  # 5 of 1,000 churn each week
    assert out["annual_retention"] == pytest.approx(retention)
    assert out["true_nps"] == 10.0 and out["measured_nps"] == 12.0
    assert out["active_customers"] == 1000
    assert out["cumulative_revenue"] == pytest.approx(104 * 2000.0)
    annual_value = 52 * 2.0  # revenue per customer-year
    assert out["customer_lifetime_value"] == pytest.approx(annual_value * retention / (1.1 - retention))
    assert set(out) == set(OUTCOMES)


def test_customer_lifetime_value_formula() -> None:
    # Gupta & Lehmann: m r / (1 + d - r); m = 100, r = 0.8, d = 0.1 -> 80 / 0.3
    assert customer_lifetime_value(100.0, 0.8, 0.1) == pytest.approx(266.666667)
    assert customer_lifetime_value(100.0, 0.0, 0.1) == 0.0
    assert math.isnan(customer_lifetime_value(float("nan"), 0.8, 0.1))


def test_summary_table_means_and_paired_differences() -> None:
    rows = []
    for seed, (base, alt) in enumerate([(10.0, 13.0), (12.0, 14.0), (14.0, 18.0)]):
        for scenario, value in (("base", base), ("alt", alt)):
            rows.append({"scenario": scenario, "seed": seed, **dict.fromkeys(OUTCOMES, value)})
    table = summary_table(pd.DataFrame(rows), "base", ["base", "alt"]).set_index("scenario")
    assert table.loc["base", "true_nps_mean"] == pytest.approx(12.0)
    assert table.loc["base", "true_nps_ci_low"] == pytest.approx(12 - T2 * 2 / math.sqrt(3), abs=1e-4)
    assert table.loc["alt", "true_nps_mean"] == pytest.approx(15.0)
    # paired differences 3, 2, 4: mean 3, sd 1
    assert table.loc["alt", "true_nps_diff"] == pytest.approx(3.0)
    assert table.loc["alt", "true_nps_diff_ci_high"] == pytest.approx(3 + T2 / math.sqrt(3), abs=1e-4)
    assert table.loc["base", "true_nps_diff"] == 0.0
    assert table.loc["alt", "replications"] == 3
    assert list(table.index) == ["base", "alt"]


def test_trajectory_bands() -> None:
    m = pd.DataFrame(
        {"scenario": "s", "seed": [0, 1, 2, 0, 1, 2], "step": [0, 0, 0, 1, 1, 1], "x": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0]}
    )
    b = trajectory_bands(m, "x").set_index("step")
    assert b.loc[0, "mean"] == 2.0 and b.loc[0, "n"] == 3
    assert b.loc[0, "high"] == pytest.approx(2 + T2 * 1 / math.sqrt(3), abs=1e-4)
    assert b.loc[1, "low"] == b.loc[1, "high"] == 5.0


def write_fake_run(root: Path, name: str, scenario: str, seed: int, metrics: pd.DataFrame) -> None:
    d = root / name
    d.mkdir(parents=True)
    metrics.to_parquet(d / "metrics.parquet")
    pd.DataFrame({"step": [0], "department": ["Sales"], "kpi": [1.0], "scorecard": [1.0]}).to_parquet(
        d / "departments.parquet"
    )
    (d / "summary.json").write_text(json.dumps({"scenario": scenario, "seed": seed}))
    files = {p.name: p.stat().st_size for p in d.iterdir()}
    (d / "COMPLETE").write_text(json.dumps({"files": files}))  # written last, as sim.outputs does


def test_load_runs_counts_each_run_once_and_lists_failures(tmp_path: Path) -> None:
    m = synthetic_metrics(weeks=10)
    write_fake_run(tmp_path, "a_s0", "a", 0, m)
    write_fake_run(tmp_path, "a_s1", "a", 1, m)
    write_fake_run(tmp_path, ".a_s1.tmp-123", "a", 1, m)  # a leftover temporary copy: never counted
    write_fake_run(tmp_path, "c_s0", "c", 0, m)
    (tmp_path / "c_s0" / "metrics.parquet").write_bytes(b"truncated")  # size no longer matches the marker
    failed = tmp_path / "b_s0"
    failed.mkdir()
    (failed / "job.json").write_text(json.dumps({"scenario": "b", "seed": 0}))
    (failed / "error.txt").write_text("Traceback ...\nValueError: boom\n")
    (tmp_path / "b_s1").mkdir()  # killed before writing anything
    rs = load_runs(tmp_path)
    assert len(rs.outcomes) == 2 and sorted(rs.outcomes["seed"]) == [0, 1]
    assert len(rs.metrics) == 20 and set(rs.metrics["replication"]) == {0, 1}
    status = rs.runs.set_index("path")["status"]
    assert status[str(failed)] == "failed" and status[str(tmp_path / "b_s1")] == "incomplete"
    assert status[str(tmp_path / "c_s0")] == "incomplete"
    f = rs.failures.set_index("scenario").loc["b"]
    assert list(f["error"]) == ["ValueError: boom", "no output written"]
