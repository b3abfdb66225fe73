"""The shared warm-up on the headline comparison: `silosim-compare` with and without the fork, side by side.

    python benchmarks/warmup_fork.py                                   # 4 scenarios x 3 seeds x 5,000 customers
    python benchmarks/warmup_fork.py --replications 20 --customers 20000 --draws 20   # the headline at its defaults

Runs the same comparison twice in fresh processes, once as shipped (each seed's scenarios share one warm-up,
:mod:`sim.experiments.runs.warmups`) and once with the sharing switched off (every run warms up on its own), in
alternating order over ``--repeats``. Reports the CPU seconds of each (the command and all its workers, from
getrusage: other people's load barely moves them) and the wall time, their ratio, and checks that the two
comparisons' run directories hold the same metrics, departments and summaries to the byte. With ``--draws N``
the comparison also runs ``uncertainty=parameters draws=N`` (each draw shared by every scenario).

The engine-level split (how much of a run is warm-up) is measured in this process: one model's warm-up and its
recorded weeks, in CPU seconds. With S scenarios sharing each seed the expected CPU saving is
(S - 1) / S x warm-up / (warm-up + horizon) of the engine's CPU.

Prints the figures and writes benchmarks/results/warmup_fork.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = "siloed_scorecards,shared_stage_metrics,closed_loop_followup,full_transformation"  # the headline
COMPARED = ("metrics.parquet", "departments.parquet")

NO_SHARING = (
    "import contextlib, sys\n"
    "import sim.experiments.runs.warmups as warmups\n"
    "warmups.sharing = lambda directory: contextlib.nullcontext()\n"
    "from sim.commands.compare import main\n"
    "main(sys.argv[1:])\n"
)
SHARING = "import sys\nfrom sim.commands.compare import main\nmain(sys.argv[1:])\n"


def compare_once(shared: bool, args: argparse.Namespace, out: Path) -> dict[str, float]:
    """One comparison in a fresh process: its wall and CPU seconds (the process and its children)."""
    command = [
        sys.executable, "-c", SHARING if shared else NO_SHARING,
        f"scenarios=[{SCENARIOS}]", f"replications={args.replications}", f"customers={args.customers}",
        f"weeks={args.weeks}", f"n_jobs={args.jobs}", f"out={out}", "report.pdf=false",
    ]  # fmt: skip
    if args.draws:
        command += ["uncertainty=parameters", f"draws={args.draws}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own module
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the comparison failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def run_files(out: Path) -> dict[str, bytes]:
    """Every run's compared files (noise-only runs and parameter draws), by path inside the comparison."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for name in COMPARED
        for p in sorted(out.rglob(name))
        if "runs" in p.relative_to(out).parts
    }


def engine_split(customers: int, weeks: int) -> dict[str, float]:
    """CPU seconds of one model's warm-up and of its recorded weeks (the baseline, seed 0)."""
    from sim.config import compose_config
    from sim.engine.model import SiloModel

    cfg = compose_config([f"customers={customers}", f"weeks={weeks}", "track_customers=0"])
    SiloModel(compose_config(["customers=300", "weeks=2", "warmup_weeks=2"]), collect=False).run()  # compile
    started = time.process_time()
    model = SiloModel(cfg, collect=False)
    warm = time.process_time() - started
    started = time.process_time()
    model.run()
    return {"warmup_cpu_s": warm, "horizon_cpu_s": time.process_time() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--draws", type=int, default=0, help="also uncertainty=parameters with this many draws")
    parser.add_argument("--jobs", type=int, default=-1, help="parallel runs (-1: all cores)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    split = engine_split(args.customers, args.weeks)
    scenarios = len(SCENARIOS.split(","))
    share = split["warmup_cpu_s"] / (split["warmup_cpu_s"] + split["horizon_cpu_s"])
    rows: dict[str, list[dict[str, float]]] = {"shared": [], "separate": []}
    identical = True
    with tempfile.TemporaryDirectory(prefix="silosim_fork_bench_") as tmp:
        for k in range(args.repeats):
            files = {}
            for mode in ("separate", "shared") if k % 2 == 0 else ("shared", "separate"):
                out = Path(tmp) / f"{mode}_{k}"
                rows[mode].append(compare_once(mode == "shared", args, out))
                files[mode] = run_files(out)
                print(
                    f"  {mode}: {rows[mode][-1]['cpu_s']:.1f} CPU s, {rows[mode][-1]['wall_s']:.1f} s wall", flush=True
                )
            identical &= bool(files["shared"]) and files["shared"] == files["separate"]
    mean = {m: {k: sum(r[k] for r in v) / len(v) for k in ("cpu_s", "wall_s")} for m, v in rows.items()}
    runs = scenarios * (args.replications + args.draws)
    figures: dict[str, Any] = {
        "scenarios": scenarios,
        "replications": args.replications,
        "draws": args.draws,
        "runs": runs,
        "customers": args.customers,
        "weeks": args.weeks,
        **{f"{m}_{k}": round(v, 2) for m, d in mean.items() for k, v in d.items()},
        "cpu_ratio_shared_to_separate": round(mean["shared"]["cpu_s"] / mean["separate"]["cpu_s"], 3),
        "wall_ratio_shared_to_separate": round(mean["shared"]["wall_s"] / mean["separate"]["wall_s"], 3),
        **{k: round(v, 3) for k, v in split.items()},
        "warmup_share_of_engine_cpu": round(share, 3),
        "expected_engine_cpu_ratio": round(1 - (scenarios - 1) / scenarios * share, 3),
        "run_files_identical": identical,
        "run_files_compared": len(files["shared"]),
    }
    print(
        f"\n{scenarios} scenarios x ({args.replications} seeds + {args.draws} draws) = {runs} runs of "
        f"{args.customers:,} customers x {args.weeks} weeks (mean of {args.repeats})\n"
        f"  CPU: shared warm-up {mean['shared']['cpu_s']:.1f} s, separate {mean['separate']['cpu_s']:.1f} s: "
        f"ratio {figures['cpu_ratio_shared_to_separate']:.3f}\n"
        f"  wall: shared {mean['shared']['wall_s']:.1f} s, separate {mean['separate']['wall_s']:.1f} s: "
        f"ratio {figures['wall_ratio_shared_to_separate']:.3f}\n"
        f"  one run's engine: warm-up {split['warmup_cpu_s']:.2f} CPU s of "
        f"{split['warmup_cpu_s'] + split['horizon_cpu_s']:.2f} "
        f"({100 * share:.0f}%); expected engine CPU ratio {figures['expected_engine_cpu_ratio']:.3f}\n"
        f"  run files identical to the byte: {identical} ({len(files['shared'])} files)"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "warmup_fork.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
