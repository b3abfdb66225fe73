"""Parameter uncertainty in a comparison: paired parameter draws, two intervals, and what the answer hinges on.

Today's intervals describe simulation noise only: they say how precisely the runs pin down an
effect *if every parameter is right*. Most parameters are assumptions, and the answer moves with
them. ``silosim-compare uncertainty=parameters draws=N`` therefore adds N runs per scenario, each
with one parameter set drawn from the distributions the schema declares
(:mod:`sim.config.distributions`), the same N sets for every scenario (paired, like the seeds):

* **Draws** (:func:`draw_parameter_sets`): a scrambled Latin hypercube (``scipy.stats.qmc``) of N points
  in the unit cube, one axis per varied parameter, mapped through each parameter's distribution. A
  Latin hypercube stratifies every parameter's marginal into N equally likely slices for any N (a
  Sobol' sequence balances only at powers of two) and pairs the axes at random, so the parameters are
  independent by design, which the importance measure below relies on. Parameters a scenario or the
  user sets (:func:`held_keys`) are held at their set values, never drawn.
* **Two intervals** (:func:`effect_summary`): the *noise-only* interval is today's paired interval from
  the replications at the declared values. The *parameters plus noise* interval is the spread of the
  effect across plausible worlds, combined with that noise: the draws' paired effects with the
  simulation noise of one run removed from their spread (their deviations shrunk by
  ``sqrt(1 - noise variance / spread variance)``, zero if noise explains all of the spread), their
  percentile range at the level (Weibull positions), each side widened in quadrature by the noise-only
  half-width (or, if wider, the half-width of the draws' own mean, which is estimated from N runs). It
  covers the true effect of a world drawn from the same distributions at close to its level (a test
  measures 96% for 95% with 20 replications and 64 draws; 91.5% with 10 replications). When no parameter
  moves the effect its centre and width approach the noise-only interval's as the draws and replications
  grow; with few of them it is wider, by the chance excess of the draws' spread over the noise.
* **Share of plausible worlds** in which an alternative beats the baseline, and the **probability each
  scenario is best**: from the same de-noised per-draw effects (the raw share, which also counts one
  run's noise, is kept beside it).
* **Importance** (:func:`importance`): for each parameter, its correlation with the effect across the
  draws, squared: the share of the effect's variance across worlds that the parameter explains alone
  and linearly. With independent draws this is the squared standardised regression coefficient, but
  it needs no more draws than parameters (a joint regression on the ~100 varied parameters would need
  more than 100 draws), its null distribution is exact, so a Fisher-z interval (Bonferroni-adjusted
  for the number of parameters) says whether a parameter is distinguishable from zero, and the slope
  gives the tornado in the effect's own units. SALib's moment-independent ``delta`` was the
  alternative; it is biased upward for parameters that do nothing at the sample sizes a comparison
  can afford, which is the wrong way for a board's "what does it hinge on".
* **Plausible worlds** (:func:`plausible_draws`): a draw whose baseline does not reproduce what the model
  was calibrated to (true NPS and annual retention within :data:`PLAUSIBLE` of the baseline at the
  declared values) is left out: a hundred parameters each drawn from a plausible range can combine into
  a company nobody would recognise (history matching). How many draws were kept is reported.
* **Switching values** (:func:`switching_value`): a one-way sweep of a parameter across its drawn span
  along the effect's regression line on it, and the value at which the effect changes sign or its
  noise-only interval first touches zero.

Everything below the drawing is a pure function of tables, with no runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from sim.config import ConfigError, with_values
from sim.config.walk import uncertain_parameters

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config import RunConfig, SiloConfig
    from sim.config.distributions import Uncertainty
    from sim.config.walk import Param

__all__ = [
    "DRAWS_FILE",
    "EffectSummary",
    "apply_draw",
    "draw_parameter_sets",
    "effect_summary",
    "held_keys",
    "importance",
    "one_way",
    "parameter_values",
    "probability_best",
    "switching_value",
    "uncertainty_tables",
]

DRAWS_FILE = "draws.json"
TORNADO_QUANTILES = (0.05, 0.95)  # the tornado's bar: the effect at these quantiles of the parameter
PLAUSIBLE_DEFAULT = {"true_nps": 20.0, "annual_retention": 0.075}  # see PLAUSIBLE


# ------------------------------------------------------------------------------------------------ drawing
def design_points(n: int, dims: int, seed: int) -> np.ndarray:
    """A scrambled Latin hypercube of ``n`` points in ``(0, 1)^dims``, deterministic in ``seed``."""
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=dims, seed=seed).random(n)


def draw_parameter_sets(
    table: Mapping[str, tuple[Param, Uncertainty]], keys: Sequence[str], n: int, seed: int
) -> pd.DataFrame:
    """``n`` parameter sets drawn from the keys' declared distributions.

    Args:
        table: Key -> (parameter, uncertainty) (:func:`sim.config.walk.uncertain_parameters`).
        keys: The keys to draw (varied ones), in a fixed order: the design's axes.
        n: Number of draws.
        seed: The design's seed.

    Returns:
        One row per draw (index ``draw``), one column per key: the drawn value (a multiplier for a list).
    """
    points = design_points(n, len(keys), seed)
    columns = {key: table[key][1].ppf(points[:, j]) for j, key in enumerate(keys)}
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="draw"))


def parameter_values(table: Mapping[str, tuple[Param, Uncertainty]], row: Mapping[str, float]) -> dict[str, Any]:
    """The values a run applies for one draw: integers rounded, a list's elements times its multiplier."""
    values: dict[str, Any] = {}
    for key, drawn in row.items():
        p, u = table[key]
        if u.multiplier:
            values[key] = [float(v) * float(drawn) for v in p.value]
        elif p.kind is int:
            values[key] = round(float(drawn))
        else:
            values[key] = float(drawn)
    return values


def held_keys(
    table: Mapping[str, tuple[Param, Uncertainty]], configs: Mapping[str, Mapping[str, Any]], default: SiloConfig
) -> list[str]:
    """Varied keys a scenario or an override sets away from the default: held at the set value, never drawn.

    Args:
        table: The uncertain parameters.
        configs: Each scenario's resolved configuration (plain containers).
        default: The default configuration the distributions belong to.

    Returns:
        The held keys, in the table's order.
    """
    from sim.config.walk import find

    held = []
    for key, (_, u) in table.items():
        if not u.varied:
            continue
        base = find(default, key)
        for config in configs.values():
            node: Any = config
            for part in key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if base is not None and node != base.value:
                held.append(key)
                break
    return held


def apply_draw(cfg: DictConfig, typed: RunConfig) -> tuple[DictConfig, RunConfig]:
    """Apply this run's parameter draw (``uncertainty.file``, row ``seed - uncertainty.first_seed``), if any.

    Args:
        cfg: The composed configuration.
        typed: Its typed tree.

    Returns:
        The configuration with the draw's values written into their keys, and its typed tree.

    Raises:
        ConfigError: If the draws file cannot be read or holds no row for this seed.
    """
    from omegaconf import OmegaConf

    settings = typed.uncertainty
    if not settings.file:
        return cfg, typed
    try:
        record = json.loads(Path(settings.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"`uncertainty.file` is '{settings.file}', which cannot be read as a draws file ({exc})."
        ) from None
    row = typed.seed - settings.first_seed
    rows = record.get("values", [])
    if not 0 <= row < len(rows):
        raise ConfigError(
            f"`seed` is {typed.seed}, but the draws file '{settings.file}' holds draws for seeds "
            f"{settings.first_seed} to {settings.first_seed + len(rows) - 1}."
        )
    values = rows[row]
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg, with_values(typed, values)


def write_draws(
    path: Path,
    cfg: SiloConfig,
    distributions: Mapping[str, Any],
    held: Sequence[str],
    n: int,
    seed: int,
    calibration: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Draw the comparison's parameter sets and write them where every run reads its row.

    Args:
        path: The draws file.
        cfg: The default configuration the distributions belong to.
        distributions: The user's distributions.
        held: Keys held at their set values.
        n: Number of draws.
        seed: The design's seed.
        calibration: The calibration's record (:func:`sim.experiments.posterior_draws.calibration_plan`): its
            ``posterior_keys`` are drawn from its posterior, whole particles along one more axis of the design.

    Returns:
        The drawn values (one row per draw; multipliers for lists).
    """
    from sim.experiments.posterior_draws import posterior_sets

    table, errors = uncertain_parameters(cfg, distributions)
    if errors:  # pragma: no cover - the plan checks the declarations before anything runs
        raise ConfigError("; ".join(errors) + ".")
    fitted = list((calibration or {}).get("posterior_keys") or [])
    keys = [k for k, (_, u) in table.items() if u.varied and k not in held and k not in fitted]
    if fitted:
        points = design_points(n, len(keys) + 1, seed)
        draws = pd.DataFrame(
            {key: table[key][1].ppf(points[:, j]) for j, key in enumerate(keys)}, index=pd.RangeIndex(n, name="draw")
        )
        draws = draws.join(posterior_sets(str(calibration["file"]), n, points[:, -1], fitted))  # type: ignore[index]
    else:
        draws = draw_parameter_sets(table, keys, n, seed)
    values = [parameter_values(table, draws.loc[i].to_dict()) for i in draws.index]
    record = {
        "keys": [*keys, *fitted],
        "held": list(held),
        "seed": seed,
        "posterior_keys": fitted,
        "drawn": draws.to_dict("records"),
        "values": values,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return draws


def read_draws(path: Path) -> pd.DataFrame:
    """The drawn values written by :func:`write_draws` (one row per draw)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame(record["drawn"], columns=record["keys"]).rename_axis("draw")


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


# ------------------------------------------------------------------------------------------------ comparisons
UNCERTAINTY_MODES = ("none", "parameters")
# A plausible world reproduces what the model was calibrated to: the baseline's true NPS and annual retention
# within these distances of the baseline's at the declared values (history matching). The calibration targets
# are a cross-industry median NPS of about +16 (industries span about +9 to +43) and annual retention of
# 80-90%: 20 NPS points and 7.5 retention points either way keep every world inside those published spans.
PLAUSIBLE = PLAUSIBLE_DEFAULT
SUMMARY_FILE = "uncertainty.csv"
IMPORTANCE_FILE = "importance.csv"
DRAWS_DIR = "draws"


def read_distributions(path: str | None) -> tuple[dict[str, Any], list[str]]:
    """The user's distributions file (``distributions=PATH``): parameter key -> ``{kind, args, basis}``.

    Returns:
        The mapping (empty without a file) and the problems reading it (each naming ``distributions``).
    """
    if not path:
        return {}, []
    shown = f"`distributions` is '{path}'"
    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, [f"{shown}, but there is no such file; pass a YAML file of parameter key: {{kind, args, basis}}"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{shown}, but it cannot be read as YAML ({type(exc).__name__})"]
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        return {}, [f"{shown}, but it must map parameter keys to {{kind, args, basis}}, e.g. {_EXAMPLE}"]
    return data, []


_EXAMPLE = "'feedback.outer_loop.fix_effect: {kind: uniform, args: [0.1, 0.5], basis: \"wide: assumption\"}'"


def setting_errors(mode: str, draws: int, distributions: str | None, default: SiloConfig) -> list[str]:
    """Every problem with a comparison's ``uncertainty``, ``draws`` and ``distributions`` settings.

    Args:
        mode: ``none`` or ``parameters``.
        draws: Parameter draws per scenario.
        distributions: A YAML file of the user's distributions by key, replacing the schema's (or None).
        default: The default configuration the distributions belong to.

    Returns:
        Sentences, each naming the setting (or the parameter) and what is allowed.
    """
    if mode not in UNCERTAINTY_MODES:
        return [f"`uncertainty` is {mode!r}, but it must be one of {', '.join(UNCERTAINTY_MODES)}"]
    if mode == "none":
        if draws or distributions:
            given = "`draws`" if draws else "`distributions`"
            return [f"{given} is given, but `uncertainty` is 'none'; add uncertainty=parameters to draw parameters"]
        return []
    errors = []
    if draws < 2:
        errors.append(
            f"`draws` is {draws}, but uncertainty=parameters needs at least 2 parameter draws (a few dozen to tell "
            "what the answer hinges on; e.g. draws=32)"
        )
    mapping, errors_file = read_distributions(distributions)
    errors += errors_file or uncertain_parameters(default, mapping)[1]
    return errors


def plan_draws(
    draws: int, first_seed: int, replications: int, distributions: Mapping[str, Any], configs: Mapping[str, Any]
) -> dict[str, Any]:
    """What a comparison's parameter draws are: how many, the design's seed, the runs' seeds and the held keys.

    The draws run with seeds after the replications' (``first_seed + replications`` on), so no draw run
    shares a seed with a run at the declared values. With a calibration the fitted parameters come from its
    posterior (or are held at their fitted values): :mod:`sim.experiments.posterior_draws`.

    Args:
        draws: Draws per scenario.
        first_seed: The comparison's first seed (also the design's seed).
        replications: Replications at the declared values.
        distributions: The user's distributions.
        configs: Each scenario's resolved configuration.

    Returns:
        The plan of the draws (JSON-ready).
    """
    from sim.config import compose_config, to_config
    from sim.experiments.posterior_draws import calibration_plan

    default = to_config(compose_config([]))
    table, _ = uncertain_parameters(default, distributions)
    held, calibration = calibration_plan(configs, table, distributions, held_keys(table, configs, default))
    plan = {
        "draws": draws,
        "design_seed": first_seed,
        "first_seed": first_seed + replications,
        "held": held,
        "distributions": {k: dict(v) for k, v in distributions.items()},
    }
    return {**plan, "calibration": calibration} if calibration else plan


def draw_arguments(arguments: Sequence[str], spec: Mapping[str, Any], draws_file: Path) -> list[str]:
    """The multirun arguments of the draw runs: the comparison's, with the draws' seeds and file."""
    first = int(spec["first_seed"])
    out = [f"seed=range({first},{first + int(spec['draws'])})" if a.startswith("seed=") else a for a in arguments]
    return [*out, f"uncertainty.file={draws_file.resolve()}", f"uncertainty.first_seed={first}"]


def write_plan_draws(work: Path, spec: Mapping[str, Any]) -> Path:
    """Write the comparison's draws file (once; a resumed comparison reuses it) and return its path."""
    from sim.config import compose_config, to_config

    path = work / DRAWS_DIR / DRAWS_FILE
    if not path.exists():
        default = to_config(compose_config([]))
        write_draws(
            path,
            default,
            spec["distributions"],
            spec["held"],
            int(spec["draws"]),
            int(spec["design_seed"]),
            spec.get("calibration"),
        )
    return path


def summarise_draws(
    work: Path,
    replicate_outcomes: pd.DataFrame,
    spec: Mapping[str, Any],
    baseline: str,
    order: Sequence[str],
    outcomes: Sequence[str],
    level: float,
    clv_discount_rate: float,
    target: Path | None = None,
) -> dict[str, Any]:
    """Load the draw runs, write uncertainty.csv and importance.csv, and return comparison.json's ``uncertainty``.

    Args:
        work: The comparison directory (being built, or finished) that holds the draw runs.
        replicate_outcomes: Outcomes of the runs at the declared values.
        spec: The plan of the draws (:func:`plan_draws`).
        baseline: The baseline scenario.
        order: Scenarios in display order.
        outcomes: The outcomes to summarise.
        level: Level of the intervals.
        clv_discount_rate: For the lifetime value outcome.
        target: Where to write the two tables (default: ``work``; a rebuild writes them aside first).

    Returns:
        The summary as plain data: settings, draws completed, and per alternative and outcome the effect's two
        intervals, share of worlds better, probability best, top parameters and switching values.
    """
    from sim.experiments.analysis import load_runs

    runs = load_runs(work / DRAWS_DIR / "runs", clv_discount_rate)
    params = read_draws(work / DRAWS_DIR / DRAWS_FILE)
    done = runs.outcomes.assign(draw=runs.outcomes["seed"] - int(spec["first_seed"]))
    complete = done.groupby("draw")["scenario"].nunique()
    paired = complete[complete == len(order)].index  # draws with every scenario complete
    done = done[done["draw"].isin(paired)]
    plausible = plausible_draws(done, replicate_outcomes, baseline, PLAUSIBLE)
    done = done[done["draw"].isin(plausible)]
    base = {k: v for k, v in spec.items() if k in ("draws", "design_seed", "first_seed", "held", "wall_seconds")}
    if spec.get("calibration"):  # the calibration's name and what came from it, not its local path
        base["calibration"] = {k: v for k, v in spec["calibration"].items() if k != "file"}
    record = {
        **base,
        "distributions": spec.get("distributions", {}),
        "varied": list(params.columns),
        "draws_complete": len(paired),
        "draws_plausible": len(plausible),
        "plausible": dict(PLAUSIBLE),
        "draws_failed": len(runs.failures),
        "level": level,
    }
    if len(plausible) < 2:
        note = (
            f"only {len(plausible)} of {len(paired)} parameter draws gave a plausible baseline (true NPS within "
            f"{PLAUSIBLE['true_nps']:g} points and annual retention within {PLAUSIBLE['annual_retention']:g} of the "
            "declared values'), too few to say how sure the answer is; run more draws, or narrow the distributions"
        )
        return {**record, "summary": [], "note": note, "files": [f"{DRAWS_DIR}/{DRAWS_FILE}"]}
    summary, imp = uncertainty_tables(done, replicate_outcomes, params, baseline, order, outcomes, level)
    target = target or work
    summary.to_csv(target / SUMMARY_FILE, index=False, float_format="%.6g")
    imp.to_csv(target / IMPORTANCE_FILE, index=False, float_format="%.6g")
    clean = summary.astype(object).where(summary.notna(), None)
    return {
        **record,
        "summary": clean.to_dict("records"),
        "files": [SUMMARY_FILE, IMPORTANCE_FILE, f"{DRAWS_DIR}/{DRAWS_FILE}"],
    }
