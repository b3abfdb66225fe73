"""The suite: every scenario and seed a fact needs, run; each check judged on its interval; the outputs written."""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.analysis.outcomes import OUTCOMES
from sim.experiments.analysis.statistics import Interval, mean_ci, paired_difference
from sim.experiments.facts.measures import DISTRIBUTION, measure_model
from sim.experiments.facts.spec import Check, ValidationSpec, run_overrides
from sim.experiments.runs.executor import Backend, map_jobs
from sim.experiments.runs.files import atomic_directory, safe_table
from sim.experiments.runs.resources import describe_time

__all__ = [
    "CheckResult",
    "judge",
    "run_validation",
    "write_outputs",
]


# ----------------------------------------------------------------------------------------------- the suite
@dataclass(frozen=True)
class CheckResult:
    """A check's interval and whether it clears its threshold."""

    fact: str
    check: Check
    interval: Interval
    holds: bool


def judge(check: Check, interval: Interval) -> bool:
    """Whether the whole interval clears the check's threshold (an undefined interval never does)."""
    low, high = interval.low, interval.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    kind, bound = next(iter(check.holds.items()))
    if kind == "above":
        return low > bound
    if kind == "below":
        return high < bound
    return bound[0] < low and high < bound[1]


def statistic(check: Check, runs: pd.DataFrame, confidence: float) -> Interval:
    """The check's interval over the runs (one row per scenario and seed, one column per measure).

    Args:
        check: The check.
        runs: Measures by run, with ``scenario`` and ``seed`` columns.
        confidence: Interval level.
    """
    values = runs.set_index(["scenario", "seed"])[check.measure]
    if check.against is None:
        return mean_ci(values.loc[check.label], confidence)
    return paired_difference(values.loc[check.label], values.loc[check.against], confidence)


def run_validation(spec: ValidationSpec, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run every scenario x seed the facts need, in parallel, and return the measures of each run.

    Args:
        spec: The suite.
        progress: Called with a line of progress now and then (default: stderr).

    Returns:
        One row per run: ``scenario``, ``seed``, ``seconds`` and every measure.
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    jobs = [(s, seed) for s in spec.scenarios for seed in spec.seeds]
    say(
        f"silosim-validate: {len(spec.facts)} facts, {len(jobs)} runs ({len(spec.scenarios)} scenarios x "
        f"{len(spec.seeds)} seeds) of {spec.customers:,} customers x {spec.weeks} weeks on {spec.jobs} processes; "
        + describe_time(len(jobs), spec.customers, spec.weeks, spec.warmup_weeks, _workers(spec))
    )
    started, step = time.monotonic(), max(1, len(jobs) // 10)
    groups = _groups(spec)
    # after k groups, at least the runs of the k smallest are done (all of them at the end)
    at_least = [0, *itertools.accumulate(sorted(len(group) for group in groups))]

    def report(done: int, total: int) -> None:
        runs = at_least[done]
        if done and (runs // step > at_least[done - 1] // step or done == total):
            say(f"silosim-validate: runs {runs}/{len(jobs)} done ({time.monotonic() - started:.0f} s)")

    results = map_jobs(
        _timed_group,
        [[run_overrides(spec, scenario, seed) for scenario, seed in group] for group in groups],
        spec.backend or Backend("local", spec.jobs),
        labels=[", ".join(f"{scenario}, seed {seed}" for scenario, seed in group) for group in groups],
        progress=report,
    )
    rows = [
        {"scenario": scenario, "seed": seed, **measures}
        for group, measured in zip(groups, results, strict=True)
        for (scenario, seed), measures in zip(group, measured, strict=True)
    ]
    order = {job: i for i, job in enumerate(jobs)}
    return pd.DataFrame(sorted(rows, key=lambda r: order[(r["scenario"], r["seed"])]))


def _workers(spec: ValidationSpec) -> int:
    """The runs that go at once: ``jobs`` processes (-1: every core)."""
    return max(1, spec.jobs if spec.jobs > 0 else (os.cpu_count() or 1))


def _groups(spec: ValidationSpec) -> list[list[tuple[str, int]]]:
    """The runs of one seed, in chunks that keep every worker busy: a chunk's runs share their warm-up where they can.

    A seed's scenarios share the warm-up when their warm-up keys agree (:mod:`sim.experiments.runs.warmups`); each
    seed's scenarios are split into as many chunks as it takes for twice as many jobs as workers, so a few seeds
    still use every core.
    """
    chunks = max(1, min(len(spec.scenarios), math.ceil(2 * _workers(spec) / max(1, len(spec.seeds)))))
    size = math.ceil(len(spec.scenarios) / chunks)
    return [
        [(scenario, seed) for scenario in spec.scenarios[i : i + size]]
        for seed in spec.seeds
        for i in range(0, len(spec.scenarios), size)
    ]


def _timed_group(overrides: list[list[str]]) -> list[dict[str, float]]:
    """Measure a group of runs in a worker, sharing warm-ups; a run's ``seconds`` is its share of the group's."""
    from sim.config import checked_config
    from sim.experiments.runs.warmups import run_forked

    started = time.monotonic()
    measured = run_forked([checked_config(list(o)) for o in overrides], measure_model)
    seconds = (time.monotonic() - started) / max(1, len(overrides))
    return [{"seconds": seconds, **m} for m in measured]


def results(spec: ValidationSpec, runs: pd.DataFrame) -> list[CheckResult]:
    """Every check of every fact, judged."""
    out = []
    for fact in spec.facts:
        for check in fact.checks:
            interval = statistic(check, runs, spec.confidence)
            out.append(CheckResult(fact.name, check, interval, judge(check, interval)))
    return out


# ------------------------------------------------------------------------------------------------ outputs
def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if unit == "share":
        return f"{value:.3f}"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:+.2f}" if "NPS" in unit or "/ year" in unit else f"{value:.3f}"


def _value_text(result: CheckResult) -> str:
    unit, i = OUTCOMES[result.check.measure].unit, result.interval
    return f"{_fmt(i.mean, unit)} [{_fmt(i.low, unit)}, {_fmt(i.high, unit)}]"


def fact_holds(spec: ValidationSpec, checked: list[CheckResult]) -> dict[str, bool]:
    """Whether each fact holds (all its checks)."""
    return {fact.name: all(r.holds for r in checked if r.fact == fact.name) for fact in spec.facts}


def table(spec: ValidationSpec, checked: list[CheckResult]) -> pd.DataFrame:
    """One row per check: fact, check, statistic, value with CI, threshold, holds."""
    return pd.DataFrame(
        [
            {
                "fact": r.fact,
                "check": OUTCOMES[r.check.measure].label,
                "statistic": r.check.statistic_text(),
                "unit": OUTCOMES[r.check.measure].unit,
                f"value [{spec.confidence:.0%} CI]": _value_text(r),
                "threshold": r.check.threshold_text(),
                "holds": "yes" if r.holds else "NO",
            }
            for r in checked
        ]
    )


def markdown(spec: ValidationSpec, checked: list[CheckResult], runs: pd.DataFrame, seconds: float) -> str:
    """validation.md: the verdicts, the table, the sources and the score distribution."""
    verdicts = fact_holds(spec, checked)
    held = sum(verdicts.values())
    lines = [
        "# silosim validation: stylized facts",
        "",
        f"{held} of {len(verdicts)} facts hold. {len(runs)} runs: {len(spec.seeds)} seeds "
        f"({spec.seeds[0]}-{spec.seeds[-1]}) x {len(spec.scenarios)} scenarios, {spec.customers:,} customers, "
        f"{spec.weeks} recorded weeks; {spec.confidence:.0%} confidence intervals; {seconds / 60:.1f} min on "
        f"{spec.jobs} processes." + (f" Model overrides: {', '.join(spec.overrides)}." if spec.overrides else ""),
        "",
        "A check holds when its whole interval clears the threshold. Paired differences compare two scenarios "
        "on the same seeds (common random numbers).",
        "",
        "| Fact | Check | Statistic | Value [CI] | Threshold | Holds |",
        "|---|---|---|---|---|---|",
    ]
    for r in checked:
        label, unit = OUTCOMES[r.check.measure].label, OUTCOMES[r.check.measure].unit
        lines.append(
            f"| {r.fact} | {label} ({unit}) | {r.check.statistic_text()} | {_value_text(r)} | "
            f"{r.check.threshold_text()} | {'yes' if r.holds else '**NO**'} |"
        )
    lines += ["", "## The facts and their sources", ""]
    for fact in spec.facts:
        lines.append(f"- **{fact.name}** ({'holds' if verdicts[fact.name] else 'FAILS'}): {fact.title}. {fact.source}")
    baseline = runs[runs["scenario"] == spec.scenarios[0]]
    lines += [
        "",
        f"## Score distribution ({spec.scenarios[0]}, active customers at the end, mean over seeds)",
        "",
        "| Scores | Share |",
        "|---|---|",
    ]
    for name in DISTRIBUTION:
        lines.append(
            f"| {OUTCOMES[name].label.removeprefix('Customers scoring ').removesuffix(' at the end')} | "
            f"{baseline[name].mean():.3f} |"
        )
    return "\n".join(lines) + "\n"


def figure(spec: ValidationSpec, checked: list[CheckResult], path: Path) -> None:
    """validation.png: one panel per check, its value and interval against the threshold (shaded where it holds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(checked)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.3 * rows), squeeze=False)
    for ax, r in zip(axes.flat, checked, strict=False):
        i, measure = r.interval, OUTCOMES[r.check.measure]
        kind, bound = next(iter(r.check.holds.items()))
        ends = [x for x in (i.low, i.high, i.mean) if math.isfinite(x)]
        ends += list(bound) if kind == "within" else [bound]
        lo, hi = min(ends), max(ends)
        pad = (hi - lo) * 0.25 or 1.0
        lo, hi = lo - pad, hi + pad
        zone = (bound, hi) if kind == "above" else (lo, bound) if kind == "below" else tuple(bound)
        ax.axvspan(*zone, color="#2e7d32", alpha=0.12, label="holds")
        colour = "#2e7d32" if r.holds else "#c62828"
        if math.isfinite(i.mean):
            ax.errorbar([i.mean], [0], xerr=[[i.mean - i.low], [i.high - i.mean]], fmt="o", color=colour, capsize=6)
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
        ax.set_title(f"{r.fact}\n{measure.label}", fontsize=8)
        ax.set_xlabel(measure.unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.text(0.02, 0.85, "holds" if r.holds else "FAILS", transform=ax.transAxes, color=colour, fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    held = sum(fact_holds(spec, checked).values())
    fig.suptitle(
        f"Stylized facts: {held} of {len(spec.facts)} hold (value and {spec.confidence:.0%} CI; green: where it "
        f"holds). {len(spec.seeds)} seeds x {spec.customers:,} customers",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _finite(node: Any) -> Any:
    """The payload with NaN and infinities as null (strict JSON)."""
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_finite(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def write_outputs(spec: ValidationSpec, checked: list[CheckResult], runs: pd.DataFrame, seconds: float) -> Path:
    """Write validation.md, validation.json, validation.png and runs.csv into ``spec.out`` (all or nothing)."""
    verdicts = fact_holds(spec, checked)
    payload = {
        "holds": all(verdicts.values()),
        "facts": [
            {
                **{k: v for k, v in asdict(fact).items() if k != "checks"},
                "holds": verdicts[fact.name],
                "checks": [
                    {
                        **asdict(r.check),
                        "label": OUTCOMES[r.check.measure].label,
                        "unit": OUTCOMES[r.check.measure].unit,
                        "statistic": r.check.statistic_text(),
                        "value": r.interval.mean,
                        "low": r.interval.low,
                        "high": r.interval.high,
                        "n": r.interval.n,
                        "holds": r.holds,
                    }
                    for r in checked
                    if r.fact == fact.name
                ],
            }
            for fact in spec.facts
        ],
        "distribution": {
            name: float(runs.loc[runs["scenario"] == spec.scenarios[0], name].mean()) for name in DISTRIBUTION
        },
        "settings": {k: v for k, v in spec.config.items() if k != "facts"},
        "runs": len(runs),
        "seconds": seconds,
    }
    with atomic_directory(spec.out) as work:
        (work / "validation.md").write_text(markdown(spec, checked, runs, seconds))
        (work / "validation.json").write_text(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n")
        safe_table(runs).to_csv(work / "runs.csv", index=False)
        figure(spec, checked, work / "validation.png")
    return spec.out
