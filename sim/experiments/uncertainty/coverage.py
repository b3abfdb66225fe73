"""Does the parameters-plus-noise interval cover the true effect of an unknown world? Checked on the model itself.

The interval ``uncertainty=parameters`` reports claims: if the real company is a world drawn from the
declared distributions (and plausible: its baseline reproduces what the model was calibrated to), its
true effect lies inside the interval at the interval's level. :func:`coverage_study` tests that claim
with the model, not with a toy:

1. **Intervals.** ``intervals`` times, a comparison's draws are made as ``silosim-compare`` makes them
   (a Latin hypercube over every varied parameter on a design seed of its own, the same draw for both
   scenarios, one paired run each, implausible worlds left out) together with ``replications`` paired
   runs at the declared values, and :func:`~sim.experiments.uncertainty.effects.effect_summary` gives the
   noise-only and the parameters-plus-noise interval.
2. **True worlds.** ``worlds`` parameter sets are drawn independently from the same distributions (a
   design seed none of the intervals uses); each world's true effect is the mean paired difference over
   ``truth_replications`` seeds (its own noise shrinks with them), and a world whose baseline is not
   plausible is left out, as the comparison would leave it out.
3. **Coverage** is the share of (interval, world) pairs whose interval holds the world's true effect,
   for each of the two intervals. The noise-only interval is the control: it says how precisely the
   runs pin the effect down at the declared values, so it should cover an unknown world far less often.

All runs go through the executor (:func:`sim.experiments.replications.run_configurations`), so
``jobs`` spreads them over this machine's cores. ``benchmarks/uncertainty_coverage.py`` runs a larger study and
prints the rates; ``tests/test_uncertainty.py`` runs a small one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sim.config import checked_config, with_values
from sim.config.walk import uncertain_parameters
from sim.experiments.replications import measuring, run_configurations
from sim.experiments.runs.executor import Backend
from sim.experiments.uncertainty.draws import draw_parameter_sets, held_keys, parameter_values
from sim.experiments.uncertainty.effects import PLAUSIBLE_DEFAULT, effect_summary, plausible_draws

__all__ = ["CoverageResult", "coverage_study"]

_OUTCOMES = ("true_nps", "annual_retention")  # the plausibility check needs both; the effect is on ``outcome``
TRUTH_DESIGN_SEED = 900_001  # the true worlds' design: no interval's design seed (1, 2, ...) is this


@dataclass(frozen=True)
class CoverageResult:
    """What a coverage study found."""

    level: float
    pairs: int  # (interval, true world) pairs judged
    total_coverage: float  # share of pairs whose parameters-plus-noise interval holds the true effect
    noise_coverage: float  # the same for the noise-only interval
    intervals: pd.DataFrame  # one row per interval: noise_low, noise_high, total_low, total_high, draws kept
    worlds: pd.DataFrame  # one row per plausible true world: its true effect
    runs: int  # model runs made

    def describe(self) -> str:
        """The finding in one sentence."""
        pct = round(100 * self.level)
        return (
            f"The {pct}% parameters-plus-noise interval held the true effect in {self.total_coverage:.1%} of "
            f"{self.pairs} (interval, world) pairs ({len(self.intervals)} intervals x {len(self.worlds)} plausible "
            f"true worlds, {self.runs} runs); the noise-only interval in {self.noise_coverage:.1%}."
        )


def coverage_study(
    overrides: Sequence[str],
    baseline: str = "siloed_scorecards",
    alternative: str = "closed_loop_followup",
    outcome: str = "true_nps",
    intervals: int = 4,
    draws: int = 24,
    replications: int = 8,
    worlds: int = 24,
    truth_replications: int = 4,
    level: float = 0.95,
    jobs: int = -1,
) -> CoverageResult:
    """Measure how often each interval holds the true effect of a world drawn from the declared distributions.

    Args:
        overrides: Overrides shared by every run (the size: ``customers=``, ``weeks=``, ``warmup_weeks=``).
        baseline: The baseline scenario.
        alternative: The alternative scenario.
        outcome: The outcome whose effect is judged (higher is better).
        intervals: Independent comparisons, each with its own design seed.
        draws: Parameter draws per comparison.
        replications: Replications at the declared values per comparison (the noise).
        worlds: True worlds drawn.
        truth_replications: Seeds whose mean paired difference is a world's true effect.
        level: Level of the intervals.
        jobs: Processes on this machine (-1: every core).

    Returns:
        The coverage of both intervals, with the intervals and the true effects.
    """
    configs = {s: checked_config([*overrides, f"scenario={s}"]) for s in (baseline, alternative)}
    table, _ = uncertain_parameters(checked_config(list(overrides)))
    held = set(held_keys(table, {s: dataclasses.asdict(c) for s, c in configs.items()}, configs[baseline]))
    keys = [k for k, (_, u) in table.items() if u.varied and k not in held]
    jobs_list: list[tuple[str, int, int, dict[str, object]]] = []  # (scenario, seed, group, values)

    def add(group: int, seed: int, values: dict[str, object]) -> None:
        for scenario in (baseline, alternative):
            jobs_list.append((scenario, seed, group, values))

    seed = 0
    for m in range(intervals):
        for _ in range(replications):
            add(2 * m, seed, {})
            seed += 1
        for _, row in draw_parameter_sets(table, keys, draws, seed=m + 1).iterrows():
            add(2 * m + 1, seed, parameter_values(table, row.to_dict()))
            seed += 1
    truth = draw_parameter_sets(table, keys, worlds, seed=TRUTH_DESIGN_SEED)
    for w, row in truth.iterrows():
        values = parameter_values(table, row.to_dict())
        for _ in range(truth_replications):
            add(-1 - int(w), seed, values)
            seed += 1
    runs = [with_values(dataclasses.replace(configs[s], seed=k), values) for s, k, _, values in jobs_list]
    measured = run_configurations(runs, measuring(list(_OUTCOMES)), Backend("local", jobs))
    frame = pd.DataFrame(
        [{"scenario": s, "seed": k, "group": g, **m} for (s, k, g, _), m in zip(jobs_list, measured, strict=True)]
    )
    return _judge(frame, baseline, alternative, outcome, intervals, level, len(runs))


def _paired(frame: pd.DataFrame, baseline: str, alternative: str, outcome: str) -> pd.Series:
    wide = frame.pivot_table(index="seed", columns="scenario", values=outcome)
    return wide[alternative] - wide[baseline]


def _judge(
    frame: pd.DataFrame, baseline: str, alternative: str, outcome: str, intervals: int, level: float, runs: int
) -> CoverageResult:
    rows = []
    reference_frames = []
    for m in range(intervals):
        reps, drawn = frame[frame["group"] == 2 * m], frame[frame["group"] == 2 * m + 1]
        reference_frames.append(reps)
        draw_outcomes = drawn.rename(columns={"seed": "draw"})
        keep = plausible_draws(draw_outcomes, reps, baseline, PLAUSIBLE_DEFAULT)
        d = _paired(drawn, baseline, alternative, outcome).loc[keep]
        s = effect_summary(d.to_numpy(), _paired(reps, baseline, alternative, outcome).to_numpy(), level)
        rows.append({k: getattr(s, k) for k in ("noise_low", "noise_high", "total_low", "total_high", "draws")})
    table = pd.DataFrame(rows)
    reference = pd.concat(reference_frames)
    base_ref = reference[reference["scenario"] == baseline]
    true_rows = []
    for g, world in frame[frame["group"] < 0].groupby("group"):
        base = world[world["scenario"] == baseline]
        plausible = all(
            abs(base[o].mean() - base_ref[o].mean()) <= tolerance for o, tolerance in PLAUSIBLE_DEFAULT.items()
        )
        if plausible:
            true_rows.append(
                {"world": -1 - int(g), "effect": float(_paired(world, baseline, alternative, outcome).mean())}
            )
    truth = pd.DataFrame(true_rows, columns=["world", "effect"])
    effect = truth["effect"].to_numpy()[None, :]

    def covered(low: str, high: str) -> float:
        inside = (table[low].to_numpy()[:, None] <= effect) & (effect <= table[high].to_numpy()[:, None])
        return float(inside.mean()) if inside.size else float("nan")

    return CoverageResult(
        level=level,
        pairs=int(len(table) * len(truth)),
        total_coverage=covered("total_low", "total_high"),
        noise_coverage=covered("noise_low", "noise_high"),
        intervals=table,
        worlds=truth,
        runs=runs,
    )
