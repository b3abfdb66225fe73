"""A Latin-hypercube sweep through `silosim -m` on all cores: runs per second and the time per run outside the engine.

    python benchmarks/sweep.py                      # 1,000 LHS rows x 10,000 customers x 156 weeks, all cores
    python benchmarks/sweep.py --runs 128 --repeats 3
    python benchmarks/sweep.py --runs 64 --customers 2000 --weeks 52      # quick

The sweep is the researcher's command, `silosim -m experiment=lhs_example design.samples=N seed=0
customers=C weeks=W` (one seed per row, no customers.parquet), timed from the command's start to its
end (Hydra start-up, every job, the collector). Each job prints its own time ("done in X s": the
task, from its configuration to its written run directory). The engine's time per run (building
the model with its warm-up, and simulating the horizon) is measured in this process on a sample of
the same design rows. Per run, on one core:

    total   = cores x wall / runs          (what a run costs the machine)
    task    = median of the jobs' own time (the task: design row, checks, the engine, writing the run)
    engine  = median engine time of the sampled rows
    outside the engine = total - engine, split into the task's own overhead (task - engine) and the
    launcher's (total - task: composition, process hand-off, Hydra's per-job work, start-up and collection).

The machine is shared and noisy, so the same split is also given in CPU time, which other people's
jobs barely move: the CPU seconds of the whole sweep (the command and every worker, from
getrusage) per run, against the engine's CPU seconds per run (measured the same way in this
process). On a quiet machine runs/s is about cores / (CPU seconds per run). The headline figure is
the share of a run's CPU spent outside the engine.

The engine against the memory: in this process, the engine's marginal CPU cost per customer-step (the
recorded weeks of the baseline at ``--customers`` and at 4x that, the extra CPU over the extra active
customer-weeks) and a memory-bound floor measured the same way: one numba pass per week that reads and
writes every column of the customer store once (what a week would cost if every mechanism were fused
into one pass over each customer's state and did no arithmetic). Their ratio says how far the engine is
from the floor.

Prints the figures and writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RUNS_PER_S = 4.0


def sweep_once(runs: int, customers: int, weeks: int, jobs: int, workdir: Path) -> dict[str, Any]:
    """Run the sweep once; wall time and every job's own time."""
    sweep_dir = workdir / f"sweep_{time.monotonic_ns()}"
    command = [
        sys.executable, "-m", "sim.commands.run", "-m", "experiment=lhs_example", f"design.samples={runs}", "seed=0",
        f"customers={customers}", f"weeks={weeks}", f"hydra.launcher.n_jobs={jobs}", f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own module
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed:\n{done.stderr[-3000:]}")
    task = [float(m) for m in re.findall(r"done in ([0-9.]+) s", done.stdout)]
    if len(task) != runs:
        raise SystemExit(f"expected {runs} finished jobs, found {len(task)}")
    shutil.rmtree(sweep_dir, ignore_errors=True)
    return {"wall_s": wall, "task_s": statistics.median(task), "cpu_per_run_s": cpu / runs}


def engine_time(customers: int, weeks: int, rows: list[int], samples: int) -> tuple[float, float]:
    """Median wall and CPU time to build (with the warm-up) and run the models of the sampled design rows."""
    from sim.config import compose_config, to_config
    from sim.engine.model import SiloModel
    from sim.experiments.sweeps.design import apply_row

    times, cpu = [], []
    for row in rows:
        cfg = to_config(
            apply_row(
                compose_config(
                    [
                        "experiment=lhs_example",
                        f"design.samples={samples}",
                        f"design.row={row}",
                        "seed=0",
                        f"customers={customers}",
                        f"weeks={weeks}",
                    ]
                )
            )
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        SiloModel(cfg, collect=False).run()  # as a sweep's job runs it (no DataCollector panel)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(times), statistics.median(cpu)


def engine_marginal(customers: int, weeks: int) -> dict[str, float]:
    """CPU ns per active customer-week of the recorded weeks, between ``customers`` and 4x ``customers``."""
    from sim.config import compose_config
    from sim.engine.model import SiloModel

    cpu, steps = [], []
    for n in (customers, 4 * customers):
        model = SiloModel(compose_config([f"customers={n}", f"weeks={weeks}", "track_customers=0"]), collect=False)
        started = time.process_time()
        model.run()
        cpu.append(time.process_time() - started)
        steps.append(int(model.metrics_frame()["active_customers"].sum()))
    return {
        "engine_ns_per_customer_step": 1e9 * (cpu[1] - cpu[0]) / (steps[1] - steps[0]),
        "engine_mean_ns_per_customer_step": 1e9 * cpu[0] / steps[0],
    }


def memory_floor(customers: int, weeks: int) -> dict[str, float]:
    """CPU ns per customer-week of one read-and-write pass over every store column, marginal as the engine's."""
    import numpy as np
    from numba import njit

    from sim.config import compose_config
    from sim.engine.model import SiloModel

    @njit(cache=False)
    def touch(column, zero):  # read and write every element once (``zero`` is only known at run time)
        for i in range(column.size):
            column[i] = column[i] + zero

    cpu, rows, width = [], [], 0
    for n in (customers, 4 * customers):
        model = SiloModel(compose_config([f"customers={n}", "weeks=1", "track_customers=0"]), collect=False)
        store = model.store
        columns = [getattr(store, name)[: store.n] for name in store.columns()]
        columns = [c.view(np.uint8) if c.dtype == np.bool_ else c for c in columns]
        zeros = [c.dtype.type(0) for c in columns]
        for c, z in zip(columns, zeros, strict=True):
            touch(c, z)  # compile every signature before the clock
        width = sum(c.itemsize for c in columns)
        started = time.process_time()
        for _ in range(weeks):
            for c, z in zip(columns, zeros, strict=True):
                touch(c, z)
        cpu.append(time.process_time() - started)
        rows.append(store.n * weeks)
    return {
        "floor_ns_per_customer_step": 1e9 * (cpu[1] - cpu[0]) / (rows[1] - rows[0]),
        "store_columns": len(columns),
        "store_bytes_per_customer": width,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="design rows (one run each)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--jobs", type=int, default=-1, help="parallel runs (-1: all cores)")
    parser.add_argument("--repeats", type=int, default=1, help="sweeps to time; the median is reported")
    parser.add_argument("--engine-samples", type=int, default=8, help="design rows timed in-process for the engine")
    parser.add_argument("--label", default="now", help="a name for this measurement in the JSON")
    args = parser.parse_args()
    cores = os.cpu_count() if args.jobs == -1 else args.jobs
    print(f"warming the numba cache and timing the engine on {args.engine_samples} design rows ...", flush=True)
    engine_time(500, 2, [0], args.runs)  # compile or load the kernels before timing
    step = max(1, args.runs // args.engine_samples)
    engine, engine_cpu = engine_time(
        args.customers, args.weeks, list(range(0, args.runs, step))[: args.engine_samples], args.runs
    )
    marginal = engine_marginal(args.customers, args.weeks)
    floor = memory_floor(args.customers, args.weeks)
    sweeps = []
    with tempfile.TemporaryDirectory(prefix="silosim_sweep_bench_") as tmp:
        for k in range(args.repeats):
            result = sweep_once(args.runs, args.customers, args.weeks, args.jobs, Path(tmp))
            sweeps.append(result)
            print(
                f"  sweep {k + 1}/{args.repeats}: {args.runs} runs in {result['wall_s']:.1f} s = "
                f"{args.runs / result['wall_s']:.2f} runs/s; job median {result['task_s']:.3f} s; "
                f"CPU {result['cpu_per_run_s']:.3f} s per run",
                flush=True,
            )
    wall = statistics.median(s["wall_s"] for s in sweeps)
    task = statistics.median(s["task_s"] for s in sweeps)
    cpu = statistics.median(s["cpu_per_run_s"] for s in sweeps)
    total = cores * wall / args.runs
    figures = {
        "label": args.label,
        "runs": args.runs,
        "customers": args.customers,
        "weeks": args.weeks,
        "cores": cores,
        "repeats": args.repeats,
        "wall_s": [round(s["wall_s"], 2) for s in sweeps],
        "runs_per_s": round(args.runs / wall, 3),
        "per_run_core_s": round(total, 4),
        "engine_s": round(engine, 4),
        "task_s": round(task, 4),
        "outside_engine_s": round(total - engine, 4),
        "task_overhead_s": round(task - engine, 4),
        "launcher_overhead_s": round(total - task, 4),
        "hours_for_10000_runs": round(10_000 / (args.runs / wall) / 3600, 2),
        "cpu_per_run_s": round(cpu, 4),
        "engine_cpu_s": round(engine_cpu, 4),
        "cpu_outside_engine_s": round(cpu - engine_cpu, 4),
        "quiet_runs_per_s_from_cpu": round(cores / cpu, 3),
        "cpu_share_outside_engine": round((cpu - engine_cpu) / cpu, 3),
        **{k: round(v, 2) for k, v in {**marginal, **floor}.items()},
        "engine_to_floor": round(marginal["engine_ns_per_customer_step"] / floor["floor_ns_per_customer_step"], 1),
    }
    print(
        f"\n{args.runs} runs x {args.customers:,} customers x {args.weeks} weeks on {cores} cores "
        f"(median of {args.repeats}): {figures['runs_per_s']:.2f} runs/s (target {TARGET_RUNS_PER_S})\n"
        f"  per run, on one core: {total:.3f} s = engine {engine:.3f} s + outside the engine {total - engine:.3f} s\n"
        f"  outside the engine: task {task - engine:.3f} s (design row, checks, writing the run) + launcher "
        f"{total - task:.3f} s (composition, hand-off, Hydra's per-job work, start-up, collection)\n"
        f"  a 10,000-run study: {figures['hours_for_10000_runs']:.2f} h\n"
        f"  CPU per run: {cpu:.3f} s = engine {engine_cpu:.3f} s + outside the engine {cpu - engine_cpu:.3f} s "
        f"(on a quiet machine about {cores / cpu:.2f} runs/s)\n"
        f"  CPU outside the engine: {100 * figures['cpu_share_outside_engine']:.1f}% of a run's CPU (goal 10%)\n"
        f"  engine: {figures['engine_ns_per_customer_step']:.0f} ns per customer-step (marginal, "
        f"{args.customers:,} to {4 * args.customers:,} customers); memory-bound floor (one read and write of the "
        f"{floor['store_columns']} store columns, {floor['store_bytes_per_customer']} bytes per customer): "
        f"{figures['floor_ns_per_customer_step']:.1f} ns; engine / floor {figures['engine_to_floor']:.0f}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
