"""The headline comparison's wall time on all cores, and the parallel efficiency of a sweep.

    python benchmarks/headline.py            # 4 scenarios x 20 seeds x 20,000 customers x 156 weeks
    python benchmarks/headline.py --quick    # smoke version: 4 x 2 x 2,000 x 26

The headline design (the consultants' side-by-side comparison) is run with the engine directly
(``compose_config`` + ``SiloModel``, no output files) with joblib over all cores, and timed end to
end, worker start-up included. Parallel efficiency: a smaller sweep (``--sweep-runs`` runs of the
same size) on 1 worker and on all cores, with workers started and warmed before timing;
efficiency = T(1) / (cores x T(cores)). Prints progress lines and a table of the comparison's
results, and writes benchmarks/results/headline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("siloed_scorecards", "shared_stage_metrics", "closed_loop_followup", "full_transformation")
TARGET_S = 90.0


def one(scenario: str, seed: int, customers: int, weeks: int) -> dict[str, Any]:
    """Run one scenario and seed; return its headline figures and its own time."""
    from sim.config import compose_config
    from sim.engine.model import SiloModel
    from sim.experiments.analysis.outcomes import run_summary

    t0, c0 = time.perf_counter(), time.process_time()
    m = SiloModel(
        compose_config(
            [f"scenario={scenario}", f"seed={seed}", f"customers={customers}", f"weeks={weeks}", "track_customers=0"]
        )
    ).run()
    s = run_summary(m)
    return {
        "scenario": scenario,
        "seed": seed,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "true_nps_final": s["final"]["true_nps"],
        "measured_nps_final": s["final"]["measured_nps"],
        "annual_retention": s["final"]["annual_retention"],
        "active_final": s["final"]["active_customers"],
        "revenue_total": s["total"]["revenue"],
    }


def warm(_: int) -> int:
    """Run a tiny model in a worker, so timing a sweep counts neither interpreter start-up, imports,
    Hydra's first composition nor loading the numba kernels from their cache."""
    one("closed_loop_followup", 0, 500, 2)
    return os.getpid()


def sweep(jobs: int, runs: list[tuple[str, int]], customers: int, weeks: int, label: str) -> tuple[float, list]:
    """Run ``runs`` on ``jobs`` workers, printing a progress line per finished run; return wall time and results."""
    t0 = time.perf_counter()
    out = []
    with Parallel(n_jobs=jobs, return_as="generator_unordered") as par:
        for i, r in enumerate(par(delayed(one)(sc, s, customers, weeks) for sc, s in runs), 1):
            out.append(r)
            print(
                f"  [{label}] {i:>3}/{len(runs)} {r['scenario']:<22} seed {r['seed']:>2}  {r['seconds']:5.1f} s  "
                f"elapsed {time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
    return time.perf_counter() - t0, out


def timed_warm_sweep(jobs: int, runs: list[tuple[str, int]], customers: int, weeks: int) -> float:
    """Wall time of a sweep on ``jobs`` workers that were started and warmed before the clock starts."""
    with Parallel(n_jobs=jobs) as par:
        par(delayed(warm)(i) for i in range(2 * jobs))
        t0 = time.perf_counter()
        par(delayed(one)(sc, s, customers, weeks) for sc, s in runs)
        return time.perf_counter() - t0


def main() -> None:
    """Run the headline design and the efficiency sweep."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers (default: all cores)")
    p.add_argument("--sweep-runs", type=int, default=8, help="runs in the parallel-efficiency sweep")
    p.add_argument("--sweep-weeks", type=int, default=52)
    p.add_argument("--quick", action="store_true", help="smoke version: 2 seeds, 2,000 customers, 26 weeks")
    p.add_argument("--only", choices=["headline", "efficiency"], help="run one of the two parts")
    p.add_argument("--out", type=Path, default=RESULTS / "headline.json")
    a = p.parse_args()
    if a.quick:
        a.seeds, a.customers, a.weeks, a.sweep_runs, a.sweep_weeks = 2, 2_000, 26, 4, 26

    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, {a.jobs} workers; load average at start {load[0]:.2f} "
        "(timings are noisy on a shared machine)"
    )
    out: dict[str, Any] = {
        "cores": os.cpu_count(),
        "jobs": a.jobs,
        "load_average_start": load,
        "design": {
            "scenarios": list(SCENARIOS),
            "seeds": a.seeds,
            "customers": a.customers,
            "weeks": a.weeks,
            "quick": a.quick,
        },
    }
    if a.only != "efficiency":
        out.update(headline(a))
    if a.only != "headline":
        out["efficiency"] = efficiency(a)
    out["load_average_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {a.out}")


def headline(a: argparse.Namespace) -> dict[str, Any]:
    """The headline design on all workers: wall time, CPU time and the comparison's table."""
    runs = [(sc, s) for sc in SCENARIOS for s in range(a.seeds)]
    print(
        f"headline comparison: {len(SCENARIOS)} scenarios x {a.seeds} seeds x {a.customers:,} customers x "
        f"{a.weeks} weeks = {len(runs)} runs",
        flush=True,
    )
    wall, results = sweep(a.jobs, runs, a.customers, a.weeks, "headline")
    cpu = sum(r["cpu_seconds"] for r in results)
    print(
        f"headline comparison wall time: {wall:.1f} s on {a.jobs} workers (target at most {TARGET_S:.0f} s, "
        f"full design); the runs used {cpu:.1f} s of CPU, {cpu / a.jobs:.1f} s per worker "
        f"(the wall time on {a.jobs} otherwise idle cores, before worker start-up)"
    )
    table = {}
    print(f"  {'scenario':<22} {'true NPS':>9} {'measured':>9} {'retention':>10} {'customers':>10}")
    for sc in SCENARIOS:
        rows = [r for r in results if r["scenario"] == sc]
        table[sc] = {
            k: float(np.mean([r[k] for r in rows]))
            for k in ("true_nps_final", "measured_nps_final", "annual_retention", "active_final")
        }
        t = table[sc]
        print(
            f"  {sc:<22} {t['true_nps_final']:>+9.1f} {t['measured_nps_final']:>+9.1f} "
            f"{t['annual_retention']:>10.3f} {t['active_final']:>10,.0f}"
        )
    return {"headline_wall_s": wall, "headline_cpu_s": cpu, "target_s": TARGET_S, "table": table, "runs": results}


def efficiency(a: argparse.Namespace) -> dict[str, Any]:
    """Parallel efficiency of a sweep: 1 worker against all workers, workers warmed before timing."""
    sweep_runs = [("closed_loop_followup", 100 + i) for i in range(a.sweep_runs)]
    print(
        f"parallel efficiency: {a.sweep_runs} runs x {a.customers:,} customers x {a.sweep_weeks} weeks, "
        f"1 worker vs {a.jobs}",
        flush=True,
    )
    t1 = timed_warm_sweep(1, sweep_runs, a.customers, a.sweep_weeks)
    print(f"  1 worker:  {t1:.1f} s", flush=True)
    tn = timed_warm_sweep(a.jobs, sweep_runs, a.customers, a.sweep_weeks)
    efficiency = t1 / (a.jobs * tn)
    print(f"  {a.jobs} workers: {tn:.1f} s  -> speed-up {t1 / tn:.2f}x, parallel efficiency {100 * efficiency:.0f}%")
    return {
        "runs": a.sweep_runs,
        "weeks": a.sweep_weeks,
        "t1_s": t1,
        "tn_s": tn,
        "speedup": t1 / tn,
        "efficiency": efficiency,
        "load_average": os.getloadavg(),
    }


if __name__ == "__main__":
    main()
