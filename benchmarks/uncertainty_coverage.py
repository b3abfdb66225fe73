"""Coverage of the parameters-plus-noise interval on the model itself (`uncertainty=parameters`).

    python benchmarks/uncertainty_coverage.py       # 6 intervals x 32 worlds at 1,000 customers x 104 weeks
    python benchmarks/uncertainty_coverage.py --intervals 2 --worlds 8 --customers 300 --weeks 52   # a quick look

Draws comparisons as `silosim-compare uncertainty=parameters` does (a Latin hypercube over every varied
parameter, paired draws, implausible worlds left out), and independently draws "true" worlds from the same
distributions; each world's true effect is its mean paired difference over several seeds. Prints how often
each interval holds a true world's effect (the parameters-plus-noise interval should do so at about its level;
the noise-only interval, which describes runs at the declared values, far less often) and writes
benchmarks/results/uncertainty_coverage.json. The method is :mod:`sim.experiments.uncertainty.coverage`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    """Run the study and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--intervals", type=int, default=6, help="independent comparisons (design seeds)")
    parser.add_argument("--draws", type=int, default=32, help="parameter draws per comparison")
    parser.add_argument("--replications", type=int, default=10, help="replications at the declared values")
    parser.add_argument("--worlds", type=int, default=32, help="true worlds drawn")
    parser.add_argument("--truth-replications", type=int, default=6, help="seeds averaged for a true effect")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--warmup-weeks", type=int, default=52)
    parser.add_argument("--alternative", default="closed_loop_followup")
    parser.add_argument("--outcome", default="true_nps")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args(argv)

    from sim.experiments.uncertainty.coverage import coverage_study

    overrides = [f"customers={args.customers}", f"weeks={args.weeks}", f"warmup_weeks={args.warmup_weeks}"]
    runs = 2 * (args.intervals * (args.draws + args.replications) + args.worlds * args.truth_replications)
    print(f"coverage: {runs} runs of {args.customers:,} customers x {args.weeks} weeks ...", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    result = coverage_study(
        overrides,
        alternative=args.alternative,
        outcome=args.outcome,
        intervals=args.intervals,
        draws=args.draws,
        replications=args.replications,
        worlds=args.worlds,
        truth_replications=args.truth_replications,
        jobs=args.jobs,
    )
    wall = time.perf_counter() - started
    print(result.describe())
    print("intervals:")
    print(result.intervals.round(2).to_string())
    effects = result.worlds["effect"]
    print(
        f"true worlds' effects: median {effects.median():+.2f}, 5% to 95% {effects.quantile(0.05):+.2f} to "
        f"{effects.quantile(0.95):+.2f} ({len(effects)} plausible of {args.worlds})"
    )
    print(f"wall {wall:.0f} s (this process's CPU {time.process_time() - cpu:.0f} s; the workers' is not counted)")
    RESULTS.mkdir(exist_ok=True)
    record = {
        "settings": vars(args),
        "total_coverage": result.total_coverage,
        "noise_coverage": result.noise_coverage,
        "pairs": result.pairs,
        "runs": result.runs,
        "intervals": result.intervals.to_dict(orient="records"),
        "worlds": result.worlds.to_dict(orient="records"),
        "wall_s": wall,
    }
    (RESULTS / "uncertainty_coverage.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
