"""Scenario snapshot: every scenario at defaults over a few seeds (the table in docs/odd.md, section 1).

    python benchmarks/scenarios.py               # 8 scenarios x 6 seeds, 20,000 customers, 156 weeks
    python benchmarks/scenarios.py --seeds 3 --customers 5000

For each scenario, the mean over seeds of: true NPS in the last week; measured minus true NPS averaged
over the last 52 weeks (score gaming shows here); annual retention (the product of weekly retention over
the last 52 weeks); conflicting contacts per week over the last 52 weeks; and how many runs abandoned the
programme. Prints a Markdown table and writes benchmarks/results/scenarios.json.
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
    from sim.experiments.outcomes import run_summary

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
        "true_nps_final": s["final"]["true_nps"],
        "nps_gap_last_year": float((last_year["measured_nps"] - last_year["true_nps"]).mean()),
        "annual_retention": s["final"]["annual_retention"],
        "conflicting_contacts_per_week": float(last_year["conflicting_contacts"].mean()),
        "abandoned": bool(s["programme"]["abandoned"]),
    }


def main() -> None:
    """Run every scenario and seed in parallel; print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--jobs", type=int, default=-1)
    a = p.parse_args()
    runs = Parallel(n_jobs=a.jobs)(
        delayed(one)(sc, seed, a.customers, a.weeks) for sc in SCENARIOS for seed in range(a.seeds)
    )
    print(f"Scenario means over {a.seeds} seeds ({a.customers:,} customers, {a.weeks} weeks)\n")
    print(
        "| scenario | true NPS, last week | measured minus true NPS, last year | annual retention "
        "| conflicting contacts/week, last year |"
    )
    print("|---|---|---|---|---|")
    table = []
    for sc in SCENARIOS:
        rs = [r for r in runs if r["scenario"] == sc]
        row = {
            k: float(np.mean([r[k] for r in rs]))
            for k in ("true_nps_final", "nps_gap_last_year", "annual_retention", "conflicting_contacts_per_week")
        }
        row["abandoned"] = sum(bool(r["abandoned"]) for r in rs)
        table.append({"scenario": sc, **row})
        label = f"{sc} (abandoned in {row['abandoned']} of {len(rs)})" if row["abandoned"] else sc
        print(
            f"| {label} | {row['true_nps_final']:+.1f} | {row['nps_gap_last_year']:+.1f} "
            f"| {row['annual_retention']:.3f} | {row['conflicting_contacts_per_week']:.0f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scenarios.json").write_text(json.dumps({"args": vars(a), "table": table, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
