"""Engine throughput against the per-agent Mesa reference: wall time, customer-steps per second, peak memory.

    python benchmarks/throughput.py                          # engine 10k/100k/1M, reference 10k/100k
    python benchmarks/throughput.py --customers 20000 --reference 2000 --reference-weeks 26   # quick
    python benchmarks/throughput.py --repeats 3              # best of 3 per size (noisy, shared machines)

Every run is a fresh subprocess, so its peak resident memory (ru_maxrss) is its own. For each run:

* ``wall_s``: building the model (including the warm-up weeks) plus simulating the horizon, wall clock;
  ``process_wall_s`` adds interpreter start-up, imports and configuration;
* ``cpu_s``: process CPU time of the same span (what the machine gave this process, when it is shared);
* ``customer_steps``: active customers summed over the recorded weeks; ``customer_steps_per_s`` and
  ``us_per_customer_step`` use the simulated horizon only (``run_s``), so warm-up and set-up do not count;
* the engine's fixed cost per simulated week (horizon only): ``departments_ms_per_week`` (the departments'
  week: capacities, KPIs, scorecards, reviews) and ``record_ms_per_week`` (the weekly metrics row), beside
  ``ms_per_week``, the whole week.

A small untimed run first compiles the numba kernels into their on-disk cache, so no timed run compiles.

The engine runs the full horizon (default 156 weeks). The reference (sim/engine/reference.py, one Mesa agent
per customer) runs ``--reference-weeks`` (default 52) because it is slow; the speed ratio compares the
cost per customer-step at equal population. Prints a table and the targets of the performance issue,
and writes benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"wall_1m_s": 20.0, "rss_1m_mb": 1536.0, "ratio_100k": 50.0, "flatness": 0.25}


def one_run(engine: str, customers: int, weeks: int, scenario: str, seed: int) -> dict[str, Any]:
    """Build and run one model in this process; return its figures."""
    from sim.config import compose_config

    cfg = compose_config(
        [f"scenario={scenario}", f"customers={customers}", f"weeks={weeks}", f"seed={seed}", "track_customers=0"]
    )
    if engine == "engine":
        from sim.engine.model import SiloModel as Model
    else:
        from sim.engine.reference import ReferenceModel as Model  # type: ignore[assignment]
    t0, c0 = time.perf_counter(), time.process_time()
    model = Model(cfg)
    t1, c1 = time.perf_counter(), time.process_time()
    parts: dict[str, float] = {}
    if engine == "engine":  # the fixed per-week parts: the departments' week and the weekly record
        for owner, name in ((model.organisation, "open_week"), (model.organisation, "end_week"), (model, "_record")):
            timed(owner, name, parts)
    model.run()
    t2, c2 = time.perf_counter(), time.process_time()
    steps = int(model.metrics_frame()["active_customers"].sum())
    per_week = {
        "departments_ms_per_week": 1e3 * (parts.get("open_week", 0.0) + parts.get("end_week", 0.0)) / weeks,
        "record_ms_per_week": 1e3 * parts.get("_record", 0.0) / weeks,
        "ms_per_week": 1e3 * (t2 - t1) / weeks,
    }
    return {
        **(per_week if engine == "engine" else {}),
        "model": engine,
        "customers": customers,
        "weeks": weeks,
        "build_s": t1 - t0,
        "run_s": t2 - t1,
        "wall_s": t2 - t0,
        "cpu_s": c2 - c0,
        "run_cpu_s": c2 - c1,
        "customer_steps": steps,
        "customer_steps_per_s": steps / (t2 - t1),
        "us_per_customer_step": 1e6 * (t2 - t1) / steps,
        "us_per_customer_step_cpu": 1e6 * (c2 - c1) / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def timed(owner: Any, name: str, totals: dict[str, float]) -> None:
    """Wrap ``owner.name`` (on this instance) so that its time adds up in ``totals[name]``."""
    method = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


def child(engine: str, customers: int, weeks: int, scenario: str, seed: int) -> dict[str, Any]:
    """Run one size in a fresh interpreter and return its figures."""
    t0 = time.perf_counter()
    out = subprocess.run(  # noqa: S603
        [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--customers",
            str(customers),
            "--weeks",
            str(weeks),
            "--scenario",
            scenario,
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = time.perf_counter() - t0
    return r


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs (by run time), with the median and all wall times alongside."""
    b = dict(min(runs, key=lambda r: r["run_s"]))
    b["repeats"] = len(runs)
    b["wall_s_all"] = [r["wall_s"] for r in runs]
    b["wall_s_median"] = statistics.median(b["wall_s_all"])
    return b


def machine() -> dict[str, Any]:
    """Where the benchmark ran."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "load_average": os.getloadavg(),
    }


def line(r: dict[str, Any]) -> str:
    """One row of the table."""
    return (
        f"{r['model']:>9} {r['customers']:>10,} {r['weeks']:>5} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
        f"{r['customer_steps_per_s']:>14,.0f} {r['us_per_customer_step']:>12.3f} {r['peak_rss_mb']:>11.0f}"
    )


def main() -> None:
    """Run the engine and reference sizes, each in its own process, and report against the targets."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="engine populations")
    p.add_argument(
        "--reference", type=int, nargs="*", default=[10_000, 100_000], help="reference populations (none to skip)"
    )
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--reference-weeks", type=int, default=52)
    p.add_argument("--scenario", default="closed_loop_followup")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1, help="runs per engine size; the fastest is reported")
    p.add_argument("--out", type=Path, default=RESULTS / "throughput.json")
    p.add_argument("--child", choices=["engine", "reference"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(one_run(a.child, a.customers[0], a.weeks, a.scenario, a.seed)))
        return

    info = machine()
    print(
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; load average at start "
        f"{', '.join(f'{x:.2f}' for x in info['load_average'])} (timings are noisy on a shared machine)"
    )
    print(f"scenario {a.scenario}, seed {a.seed}; wall = build (incl. warm-up) + run; per-step figures use run only")
    print(
        f"{'model':>9} {'customers':>10} {'weeks':>5} {'wall s':>8} {'cpu s':>8} {'cust-steps/s':>14} "
        f"{'us/cust-step':>12} {'peak RSS MB':>11}",
        flush=True,
    )
    # The first run in a fresh clone compiles the numba kernels (about 2 s) and caches them in sim/__pycache__;
    # a small run first keeps compilation out of every timed run.
    child("engine", 1_000, 4, a.scenario, a.seed)
    engine, reference = [], []
    for n in a.customers:
        r = best([child("engine", n, a.weeks, a.scenario, a.seed) for _ in range(a.repeats)])
        engine.append(r)
        print(line(r), flush=True)
    for n in a.reference:
        print(f"  ... reference at {n:,} customers ({a.reference_weeks} weeks; this takes a while)", flush=True)
        r = child("reference", n, a.reference_weeks, a.scenario, a.seed)
        reference.append(r)
        print(line(r), flush=True)

    checks: dict[str, Any] = {}
    by_n = {r["customers"]: r for r in engine}
    for ref in reference:
        eng = by_n.get(ref["customers"])
        if eng:
            ratio = ref["us_per_customer_step"] / eng["us_per_customer_step"]
            ratio_cpu = ref["us_per_customer_step_cpu"] / eng["us_per_customer_step_cpu"]
            checks[f"ratio_{ref['customers']}"] = ratio
            print(
                f"engine / reference speed at {ref['customers']:,} customers: {ratio:,.0f}x "
                f"(by CPU time {ratio_cpu:,.0f}x)"
            )
    if len(engine) > 1:
        costs = [r["us_per_customer_step"] for r in engine]
        costs_cpu = [r["us_per_customer_step_cpu"] for r in engine]
        checks["flatness"] = max(costs) / min(costs) - 1
        checks["flatness_cpu"] = max(costs_cpu) / min(costs_cpu) - 1
        print(
            f"cost per customer-step, largest over smallest across sizes: +{100 * checks['flatness']:.0f}% "
            f"(by CPU time +{100 * checks['flatness_cpu']:.0f}%; target at most +25%)"
        )
        # marginal cost between consecutive sizes: constant if every part of a step is linear in customers
        ordered = sorted(engine, key=lambda r: r["customers"])
        marginal = {}
        for lo, hi in itertools.pairwise(ordered):
            steps = hi["customer_steps"] - lo["customer_steps"]
            cost = 1e6 * (hi["run_s"] - lo["run_s"]) / steps
            cost_cpu = 1e6 * (hi["run_cpu_s"] - lo["run_cpu_s"]) / steps
            marginal[f"{lo['customers']}-{hi['customers']}"] = {
                "us_per_customer_step": cost,
                "us_per_customer_step_cpu": cost_cpu,
            }
            print(
                f"marginal cost from {lo['customers']:,} to {hi['customers']:,} customers: {cost:.3f} us "
                f"per customer-step (by CPU time {cost_cpu:.3f})"
            )
        checks["marginal"] = marginal
    for r in engine:
        print(
            f"fixed cost per simulated week at {r['customers']:,} customers: departments (their week, scorecards and "
            f"reviews) {r['departments_ms_per_week']:.3f} ms + weekly record {r['record_ms_per_week']:.3f} ms = "
            f"{r['departments_ms_per_week'] + r['record_ms_per_week']:.3f} ms, of {r['ms_per_week']:.2f} ms a week"
        )
    big = by_n.get(1_000_000)
    if big:
        checks["wall_1m_s"], checks["rss_1m_mb"] = big["wall_s"], big["peak_rss_mb"]
        print(
            f"1M customers x {a.weeks} weeks: {big['wall_s']:.1f} s wall ({big['cpu_s']:.1f} s CPU; "
            f"{big['process_wall_s']:.1f} s with start-up), peak RSS {big['peak_rss_mb']:.0f} MB "
            f"(targets 20 s, 1,536 MB)"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    info["load_average_end"] = os.getloadavg()
    out = {
        "machine": info,
        "scenario": a.scenario,
        "seed": a.seed,
        "engine": engine,
        "reference": reference,
        "checks": checks,
        "targets": TARGETS,
    }
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
