"""``silosim-compare``: scenarios x replications with common random numbers, aggregated into a report.

    silosim-compare                                   # the headline comparison (conf/comparison/headline.yaml)
    silosim-compare replications=5 customers=5000 weeks=104
    silosim-compare scenarios=[siloed_scorecards,our_plan] scenario_dir=./my_scenarios
    silosim-compare comparison=all_scenarios out=outputs/board_pack
    silosim-compare calibration=outputs/calibrate/<run>/calibrated.yaml   # calibrated to a client

Replication r of every scenario uses seed first_seed + r (common random numbers), so the
differences against the baseline are paired. Writes a comparison directory: runs/,
comparison.parquet, summary.csv, runs.csv, comparison.json, figures/ and report.html. The report
path is the last line printed. Exit status: 0 done, 1 some runs failed (reported and left out),
2 bad input (nothing run or written), 130 interrupted (nothing written).
"""

from __future__ import annotations

import sys

from sim.commands._common import EXIT_FAILED, user_errors, wants_help
from sim.experiments.compare import CompareConf, plan, prepare, run_comparison
from sim.report import print_summary, write_deliverables

__all__ = ["main"]

PROG = "silosim-compare"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-compare`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        print("Settings (key=value):", ", ".join(CompareConf.__dataclass_fields__))
        print("Any model parameter (docs/parameters.md) given as key=value is applied to every scenario.")
        return
    with user_errors(PROG):
        p = plan(prepare(argv))
        try:
            comparison = run_comparison(p, argv, present=write_deliverables)
        except RuntimeError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_FAILED)
    print_summary(comparison.summary, comparison.baseline, comparison.confidence)
    failures = comparison.runs.failures
    if not failures.empty:
        print(f"\n{len(failures)} run(s) failed and are left out of the comparison:")
        for _, failure in failures.iterrows():
            print(f"  {failure['scenario']}, seed {failure['seed']}: {failure['error']} ({failure['path']})")
    print(f"\nComparison directory: {comparison.out}")
    print(f"Report: {comparison.out / 'report.html'}")
    if not failures.empty:
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
