"""Baseline calibration check: the siloed baseline at defaults, averaged over many seeds.

    python benchmarks/calibration.py            # 20 seeds, 20,000 customers, 156 weeks
    python benchmarks/calibration.py --seeds 5 --customers 5000

Prints the mean and 95% interval across seeds of true NPS (final and run mean), annual retention
and first-contact resolution against the targets of MODEL.md, and writes
benchmarks/results/calibration.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {
    "true_nps_final": (6, 26),
    "true_nps_mean": (6, 26),
    "annual_retention": (0.80, 0.90),
    "first_contact_resolution": (0.65, 0.75),
}


def one(seed: int, customers: int, weeks: int, scenario: str) -> dict[str, float]:
    """Run one seed and return its calibration figures."""
    from sim.config import compose_config
    from sim.engine.model import SiloModel
    from sim.experiments.analysis.outcomes import run_summary

    m = SiloModel(
        compose_config(
            [f"scenario={scenario}", f"seed={seed}", f"customers={customers}", f"weeks={weeks}", "track_customers=0"]
        )
    ).run()
    s = run_summary(m)
    return {
        "seed": seed,
        "true_nps_final": s["final"]["true_nps"],
        "true_nps_mean": s["mean"]["true_nps"],
        "annual_retention": s["final"]["annual_retention"],
        "first_contact_resolution": s["mean"]["first_contact_resolution"],
        "measured_nps_final": s["final"]["measured_nps"],
    }


def main() -> None:
    """Run the seeds in parallel and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--scenario", default="siloed_scorecards")
    p.add_argument("--jobs", type=int, default=-1)
    a = p.parse_args()
    rows = Parallel(n_jobs=a.jobs)(delayed(one)(s, a.customers, a.weeks, a.scenario) for s in range(a.seeds))
    report = {}
    print(f"{a.scenario}: {a.seeds} seeds x {a.customers:,} customers x {a.weeks} weeks")
    for key in [*TARGETS, "measured_nps_final"]:
        v = np.array([r[key] for r in rows])
        lo, hi = TARGETS.get(key, (None, None))
        ok = "" if lo is None else ("  within target" if lo <= v.mean() <= hi else "  OUTSIDE target")
        half = 1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
        print(
            f"  {key:26s} mean {v.mean():8.3f}  95% CI +/- {half:.3f}  range [{v.min():.3f}, {v.max():.3f}]"
            + (f"  target [{lo}, {hi}]{ok}" if lo is not None else "")
        )
        report[key] = {
            "mean": float(v.mean()),
            "ci95_half": float(half),
            "min": float(v.min()),
            "max": float(v.max()),
            "target": [lo, hi] if lo is not None else None,
        }
    RESULTS.mkdir(exist_ok=True)
    out = {
        "scenario": a.scenario,
        "seeds": a.seeds,
        "customers": a.customers,
        "weeks": a.weeks,
        "figures": report,
        "runs": rows,
    }
    (RESULTS / "calibration.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
