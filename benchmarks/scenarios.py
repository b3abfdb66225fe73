"""Scenario snapshot: every scenario's effect against the siloed baseline (the table in docs/odd.md, section 1.2).

    python benchmarks/scenarios.py               # 9 scenarios x 10 seeds, 20,000 customers, 156 weeks
    python benchmarks/scenarios.py --seeds 3 --customers 5000

Every scenario runs on the same seeds as the baseline (common random numbers), so each effect is a
paired difference by seed: the mean over seeds with its 95% t-interval, of true NPS and measured NPS
over the last 52 weeks and annual retention (the product of weekly retention over the last 52 weeks),
beside each scenario's own means and how many runs abandoned the programme. Prints a Markdown table and
writes benchmarks/results/scenarios.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = (
    "siloed_scorecards",
    "shared_stage_metrics",
    "closed_loop_followup",
    "closed_loop_bucketing",
    "inner_loop_only",
    "full_transformation",
    "score_chasing",
    "impatient_ceo",
    "mantra_only",
)


def one(scenario: str, seed: int, customers: int, weeks: int) -> dict[str, float | str | bool]:
    """Run one scenario and seed; return its snapshot figures."""
    from sim.config import compose_config
    from sim.engine.model import SiloModel
    from sim.experiments.analysis.outcomes import run_summary

    m = SiloModel(
        compose_config(
            [f"scenario={scenario}", f"seed={seed}", f"customers={customers}", f"weeks={weeks}", "track_customers=0"]
        )
    ).run()
    s, frame = run_summary(m), m.metrics_frame()
    last_year = frame.iloc[-52:]
    return {
        "scenario": scenario,
        "seed": seed,
        "true_nps": float(last_year["true_nps"].mean()),
        "measured_nps": float(last_year["measured_nps"].mean()),
        "annual_retention": s["final"]["annual_retention"],
        "abandoned": bool(s["programme"]["abandoned"]),
    }


def paired(runs: list[dict], scenario: str, key: str, scale: float = 1.0) -> tuple[float, float]:
    """Mean and 95% half-width of scenario - baseline, paired by seed."""
    from scipy import stats

    base = {r["seed"]: r[key] for r in runs if r["scenario"] == SCENARIOS[0]}
    d = np.array([scale * (r[key] - base[r["seed"]]) for r in runs if r["scenario"] == scenario])
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return float(d.mean()), half


def main() -> None:
    """Run every scenario and seed in parallel; print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--jobs", type=int, default=-1)
    a = p.parse_args()
    runs = Parallel(n_jobs=a.jobs)(
        delayed(one)(sc, seed, a.customers, a.weeks) for sc in SCENARIOS for seed in range(a.seeds)
    )
    print(
        f"Effects against {SCENARIOS[0]}, paired by seed: {a.seeds} seeds, {a.customers:,} customers, {a.weeks} weeks"
    )
    print("(mean over seeds +/- the 95% half-width; NPS over the last 52 weeks; retention in points)\n")
    print("| scenario | true NPS | true NPS effect | measured NPS effect | retention effect, points | abandoned |")
    print("|---|---|---|---|---|---|")
    table = []
    for sc in SCENARIOS:
        rs = [r for r in runs if r["scenario"] == sc]
        row = {
            "true_nps": float(np.mean([r["true_nps"] for r in rs])),
            "true_nps_effect": paired(runs, sc, "true_nps"),
            "measured_nps_effect": paired(runs, sc, "measured_nps"),
            "retention_effect": paired(runs, sc, "annual_retention", 100.0),
            "abandoned": sum(bool(r["abandoned"]) for r in rs),
        }
        table.append({"scenario": sc, **row})
        cells = " | ".join(
            f"{m:+.1f} +/- {h:.1f}"
            for m, h in (row[k] for k in ("true_nps_effect", "measured_nps_effect", "retention_effect"))
        )
        print(f"| {sc} | {row['true_nps']:+.1f} | {cells} | {row['abandoned']} of {len(rs)} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scenarios.json").write_text(json.dumps({"args": vars(a), "table": table, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
