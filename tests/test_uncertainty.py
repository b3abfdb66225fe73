"""Parameter uncertainty: paired draws, the two intervals, importance and switching values (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.config import compose_config, to_config
from sim.config.walk import uncertain_parameters
from sim.experiments.uncertainty.draws import draw_parameter_sets, parameter_values
from sim.experiments.uncertainty.effects import (
    effect_summary,
    importance,
    probability_best,
    switching_value,
    uncertainty_tables,
)

N_DRAWS, N_REPLICATIONS, NOISE = 128, 20, 0.3


def _toy(effect_of, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw and replicate outcomes of two scenarios whose effect is ``effect_of(params)`` plus noise."""
    rng = np.random.default_rng(seed)
    cfg = to_config(compose_config([]))
    table, _ = uncertain_parameters(cfg)
    keys = ["feedback.outer_loop.fix_effect", "customer.failure_penalty", "market.referral_conversion"]
    params = draw_parameter_sets(table, keys, N_DRAWS, seed=7)
    base = rng.normal(30.0, 1.0, N_DRAWS)  # the baseline's level varies; the paired effect is what counts
    draws = pd.concat(
        [
            pd.DataFrame({"scenario": "base", "draw": params.index, "y": base}),
            pd.DataFrame(
                {"scenario": "alt", "draw": params.index, "y": base + effect_of(params) + rng.normal(0, NOISE, N_DRAWS)}
            ),
        ]
    )
    defaults = pd.DataFrame({k: [table[k][0].value] * N_REPLICATIONS for k in keys})
    rbase = rng.normal(30.0, 1.0, N_REPLICATIONS)
    seeds = np.arange(N_REPLICATIONS)
    reps = pd.concat(
        [
            pd.DataFrame({"scenario": "base", "seed": seeds, "y": rbase}),
            pd.DataFrame(
                {
                    "scenario": "alt",
                    "seed": seeds,
                    "y": rbase + effect_of(defaults) + rng.normal(0, NOISE, N_REPLICATIONS),
                }
            ),
        ]
    )
    return draws, reps, params


def test_draws_are_paired_deterministic_and_inside_the_declared_distributions() -> None:
    cfg = to_config(compose_config([]))
    table, _ = uncertain_parameters(cfg)
    keys = ["feedback.outer_loop.fix_effect", "customer.renewal_minor", "customer.give_up_weeks"]
    a = draw_parameter_sets(table, keys, 16, seed=3)
    assert a.equals(draw_parameter_sets(table, keys, 16, seed=3))
    assert not a.equals(draw_parameter_sets(table, keys, 16, seed=4))
    assert a["feedback.outer_loop.fix_effect"].between(0.1, 0.5).all()
    # a Latin hypercube: each sixteenth of the distribution holds exactly one draw
    u = table["feedback.outer_loop.fix_effect"][1].frozen().cdf(a["feedback.outer_loop.fix_effect"])
    assert sorted(np.floor(u * 16).astype(int)) == list(range(16))
    values = parameter_values(table, a.iloc[0].to_dict())
    assert isinstance(values["customer.give_up_weeks"], int)
    m = a["customer.renewal_minor"].iloc[0]
    assert values["customer.renewal_minor"] == pytest.approx([0.95 * m, 0.70 * m, 0.46 * m, 0.37 * m])


def test_a_linear_toy_effect_ranks_its_parameter_first_with_the_analytic_switching_value() -> None:
    # effect = 8 x fix_effect - 1: zero at fix_effect = 0.125, inside the declared triangular(0.1, 0.3, 0.5)
    draws, reps, params = _toy(lambda p: 8.0 * p["feedback.outer_loop.fix_effect"].to_numpy() - 1.0)
    summary, imp = uncertainty_tables(draws, reps, params, "base", ["base", "alt"], ["y"], level=0.95)
    row = summary[summary["scenario"] == "alt"].iloc[0]
    assert row["top1"] == "feedback.outer_loop.fix_effect" and row["top1_distinguishable"]
    assert row["top1_switch_sign"] == pytest.approx(0.125, abs=0.01)
    # the noise-only interval is today's, at the default 0.3 (effect 1.4); the total one spans the worlds
    assert row["noise_low"] < 1.4 < row["noise_high"]
    assert row["total_high"] - row["total_low"] > 3 * (row["noise_high"] - row["noise_low"])
    # the share of worlds with a positive effect: P(fix_effect > 0.125) under triangular(0.1, 0.3, 0.5)
    assert row["share_better"] == pytest.approx(1 - 0.025**2 / (0.4 * 0.2), abs=0.04)
    others = imp[(imp["parameter"] != "feedback.outer_loop.fix_effect")]
    assert not others["distinguishable"].any()
    # the tornado bar: the effect at the parameter's 5% and 95% quantiles, in the effect's units
    bar = imp[imp["parameter"] == "feedback.outer_loop.fix_effect"].iloc[0]
    assert bar["effect_high"] - bar["effect_low"] == pytest.approx(8.0 * (bar["x_high"] - bar["x_low"]), rel=0.1)


def test_a_parameter_that_cannot_affect_the_difference_is_indistinguishable_from_zero() -> None:
    draws, reps, params = _toy(lambda p: np.full(len(p), 2.0))
    summary, imp = uncertainty_tables(draws, reps, params, "base", ["base", "alt"], ["y"], level=0.95)
    assert not imp["distinguishable"].any()
    assert (imp["importance_low"] == 0.0).all()
    row = summary[summary["scenario"] == "alt"].iloc[0]
    half = (row["noise_high"] - row["noise_low"]) / 2
    # the draws spread about as wide as noise alone: the spread the parameters are credited with is the chance
    # excess of the draws' variance over the replications' (here 0.6 noise sd: 20 replications pin the noise
    # down only to about a third), so the total interval holds the noise-only one and is conservatively wider
    # (3x here), never narrower
    assert row["spread_p"] > 0.05
    assert row["parameter_sd"] < row["noise_sd"]
    assert row["total_low"] <= row["median"] - half * 0.99 and row["total_high"] >= row["median"] + half * 0.99
    assert (row["total_high"] - row["total_low"]) / 2 < 4 * half
    assert abs(row["median"] - row["noise_mean"]) < half
    assert row["probability_best"] == pytest.approx(1.0, abs=0.01)


def test_importance_and_switching_on_hand_made_numbers() -> None:
    x = pd.DataFrame({"a": np.linspace(0, 1, 50), "b": np.tile([0.0, 1.0], 25)})
    y = 3.0 * x["a"].to_numpy() - 1.0
    imp = importance(x, y)
    assert list(imp["parameter"]) == ["a", "b"]
    assert imp.iloc[0]["importance"] == pytest.approx(1.0, abs=1e-5) and imp.iloc[0]["slope"] == pytest.approx(3.0)
    assert switching_value([0.0, 0.5, 1.0], [-1.0, 0.5, 2.0]) == pytest.approx(1 / 3)
    assert switching_value([0.0, 1.0], [1.0, 2.0]) is None
    assert switching_value([0.0, 1.0], [1.0, 2.0], threshold=1.5) == pytest.approx(0.5)


def test_probability_best_and_the_share_of_worlds() -> None:
    worlds = {"base": [0.0, 0.0, 0.0, 0.0], "a": [1.0, 1.0, -1.0, 1.0], "b": [2.0, -2.0, -2.0, -2.0]}
    assert probability_best(worlds) == {"base": 0.25, "a": 0.5, "b": 0.25}
    s = effect_summary([1.0, 2.0, 3.0, 4.0, -1.0] * 10, [2.0, 2.1, 1.9, 2.05, 1.95], level=0.9)
    assert s.share_better_raw == pytest.approx(0.8)
    assert s.spread_p < 0.05 and s.parameter_sd > 0
    assert s.total_low < s.noise_low and s.total_high > s.noise_high


def test_the_total_interval_covers_an_unknown_worlds_true_effect_at_about_its_level() -> None:
    """Coverage: a world drawn from the declared distributions has its true effect inside the interval ~95%.

    Measured: 96% over 1,000 trials with 20 replications and 64 draws (91.5% with 10 replications, 89% with 10
    and 32 draws: the noise estimate from few replications is what falls short).
    """
    rng = np.random.default_rng(11)
    trials, hits, noise_hits = 400, 0, 0
    for _ in range(trials):
        theta = rng.uniform(0, 1, (64, 2))  # the draws' worlds
        true = rng.uniform(0, 1, 2)  # the unknown real world, from the same distributions

        def effect(t: np.ndarray) -> np.ndarray:
            return 2.0 + 3.0 * t[..., 0] - 2.0 * t[..., 1]

        draws = effect(theta) + rng.normal(0, 0.5, 64)
        replicates = effect(np.array([0.5, 0.5])) + rng.normal(0, 0.5, 20)
        s = effect_summary(draws, replicates, level=0.95)
        hits += s.total_low <= effect(true) <= s.total_high
        noise_hits += s.noise_low <= effect(true) <= s.noise_high
    assert 0.93 <= hits / trials <= 0.99, hits / trials
    assert noise_hits / trials < 0.4  # the noise-only interval is no statement about an unknown world


@pytest.mark.slow
def test_on_the_model_the_total_interval_covers_unknown_worlds_and_the_noise_interval_does_not() -> None:
    """Coverage on the model itself (:mod:`sim.experiments.uncertainty.coverage`), small enough for the suite.

    The larger study (``benchmarks/uncertainty_coverage.py`` at its defaults: 6 comparisons of 32 draws and 10
    replications, 29 plausible true worlds of 6 seeds each, 1,000 customers x 104 weeks, closed-loop follow-up's
    effect on true NPS) measured 90% to 100% of the worlds inside each 95% parameters-plus-noise interval (97.7% of
    174 pairs), and 21% to 38% inside the noise-only one; at 32 draws the interval is conservative.
    """
    from sim.experiments.uncertainty.coverage import coverage_study

    size = ["customers=400", "weeks=52", "warmup_weeks=26", "track_customers=0"]
    result = coverage_study(size, intervals=3, draws=16, replications=6, worlds=12, truth_replications=3, jobs=2)
    assert len(result.worlds) >= 8, result.describe()  # most worlds are plausible, as in the comparison
    assert result.total_coverage >= 0.85, result.describe()
    # the control: an interval that describes only the runs at the declared values misses most unknown worlds
    assert result.noise_coverage <= result.total_coverage - 0.3, result.describe()


def test_only_worlds_whose_baseline_reproduces_the_calibrated_figures_are_plausible() -> None:
    from sim.experiments.uncertainty.effects import plausible_draws

    draws = pd.DataFrame(
        {
            "scenario": ["base"] * 4 + ["alt"] * 4,
            "draw": [0, 1, 2, 3] * 2,
            "true_nps": [16.0, -60.0, 30.0, 38.0, 20.0, -50.0, 35.0, 40.0],
            "annual_retention": [0.85, 0.5, 0.80, 0.86, 0.9, 0.5, 0.85, 0.9],
        }
    )
    reps = pd.DataFrame({"scenario": ["base", "base"], "true_nps": [16.0, 18.0], "annual_retention": [0.84, 0.86]})
    # draw 1 collapses, draw 3 is 21 points above the declared baseline's NPS (17); 0 and 2 are plausible
    assert list(plausible_draws(draws, reps, "base")) == [0, 2]
    assert list(plausible_draws(draws, reps, "base", {"true_nps": 100.0})) == [0, 1, 2, 3]
