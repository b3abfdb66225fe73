"""The multiple-comparison adjustment: Bonferroni and Holm against hand-computed values, the consistency of
each verdict with its interval, and family-wise error control on data with no effect at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import summary_table
from sim.experiments.analysis.statistics import (
    adjusted_levels,
    direction,
    family_size,
    paired_difference,
    paired_p_value,
)

OUTCOMES = [o.name for o in comparison_outcomes()]


def test_paired_p_value_is_the_paired_t_test() -> None:
    a = pd.Series([3.0, 5.0, 7.0, 4.0], index=[0, 1, 2, 3])
    b = pd.Series([1.0, 4.0, 4.0, 4.5], index=[0, 1, 2, 3])
    assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert paired_p_value(a + 1, a) == 0.0 and paired_p_value(a, a) == 1.0  # no spread in the differences
    assert np.isnan(paired_p_value(a.iloc[:1], b.iloc[:1]))


def test_an_interval_clears_zero_exactly_when_its_p_value_is_below_one_minus_its_level() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        base = pd.Series(rng.normal(size=6))
        alt = base + rng.normal(0.5, 1.0, size=6)
        p = paired_p_value(alt, base)
        for level in (0.9, 0.95, 0.99):
            ci = paired_difference(alt, base, level)
            assert (direction(ci.low, ci.high) != 0) == (p < 1 - level)


def test_bonferroni_and_holm_by_hand() -> None:
    p = [0.010, 0.040, 0.030, 0.002]  # m = 4, alpha = 0.05
    bonferroni, levels = adjusted_levels(p, 0.95, "bonferroni")
    assert bonferroni == pytest.approx([0.04, 0.16, 0.12, 0.008])
    assert levels == pytest.approx([1 - 0.05 / 4] * 4)
    holm, levels = adjusted_levels(p, 0.95, "holm")
    # sorted: 0.002 (x4 = 0.008), 0.010 (x3 = 0.030), 0.030 (x2 = 0.060), 0.040 (x1 = 0.040 -> monotone 0.060)
    assert holm == pytest.approx([0.030, 0.060, 0.060, 0.008])
    # Holm rejects 0.002 (< 0.0125) and 0.010 (< 0.0167), stops at 0.030 (> 0.025): the rest at that step's level
    assert levels == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2, 1 - 0.05 / 4])
    assert adjusted_levels(p, 0.95, "none") == (p, [0.95] * 4)
    assert adjusted_levels([0.01, float("nan")], 0.95, "bonferroni")[0] == pytest.approx([0.02, 1.0])


def test_holm_verdicts_match_their_intervals_and_adjusted_p_values() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        p = list(rng.uniform(0, 0.08, size=6))
        adjusted, levels = adjusted_levels(p, 0.95, "holm")
        for p_raw, p_adj, level in zip(p, adjusted, levels, strict=True):
            assert (p_raw < 1 - level) == (p_adj < 0.05)  # interval clears zero <=> Holm declares the effect
        assert all(0.95 <= lv < 1 for lv in levels)


def _null_outcomes(rng: np.random.Generator, alternatives: int, replications: int) -> pd.DataFrame:  # for the table
    """Runs where no alternative differs from the baseline: every outcome is the seed's luck plus noise."""
    rows = []
    luck = rng.normal(size=(replications, len(OUTCOMES)))
    for s in ["base", *[f"alt{k}" for k in range(alternatives)]]:
        noise = rng.normal(scale=0.5, size=(replications, len(OUTCOMES)))
        for seed in range(replications):
            rows.append({"scenario": s, "seed": seed, **dict(zip(OUTCOMES, luck[seed] + noise[seed], strict=True))})
    return pd.DataFrame(rows)


def _false_alarm_rate(adjustment: str, families: int = 2000) -> float:
    """Share of families of 18 paired comparisons (3 alternatives x 6 outcomes, 8 replications, no real effect)
    in which some verdict declares an effect. Verdicts are p < 1 - level, which is the interval clearing zero."""
    rng = np.random.default_rng(2024)
    replications, alternatives, outcomes = 8, 3, len(OUTCOMES)
    base = rng.normal(size=(families, 1, replications, outcomes))
    alts = base + rng.normal(scale=0.5, size=(families, alternatives, replications, outcomes))
    d = alts - base  # paired differences, shared baseline
    t = d.mean(axis=2) / (d.std(axis=2, ddof=1) / np.sqrt(replications))
    p = 2 * stats.t.sf(np.abs(t), replications - 1)
    alarms = 0
    for family in p.reshape(families, -1):
        _, levels = adjusted_levels(list(family), 0.95, adjustment)
        alarms += any(pv < 1 - lv for pv, lv in zip(family, levels, strict=True))
    return alarms / families


def test_adjusted_verdicts_keep_the_family_wise_error_at_five_percent_and_unadjusted_ones_do_not() -> None:
    """18 comparisons, none real: unadjusted, some verdict is a false alarm most of the time (the negative control)."""
    none, bonferroni, holm = (_false_alarm_rate(a) for a in ("none", "bonferroni", "holm"))
    assert none > 0.4  # 1 - 0.95**18 = 0.60 for independent comparisons; these share the baseline
    assert bonferroni <= 0.065 and holm <= 0.065  # at most 5%, with Monte Carlo slack (2,000 families: SE 0.005)
    assert holm >= bonferroni


def test_summary_table_carries_p_values_and_the_verdict_intervals() -> None:
    rng = np.random.default_rng(5)
    outcomes = _null_outcomes(rng, 2, 6)
    outcomes.loc[outcomes["scenario"] == "alt0", "true_nps"] += 5.0  # one real, large effect
    order = ["base", "alt0", "alt1"]
    table = summary_table(outcomes, "base", order, 0.95, "bonferroni").set_index("scenario")
    m = family_size(order, "base")
    assert m == 2 * len(OUTCOMES)
    row = table.loc["alt0"]
    assert row["true_nps_diff_adj_level"] == pytest.approx(1 - 0.05 / m)
    assert row["true_nps_diff_adj_ci_low"] < row["true_nps_diff_ci_low"] < row["true_nps_diff"]
    assert row["true_nps_diff_adj_ci_low"] > 0  # the real effect survives the adjustment
    assert row["true_nps_diff_p_adj"] == pytest.approx(min(1.0, m * row["true_nps_diff_p"]))
    base = table.loc["base"]
    assert base["true_nps_diff"] == 0 and base["true_nps_diff_p"] == 1.0 and base["true_nps_diff_adj_level"] == 0.95
    unadjusted = summary_table(outcomes, "base", order, 0.95, "none").set_index("scenario")
    assert unadjusted.loc["alt0", "true_nps_diff_adj_ci_low"] == pytest.approx(row["true_nps_diff_ci_low"])
