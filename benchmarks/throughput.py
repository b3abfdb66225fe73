"""Engine throughput: wall time, customer-steps per second and peak memory of one run.

    python benchmarks/throughput.py                       # 20k and 100k customers, 156 weeks
    python benchmarks/throughput.py --customers 1000000   # a whole customer book

Each size runs in a fresh subprocess so peak resident memory (ru_maxrss) is that run's own.
Prints a table and writes benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def one_run(customers: int, weeks: int, scenario: str, seed: int) -> dict[str, float]:
    """Build and run one model in this process; return its figures."""
    from sim.config import compose_config
    from sim.model import SiloModel

    cfg = compose_config([f"scenario={scenario}", f"customers={customers}", f"weeks={weeks}", f"seed={seed}",
                          "track_customers=10"])
    t0 = time.perf_counter()
    model = SiloModel(cfg)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    steps = int(model.metrics_frame()["active_customers"].sum())
    return {
        "customers": customers,
        "weeks": weeks,
        "build_s": t1 - t0,
        "run_s": t2 - t1,
        "wall_s": t2 - t0,
        "customer_steps": steps,
        "customer_steps_per_s": steps / (t2 - t1),
        "us_per_customer_step": 1e6 * (t2 - t1) / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Run the benchmark sizes, each in its own process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, nargs="+", default=[20_000, 100_000])
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--scenario", default="closed_loop_followup")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(one_run(a.customers[0], a.weeks, a.scenario, a.seed)))
        return
    rows = []
    print(f"{'customers':>10} {'weeks':>5} {'wall s':>8} {'cust-steps/s':>14} {'us/cust-step':>12} {'peak RSS MB':>11}")
    for n in a.customers:
        out = subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--child", "--customers", str(n), "--weeks", str(a.weeks),
             "--scenario", a.scenario, "--seed", str(a.seed)],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>10,} {a.weeks:>5} {r['wall_s']:>8.2f} {r['customer_steps_per_s']:>14,.0f} "
              f"{r['us_per_customer_step']:>12.3f} {r['peak_rss_mb']:>11.0f}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"machine": platform.platform(), "python": platform.python_version(), "cpus": __import__("os").cpu_count(),
            "scenario": a.scenario, "results": rows}
    (RESULTS / "throughput.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {RESULTS / 'throughput.json'}")


if __name__ == "__main__":
    main()
