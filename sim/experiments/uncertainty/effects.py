"""What the draws show: effect summaries, spread tests, importance, one-way effects, switching values, P(best)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EffectSummary",
    "effect_summary",
    "importance",
    "one_way",
    "probability_best",
    "switching_value",
    "uncertainty_tables",
]


TORNADO_QUANTILES = (0.05, 0.95)  # the tornado's bar: the effect at these quantiles of the parameter
PLAUSIBLE_DEFAULT = {"true_nps": 20.0, "annual_retention": 0.075}  # see PLAUSIBLE


# ------------------------------------------------------------------------------------------------ analysis
@dataclass(frozen=True)
class EffectSummary:
    """One alternative's effect on one outcome, with its two intervals.

    Attributes:
        noise_mean: Mean paired effect at the declared values (today's estimate).
        noise_low: Low end of today's noise-only interval.
        noise_high: High end.
        median: Median effect across plausible worlds (de-noised draws).
        total_low: Low end of the parameters-plus-noise interval.
        total_high: High end.
        share_better: Probability, over plausible worlds and simulation noise, that the alternative beats the
            baseline: the mean over draws of the normal probability that the de-noised effect, measured with
            this comparison's noise (or the draws' mean's, if larger), is on the better side of zero.
        share_better_raw: Share of draws whose own run (noise included) beat the baseline.
        parameter_sd: Standard deviation of the effect across worlds, simulation noise removed.
        noise_sd: Standard deviation of one run's paired effect from simulation noise alone.
        standard_error: Standard error of the effect the share and the probability best allow for: the
            replications' noise, or the draws' mean's if larger.
        spread_p: p-value of the test that the draws spread no wider than noise alone (F test; for the
            record: a small value says the parameters measurably move the effect).
        draws: Draws with both the alternative and the baseline complete.
    """

    noise_mean: float
    noise_low: float
    noise_high: float
    median: float
    total_low: float
    total_high: float
    share_better: float
    share_better_raw: float
    parameter_sd: float
    noise_sd: float
    standard_error: float
    spread_p: float
    draws: int


def spread_test(effects: np.ndarray, noise_sd: float, replications: int) -> float:
    """p-value of "the draws' effects spread no wider than simulation noise" (one-sided F test of the variances)."""
    from scipy import stats  # lazily: every run imports this module (apply_draw), none needs SciPy statistics

    if effects.size < 2 or replications < 2 or not noise_sd > 0:
        return 0.0 if effects.size > 1 and effects.var(ddof=1) > 0 else 1.0
    ratio = float(effects.var(ddof=1)) / noise_sd**2
    return float(stats.f.sf(ratio, effects.size - 1, replications - 1))


def denoised(effects: np.ndarray, noise_sd: float) -> np.ndarray:
    """The per-draw effects with one run's simulation noise removed from their spread (mean kept)."""
    effects = np.asarray(effects, dtype=float)
    if effects.size < 2:
        return effects.copy()
    spread = float(effects.var(ddof=1))
    keep = math.sqrt(max(0.0, spread - noise_sd**2) / spread) if spread > 0 else 0.0
    return effects.mean() + (effects - effects.mean()) * keep


def worlds_of(draw_effects: np.ndarray, noise_sd: float, replications: int, level: float) -> tuple[np.ndarray, float]:
    """The effect in each plausible world (the de-noised draws) and the spread test's p-value (for the record).

    The spread is not gated on the test: with the few replications a comparison affords, the test has little
    power, and dropping the parameters' spread whenever it cannot be told from noise at 5% made the interval
    cover an unknown world's true effect in only 66% of cases (10 replications, noise as large as the
    parameters' spread). Without the gate the interval covers at close to its level and, when no parameter
    matters, is wider than the noise-only one by the chance excess of the draws' spread: conservative.
    """
    del level  # the same worlds at every level
    return denoised(draw_effects, noise_sd), spread_test(draw_effects, noise_sd, replications)


def effect_summary(
    draw_effects: Sequence[float], replicate_effects: Sequence[float], level: float = 0.95, better: int = 1
) -> EffectSummary:
    """The effect with its noise-only and parameters-plus-noise intervals, and how likely it beats the baseline.

    Args:
        draw_effects: Paired effect (alternative - baseline) of each parameter draw, one run each.
        replicate_effects: Paired effect of each replication at the declared values (the noise).
        level: Level of both intervals.
        better: +1 if a higher outcome is better, -1 if lower.

    Returns:
        The summary.
    """
    from scipy import stats  # lazily: every run imports this module (apply_draw), none needs SciPy statistics

    d = np.asarray([x for x in draw_effects if np.isfinite(x)], dtype=float)
    e = np.asarray([x for x in replicate_effects if np.isfinite(x)], dtype=float)
    noise_sd = float(e.std(ddof=1)) if e.size > 1 else math.nan
    se = noise_sd / math.sqrt(e.size) if e.size > 1 else math.nan
    half = float(stats.t.ppf(0.5 + level / 2.0, e.size - 1) * se) if e.size > 1 else math.nan
    # the worlds' centre is itself estimated from the draws: never claim it more precisely than either source allows
    se_centre = float(d.std(ddof=1)) / math.sqrt(d.size) if d.size > 1 else math.nan
    total_se, total_half = se, half
    if d.size > 1 and not se_centre <= se:
        total_se, total_half = se_centre, float(stats.t.ppf(0.5 + level / 2.0, d.size - 1) * se_centre)
    worlds, p = worlds_of(d, noise_sd, e.size, level)
    alpha = 1.0 - level
    # Weibull plotting positions p(N + 1): the interval between two order statistics covers a new draw at
    # (j - i) / (N + 1), its nominal rate (numpy's default positions p(N - 1) cover 92% for 95% at N = 64)
    q_low, median, q_high = (float(np.quantile(worlds, q, method="weibull")) for q in (alpha / 2, 0.5, 1 - alpha / 2))
    if total_se > 0:
        share = float(np.mean(stats.norm.cdf(better * worlds / total_se)))
    else:
        share = float(np.mean(better * worlds > 0))
    return EffectSummary(
        noise_mean=float(e.mean()) if e.size else math.nan,
        noise_low=float(e.mean() - half) if e.size else math.nan,
        noise_high=float(e.mean() + half) if e.size else math.nan,
        median=median,
        total_low=median - math.hypot(median - q_low, total_half),
        total_high=median + math.hypot(q_high - median, total_half),
        share_better=share,
        share_better_raw=float(np.mean(better * d > 0)),
        parameter_sd=float(worlds.std(ddof=1)) if worlds.size > 1 else math.nan,
        noise_sd=noise_sd,
        standard_error=total_se,
        spread_p=p,
        draws=int(d.size),
    )


def importance(params: pd.DataFrame, effect: Sequence[float], level: float = 0.95) -> pd.DataFrame:
    """How much each parameter drives an effect across the draws, with whether it is distinguishable from zero.

    Args:
        params: Drawn values, one row per draw, one column per parameter.
        effect: The effect of each draw (same order as ``params``).
        level: Family-wise level of the intervals (Bonferroni over the parameters).

    Returns:
        One row per parameter, most important first: ``parameter``, ``correlation``, ``importance`` (its
        square), ``importance_low``/``importance_high`` (its interval), ``distinguishable`` (the interval
        excludes zero), ``slope`` (effect per unit of the parameter), ``x_low``/``x_high`` (the parameter's
        5% and 95% quantiles over the draws) and ``effect_low``/``effect_high`` (the effect there, the others
        at their average: the tornado's bar, around ``effect_mean``, the draws' mean effect).
    """
    from scipy import stats  # lazily: every run imports this module (apply_draw), none needs SciPy statistics

    y = np.asarray(effect, dtype=float)
    n, k = len(y), max(1, params.shape[1])
    z_crit = float(stats.norm.ppf(1 - (1 - level) / (2 * k)))
    rows = []
    for key in params.columns:
        x = params[key].to_numpy(dtype=float)
        sx, sy = x.std(), y.std()
        r = float(np.corrcoef(x, y)[0, 1]) if sx > 0 and sy > 0 else 0.0
        r = max(-0.999999, min(0.999999, r))
        half = z_crit / math.sqrt(max(n - 3, 1))
        r_low, r_high = math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)
        crosses = r_low <= 0.0 <= r_high
        imp_low = 0.0 if crosses else min(r_low**2, r_high**2)
        slope = r * sy / sx if sx > 0 else 0.0
        x_low, x_high = (float(np.quantile(x, q)) for q in TORNADO_QUANTILES)
        rows.append(
            {
                "parameter": key,
                "correlation": r,
                "importance": r * r,
                "importance_low": imp_low,
                "importance_high": max(r_low**2, r_high**2),
                "distinguishable": not crosses,
                "slope": slope,
                "x_low": x_low,
                "x_high": x_high,
                "effect_mean": float(y.mean()),
                "effect_low": float(y.mean() + slope * (x_low - x.mean())),
                "effect_high": float(y.mean() + slope * (x_high - x.mean())),
            }
        )
    out = pd.DataFrame(rows)
    return out.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True) if rows else out


def one_way(x: Sequence[float], effect: Sequence[float], grid: Sequence[float]) -> np.ndarray:
    """A one-way sweep along the effect's least-squares line on one parameter (the others at their average)."""
    xs, ys, g = (np.asarray(v, dtype=float) for v in (x, effect, grid))
    slope = float(np.polyfit(xs, ys, 1)[0]) if xs.std() > 0 else 0.0
    return ys.mean() + slope * (g - xs.mean())


def switching_value(grid: Sequence[float], values: Sequence[float], threshold: float = 0.0) -> float | None:
    """The first value on a sweep at which ``values`` crosses ``threshold`` (linear interpolation), or None.

    Args:
        grid: The swept parameter's values, in order.
        values: The effect at each.
        threshold: The level whose crossing changes the verdict (0: the sign).

    Returns:
        The parameter value at the crossing, or None if the sweep never crosses it.
    """
    g, v = np.asarray(grid, dtype=float), np.asarray(values, dtype=float) - threshold
    for i in range(len(g) - 1):
        if v[i] == 0.0:
            return float(g[i])
        if v[i] * v[i + 1] < 0.0:
            return float(g[i] + (g[i + 1] - g[i]) * v[i] / (v[i] - v[i + 1]))
    return float(g[-1]) if len(g) and v[-1] == 0.0 else None


def probability_best(
    worlds: Mapping[str, Sequence[float]], se: Mapping[str, float] | None = None, better: int = 1, samples: int = 200
) -> dict[str, float]:
    """Probability that each scenario is best, over plausible worlds and (if given) simulation noise.

    Args:
        worlds: Scenario -> its effect against the baseline in each draw (the baseline's all zeros).
        se: Scenario -> standard error of its effect from simulation noise (none: noise ignored); the noise is
            sampled ``samples`` times per world, independently per scenario, with a fixed seed.
        better: +1 if a higher outcome is better, -1 if lower.
        samples: Noise samples per world.

    Returns:
        Scenario -> probability of being best; they sum to one.
    """
    names = list(worlds)
    matrix = better * np.vstack([np.asarray(worlds[s], dtype=float) for s in names])
    if se:
        rng = np.random.default_rng(0)
        scale = np.array([se.get(s, 0.0) if np.isfinite(se.get(s, 0.0)) else 0.0 for s in names])[:, None, None]
        matrix = matrix[:, :, None] + better * scale * rng.standard_normal((len(names), matrix.shape[1], samples))
    best = np.argmax(matrix, axis=0)
    return {s: float(np.mean(best == i)) for i, s in enumerate(names)}


def plausible_draws(
    draw_outcomes: pd.DataFrame,
    replicate_outcomes: pd.DataFrame,
    baseline: str,
    tolerances: Mapping[str, float] = PLAUSIBLE_DEFAULT,
) -> pd.Index:
    """The draws whose baseline reproduces the calibrated figures: a world that does not is not plausible.

    Args:
        draw_outcomes: One row per draw run (``scenario``, ``draw`` and the outcomes).
        replicate_outcomes: One row per run at the declared values.
        baseline: The baseline scenario.
        tolerances: Outcome -> largest distance of the draw's baseline from the baseline at the declared values.

    Returns:
        The plausible draws.
    """
    base = draw_outcomes[draw_outcomes["scenario"] == baseline].set_index("draw")
    reference = replicate_outcomes[replicate_outcomes["scenario"] == baseline]
    keep = pd.Series(True, index=base.index)
    for outcome, tolerance in tolerances.items():
        keep &= (base[outcome] - float(reference[outcome].mean())).abs() <= tolerance
    return base.index[keep.to_numpy()]


def uncertainty_tables(
    draw_outcomes: pd.DataFrame,
    replicate_outcomes: pd.DataFrame,
    params: pd.DataFrame,
    baseline: str,
    order: Sequence[str],
    outcomes: Sequence[str],
    level: float = 0.95,
    top: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The uncertainty summary and the importance table of a comparison.

    Args:
        draw_outcomes: One row per draw run: ``scenario``, ``draw`` and the outcomes.
        replicate_outcomes: One row per run at the declared values: ``scenario``, ``seed`` and the outcomes.
        params: The drawn values, indexed by draw.
        baseline: The scenario the effects are taken against.
        order: Scenarios in display order.
        outcomes: The outcomes to summarise (higher is better).
        level: Level of the intervals.
        top: Switching values are found for this many of the most important parameters.

    Returns:
        The summary (one row per scenario and outcome: the effect's two intervals, share of worlds better,
        probability best, the top parameters and their switching values) and the importance table (one row
        per alternative, outcome and parameter).
    """
    base_d = draw_outcomes[draw_outcomes["scenario"] == baseline].set_index("draw")
    base_r = replicate_outcomes[replicate_outcomes["scenario"] == baseline].set_index("seed")
    summary_rows: list[dict[str, Any]] = []
    importance_rows: list[pd.DataFrame] = []
    worlds: dict[str, dict[str, np.ndarray]] = {}
    errors: dict[str, dict[str, float]] = {}
    for outcome in outcomes:
        worlds[outcome] = {baseline: np.zeros(len(base_d))}
        errors[outcome] = {baseline: 0.0}
        for scenario in order:
            if scenario == baseline:
                continue
            alt_d = draw_outcomes[draw_outcomes["scenario"] == scenario].set_index("draw")
            alt_r = replicate_outcomes[replicate_outcomes["scenario"] == scenario].set_index("seed")
            d = (alt_d[outcome] - base_d[outcome]).dropna()
            e = (alt_r[outcome] - base_r[outcome]).dropna()
            s = effect_summary(d.to_numpy(), e.to_numpy(), level)
            w = worlds_of(d.to_numpy(), s.noise_sd, e.size, level)[0]
            worlds[outcome][scenario] = pd.Series(w, index=d.index).reindex(base_d.index).fillna(0.0).to_numpy()
            errors[outcome][scenario] = s.standard_error
            imp = importance(params.loc[d.index], d.to_numpy(), level)
            imp.insert(0, "outcome", outcome)
            imp.insert(0, "scenario", scenario)
            importance_rows.append(imp)
            row: dict[str, Any] = {"scenario": scenario, "outcome": outcome, **s.__dict__}
            half = (s.noise_high - s.noise_low) / 2.0
            for rank, item in enumerate(imp.head(top).itertuples(index=False), start=1):
                x = params.loc[d.index, item.parameter].to_numpy(dtype=float)
                grid = np.linspace(x.min(), x.max(), 201)
                line = one_way(x, d.to_numpy(), grid)
                sign = 1.0 if s.median >= 0 else -1.0
                row[f"top{rank}"] = item.parameter
                row[f"top{rank}_importance"] = item.importance
                row[f"top{rank}_distinguishable"] = bool(item.distinguishable)
                row[f"top{rank}_switch_sign"] = switching_value(grid, line)
                row[f"top{rank}_switch_significance"] = switching_value(grid, line, sign * half)
            summary_rows.append(row)
    best = {o: probability_best(worlds[o], errors[o]) for o in outcomes}
    summary = pd.DataFrame(summary_rows)
    base_rows = pd.DataFrame([{"scenario": baseline, "outcome": o} for o in outcomes])
    summary = pd.concat([base_rows, summary], ignore_index=True) if not summary.empty else base_rows
    summary["probability_best"] = [
        best[o].get(s, 0.0) for s, o in zip(summary["scenario"], summary["outcome"], strict=True)
    ]
    position = {**{s: i for i, s in enumerate(order)}, **{o: i for i, o in enumerate(outcomes)}}
    summary = summary.sort_values(["outcome", "scenario"], key=lambda c: c.map(position), kind="stable")
    summary = summary.reset_index(drop=True)
    imp_table = pd.concat(importance_rows, ignore_index=True) if importance_rows else pd.DataFrame()
    return summary, imp_table
